"""``rec predict RUN --data FILE``: score new data with a finished run's model."""

from __future__ import annotations

from pathlib import Path

import typer

from rec_core.cli._console import out_console, print_json
from rec_core.errors import RecError
from rec_core.plugins import RecPluginManager
from rec_core.runfolder import RunFolder

__all__ = ["add_predict_command"]


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
        run = folder.read_run()
        if not data.is_file():
            raise RecError(f"data file not found: {data}")
        trainer_cls = pm.registry("trainers").get(run["task"]).load()
        target = output or data.with_name(f"{data.stem}.predictions.csv")
        result = trainer_cls.predict_from_run(folder, data, target, checkpoint, pm=pm)
        if json:
            print_json(result)
        else:
            out_console.print(
                f"wrote {result['rows']} predictions to {result['output']} (model {result['checkpoint']})"
            )
