"""``TrainingConfig``: the one source of truth for how a run trains.

Python keyword arguments, torch-rechub keyword arguments (``n_epoch``, ``optimizer_params``,
...), TOML files and ``rec train --set key=value`` all end up in the same dataclass fields,
validated in one place. Importing this module does not import torch.
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import tomli_w

from rec_core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["PRECISIONS", "TrainingConfig", "check_cpu_threads", "parse_value", "split_rechub_kwargs"]

PRECISIONS = (32, 16, "32", "16", "16-mixed", "bf16", "bf16-mixed")
_MODES = (None, "min", "max")
_INTERVALS = ("epoch", "step")
EMBEDDING_LAYOUTS = ("auto", "per-field", "fused")


def check_cpu_threads(value: Any, owner: str = "config key 'cpu_threads'") -> Union[int, str, None]:
    """Return ``value`` if it is ``None``, a positive int or ``"auto"``; else raise a ConfigError."""
    if value is None or value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value  # type: ignore[no-any-return]
    raise ConfigError(f"{owner} must be a positive integer or 'auto' (got {value!r})")


@dataclass
class TrainingConfig:
    """Every setting of a training run (the genrec ``TrainingConfig`` fields and more).

    Attributes mirror the genrec document; the extra ones (monitor, optimizer, scheduler,
    device, ...) are what a serious loop needs. ``None`` means "off" or "derive it".
    """

    # basics
    max_epochs: int = 100
    """Most epochs to train; early stopping may end the run sooner."""
    batch_size: int = 32
    """Samples per training batch (per process under DDP)."""
    learning_rate: float = 1e-3
    """The optimizer's learning rate (an ``lr`` in ``optimizer_params`` wins)."""
    # hardware
    device: str = "auto"
    """``auto`` (a GPU when there is one), ``cpu``, ``cuda`` or ``cuda:N``."""
    gpus: Union[int, list[int]] = 0
    """With ``device = "auto"``: GPU indices, one per DDP process in turn (0: the process's own)."""
    precision: Union[int, str] = 32
    """32, 16 (fp16 autocast, with a gradient scaler on CUDA) or ``"bf16"``."""
    num_workers: int = 0
    """Worker processes of the ``DataLoader`` a trainer builds (genrec's); a ``ColumnarLoader`` cuts batches
    in-process."""
    cpu_threads: Union[int, str, None] = None
    """torch's intra-op threads while training on the CPU: a number, ``"auto"`` (time the first
    steps on each count and keep the fastest, see :class:`rec_core.callbacks.CpuThreads`) or
    ``None`` (torch's count, as set by the user or ``OMP_NUM_THREADS``)."""
    data_on_device: Union[bool, str] = "auto"
    """Keep a ``ColumnarLoader``'s columns on the accelerator for the whole run (``true``), never
    (``false``), or ``"auto"``: on CUDA when they take at most a quarter of its free memory.
    Batches are then cut on the device, with no host-to-device copy per batch."""
    prefetch_batches: bool = False
    """On CUDA, batches that come from the host (data not on the device) are packed into one
    pinned buffer each, copied in one transfer on a side stream, one batch ahead of the step.
    No effect elsewhere. Off by default: not yet measured on a GPU by the project."""
    compile_model: bool = False
    """Run the training network through ``torch.compile`` (on CUDA in ``"reduce-overhead"`` mode:
    forward and backward replayed as CUDA graphs). Off by default: it gave nothing on the CPU."""
    capture_step: bool = False
    """Capture the whole training step (forward, backward, clipping, optimizer) once as a CUDA
    graph and replay it for every full batch; other batches train eagerly. CUDA only, not with
    DDP, gradient accumulation, fp16 or ``compile_model``. Off by default: not yet measured on a
    GPU by the project (see ``rec_core.trainer._capture``)."""
    embedding_layout: str = "auto"
    """How models that support it store their embedding tables: ``"per-field"`` (one table per
    field), ``"fused"`` (the tables of one width stacked, one gather for all sparse fields) or
    ``"auto"``: fused on CUDA, per field elsewhere (the faster layout on each, measured)."""
    # training strategy
    gradient_clip_val: Union[float, None] = None
    """Clip the gradients to this total norm (or value, see ``gradient_clip_algorithm``); ``None``: no
    clipping."""
    gradient_clip_algorithm: str = "norm"
    """``norm`` (the total L2 norm of all gradients) or ``value`` (each element)."""
    accumulate_grad_batches: int = 1
    """Batches whose gradients are summed (each scaled by 1/N) before one optimizer step."""
    val_check_interval: Union[float, int] = 1.0
    """Validate at the end of each epoch (1.0), also every fraction of one (0.25: four times), or every N
    batches (an integer)."""
    check_val_every_n_epoch: int = 1
    """Validate after every N-th epoch only."""
    # optimisation
    optimizer: str = "Adam"
    """A ``torch.optim`` class name (``Adam``, ``AdamW``, ``SGD``, ...) or a dotted path to one."""
    optimizer_params: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the optimizer, e.g. ``{lr = 1e-3, weight_decay = 1e-5}``."""
    weight_decay: float = 0.0
    """The optimizer's weight decay, unless ``optimizer_params`` sets one."""
    scheduler: Union[str, None] = None
    """A ``torch.optim.lr_scheduler`` class name or dotted path; ``None``: a constant rate."""
    scheduler_params: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the scheduler (``ReduceLROnPlateau`` follows ``monitor`` and its mode)."""
    scheduler_interval: str = "epoch"
    """Step the scheduler after every ``epoch`` or every optimizer ``step``."""
    # checkpoints and logs
    checkpoint_dir: str = "checkpoints"
    """Folder of the checkpoints (``rec train``: the run folder's ``checkpoints/``)."""
    log_dir: str = "logs"
    """Folder of the logs (``rec train``: the run folder)."""
    experiment_name: str = "experiment"
    """A name for the run, kept from genrec's config (rec's loggers name runs after the run folder)."""
    version: Union[str, None] = None
    """A version label for the run, kept from genrec's config."""
    save_top_k: int = 3
    """Keep the K best checkpoints by ``monitor`` (-1: all, 0: none but ``last.ckpt``)."""
    save_last: bool = True
    """Rewrite ``last.ckpt`` (the one to resume from) at every epoch end."""
    every_n_train_steps: Union[int, None] = None
    """Also rewrite ``last.ckpt`` every N optimizer steps, so a killed run resumes mid-epoch."""
    log_every_n_steps: int = 50
    """Log ``train/loss_step`` and the learning rate every N optimizer steps (0: never)."""
    # model selection and early stopping
    monitor: str = "val/loss"
    """The validation metric that picks the best weights and drives early stopping (``val/auc``,
    ``val/ndcg@10``, ...)."""
    mode: Union[str, None] = None
    """``max`` or ``min`` for ``monitor``; ``None``: from its name (losses ``min``, the rest ``max``)."""
    early_stopping_patience: int = 10
    """Stop after this many validations without improvement of ``monitor`` (0: never)."""
    early_stopping_min_delta: float = 0.0
    """The smallest change of ``monitor`` that counts as an improvement."""
    # other
    deterministic: bool = False
    """Run torch's deterministic algorithms (a warning where an op has none)."""
    random_seed: int = 42
    """Seeds Python, NumPy and torch at the start of a fresh run, and the loaders' shuffles."""
    progress_bar: bool = True
    """Show progress bars for training and evaluation."""
    run_test: bool = True
    """``rec train`` scores the test split with the best weights after fitting."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, _check_type(f.name, getattr(self, f.name), _hints(type(self))[f.name]))
        self._check_values()

    def _check_values(self) -> None:
        positive = ("max_epochs", "batch_size", "accumulate_grad_batches", "check_val_every_n_epoch")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"config key '{name}' must be >= 1 (got {getattr(self, name)})")
        if self.learning_rate <= 0:
            raise ConfigError(f"config key 'learning_rate' must be > 0 (got {self.learning_rate})")
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"config key 'precision' must be one of {', '.join(map(str, PRECISIONS))} "
                f"(got {self.precision!r})"
            )
        if self.mode not in _MODES:
            raise ConfigError(f"config key 'mode' must be 'min' or 'max' (got {self.mode!r})")
        if self.scheduler_interval not in _INTERVALS:
            raise ConfigError(
                f"config key 'scheduler_interval' must be 'epoch' or 'step' (got {self.scheduler_interval!r})"
            )
        if self.gradient_clip_algorithm not in ("norm", "value"):
            raise ConfigError(
                "config key 'gradient_clip_algorithm' must be 'norm' or 'value' "
                f"(got {self.gradient_clip_algorithm!r})"
            )
        check_cpu_threads(self.cpu_threads)
        if self.data_on_device not in (True, False, "auto"):
            raise ConfigError(
                f"config key 'data_on_device' must be true, false or 'auto' (got {self.data_on_device!r})"
            )
        if self.embedding_layout not in EMBEDDING_LAYOUTS:
            raise ConfigError(
                f"config key 'embedding_layout' must be one of {', '.join(EMBEDDING_LAYOUTS)} "
                f"(got {self.embedding_layout!r})"
            )
        if self.val_check_interval <= 0:
            raise ConfigError(f"config key 'val_check_interval' must be > 0 (got {self.val_check_interval})")
        for name in ("save_top_k", "early_stopping_patience", "num_workers", "log_every_n_steps"):
            if getattr(self, name) < (-1 if name == "save_top_k" else 0):
                raise ConfigError(f"config key '{name}' is out of range (got {getattr(self, name)})")

    # -- construction ---------------------------------------------------------------
    @classmethod
    def field_names(cls) -> list[str]:
        """Return the names of all fields, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, source: str = "config") -> TrainingConfig:
        """Build a config from a mapping; unknown keys are a :class:`ConfigError`.

        Args:
            values: field name -> value.
            source: where the values come from, named in error messages (a file path).
        """
        cls.check_keys(values, source=source)
        return cls(**values)

    @classmethod
    def check_keys(cls, keys: Iterable[str], *, source: str = "config") -> None:
        """Raise :class:`ConfigError` for the first key that is not a field."""
        known = set(cls.field_names())
        for key in keys:
            if key not in known:
                raise ConfigError(_unknown_key_message(key, known, source))

    @classmethod
    def from_toml(cls, path: str | Path) -> TrainingConfig:
        """Load a config from a TOML file (top-level keys are field names)."""
        return cls.from_dict(read_toml(path), source=str(path))

    def replace(self, **changes: Any) -> TrainingConfig:
        """Return a copy with ``changes`` applied and validated."""
        return type(self).from_dict({**self.to_dict(), **changes})

    # -- export -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict (deep-copied)."""
        return dataclasses.asdict(self)

    def to_toml(self, path: str | Path | None = None) -> str:
        """Return the config as TOML text and, when ``path`` is given, write it there.

        ``None`` values are left out (a missing key reads back as its default, and every
        field that may be ``None`` defaults to ``None``).
        """
        text = tomli_w.dumps({k: v for k, v in self.to_dict().items() if v is not None})
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def resolved_mode(self) -> str:
        """Return ``mode``, or derive it from the monitored metric's name."""
        if self.mode is not None:
            return self.mode
        from rec_core.metrics.names import monitor_mode

        return monitor_mode(self.monitor)


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file; a missing, unreadable or non-UTF-8 file or a syntax error is a :class:`ConfigError`."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder; give a .toml file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text (TOML files are UTF-8)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {exc}") from None


def parse_value(text: str) -> Any:
    """Parse a command-line value as a TOML value, falling back to a plain string.

    ``"3"`` -> 3, ``"1e-3"`` -> 0.001, ``"true"`` -> True, ``"[1, 2]"`` -> [1, 2],
    ``"adamw"`` -> "adamw".
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


# torch-rechub keyword arguments -> TrainingConfig fields (or trainer attributes).
_RECHUB_FIELDS = {
    "n_epoch": "max_epochs",
    "earlystop_patience": "early_stopping_patience",
    "model_path": "checkpoint_dir",
}


def split_rechub_kwargs(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Map torch-rechub trainer keyword arguments onto config fields.

    Returns:
        ``(config_values, objects)``: values for :class:`TrainingConfig` fields, and the
        Python objects that cannot live in a config file (``optimizer_fn``,
        ``scheduler_fn``) keyed by their torch-rechub names.
    """
    values: dict[str, Any] = {}
    objects: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in _RECHUB_FIELDS:
            values[_RECHUB_FIELDS[key]] = str(value) if key == "model_path" else value
        elif key in ("optimizer_fn", "scheduler_fn"):
            objects[key] = value
            if value is not None:
                target = "optimizer" if key == "optimizer_fn" else "scheduler"
                values[target] = f"{value.__module__}.{value.__qualname__}"
        elif key == "optimizer_params":
            params = dict(value or {})
            if "lr" in params:
                values["learning_rate"] = params.pop("lr")
            if "weight_decay" in params:
                values["weight_decay"] = params.pop("weight_decay")
            values["optimizer_params"] = params
        elif key == "gpus":
            values["gpus"] = list(value) if isinstance(value, (list, tuple)) else value
        else:
            values[key] = value
    return values, objects


# -- type checking of field values ------------------------------------------------------
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _check_type(name: str, value: Any, hint: Any) -> Any:
    """Return ``value`` (ints widened to float where a float is expected) or raise."""
    ok, converted = _conforms(value, hint)
    if not ok:
        raise ConfigError(
            f"config key '{name}' expects {_describe(hint)}, got {type(value).__name__} {value!r}"
        )
    return converted


def _conforms(value: Any, hint: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        for option in typing.get_args(hint):
            ok, converted = _conforms(value, option)
            if ok:
                return True, converted
        return False, value
    if hint is type(None):
        return value is None, value
    if hint is Any:
        return True, value
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, float(value)
        return False, value
    if hint is str:
        return isinstance(value, str), value
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            return False, value
        checked = [_conforms(v, item) for v in value]
        return all(ok for ok, _ in checked), [v for _, v in checked]
    if origin is dict:
        return isinstance(value, dict), dict(value) if isinstance(value, dict) else value
    raise TypeError(f"unsupported config annotation {hint!r}")  # a bug in a config class


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "nothing (None)"
    if origin is not None:
        return str(hint).replace("typing.", "")
    return getattr(hint, "__name__", str(hint))


def _unknown_key_message(key: str, known: set[str], source: str) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown config key '{key}' in {source}{hint} (valid keys: {', '.join(sorted(known))})"
