"""``rec predict RUN_DIR --data FILE``: score new data with a finished run's model."""

from __future__ import annotations

from pathlib import Path

import typer

from rec_core.cli._console import out_console, print_json
from rec_core.errors import RecError
from rec_core.plugins import RecPluginManager

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
        from rec_core.runner import read_run_file

        run = read_run_file(run_dir)
        if not data.is_file():
            raise RecError(f"data file not found: {data}")
        trainer_cls = pm.registry("trainers").get(run["task"]).load()
        scorer = getattr(trainer_cls, "predict_from_run", None)
        if scorer is None:
            raise RecError(f"trainer '{run['task']}' ({trainer_cls.__name__}) does not support rec predict")
        target = output or data.with_name(f"{data.stem}.predictions.csv")
        result = scorer(run_dir, data, target, checkpoint)
        if json:
            print_json(result)
        else:
            out_console.print(
                f"wrote {result['rows']} predictions to {result['output']} (model {result['checkpoint']})"
            )
