"""The ``rec`` command line (Typer + rich)."""

from __future__ import annotations

import os
import sys

__all__ = ["build_app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Run the ``rec`` command line (the ``rec`` console script)."""
    # libgomp busy-waits by default; on small shared CPUs that stalls short ops (see notes).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from rec_core.cli._app import build_app
    from rec_core.plugins import make_plugin_manager

    app = build_app(make_plugin_manager())
    app(args=argv if argv is not None else sys.argv[1:], prog_name="rec")


def build_app(pm):  # type: ignore[no-untyped-def]  # re-exported lazily, see _app.build_app
    """Return the ``rec`` Typer application for the plugin manager ``pm``."""
    from rec_core.cli._app import build_app as _build_app

    return _build_app(pm)
