"""Checks run where a tracker SDK cannot be imported (see ``test_missing_sdk.py``).

Kept free of torch and pytest so the subprocess that runs it starts fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def check_missing(module: str, class_name: str, extra: str, kwargs: dict[str, Any], tmp: str) -> None:
    """Assert the install hint, the one-line ``from_run`` error, and that the plugin still works.

    Runs in a process where ``module`` cannot be imported. ``kwargs`` are the logger's
    arguments; the value ``"LOGDIR"`` stands for a folder under ``tmp``.
    """
    import rec_tracking
    from rec_core import make_plugin_manager
    from rec_core.errors import RecError
    from rec_core.plugins import LOAD_ENV

    hint = f'pip install "rec-tracking[{extra}]"'
    cls = getattr(rec_tracking, class_name)
    kwargs = {k: (f"{tmp}/tb" if v == "LOGDIR" else v) for k, v in kwargs.items()}
    try:
        cls(**kwargs)
    except ImportError as exc:
        assert hint in str(exc) and "is not installed" in str(exc), str(exc)
        assert exc.name == module
    else:
        raise AssertionError(f"{class_name} was created without {module}")
    try:
        cls.from_run(Path(tmp) / "run")
    except RecError as exc:
        assert str(exc).startswith(f"logger '{cls.name}': ") and hint in str(exc), str(exc)
    else:
        raise AssertionError("from_run did not fail")
    assert not (Path(tmp) / "run").exists()

    saved = os.environ.get(LOAD_ENV)
    os.environ[LOAD_ENV] = "tracking"
    try:
        pm = make_plugin_manager()
    finally:
        if saved is None:
            del os.environ[LOAD_ENV]
        else:
            os.environ[LOAD_ENV] = saved
    registry = pm.registry("loggers")
    assert {"wandb", "swanlab", "tensorboardx"} <= set(registry.names())
    assert registry.get(cls.name).load() is cls  # the plugin and its lazy reference still load
    assert pm.records["tracking"].errors == []
