"""CTRTrainer's own behaviour: config adoption, sparse embeddings, loss modes, evaluate forms."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rec_core import TrainingConfig
from rec_core.data import ColumnarLoader
from rec_core.errors import ConfigError
from rec_core.features import SparseFeature
from rec_core.optim import RowAdam
from rec_trainers import CTRTrainer
from rec_trainers.models.ranking import LR

FEATURES = [SparseFeature("item", vocab_size=20, embed_dim=4)]


def _data(n=400, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = {"item": torch.randint(0, 20, (n,), generator=gen)}
    y = (x["item"] % 2 == 0).float()
    return ColumnarLoader(x, y, batch_size=32, shuffle=True, seed=seed), ColumnarLoader(x, y, batch_size=128)


def _trainer(model=None, **kwargs):
    kwargs.setdefault("device", "cpu")
    kwargs.setdefault("progress_bar", False)
    return CTRTrainer(model or LR(FEATURES), **kwargs)


def test_a_plain_training_config_keeps_the_ctr_defaults_it_does_not_set():
    trainer = _trainer(config=TrainingConfig(max_epochs=3))
    assert trainer.config.max_epochs == 3
    assert (trainer.config.monitor, trainer.config.batch_size) == ("val/auc", 2048)
    assert hasattr(trainer.config, "sparse_embeddings")


def test_large_tables_are_sparse_with_row_adam_by_default():
    big, small = SparseFeature("user", vocab_size=20_000, embed_dim=4), SparseFeature("item", 20, embed_dim=4)
    trainer = _trainer(LR([big, small]))
    sparse = {m.weight.shape[0]: m.sparse for m in trainer.model.modules() if isinstance(m, nn.Embedding)}
    assert sparse[20_000] and not sparse[20]  # below sparse_min_rows a dense fused update is cheaper
    (row_adam,) = [o for o in trainer.optimizers if isinstance(o, RowAdam)]
    assert [p.shape[0] for group in row_adam.param_groups for p in group["params"]] == [20_000]
    assert not any(m.sparse for m in _trainer(sparse_min_rows=10**9).model.modules() if isinstance(m, nn.Embedding))


def test_embedding_regularization_selects_dense_gradients_and_conflicts_with_forced_sparse():
    trainer = _trainer(regularization_params={"embedding_l2": 1e-3}, sparse_min_rows=1)
    assert not any(m.sparse for m in trainer.model.modules() if isinstance(m, nn.Embedding))
    assert len(trainer.optimizers) == 1
    with pytest.raises(ConfigError, match="defeats sparse_embeddings"):
        _trainer(regularization_params={"embedding_l2": 1e-3}, sparse_embeddings=True)


def test_regularization_adds_the_penalty_to_the_loss():
    plain, penalised = _trainer(sparse_embeddings=False), _trainer(regularization_params={"dense_l2": 0.5})
    with torch.no_grad():
        for p in plain.model.parameters():
            p.fill_(0.3)
    penalised.model.load_state_dict(plain.model.state_dict())
    batch = next(iter(_data()[0]))
    assert penalised.regularization.dense
    with torch.no_grad():
        expected = 0.5 * sum(float(p.square().sum()) for p in penalised.regularization.dense)
        difference = float(penalised.training_step(batch) - plain.training_step(batch))
    assert expected > 0 and difference == pytest.approx(expected, rel=1e-5)


def test_model_without_embeddings_trains():
    class Dense(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(1, 1)

        def forward(self, x):
            return self.linear(x["item"].float().unsqueeze(1) % 2).squeeze(1)

    trainer = _trainer(Dense(), n_epoch=5, earlystop_patience=0, optimizer_params={"lr": 0.1})
    train, val = _data()
    score, _ = trainer.fit(train, val, saved=False, verbose=False)
    assert score > 0.9


def test_loss_mode_false_and_probability_outputs():
    class WithExtraLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.lr = LR(FEATURES)

        def forward(self, x):
            return torch.sigmoid(self.lr(x)), torch.tensor(0.25)

    trainer = _trainer(WithExtraLoss(), loss_mode=False, model_output="probabilities", sparse_embeddings=False)
    batch = next(iter(_data()[0]))
    x, y = batch
    with torch.no_grad():
        probabilities, _ = trainer.model(x)
        expected = nn.functional.binary_cross_entropy(probabilities, y) + 0.25
        assert float(trainer.training_step(batch)) == pytest.approx(float(expected), rel=1e-6)


def test_evaluate_in_both_forms_and_predict_returns_probabilities(tmp_path):
    trainer = _trainer(n_epoch=3, earlystop_patience=0, model_path=str(tmp_path), optimizer_params={"lr": 0.05})
    train, val = _data()
    trainer.fit(train, val, verbose=False)
    auc = trainer.evaluate(trainer.model, val)
    metrics = trainer.evaluate(val)
    assert isinstance(auc, float) and auc == pytest.approx(metrics["auc"])
    assert set(metrics) == {"auc", "logloss"} and auc > 0.9
    predictions = trainer.predict(trainer.model, val)
    assert len(predictions) == 400 and all(0 < p < 1 for p in predictions)
    assert torch.allclose(trainer.predict(val), torch.tensor(predictions))
    assert (tmp_path / "model.pth").is_file()
