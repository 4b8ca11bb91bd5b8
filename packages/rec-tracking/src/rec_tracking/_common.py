"""What the three loggers share: lazy SDK imports, value conversion, ``from_run`` plumbing.

Nothing here imports a tracker SDK or torch at module level.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from types import ModuleType
from typing import Any, TypeVar

from rec_core.errors import RecError
from rec_core.loggers import FINISH_STATUSES, BaseLogger, plain_params, to_number

__all__ = [
    "build_from_run",
    "check_status",
    "import_sdk",
    "is_global_zero",
    "metric_value",
    "plain_params",
    "to_number",
]

LoggerT = TypeVar("LoggerT", bound=BaseLogger)


def import_sdk(module: str, *, extra: str, logger: str) -> ModuleType:
    """Import a tracker SDK, or raise an ImportError that says how to install it.

    Args:
        module: The SDK's import name (``"wandb"``, ``"swanlab"``, ``"tensorboardX"``).
        extra: The rec-tracking extra that installs it.
        logger: The logger class asking, named in the message.

    Raises:
        ImportError: The SDK is missing or fails to import; the message names the extra,
            e.g. ``pip install "rec-tracking[wandb]"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = isinstance(exc, ModuleNotFoundError) and exc.name == module
        why = "is not installed" if missing else f"could not be imported ({type(exc).__name__}: {exc})"
        raise ImportError(
            f"{logger} needs the {module} package, which {why}: pip install \"rec-tracking[{extra}]\"",
            name=module,
        ) from exc


def check_status(status: str) -> None:
    """Raise ValueError unless ``status`` is ``success``, ``failed`` or ``interrupted``."""
    if status not in FINISH_STATUSES:
        raise ValueError(f"finish status must be one of {FINISH_STATUSES}, got {status!r}")


def metric_value(value: Any) -> Any:
    """Return a tensor/numpy scalar as a Python number; anything else unchanged."""
    number = to_number(value)
    return value if number is None else number


def is_global_zero() -> bool:
    """Return whether this process is global rank 0 (``RANK`` unset or ``0``)."""
    return int(os.environ.get("RANK", "0") or 0) == 0


def build_from_run(cls: type[LoggerT], name: str, defaults: Mapping[str, Any],
                   options: Mapping[str, Any]) -> LoggerT | BaseLogger:
    """Create ``cls`` for ``rec train``: defaults under the run folder, errors as one line.

    Ranks other than 0 get a no-op :class:`BaseLogger`: the trainer logs on rank 0 only,
    and a tracker run started on every rank would be left unfinished.

    Raises:
        RecError: The SDK is missing (the message names the extra) or the backend failed
            to start (no API key, a run already active, ...). A ``TypeError`` (bad option)
            propagates for ``rec_core.pipeline.build_loggers`` to report.
    """
    if not is_global_zero():
        return BaseLogger()
    try:
        return cls(**{**defaults, **options})
    except (TypeError, RecError):
        raise
    except ImportError as exc:
        raise RecError(f"logger '{name}': {exc}") from exc
    except Exception as exc:  # any SDK failure becomes a one-line CLI error
        message = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise RecError(
            f"logger '{name}' could not start: {type(exc).__name__}: {message}{_OFFLINE_HINTS.get(name, '')}"
        ) from exc


_OFFLINE_HINTS = {
    "wandb": " (to log without an account: --set logger.wandb.mode=offline)",
    "swanlab": " (to log without an account: --set logger.swanlab.mode=offline)",
}
