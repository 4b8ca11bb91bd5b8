"""``rec runs show RUN``: the final table and the training curves of a run folder.

Reads what every ``rec train`` run leaves behind, ``metrics.jsonl`` (written by the
built-in ``jsonl`` logger) and ``summary.json`` (written when the run completes), so it
works offline, without any tracker, and on runs that crashed or are still going. The
curves are drawn with unicode blocks in the terminal; ``--png`` draws them with
matplotlib, an optional dependency. Nothing here imports torch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from rec_core.cli._console import out_console
from rec_core.errors import RecError
from rec_core.loggers.jsonl import METRICS_FILENAME, read_metrics_jsonl
from rec_core.metrics.names import is_higher_better

__all__ = ["RunRecord", "add_runs_commands", "bar", "load_run", "sparkline", "write_png"]

SUMMARY_FILENAME = "summary.json"
TRAIN_LOSS = "train/loss"
_SPARKS = "▁▂▃▄▅▆▇█"
_EIGHTHS = " ▏▎▍▌▋▊▉█"
_MAX_SPARK_POINTS = 60
_MAX_BAR_ROWS = 40
_BAR_WIDTH = 16


@dataclass
class RunRecord:
    """What a run folder says about its run.

    Attributes:
        folder: The run folder.
        hparams: The hyperparameters logged at the start (the last ``hparams`` record).
        epochs: ``{epoch: metrics}`` from the per-epoch records (0-based epochs; a resumed
            run's repeated epoch keeps its latest record).
        status: ``success``, ``failed`` or ``interrupted`` from the last ``finish`` record;
            ``None`` while running, or after a kill.
        summary: ``summary.json``, or ``None`` when the run did not complete.
    """

    folder: Path
    hparams: dict[str, Any] = field(default_factory=dict)
    epochs: dict[int, dict[str, Any]] = field(default_factory=dict)
    status: str | None = None
    summary: dict[str, Any] | None = None

    @property
    def monitor(self) -> str | None:
        """The monitored metric (from the summary, else the hyperparameters)."""
        name = (self.summary or {}).get("monitor") or self.hparams.get("monitor")
        return str(name) if name else None

    def curve(self, name: str) -> list[tuple[int, float]]:
        """Return ``[(epoch, value)]`` of metric ``name``, in epoch order."""
        return [(epoch, float(m[name])) for epoch, m in sorted(self.epochs.items()) if _is_number(m.get(name))]

    def best(self) -> tuple[int | None, dict[str, Any]]:
        """Return the best epoch and its validation metrics.

        Taken from ``summary.json`` when present, else from the epoch records, by the
        monitored metric and the run's ``mode`` (guessed from the name without one).
        """
        monitor = self.monitor
        points = self.curve(monitor) if monitor else []
        if self.summary is not None:
            best = dict(self.summary.get("best") or {})
            target: Any = best.get(monitor) if monitor else None
            if not _is_number(target):
                return None, best
            return next((e for e, v in points if v == float(target)), None), best
        if not points:
            return None, {}
        mode = self.hparams.get("mode")  # the run's explicit mode wins; an unknown name counts as higher-better
        higher = mode == "max" if mode in ("max", "min") else is_higher_better(monitor or "", default=True)
        finite = [(e, v) for e, v in points if not math.isnan(v)] or points
        epoch = (max if higher else min)(finite, key=lambda p: p[1])[0]
        return epoch, {k: v for k, v in self.epochs[epoch].items() if k.startswith("val/")}


def load_run(folder: Path) -> RunRecord:
    """Read ``folder/metrics.jsonl`` and, if present, ``folder/summary.json``.

    Raises:
        RecError: the folder or its ``metrics.jsonl`` is missing, or a file is corrupt;
            the message names the path.
    """
    if not folder.exists():
        raise RecError(f"run folder {folder} does not exist")
    if not folder.is_dir():
        raise RecError(f"{folder} is not a folder; give the run folder written by rec train")
    metrics_file = folder / METRICS_FILENAME
    if not metrics_file.is_file():
        raise RecError(f"{folder} is not a rec run folder: {metrics_file} is missing")
    run = RunRecord(folder=folder)
    for record in read_metrics_jsonl(metrics_file):
        kind = record.get("type")
        if kind == "hparams" and isinstance(record.get("params"), dict):
            run.hparams = record["params"]
        elif kind == "metrics" and isinstance(record.get("metrics"), dict) and "epoch" in record["metrics"]:
            run.epochs[int(record["metrics"]["epoch"])] = record["metrics"]
        elif kind == "finish":
            run.status = record.get("status")
    summary_file = folder / SUMMARY_FILENAME
    if summary_file.is_file():
        try:
            run.summary = json.loads(summary_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RecError(f"cannot read {summary_file}: {exc}") from None
        if not isinstance(run.summary, dict):
            raise RecError(f"{summary_file} is corrupt: expected a JSON object")
    return run


def add_runs_commands(app: typer.Typer) -> None:
    """Add the ``runs`` group (``rec runs show``) to ``app``."""
    runs_app = typer.Typer(no_args_is_help=True, help="Look at run folders written by rec train.")

    @runs_app.command("show")
    def show(
        output_dir: Path = typer.Argument(..., help="A run folder written by rec train.", show_default=False),
        png: Path | None = typer.Option(
            None, "--png", help="Also draw the curves into this PNG file (needs matplotlib).", show_default=False
        ),
    ) -> None:
        """Show a run's final metrics and its curves (train/loss and the monitored metric)."""
        run = load_run(output_dir)
        out_console.print(summary_table(run))
        print_curves(run)
        if png is not None:
            write_png(run, png)
            out_console.print(f"wrote {escape(str(png))}")

    app.add_typer(runs_app, name="runs")


def summary_table(run: RunRecord) -> Table:
    """Return the final table: best (and test) metrics, then the run's facts."""
    summary = run.summary or {}
    what = " on ".join(str(summary[k]) for k in ("model", "data") if summary.get(k))
    title = f"rec run {run.folder}" + (f": {summary.get('task', '')} {what}".rstrip() if summary else "")
    table = Table(title=escape(title), title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    best_epoch, best = run.best()
    for key, value in {**best, **(summary.get("test") or {})}.items():
        table.add_row(escape(str(key)), _format(value))
    if best_epoch is not None:
        table.add_row("best epoch", str(best_epoch + 1))
    table.add_row("epochs", str(summary.get("epochs", len(run.epochs))))
    for key in ("global_step", "seconds", "best_checkpoint"):
        if summary.get(key) is not None:
            table.add_row(key, escape(str(summary[key])))
    table.add_row("status", run.status or "no finish record (running, or killed)")
    return table


def print_curves(run: RunRecord) -> None:
    """Print a sparkline per curve, and a bar per epoch when there are few epochs."""
    names = _curve_names(run)
    curves = {name: run.curve(name) for name in names}
    curves = {name: points for name, points in curves.items() if points}
    if not curves:
        out_console.print("no per-epoch metrics in metrics.jsonl yet")
        return
    width = max(len(name) for name in curves)
    for name, points in curves.items():
        values = [v for _, v in points]
        out_console.print(
            f"{escape(name):<{width}}  {sparkline(values)}  {_format(values[0])} → {_format(values[-1])}"
            f"  (min {_format(min(values))}, max {_format(max(values))})"
        )
    epochs = sorted({epoch for points in curves.values() for epoch, _ in points})
    if len(epochs) > _MAX_BAR_ROWS:
        return
    table = Table(box=None, pad_edge=False, title="per epoch", title_justify="left")
    table.add_column("epoch", justify="right")
    for name in curves:
        table.add_column(escape(name))
    by_epoch = {name: dict(points) for name, points in curves.items()}
    for epoch in epochs:
        cells = []
        for name, points in curves.items():
            value = by_epoch[name].get(epoch)
            lo, hi = min(v for _, v in points), max(v for _, v in points)
            cells.append("" if value is None else f"{_format(value)} {bar(value, lo, hi, _BAR_WIDTH)}")
        table.add_row(str(epoch + 1), *cells)
    out_console.print(table)


def sparkline(values: Sequence[float], max_points: int = _MAX_SPARK_POINTS) -> str:
    """Return ``values`` as a line of ``▁▂▃▄▅▆▇█`` (at most ``max_points`` characters; NaN is a space)."""
    if len(values) > max_points:
        values = [values[round(i * (len(values) - 1) / (max_points - 1))] for i in range(max_points)]
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return " " * len(values)
    lo, hi = min(finite), max(finite)
    top = len(_SPARKS) - 1
    chars = []
    for v in values:
        if not math.isfinite(v):
            chars.append(" ")
        elif hi == lo:
            chars.append(_SPARKS[top // 2])
        else:
            chars.append(_SPARKS[round((v - lo) / (hi - lo) * top)])
    return "".join(chars)


def bar(value: float, lo: float, hi: float, width: int) -> str:
    """Return a horizontal bar for ``value`` scaled from ``lo`` (one eighth) to ``hi`` (``width`` cells)."""
    if not math.isfinite(value):
        return ""
    fraction = 0.5 if hi == lo else (value - lo) / (hi - lo)
    eighths = max(1, round(fraction * width * 8))
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def write_png(run: RunRecord, path: Path) -> None:
    """Draw the curves of :func:`print_curves` into ``path`` with matplotlib.

    Raises:
        RecError: matplotlib is not installed (the message says ``pip install matplotlib``),
            there are no curves to draw, or the file cannot be written.
    """
    try:
        import matplotlib  # noqa: F401 - fails first when matplotlib is missing
        from matplotlib.figure import Figure
    except ImportError:
        raise RecError("--png needs matplotlib, which is not installed: pip install matplotlib") from None
    curves = {name: run.curve(name) for name in _curve_names(run)}
    curves = {name: points for name, points in curves.items() if points}
    if not curves:
        raise RecError(f"nothing to draw: {run.folder / METRICS_FILENAME} has no per-epoch metrics")
    figure = Figure(figsize=(5 * len(curves), 3.5), layout="constrained")
    axes = figure.subplots(1, len(curves), squeeze=False)[0]
    for ax, (name, points) in zip(axes, curves.items(), strict=True):
        ax.plot([e + 1 for e, _ in points], [v for _, v in points], marker="o")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    figure.suptitle(str(run.folder))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise RecError(f"cannot write {path}: {exc}") from None


def _curve_names(run: RunRecord) -> list[str]:
    names = [TRAIN_LOSS]
    if run.monitor and run.monitor != TRAIN_LOSS:
        names.append(run.monitor)
    return names


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return escape(str(value))
