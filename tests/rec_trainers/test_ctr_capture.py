"""``capture_step`` with the CTR trainer: DeepFM on a slice of Frappe, captured step against eager.

On the CPU the CUDA graph is replaced by ``rec_core.testing.ReplayedGraph`` (it records the step
and runs it on every replay), which checks the CTR path through a captured step: the fused
embedding layout the GPU uses, dense embedding gradients, embedding regularization inside the
step, the eager partial batch. Where CUDA exists the real capture is compared with eager.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch

from rec_core.data import ColumnarLoader
from rec_core.trainer._capture import WARMUP_STEPS, GraphSafeOptimizers

ROWS, BATCH, EPOCHS = 6_000, 1_024, 2


@pytest.fixture(scope="module")
def frappe_rows():
    if not os.environ.get("REC_DATA_DIR"):
        pytest.skip("needs the real Frappe logs: set REC_DATA_DIR to the shared data folder")
    from rec_trainers.datasets import FRAPPE

    data = FRAPPE.load(seed=2022, embed_dim=8)
    train = ({k: v[:ROWS] for k, v in data.train.columns.items()}, data.train.target[:ROWS])
    val = ({k: v[:4_000] for k, v in data.val.columns.items()}, data.val.target[:4_000])
    return data.features, train, val


def _fit(frappe_rows, tmp_path, *, capture: bool, device: str = "cpu", dropout: float = 0.2,
         graph_safe: bool = False) -> Any:
    """Train DeepFM; ``graph_safe`` runs eager steps with the optimizer as a captured run sets it."""
    from rec_trainers import CTRTrainer
    from rec_trainers.models.ranking import DeepFM

    class GraphSafeEager(CTRTrainer):
        def _setup_fit(self, *args: Any, **kwargs: Any) -> None:
            super()._setup_fit(*args, **kwargs)
            GraphSafeOptimizers(self.optimizers, self.device)

    features, train, val = frappe_rows
    torch.manual_seed(0)
    model = DeepFM.from_features(features, mlp_params={"dims": [64, 32], "dropout": dropout, "batch_norm": True})
    trainer_class = GraphSafeEager if graph_safe else CTRTrainer
    trainer = trainer_class(model, optimizer_params={"lr": 3e-3}, regularization_params={"embedding_l2": 1e-4},
                            n_epoch=EPOCHS, earlystop_patience=0, device=device, progress_bar=False,
                            model_path=str(tmp_path / f"{device}-{capture}-{graph_safe}"), embedding_layout="fused",
                            capture_step=capture, random_seed=0)
    trainer.fit(ColumnarLoader(*train, batch_size=BATCH, shuffle=True, seed=0),
                ColumnarLoader(*val, batch_size=4_000), verbose=False, saved=False)
    return trainer


def _weights(trainer: Any) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()}


def test_a_captured_deepfm_step_trains_like_the_eager_one(frappe_rows, tmp_path, rec_capture_on_cpu) -> None:
    eager = _fit(frappe_rows, tmp_path, capture=False)
    same_optimizer = _fit(frappe_rows, tmp_path, capture=False, graph_safe=True)
    captured = _fit(frappe_rows, tmp_path, capture=True)
    assert rec_capture_on_cpu.built == 1
    full = ROWS // BATCH
    stats = captured.capture_stats
    assert stats.fallback is None
    assert stats.replays == EPOCHS * full - WARMUP_STEPS and stats.eager_steps == WARMUP_STEPS + EPOCHS
    assert len(captured.optimizers) == 1  # the captured step keeps embeddings dense (no RowAdam)
    # Bit for bit the eager run with the optimizer in the graph-safe mode (a float32 learning rate) ...
    a, b = _weights(same_optimizer), _weights(captured)
    assert a.keys() == b.keys() and all(torch.equal(a[name], b[name]) for name in a)
    # ... and, against the plain eager run, only that rounding of the learning rate apart.
    assert captured.best_score == pytest.approx(eager.best_score, abs=2e-3)
    assert captured.best_score > 0.75  # and it learned (a constant model scores 0.5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_the_captured_deepfm_step_trains_like_the_eager_one(frappe_rows, tmp_path) -> None:
    eager = _fit(frappe_rows, tmp_path, capture=False, device="cuda", dropout=0.0, graph_safe=True)
    captured = _fit(frappe_rows, tmp_path, capture=True, device="cuda", dropout=0.0)
    assert captured.capture_stats.fallback is None
    assert captured.capture_stats.replays == EPOCHS * (ROWS // BATCH) - WARMUP_STEPS
    a, b = _weights(eager), _weights(captured)
    for name in a:  # the same kernels replayed; summation order may differ between capture and eager
        torch.testing.assert_close(b[name], a[name], rtol=1e-4, atol=1e-5, msg=name)
    assert captured.best_score == pytest.approx(eager.best_score, abs=1e-3)
