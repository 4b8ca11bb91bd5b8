"""A torch-rechub CTR script runs on rec with only its imports changed."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

# torch-rechub's examples/ranking/run_criteo.py flow (features, DataGenerator, DeepFM,
# CTRTrainer with a model_logger, fit / evaluate / predict), with its imports swapped:
RECHUB_IMPORTS = """
from torch_rechub.basic.features import DenseFeature, SparseFeature
from torch_rechub.basic.tracking import BaseLogger
from torch_rechub.models.ranking import DeepFM
from torch_rechub.trainers import CTRTrainer
from torch_rechub.utils.data import DataGenerator
"""
REC_IMPORTS = """
from rec_core.features import DenseFeature, SparseFeature
from rec_core.loggers import BaseLogger
from rec_trainers.models.ranking import DeepFM
from rec_trainers import CTRTrainer
from rec_core.data import DataGenerator
"""
SCRIPT = """
import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import LabelEncoder, MinMaxScaler


class ListLogger(BaseLogger):
    def __init__(self):
        self.params, self.rows, self.finished = [], [], 0

    def log_metrics(self, metrics, step=None):
        self.rows.append((step, dict(metrics)))

    def log_hyperparams(self, params):
        self.params.append(dict(params))

    def finish(self):
        self.finished += 1


def convert_numeric_feature(val):
    v = int(val)
    if v > 2:
        return int(np.log(v) ** 2)
    return v - 2


torch.manual_seed(2022)
data = pd.read_csv(DATA_PATH)
dense_features = [f for f in data.columns.tolist() if f[0] == "I"]
sparse_features = [f for f in data.columns.tolist() if f[0] == "C"]
data[sparse_features] = data[sparse_features].fillna("-996")
data[dense_features] = data[dense_features].fillna(0)
for feat in dense_features:
    sparse_features.append(feat + "_cat")
    data[feat + "_cat"] = data[feat].apply(lambda x: convert_numeric_feature(x))
sca = MinMaxScaler()
data[dense_features] = sca.fit_transform(data[dense_features])
for feat in sparse_features:
    lbe = LabelEncoder()
    data[feat] = lbe.fit_transform(data[feat])
dense_feas = [DenseFeature(name) for name in dense_features]
sparse_feas = [SparseFeature(name, vocab_size=data[name].nunique(), embed_dim=16) for name in sparse_features]
y = data["label"]
del data["label"]
x = data

dg = DataGenerator(x, y)
train_dataloader, val_dataloader, test_dataloader = dg.generate_dataloader(split_ratio=[0.7, 0.1], batch_size=16)
model = DeepFM(deep_features=dense_feas + sparse_feas, fm_features=sparse_feas,
               mlp_params={"dims": [256, 128], "dropout": 0.2, "activation": "relu"})
logger = ListLogger()
ctr_trainer = CTRTrainer(model, optimizer_params={"lr": 1e-3, "weight_decay": 1e-5}, n_epoch=3,
                         earlystop_patience=10, device="cpu", model_path=MODEL_PATH, model_logger=logger)
ctr_trainer.fit(train_dataloader, val_dataloader)
auc = ctr_trainer.evaluate(ctr_trainer.model, test_dataloader)
predictions = ctr_trainer.predict(ctr_trainer.model, test_dataloader)
"""


def test_rechub_ctr_script_runs_with_only_the_imports_changed(tmp_path: Path) -> None:
    data_dir = os.environ.get("REC_DATA_DIR")
    path = Path(data_dir or "-") / "rechub-samples" / "criteo" / "criteo_sample.csv"
    if not path.is_file():
        pytest.skip(f"needs the torch-rechub Criteo sample: set REC_DATA_DIR (looked for {path})")
    namespace = {"DATA_PATH": str(path), "MODEL_PATH": str(tmp_path)}
    exec(textwrap.dedent(REC_IMPORTS + SCRIPT), namespace)

    auc, predictions, logger = namespace["auc"], namespace["predictions"], namespace["logger"]
    test_rows = len(namespace["test_dataloader"].dataset)
    assert isinstance(auc, float) and 0.0 <= auc <= 1.0
    assert isinstance(predictions, list) and len(predictions) == test_rows
    assert all(0.0 < p < 1.0 for p in predictions)  # probabilities, as torch-rechub returns
    assert len(logger.params) == 1 and logger.finished == 1
    epoch_rows = [metrics for _, metrics in logger.rows if "epoch" in metrics]
    assert [m["epoch"] for m in epoch_rows] == [0, 1, 2]
    assert {"train/loss", "learning_rate", "val/auc", "val/logloss"} <= set(epoch_rows[0])
    assert (tmp_path / "model.pth").is_file()  # torch-rechub saves the best weights there


def test_only_the_imports_differ() -> None:
    """The ported script is torch-rechub's: same names imported, nothing else changed."""
    def names(block: str) -> set[str]:
        return {part.strip() for line in block.strip().splitlines() for part in line.split("import")[1].split(",")}

    assert names(RECHUB_IMPORTS) == names(REC_IMPORTS)
