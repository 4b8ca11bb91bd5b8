"""Tests of checkpoint files: atomic writes, validated loads, RNG state, DDP keys."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import rec_core.checkpoint as checkpoint_module
from rec_core.checkpoint import (
    FORMAT_VERSION,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
    strip_module_prefix,
)
from rec_core.errors import CheckpointError


def make_state(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 4)).sum().backward()
    optimizer.step()
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": 3,
        "global_step": 120,
        "best_score": 0.78,
        "hparams": {"lr": 1e-3, "dims": (8, 4), "device": None, "tags": ["a", "b"]},
        "rng": capture_rng_state(),
    }


def leftovers(directory: Path, keep: str) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != keep)


def assert_same(actual: object, expected: object) -> None:
    torch.testing.assert_close(actual, expected, rtol=0, atol=0)


# --- save / load --------------------------------------------------------------------------


def test_round_trip_adds_format_version_and_versions(tmp_path) -> None:
    state = make_state()
    path = tmp_path / "ckpt" / "last.pt"

    written = save_checkpoint(state, str(path))

    assert written == path
    assert "format_version" not in state  # the caller's dict is not modified
    loaded = load_checkpoint(path)
    assert loaded["format_version"] == FORMAT_VERSION == 1
    versions = loaded["versions"]
    assert versions["torch"] == str(torch.__version__)
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    assert "rec-core" in versions
    assert all(isinstance(v, str) for v in versions.values())
    assert_same(loaded["model"], state["model"])
    assert_same(loaded["optimizer"], state["optimizer"])
    assert loaded["hparams"] == state["hparams"]
    assert (loaded["epoch"], loaded["global_step"]) == (3, 120)
    assert leftovers(path.parent, keep="last.pt") == []


def test_existing_format_version_and_versions_are_kept(tmp_path) -> None:
    path = save_checkpoint({"model": {}, "versions": {"rec-core": "9.9"}}, tmp_path / "c.pt")
    assert load_checkpoint(path)["versions"] == {"rec-core": "9.9"}


def test_file_loads_with_plain_torch_load_weights_only(tmp_path) -> None:
    path = save_checkpoint(make_state(), tmp_path / "c.pt")
    assert torch.load(path, weights_only=True)["epoch"] == 3


def test_save_refuses_objects_that_weights_only_load_would_refuse(tmp_path) -> None:
    state = {"model": {}, "hparams": {"lr": np.float64(0.1), "data": Path("x")}}
    with pytest.raises(CheckpointError, match=r"state\['hparams'\]\['lr'\] is a numpy.float64"):
        save_checkpoint(state, tmp_path / "c.pt")
    assert list(tmp_path.iterdir()) == []


def test_save_accepts_every_plain_type_and_rejects_an_unsafe_dict_key(tmp_path) -> None:
    plain = {
        "model": OrderedDict(w=torch.ones(2)),
        "misc": {(1, "a"): [None, True, 2, 3.5, 1j, "s", b"b", {4}, torch.Size([2])]},
        "types": [torch.float16, torch.device("cpu"), torch.strided],
    }
    loaded = load_checkpoint(save_checkpoint(plain, tmp_path / "ok.pt"))
    assert loaded["misc"] == plain["misc"]
    assert loaded["types"] == plain["types"]

    with pytest.raises(CheckpointError, match=r"a key of state\['misc'\] is a pathlib"):
        save_checkpoint({"model": {}, "misc": {Path("x"): 1}}, tmp_path / "bad.pt")


def test_save_requires_a_model_entry(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="no 'model' entry"):
        save_checkpoint({"epoch": 1}, tmp_path / "c.pt")


# --- crash safety -------------------------------------------------------------------------


@pytest.mark.parametrize("error", [OSError("No space left on device"), KeyboardInterrupt()])
def test_crash_during_write_leaves_the_previous_checkpoint_intact(
    tmp_path, monkeypatch, error: BaseException
) -> None:
    path = tmp_path / "last.pt"
    old = make_state(seed=0)
    save_checkpoint(old, path)
    old_bytes = path.read_bytes()

    def crashing_save(obj: object, file: object, *args: object, **kwargs: object) -> None:
        file.write(b"PK\x03\x04 half a checkpoint")  # type: ignore[attr-defined]
        raise error

    monkeypatch.setattr(checkpoint_module.torch, "save", crashing_save)
    with pytest.raises(type(error)):
        save_checkpoint(make_state(seed=1), path)
    monkeypatch.undo()

    assert path.read_bytes() == old_bytes
    loaded = load_checkpoint(path)
    assert_same(loaded["model"], old["model"])
    assert_same(loaded["optimizer"], old["optimizer"])
    assert leftovers(tmp_path, keep="last.pt") == []


def test_failed_rename_removes_the_temp_file(tmp_path, monkeypatch) -> None:
    path = save_checkpoint({"model": {"w": torch.zeros(2)}}, tmp_path / "last.pt")

    def failing_replace(src: object, dst: object) -> None:
        raise PermissionError("target is locked")

    monkeypatch.setattr(checkpoint_module.os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        save_checkpoint({"model": {"w": torch.ones(2)}}, path)
    monkeypatch.undo()

    assert_same(load_checkpoint(path)["model"]["w"], torch.zeros(2))
    assert leftovers(tmp_path, keep="last.pt") == []


_WRITER = textwrap.dedent(
    """
    import sys
    import torch
    from rec_core.checkpoint import save_checkpoint

    path, step = sys.argv[1], int(sys.argv[2])
    weights = torch.empty(2_000_000)
    while True:
        step += 1
        weights.fill_(step)
        # "versions" given, so nearly all the time goes into writing the file.
        save_checkpoint({"model": {"w": weights}, "step": step, "versions": {}}, path)
        print(step, flush=True)
    """
)


def wait_for_temp_file(directory: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(name.endswith(".tmp") for name in os.listdir(directory)):
        if time.monotonic() > deadline:
            raise AssertionError(f"no save started in {directory} within {timeout} s")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_while_saving_never_leaves_a_torn_checkpoint(tmp_path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    path = tmp_path / "ckpt" / "last.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    step = 0
    kills_mid_write = 0
    # Kill early in a write, a little later, and later still (when it may be renaming).
    for delay in (0.0, 0.002, 0.005, 0.0):
        process = subprocess.Popen(
            [sys.executable, str(script), str(path), str(step)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            reported = int(process.stdout.readline())  # one save done: last.pt exists
            wait_for_temp_file(path.parent)  # the next save is writing its temp file
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()

        loaded = load_checkpoint(path)
        step = loaded["step"]
        assert step >= reported  # the newest reported save (or a later one) survived
        assert torch.all(loaded["model"]["w"] == step), "checkpoint mixes two saves"
        assert loaded["model"]["w"].numel() == 2_000_000
        temp_files = leftovers(path.parent, keep="last.pt")
        kills_mid_write += bool(temp_files)
        for temp_file in temp_files:  # so the next round's count starts afresh
            (path.parent / temp_file).unlink()
    # The kills must have hit writes in progress, or the test proved nothing.
    assert kills_mid_write >= 2


def test_save_removes_temp_files_left_by_a_killed_writer(tmp_path) -> None:
    path = tmp_path / "last.pt"
    stale = tmp_path / ".last.pt.0123abcd.tmp"  # what a SIGKILL mid-save leaves behind
    in_progress = tmp_path / ".last.pt.4567cdef.tmp"  # another writer, still writing
    other = tmp_path / ".best.pt.89abcdef.tmp"  # belongs to another checkpoint
    for leftover in (stale, in_progress, other):
        leftover.write_bytes(b"partial")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    os.utime(other, (an_hour_ago, an_hour_ago))

    save_checkpoint({"model": {}}, path)

    assert leftovers(tmp_path, keep="last.pt") == sorted([in_progress.name, other.name])


# --- corrupt and incompatible files ------------------------------------------------------


def test_truncated_checkpoint_raises_checkpoint_error_naming_the_file(tmp_path) -> None:
    path = save_checkpoint(make_state(), tmp_path / "last.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_missing_checkpoint(tmp_path) -> None:
    path = tmp_path / "nope.pt"
    with pytest.raises(CheckpointError, match="does not exist") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_empty_checkpoint(tmp_path) -> None:
    path = tmp_path / "empty.pt"
    path.touch()
    with pytest.raises(CheckpointError, match="is empty"):
        load_checkpoint(path)


def test_garbage_checkpoint(tmp_path) -> None:
    path = tmp_path / "garbage.pt"
    path.write_bytes(b"\x00not a torch archive" * 100)
    with pytest.raises(CheckpointError, match="not a valid torch archive"):
        load_checkpoint(path)


def test_checkpoint_that_is_not_a_dict(tmp_path) -> None:
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(CheckpointError, match="holds a list"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    ("state", "missing"),
    [({"format_version": 1}, "'model'"), ({"model": {}}, "'format_version'")],
)
def test_checkpoint_missing_required_keys(tmp_path, state: dict, missing: str) -> None:
    path = tmp_path / "partial.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=f"lacks required key.*{missing}") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_checkpoint_from_a_newer_format(tmp_path) -> None:
    path = tmp_path / "future.pt"
    torch.save({"format_version": FORMAT_VERSION + 1, "model": {}, "versions": {}}, path)
    with pytest.raises(CheckpointError, match="newer than this rec-core supports"):
        load_checkpoint(path)


def test_checkpoint_with_an_invalid_format_version(tmp_path) -> None:
    path = tmp_path / "odd.pt"
    torch.save({"format_version": "1", "model": {}}, path)
    with pytest.raises(CheckpointError, match="invalid format_version"):
        load_checkpoint(path)


def test_checkpoint_with_arbitrary_objects_is_not_unpickled(tmp_path) -> None:
    path = tmp_path / "unsafe.pt"
    torch.save({"format_version": 1, "model": {}, "path": Path("x")}, path)
    with pytest.raises(CheckpointError, match=r"not loaded for safety.*(PosixPath|WindowsPath)"):
        load_checkpoint(path)


# --- RNG state ----------------------------------------------------------------------------


def draw() -> tuple:
    return (
        random.random(),
        random.gauss(0.0, 1.0),
        np.random.rand(3).tolist(),
        float(np.random.normal()),
        torch.rand(3).tolist(),
        torch.randn(2).tolist(),
    )


def test_rng_state_round_trips_through_a_checkpoint(tmp_path) -> None:
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    random.gauss(0.0, 1.0)  # leave cached gaussians behind, part of the state
    np.random.normal()

    path = save_checkpoint({"model": {}, "rng": capture_rng_state()}, tmp_path / "c.pt")
    expected = draw()
    draw()  # move every generator on

    restore_rng_state(load_checkpoint(path)["rng"])
    assert draw() == expected


def test_restore_only_touches_generators_in_the_state() -> None:
    torch.manual_seed(0)
    state = {"torch": capture_rng_state()["torch"]}
    expected = torch.rand(2)
    random.seed(5)
    python_next = random.random()
    random.seed(5)
    restore_rng_state(state)
    torch.testing.assert_close(torch.rand(2), expected)
    assert random.random() == python_next


def test_malformed_rng_state_raises_checkpoint_error() -> None:
    with pytest.raises(CheckpointError, match="malformed RNG state"):
        restore_rng_state({"numpy": {"keys": "nope"}})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_rng_state_round_trips(tmp_path) -> None:
    torch.cuda.manual_seed_all(7)
    torch.rand(1, device="cuda")  # CUDA in use: its generators are captured
    path = save_checkpoint({"model": {}, "rng": capture_rng_state()}, tmp_path / "c.pt")
    expected = torch.rand(4, device="cuda").cpu()
    torch.rand(4, device="cuda")
    restore_rng_state(load_checkpoint(path)["rng"])
    torch.testing.assert_close(torch.rand(4, device="cuda").cpu(), expected)


# --- DDP prefix ---------------------------------------------------------------------------


def test_strip_module_prefix_makes_a_wrapped_state_dict_loadable() -> None:
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    wrapper = nn.Module()
    wrapper.module = net  # the attribute DistributedDataParallel uses
    wrapped = wrapper.state_dict()
    assert all(key.startswith("module.") for key in wrapped)

    stripped = strip_module_prefix(wrapped)

    assert list(stripped) == list(net.state_dict())
    assert "" in stripped._metadata
    assert "module" not in stripped._metadata
    fresh = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    fresh.load_state_dict(stripped, strict=True)
    assert_same(fresh.state_dict(), net.state_dict())
    assert all(key.startswith("module.") for key in wrapped)  # input untouched


def test_strip_module_prefix_leaves_unwrapped_keys_alone() -> None:
    plain = OrderedDict([("module.w", 1), ("bias", 2)])  # a submodule named "module"
    assert strip_module_prefix(plain) == plain
    assert strip_module_prefix({}) == {}
    assert strip_module_prefix({"module.a": 1, "module.b.c": 2}) == {"a": 1, "b.c": 2}
