"""A torch-rechub multi-task script (its census example) runs on rec with only its imports changed.

The script trains MMOE, PLE and ESMM with each of torch-rechub's ``adaptive_params`` methods
(uwl, metabalance, gradnorm) on torch-rechub's census-income sample, then evaluates and predicts.
"""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path

import pytest

RECHUB_IMPORTS = """
from torch_rechub.basic.features import DenseFeature, SparseFeature
from torch_rechub.models.multi_task import ESMM, MMOE, PLE
from torch_rechub.trainers import MTLTrainer
from torch_rechub.utils.data import DataGenerator
"""
REC_IMPORTS = """
from rec_core.features import DenseFeature, SparseFeature
from rec_trainers.models.multi_task import ESMM, MMOE, PLE
from rec_trainers import MTLTrainer
from rec_core.data import DataGenerator
"""
# torch-rechub's examples/ranking/run_census.py flow, trimmed to a few epochs.
SCRIPT = """
import pandas as pd
import torch

df_train = pd.read_csv(DATA_DIR + "/census_income_train_sample.csv")
df_val = pd.read_csv(DATA_DIR + "/census_income_val_sample.csv")
df_test = pd.read_csv(DATA_DIR + "/census_income_test_sample.csv")
train_idx, val_idx = df_train.shape[0], df_train.shape[0] + df_val.shape[0]
data = pd.concat([df_train, df_val, df_test], axis=0).fillna(0)
data.rename(columns={"income": "cvr_label", "marital status": "ctr_label"}, inplace=True)
data["ctcvr_label"] = data["cvr_label"] * data["ctr_label"]
dense_cols = ["age", "wage per hour", "capital gains", "capital losses", "divdends from stocks",
              "num persons worked for employer", "weeks worked in year"]
label_all = ["cvr_label", "ctr_label", "ctcvr_label"]
sparse_cols = [c for c in data.columns if c not in dense_cols and c not in label_all]


def split(columns, labels):
    x = {name: data[name].values for name in columns}
    y = data[labels].values
    part = lambda a, b: ({k: v[a:b] for k, v in x.items()}, y[a:b])
    return part(0, train_idx), part(train_idx, val_idx), part(val_idx, len(data))


results = {}
for model_name in ("MMOE", "PLE", "ESMM"):
    for adaptive in ({"method": "uwl"}, {"method": "metabalance"}, {"method": "gradnorm", "alpha": 0.16}):
        torch.manual_seed(2022)
        if model_name == "ESMM":
            user_cols = ["industry code", "occupation code", "race", "education", "sex"]
            item_cols = [c for c in sparse_cols if c not in user_cols]
            user_features = [SparseFeature(c, data[c].max() + 1, embed_dim=16) for c in user_cols]
            item_features = [SparseFeature(c, data[c].max() + 1, embed_dim=16) for c in item_cols]
            (x_train, y_train), (x_val, y_val), (x_test, y_test) = split(sparse_cols, label_all)
            task_types = ["classification", "classification", "classification"]
            model = ESMM(user_features, item_features, cvr_params={"dims": [16, 8]}, ctr_params={"dims": [16, 8]})
        else:
            features = [SparseFeature(c, data[c].max() + 1, embed_dim=4) for c in sparse_cols] + [
                DenseFeature(c) for c in dense_cols]
            (x_train, y_train), (x_val, y_val), (x_test, y_test) = split(sparse_cols + dense_cols,
                                                                         ["cvr_label", "ctr_label"])
            task_types = ["classification", "classification"]
            if model_name == "MMOE":
                model = MMOE(features, task_types, 8, expert_params={"dims": [16]},
                             tower_params_list=[{"dims": [8]}, {"dims": [8]}])
            else:
                model = PLE(features, task_types, n_level=1, n_expert_specific=2, n_expert_shared=1,
                            expert_params={"dims": [16]}, tower_params_list=[{"dims": [8]}, {"dims": [8]}])
        dg = DataGenerator(x_train, y_train)
        train_dl, val_dl, test_dl = dg.generate_dataloader(x_val=x_val, y_val=y_val, x_test=x_test, y_test=y_test,
                                                           batch_size=16)
        trainer = MTLTrainer(model, task_types=task_types, optimizer_params={"lr": 1e-3, "weight_decay": 1e-4},
                             adaptive_params=adaptive, n_epoch=2, earlystop_patience=30, device="cpu",
                             model_path=SAVE_DIR)
        trainer.fit(train_dl, val_dl)
        scores = trainer.evaluate(trainer.model, test_dl)
        predictions = trainer.predict(trainer.model, test_dl)
        results[(model_name, adaptive["method"])] = (scores, predictions, len(y_test))
"""


@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.rename")  # the script's own pandas style
def test_rechub_mtl_script_runs_with_only_the_imports_changed(tmp_path: Path) -> None:
    data_dir = Path(os.environ.get("REC_DATA_DIR", "-")) / "rechub-samples" / "census-income"
    if not data_dir.is_dir():
        pytest.skip(f"needs the torch-rechub census sample: set REC_DATA_DIR (looked for {data_dir})")
    namespace = {"DATA_DIR": str(data_dir), "SAVE_DIR": str(tmp_path)}
    exec(textwrap.dedent(REC_IMPORTS + SCRIPT), namespace)

    results = namespace["results"]
    assert len(results) == 9  # three models x three adaptive methods, none crashed
    for (model_name, method), (scores, predictions, rows) in results.items():
        n_task = 3 if model_name == "ESMM" else 2
        # AUC is undefined (nan) for a 20-row test label with one class (the sample's ctcvr label)
        assert len(scores) == n_task and all(math.isnan(s) or 0.0 <= s <= 1.0 for s in scores), (method, scores)
        assert not math.isnan(scores[0]) and not math.isnan(scores[1])
        assert len(predictions) == rows and all(len(p) == n_task for p in predictions)
        assert all(0.0 < v < 1.0 for p in predictions for v in p)  # probabilities, as torch-rechub returns
    assert (tmp_path / "model_base_0.pth").is_file()


def test_only_the_imports_differ() -> None:
    def names(block: str) -> set[str]:
        return {part.strip() for line in block.strip().splitlines() for part in line.split("import")[1].split(",")}

    assert names(RECHUB_IMPORTS) == names(REC_IMPORTS)
