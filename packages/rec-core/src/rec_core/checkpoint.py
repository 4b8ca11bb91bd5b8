"""Checkpoint files: atomic save, validated load, RNG state and DDP key clean-up.

A checkpoint is one ``torch.save`` file holding a dictionary with at least
``format_version`` and ``model``; trainers add epoch, step, optimizer, scheduler, scaler,
loss weighter, callback and RNG state. Everything in it is plain data (tensors, numbers,
strings, containers), so it loads with ``torch.load(..., weights_only=True)`` and loading a
checkpoint never runs code from the file.

Writes are atomic: the data goes to a temporary file in the target's directory, is
fsync'ed and then renamed over the target, so a crash at any moment leaves either the old
or the new checkpoint, never a torn one.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.metadata
import os
import pickle
import platform
import random
import re
import secrets
import time
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch

from rec_core.errors import CheckpointError

if TYPE_CHECKING:
    from collections.abc import Callable

    MapLocation = str | torch.device | dict[str, str] | Callable[..., Any] | None

__all__ = [
    "FORMAT_VERSION",
    "REQUIRED_KEYS",
    "atomic_torch_save",
    "capture_rng_state",
    "load_checkpoint",
    "package_versions",
    "restore_rng_state",
    "save_checkpoint",
    "strip_module_prefix",
]

#: Version of the checkpoint layout written by :func:`save_checkpoint`.
FORMAT_VERSION = 1
#: Keys every checkpoint must hold.
REQUIRED_KEYS: tuple[str, ...] = ("format_version", "model")

_DDP_PREFIX = "module."
_TEMP_SUFFIX = ".tmp"
_STALE_MARGIN_S = 2.0
# What torch.load(weights_only=True) rebuilds without extra allow-listing (tensors aside).
_PLAIN_LEAVES: frozenset[type] = frozenset(
    {
        type(None),
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        bytearray,
        torch.dtype,
        torch.device,
        torch.layout,
    }
)
_PLAIN_MAPPINGS: frozenset[type] = frozenset({dict, OrderedDict})
_PLAIN_SEQUENCES: frozenset[type] = frozenset({list, tuple, set, torch.Size})
_V = TypeVar("_V")


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``state`` to ``path`` atomically, as one file.

    Adds ``format_version`` (:data:`FORMAT_VERSION`) and ``versions``
    (:func:`package_versions`) unless ``state`` has them; ``state`` itself is not
    modified. Missing parent directories are created.

    Args:
        state: The checkpoint; must hold ``model`` and only plain data (tensors, numbers,
            strings, ``None``, lists, tuples, dicts) so that it loads with
            ``weights_only=True``.
        path: The target file; an existing file is replaced only once the new one is
            completely on disk.

    Returns:
        The path written.

    Raises:
        CheckpointError: ``state`` is not a dictionary, lacks ``model`` or holds an
            object that would not load with ``weights_only=True`` (the message gives
            its place, e.g. ``state['hparams']['lr'] is a numpy.float64``).
        OSError: Writing failed; the previous file at ``path`` is left as it was.
    """
    target = Path(path)
    if not isinstance(state, Mapping):
        raise CheckpointError(
            f"cannot save checkpoint {target}: state must be a dict, not {type(state).__name__}"
        )
    if "model" not in state:
        raise CheckpointError(f"cannot save checkpoint {target}: state has no 'model' entry")
    # Caught here rather than at resume time, when the run that could fix it is gone.
    problem = _find_unsafe(state, "state")
    if problem is not None:
        raise CheckpointError(
            f"cannot save checkpoint {target}: {problem}, which torch.load(weights_only=True) "
            "refuses; store plain data instead (tensors, numbers, strings, lists, tuples, "
            "dicts), e.g. str(path) or float(value)"
        )
    payload = dict(state)
    payload.setdefault("format_version", FORMAT_VERSION)
    payload.setdefault("versions", package_versions())
    return atomic_torch_save(payload, target)


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` ``obj`` to ``path`` through a temp file and ``os.replace``.

    A crash at any moment leaves either the previous file or the new one, never a torn
    file; missing parent directories are created.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}{_TEMP_SUFFIX}")
    started = time.time()
    try:
        # os.open (not mkstemp) so the file gets the usual umask-based permissions.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    _fsync_directory(target.parent)
    _remove_stale_temp_files(target, older_than=started)
    return target


def load_checkpoint(
    path: str | os.PathLike[str], map_location: MapLocation = "cpu"
) -> dict[str, Any]:
    """Load and validate a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: The checkpoint file.
        map_location: Where to put the tensors, as for :func:`torch.load`.

    Returns:
        The checkpoint dictionary.

    Raises:
        CheckpointError: The file is missing, empty, truncated or corrupt, holds objects
            that are not plain data, is not a dictionary, lacks ``format_version`` or
            ``model``, or was written by a newer format; the message names the file.
    """
    file = Path(path)
    if not file.exists():
        raise CheckpointError(f"checkpoint {file} does not exist")
    if not file.is_file():
        raise CheckpointError(f"checkpoint {file} is not a file")
    if file.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {file} is empty")
    if not zipfile.is_zipfile(file):  # torch.save has written zip archives since torch 1.6
        raise CheckpointError(
            f"checkpoint {file} is truncated or corrupt (not a valid torch archive)"
        )
    try:
        state = torch.load(file, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch reports a bad archive as RuntimeError, EOFError, ...
        raise CheckpointError(_load_failure(file, exc)) from None

    if not isinstance(state, dict):
        raise CheckpointError(
            f"checkpoint {file} holds a {type(state).__name__}, not a checkpoint dictionary"
        )
    missing = [key for key in REQUIRED_KEYS if key not in state]
    if missing:
        keys = [str(key) for key in state]
        shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        raise CheckpointError(
            f"checkpoint {file} lacks required key(s) {', '.join(map(repr, missing))} "
            f"(keys: {shown or 'none'}); is it a rec training checkpoint?"
        )
    version = state["format_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"checkpoint {file} has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        versions = state.get("versions")
        writer = versions.get("rec-core") if isinstance(versions, dict) else None
        raise CheckpointError(
            f"checkpoint {file} has format version {version}"
            + (f" (written by rec-core {writer})" if writer else "")
            + f", newer than this rec-core supports ({FORMAT_VERSION}); upgrade rec-core"
        )
    return state


def package_versions() -> dict[str, str]:
    """Return the versions of Python, torch and every installed ``rec-*`` distribution."""
    versions = {"python": platform.python_version(), "torch": str(torch.__version__)}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        normalised = re.sub(r"[-_.]+", "-", name).lower()
        if normalised.startswith("rec-"):
            versions.setdefault(normalised, str(dist.version))
    return versions


def capture_rng_state() -> dict[str, Any]:
    """Return the state of Python's, numpy's, torch's CPU and all CUDA generators.

    CUDA generators are included once CUDA has been initialised in this process.

    The result holds only tensors, numbers, strings, ``None``, tuples and dicts, so it
    survives ``torch.load(..., weights_only=True)``.
    """
    bit_generator, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    return {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": str(bit_generator),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
        # Only once CUDA is in use: a CPU run on a GPU machine must not initialise it.
        "cuda": torch.cuda.get_rng_state_all() if _cuda_in_use() else [],
    }


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Restore generator states captured by :func:`capture_rng_state`.

    Generators missing from ``state`` are left alone. CUDA states are restored for as
    many devices as both the checkpoint and this machine have.

    Raises:
        CheckpointError: An entry is malformed.
    """
    try:
        if "python" in state:
            random.setstate(_as_tuples(state["python"]))
        if "numpy" in state:
            saved = state["numpy"]
            np.random.set_state(
                (
                    saved["bit_generator"],
                    saved["keys"].cpu().numpy().astype(np.uint32),
                    int(saved["pos"]),
                    int(saved["has_gauss"]),
                    float(saved["cached_gaussian"]),
                )
            )
        if "torch" in state:
            torch.set_rng_state(state["torch"].cpu())
        cuda_states = state.get("cuda") or []
        if cuda_states and torch.cuda.is_available():
            for device, cuda_state in enumerate(cuda_states[: torch.cuda.device_count()]):
                torch.cuda.set_rng_state(cuda_state.cpu(), device)
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
        raise CheckpointError(
            f"malformed RNG state in checkpoint: {type(exc).__name__}: {exc}"
        ) from None


def strip_module_prefix(state_dict: Mapping[str, _V]) -> dict[str, _V]:
    """Remove the ``module.`` prefix that DistributedDataParallel adds to every key.

    The prefix is removed only when every key carries it, so a model that merely has a
    submodule called ``module`` keeps its keys. The state dict's ``_metadata`` (module
    versions used by ``load_state_dict``) is carried over with the same renaming.

    Args:
        state_dict: A model state dict, possibly saved from a wrapped model.

    Returns:
        A new ordered dictionary; ``state_dict`` is not modified.
    """
    keys = list(state_dict)
    strip = bool(keys) and all(key.startswith(_DDP_PREFIX) for key in keys)
    result: OrderedDict[str, _V] = OrderedDict(
        (key[len(_DDP_PREFIX) :] if strip else key, value) for key, value in state_dict.items()
    )
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        result._metadata = OrderedDict(  # type: ignore[attr-defined]
            (_strip_metadata_key(key) if strip else key, value) for key, value in metadata.items()
        )
    return result


def _remove_stale_temp_files(target: Path, older_than: float) -> None:
    """Delete temp files of ``target`` left by writers killed mid-save (e.g. SIGKILL).

    Only files untouched for a while before this save started are removed, so a
    concurrent writer's file in progress is left alone (the margin covers coarse file
    system timestamps).
    """
    pattern = f".{glob.escape(target.name)}.*{_TEMP_SUFFIX}"
    for stale in target.parent.glob(pattern):
        with contextlib.suppress(OSError):
            if stale.stat().st_mtime < older_than - _STALE_MARGIN_S:
                stale.unlink()


def _find_unsafe(value: Any, where: str) -> str | None:
    """Return where ``value`` holds something ``weights_only`` loading refuses, if anywhere."""
    kind = type(value)
    if kind in _PLAIN_LEAVES or isinstance(value, torch.Tensor):
        return None
    if kind in _PLAIN_MAPPINGS:
        for key, item in value.items():
            problem = _find_unsafe(key, f"a key of {where}") or _find_unsafe(
                item, f"{where}[{key!r}]"
            )
            if problem is not None:
                return problem
        return None
    if kind in _PLAIN_SEQUENCES:
        for index, item in enumerate(value):
            problem = _find_unsafe(item, f"{where}[{index}]")
            if problem is not None:
                return problem
        return None
    return f"{where} is a {_type_name(value)}"


def _type_name(value: object) -> str:
    kind = type(value)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _cuda_in_use() -> bool:
    return torch.cuda.is_available() and torch.cuda.is_initialized()  # type: ignore[no-untyped-call]


def _strip_metadata_key(key: str) -> str:
    if key == "module":
        return ""
    return key[len(_DDP_PREFIX) :] if key.startswith(_DDP_PREFIX) else key


def _as_tuples(value: Any) -> Any:
    # random.setstate insists on tuples; a state that went through JSON/YAML has lists.
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuples(item) for item in value)
    return value


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not possible on Windows and some filesystems.
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _load_failure(file: Path, exc: Exception) -> str:
    message = str(exc)
    if isinstance(exc, pickle.UnpicklingError) and "weights only" in message.lower():
        return (
            f"checkpoint {file} holds objects other than tensors and plain data, which are "
            f"not loaded for safety ({_unpickler_reason(exc)})"
        )
    corrupt = isinstance(exc, (EOFError, KeyError, pickle.UnpicklingError, zipfile.BadZipFile))
    if corrupt or "PytorchStreamReader" in message or "zip archive" in message:
        return (
            f"checkpoint {file} is truncated or corrupt (not a valid torch archive): "
            f"{type(exc).__name__}: {_first_line(exc)}"
        )
    return f"cannot load checkpoint {file}: {type(exc).__name__}: {_first_line(exc)}"


def _unpickler_reason(exc: BaseException) -> str:
    # torch's message is a long how-to; keep only the line that names the culprit.
    for line in str(exc).splitlines():
        if "WeightsUnpickler error:" in line:
            return line.split("WeightsUnpickler error:", 1)[1].strip().split(". ")[0]
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no details"
