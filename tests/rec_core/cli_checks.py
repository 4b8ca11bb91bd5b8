"""Helpers shared by the command-line tests: one-line failures, file snapshots, the toy trainer plugin."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from typer.testing import CliRunner

TOY_TRAINER_SOURCES = Path(__file__).parents[1] / "fixtures" / "rec-toy-trainer" / "src"
runner = CliRunner()


def install_toy_trainer(site) -> None:
    """Install the fixture project tests/fixtures/rec-toy-trainer into ``site`` (a ``rec_plugin_site``)."""
    modules = {str(p.relative_to(TOY_TRAINER_SOURCES)): p.read_text() for p in TOY_TRAINER_SOURCES.rglob("*.py")}
    site.install("rec-toy-trainer", entry_points={"rec": {"toy": "rec_toy.plugin"}}, modules=modules)


def snapshot(root: Path) -> dict[Path, bytes]:
    """Return every file under ``root`` with its bytes (to show a failed run changed nothing)."""
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def fails_with(app, args: list[str], message: str) -> str:
    """Run ``rec ARGS``; assert exit code 1 and one red line, without a traceback, containing ``message``."""
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    return result.output


def installed(distribution: str) -> bool:
    """Return whether ``distribution`` is installed in this environment."""
    try:
        importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
