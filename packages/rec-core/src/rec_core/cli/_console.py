"""Console output shared by the commands: rich tables, one-line errors, JSON."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

__all__ = ["err_console", "out_console", "print_error", "print_json"]

out_console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(message: str) -> None:
    """Print ``message`` as one red line on stderr."""
    err_console.print(f"[bold red]error:[/] [red]{escape(message)}[/]")


def print_json(payload: Any) -> None:
    """Print ``payload`` as one line of JSON on stdout (for scripts)."""
    sys.stdout.write(json.dumps(payload, default=str, sort_keys=True) + "\n")
    sys.stdout.flush()
