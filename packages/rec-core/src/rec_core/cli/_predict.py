"""``rec predict``, ``rec recommend`` and ``rec export-index``: use a finished run's model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from rec_core.cli._console import out_console, print_json
from rec_core.errors import RecError
from rec_core.plugins import RecPluginManager
from rec_core.runfolder import RunFolder

__all__ = ["add_export_index_command", "add_predict_command", "add_recommend_command"]


def add_predict_command(app: typer.Typer, pm: RecPluginManager) -> None:
    """Add ``predict`` to ``app``."""

    @app.command("predict")
    def predict(
        run_dir: Path = typer.Argument(..., help="A run folder written by rec train.", show_default=False),
        data: Path = typer.Option(..., "--data", "-d", help="The .csv/.parquet file to score.", show_default=False),
        output: Path | None = typer.Option(None, "--output", "-o", help="Where to write; default DATA.predictions.csv"),
        checkpoint: str = typer.Option("best", "--checkpoint", help="best, last, or a checkpoint path."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Score a file with a trained model, encoding it exactly as the training data was."""
        folder = RunFolder(run_dir)
        if not data.is_file():
            raise RecError(f"data file not found: {data}")
        trainer_cls = _trainer_of(folder, pm)
        target = output or data.with_name(f"{data.stem}.predictions.csv")
        result = trainer_cls.predict_from_run(folder, data, target, checkpoint, pm=pm)
        if json:
            print_json(result)
        else:
            out_console.print(
                f"wrote {result['rows']} predictions to {result['output']} (model {result['checkpoint']})"
            )


def add_recommend_command(app: typer.Typer, pm: RecPluginManager) -> None:
    """Add ``recommend`` to ``app``."""

    @app.command("recommend")
    def recommend(
        run_dir: Path = typer.Argument(..., help="A run folder written by rec train (seq, match or tiger).",
                                       show_default=False),
        user: str = typer.Option(..., "--user", "-u", help="The user's id, as in the training data.",
                                 show_default=False),
        k: int = typer.Option(10, "--k", "-k", min=1, help="How many items to recommend."),
        checkpoint: str = typer.Option("best", "--checkpoint", help="best, last, or a checkpoint path."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Print a user's top-K items (original ids), every item they already interacted with excluded."""
        from rich.table import Table

        folder = RunFolder(run_dir)
        result = _trainer_of(folder, pm).recommend_from_run(folder, user, k, checkpoint, pm=pm)
        if json:
            print_json(result)
            return
        table = Table(title=f"top {k} for user {result['user']} ({result['history']} known items excluded)")
        table.add_column("rank", justify="right")
        table.add_column("item")
        titled = any(entry.get("title") for entry in result["items"])
        if titled:
            table.add_column("title")
        for entry in result["items"]:
            table.add_row(str(entry["rank"]), entry["item"], *([entry.get("title") or ""] if titled else []))
        out_console.print(table)


def add_export_index_command(app: typer.Typer, pm: RecPluginManager) -> None:
    """Add ``export-index`` to ``app``."""

    @app.command("export-index")
    def export_index(
        run_dir: Path = typer.Argument(..., help="A run folder written by rec train (seq or match).",
                                       show_default=False),
        output: Path | None = typer.Option(None, "--output", "-o", help="Folder to create; default RUN/index."),
        faiss: bool = typer.Option(False, "--faiss", help="Also write an exact inner-product faiss index "
                                                          '(pip install "rec-trainers[faiss]").'),
        checkpoint: str = typer.Option("best", "--checkpoint", help="best, last, or a checkpoint path."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Write the item vectors users are scored against (.npy, original ids) for serving; --faiss adds an index."""
        folder = RunFolder(run_dir)
        result = _trainer_of(folder, pm).export_index_from_run(folder, output or folder.path / "index", checkpoint,
                                                               faiss=faiss, pm=pm)
        if json:
            print_json(result)
        else:
            extra = " and items.faiss" if result["faiss"] else ""
            out_console.print(
                f"wrote {result['items']} item vectors (dim {result['dim']}){extra} to {result['output']}"
            )


def _trainer_of(folder: RunFolder, pm: RecPluginManager) -> Any:
    """Return the trainer class of the run in ``folder`` (its task's registered trainer)."""
    return pm.registry("trainers").get(folder.read_run()["task"]).load()
