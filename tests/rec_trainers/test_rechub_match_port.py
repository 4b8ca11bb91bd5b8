"""torch-rechub's ml-1m DSSM and YoutubeDNN examples run with only their imports changed.

The two functions below follow ``examples/matching/run_ml_dssm.py`` and
``run_ml_youtube_dnn.py`` of torch-rechub statement for statement (file paths, epochs and
batch sizes shrunk for a test; the evaluation helper and the caches left out); only the
``from torch_rechub...`` imports became ``from rec_...`` imports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.preprocessing import LabelEncoder

from rec_core.data import MatchDataGenerator, df_to_dict
from rec_core.features import SequenceFeature, SparseFeature
from rec_trainers import MatchTrainer
from rec_trainers.models.matching import DSSM, YoutubeDNN
from rec_trainers.utils.match import gen_model_input, generate_seq_feature_match

from ..rec_core.test_datasets_files import real_data_file


def get_movielens_data(data_path, mode, neg_ratio=3):
    data = pd.read_csv(data_path)
    data["cate_id"] = data["genres"].apply(lambda x: x.split("|")[0])
    sparse_features = ["user_id", "movie_id", "gender", "age", "occupation", "zip", "cate_id"]
    user_col, item_col = "user_id", "movie_id"
    feature_max_idx = {}
    for feature in sparse_features:
        lbe = LabelEncoder()
        data[feature] = lbe.fit_transform(data[feature]) + 1
        feature_max_idx[feature] = data[feature].max() + 1
    user_profile = data[["user_id", "gender", "age", "occupation", "zip"]].drop_duplicates("user_id")
    item_profile = data[["movie_id", "cate_id"]].drop_duplicates("movie_id")
    df_train, df_test = generate_seq_feature_match(data, user_col, item_col, time_col="timestamp",
                                                   item_attribute_cols=[], sample_method=1, mode=mode,
                                                   neg_ratio=neg_ratio, min_item=0)
    x_train = gen_model_input(df_train, user_profile, user_col, item_profile, item_col, seq_max_len=50)
    y_train = x_train["label"] if mode == 0 else np.array([0] * df_train.shape[0])
    x_test = gen_model_input(df_test, user_profile, user_col, item_profile, item_col, seq_max_len=50)
    user_cols = ["user_id", "gender", "age", "occupation", "zip"]
    user_features = [SparseFeature(name, vocab_size=feature_max_idx[name], embed_dim=16) for name in user_cols]
    user_features += [SequenceFeature("hist_movie_id", vocab_size=feature_max_idx["movie_id"], embed_dim=16,
                                      pooling="mean", shared_with="movie_id")]
    item_cols = ["movie_id", "cate_id"] if mode == 0 else ["movie_id"]
    item_features = [SparseFeature(name, vocab_size=feature_max_idx[name], embed_dim=16) for name in item_cols]
    neg_item_feature = [SequenceFeature("neg_items", vocab_size=feature_max_idx["movie_id"], embed_dim=16,
                                        pooling="concat", shared_with="movie_id")]
    all_item = df_to_dict(item_profile)
    return user_features, item_features, neg_item_feature, x_train, y_train, all_item, x_test


def run_dssm(data_path, save_dir):
    torch.manual_seed(2022)
    user_features, item_features, _, x_train, y_train, all_item, test_user = get_movielens_data(data_path, mode=0)
    dg = MatchDataGenerator(x=x_train, y=y_train)
    model = DSSM(user_features, item_features, temperature=0.02,
                 user_params={"dims": [256, 128, 64], "activation": "prelu"},
                 item_params={"dims": [256, 128, 64], "activation": "prelu"})
    trainer = MatchTrainer(model, mode=0, optimizer_params={"lr": 1e-4, "weight_decay": 1e-6}, n_epoch=2,
                           device="cpu", model_path=save_dir)
    train_dl, test_dl, item_dl = dg.generate_dataloader(test_user, all_item, batch_size=64)
    trainer.fit(train_dl)
    user_embedding = trainer.inference_embedding(model=model, mode="user", data_loader=test_dl, model_path=save_dir)
    item_embedding = trainer.inference_embedding(model=model, mode="item", data_loader=item_dl, model_path=save_dir)
    return model, user_embedding, item_embedding, test_user, all_item


def run_youtube_dnn(data_path, save_dir):
    torch.manual_seed(2022)
    user_features, item_features, neg_item_feature, x_train, y_train, all_item, test_user = get_movielens_data(
        data_path, mode=2)
    dg = MatchDataGenerator(x=x_train, y=y_train)
    model = YoutubeDNN(user_features, item_features, neg_item_feature, user_params={"dims": [128, 64, 16]},
                       temperature=0.02)
    trainer = MatchTrainer(model, mode=2, optimizer_params={"lr": 1e-4, "weight_decay": 1e-6}, n_epoch=2,
                           device="cpu", model_path=save_dir)
    train_dl, test_dl, item_dl = dg.generate_dataloader(test_user, all_item, batch_size=64)
    trainer.fit(train_dl)
    user_embedding = trainer.inference_embedding(model=model, mode="user", data_loader=test_dl, model_path=save_dir)
    item_embedding = trainer.inference_embedding(model=model, mode="item", data_loader=item_dl, model_path=save_dir)
    return model, user_embedding, item_embedding, test_user, all_item


@pytest.mark.parametrize("example", [run_dssm, run_youtube_dnn], ids=["dssm", "youtube_dnn"])
def test_the_example_runs_and_its_embeddings_come_from_the_saved_best_weights(example, tmp_path):
    data_path = real_data_file("rechub-samples/ml-1m/ml-1m_sample.csv")
    model, users, items, test_user, all_item = example(str(data_path), str(tmp_path))
    assert users.shape[0] == len(test_user["user_id"]) and items.shape[0] == len(all_item["movie_id"])
    assert users.shape[1] == items.shape[1]
    assert torch.allclose(users.norm(dim=1), torch.ones(len(users)), atol=1e-4)  # L2-normalised towers
    saved = torch.load(tmp_path / "model.pth", weights_only=True)
    for name, tensor in model.state_dict().items():  # inference_embedding loaded the best weights
        assert torch.equal(tensor, saved[name]), name
    assert getattr(model, "mode", None) is None  # inference_embedding put the model back in training mode
