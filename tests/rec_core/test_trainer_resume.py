"""Resume after SIGKILL continues the same run bit-identically (subprocess tests)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest
import torch

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import torch
    from torch import nn
    from rec_core import BaseTrainer
    from rec_core.callbacks import Callback
    from rec_core.data import ColumnarLoader, TorchDataset

    out, loader_kind, kill_at, resume = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(50, 8)
            self.mlp = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 1))

        def forward(self, x):
            return self.mlp(torch.cat([self.emb(x["item"]), x["dense"]], dim=1)).squeeze(-1)

    class ClickTrainer(BaseTrainer):
        def training_step(self, batch):
            x, y = batch
            return nn.functional.binary_cross_entropy_with_logits(self.network(x), y)

    class Kill(Callback):
        # SIGKILL: no cleanup, no finally blocks, exactly like a crash or an OOM kill
        def on_train_batch_start(self, trainer, batch, batch_idx):
            if kill_at.startswith("step") and trainer.global_step == int(kill_at[4:]):
                os.kill(os.getpid(), signal.SIGKILL)

        def on_train_epoch_start(self, trainer):
            if kill_at.startswith("epoch") and trainer.current_epoch == int(kill_at[5:]):
                os.kill(os.getpid(), signal.SIGKILL)

    gen = torch.Generator().manual_seed(7)
    n = 600
    x = {"item": torch.randint(0, 50, (n,), generator=gen), "dense": torch.randn(n, 4, generator=gen)}
    y = ((x["item"] % 3 == 0).float() + x["dense"][:, 0] > 0.5).float()
    train = {k: v[:500] for k, v in x.items()}, y[:500]
    val = {k: v[500:] for k, v in x.items()}, y[500:]
    if loader_kind == "columnar":
        train_dl = ColumnarLoader(*train, batch_size=32, shuffle=True, seed=3)
        val_dl = ColumnarLoader(*val, batch_size=64)
    else:
        train_dl = torch.utils.data.DataLoader(TorchDataset(*train), batch_size=32, shuffle=True)
        val_dl = torch.utils.data.DataLoader(TorchDataset(*val), batch_size=64)

    torch.manual_seed(0)
    trainer = ClickTrainer(
        Net(), max_epochs=4, learning_rate=0.01, scheduler="StepLR", scheduler_params={"step_size": 1, "gamma": 0.7},
        checkpoint_dir=os.path.join(out, "ckpt"), every_n_train_steps=5, save_top_k=2,
        early_stopping_patience=0, progress_bar=False, callbacks=[Kill()], random_seed=11,
    )
    if resume != "-":
        trainer.resume_checkpoint(resume)
    trainer.fit(train_dl, val_dl, verbose=False)
    torch.save({k: v for k, v in trainer.model.state_dict().items()}, os.path.join(out, "final.pt"))
    """
)


def _run(script, out, loader_kind, kill_at="-", resume="-"):
    return subprocess.run(
        [sys.executable, str(script), str(out), loader_kind, kill_at, resume],
        capture_output=True, text=True, timeout=120,
    )


def _weights(path):
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize("loader_kind", ["columnar", "dataloader"])
@pytest.mark.parametrize("kill_at", ["step23", "epoch2"])
def test_resume_after_sigkill_is_bit_identical(tmp_path, loader_kind, kill_at):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"

    done = _run(script, reference, loader_kind)
    assert done.returncode == 0, done.stderr

    killed = _run(script, crashed, loader_kind, kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (crashed / "final.pt").exists()
    last = crashed / "ckpt" / "last.ckpt"
    state = torch.load(last, weights_only=True)
    if kill_at.startswith("step"):
        assert state["global_step"] == 20 and not state["epoch_complete"]  # the mid-epoch every-5-steps save
    else:
        assert state["epoch"] == 1 and state["epoch_complete"]

    resumed = _run(script, crashed, loader_kind, resume=str(last))
    assert resumed.returncode == 0, resumed.stderr

    expected, actual = _weights(reference / "final.pt"), _weights(crashed / "final.pt")
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.equal(expected[name], actual[name]), f"{name} differs after resume"
    for name in ("last.ckpt", "checkpoints.json"):
        assert (crashed / "ckpt" / name).exists()
    ref_last = torch.load(reference / "ckpt" / "last.ckpt", weights_only=True)
    new_last = torch.load(crashed / "ckpt" / "last.ckpt", weights_only=True)
    assert ref_last["global_step"] == new_last["global_step"]
    for name, tensor in ref_last["model"].items():
        assert torch.equal(tensor, new_last["model"][name])
