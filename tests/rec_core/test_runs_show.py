"""``rec runs show RUN [--png FILE]``: final table and curves from metrics.jsonl and summary.json."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from rec_core import make_plugin_manager
from rec_core.cli import build_app
from rec_core.cli._runs import bar, load_run, sparkline
from rec_core.loggers import JsonlLogger

runner = CliRunner()
LOSSES = [0.69, 0.52, 0.44, 0.41]
AUCS = [0.61, 0.70, 0.74, 0.73]


@pytest.fixture
def app():
    return build_app(make_plugin_manager(entry_points=False))


def write_run(folder, *, summary=True, status="success", epochs=4, monitor="val/auc", mode=None):
    """Write a run folder as ``rec train`` leaves it: metrics.jsonl (+ summary.json)."""
    logger = JsonlLogger(folder)
    logger.log_hyperparams({"monitor": monitor, "mode": mode, "max_epochs": epochs, "optimizer_params": {}})
    losses = LOSSES if epochs <= 4 else [1.0 / (e + 1) for e in range(epochs)]
    aucs = AUCS if epochs <= 4 else [0.5 + 0.4 * e / epochs for e in range(epochs)]
    for epoch in range(epochs):
        step = 10 * (epoch + 1)
        logger.log_metrics({"train/loss_step": losses[epoch] + 0.01, "learning_rate": 0.1}, step=step - 5)
        logger.log_metrics({"train/loss": losses[epoch], "learning_rate": 0.1, "val/auc": aucs[epoch],
                            "val/logloss": losses[epoch] + 0.05, "epoch": epoch}, step=step)
    logger.finish(status or "success")
    if status is None:  # a run still going (or killed): no finish record yet
        lines = (folder / "metrics.jsonl").read_text().splitlines(keepends=True)
        (folder / "metrics.jsonl").write_text("".join(lines[:-1]))
    if summary:
        (folder / "summary.json").write_text(json.dumps({
            "task": "ctr", "model": "deepfm", "data": "criteo-sample", "output": str(folder),
            "monitor": monitor, "best_score": 0.74, "best": {"val/auc": 0.74, "val/logloss": 0.49},
            "test": {"test/auc": 0.7312, "test/logloss": 0.5}, "best_checkpoint": str(folder / "best.ckpt"),
            "epochs": epochs, "global_step": 10 * epochs, "seconds": 1.5,
        }))
    return folder


def test_show_prints_the_final_table_and_the_curves(app, tmp_path):
    run = write_run(tmp_path / "run")
    result = runner.invoke(app, ["runs", "show", str(run)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "rec run" in out and "ctr deepfm on criteo-sample" in out
    for row in ("val/auc", "0.7400", "test/auc", "0.7312", "best epoch", "global_step", "status", "success"):
        assert row in out, row
    assert "best epoch  " in out.replace("│", " ") and " 3 " in out  # 1-based: epoch index 2
    loss_line = next(line for line in out.splitlines() if line.startswith("train/loss "))
    assert sparkline(LOSSES) in loss_line and "0.6900 → 0.4100" in loss_line
    auc_line = next(line for line in out.splitlines() if line.startswith("val/auc "))
    assert sparkline(AUCS) in auc_line and "max 0.7400" in auc_line
    assert "per epoch" in out and "█" in out


def test_a_run_without_summary_takes_the_best_epoch_from_the_metrics(app, tmp_path):
    run = write_run(tmp_path / "run", summary=False, status="failed", epochs=3, monitor="val/logloss")
    result = runner.invoke(app, ["runs", "show", str(run)])
    assert result.exit_code == 0, result.output
    assert "failed" in result.output and "val/logloss" in result.output
    record = load_run(run)
    assert record.best() == (2, {"val/auc": AUCS[2], "val/logloss": LOSSES[2] + 0.05})  # lowest logloss


def test_a_run_still_going_has_no_finish_record(app, tmp_path):
    run = write_run(tmp_path / "run", summary=False, status=None, epochs=2)
    result = runner.invoke(app, ["runs", "show", str(run)])
    assert result.exit_code == 0, result.output
    assert "no finish record" in result.output
    assert load_run(run).best()[0] == 1  # auc rises: higher is better


def test_long_runs_show_sparklines_only(app, tmp_path):
    run = write_run(tmp_path / "run", summary=False, epochs=100)
    result = runner.invoke(app, ["runs", "show", str(run)])
    assert result.exit_code == 0, result.output
    assert "per epoch" not in result.output
    loss_line = next(line for line in result.output.splitlines() if line.startswith("train/loss "))
    assert len(loss_line.split()[1]) == 60  # downsampled to 60 points


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed")
def test_png_writes_the_curves(app, tmp_path):
    run = write_run(tmp_path / "run")
    png = tmp_path / "plots" / "curves.png"
    result = runner.invoke(app, ["runs", "show", str(run), "--png", str(png)])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert f"wrote {png}" in result.output.replace("\n", "")


def test_png_without_matplotlib_is_one_line(app, tmp_path, monkeypatch):
    # None in sys.modules makes `import matplotlib` fail as if it were not installed.
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)
    run = write_run(tmp_path / "run")
    result = runner.invoke(app, ["runs", "show", str(run), "--png", str(tmp_path / "c.png")])
    assert result.exit_code == 1
    assert "pip install matplotlib" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(), "metrics.jsonl is missing"),
        (lambda p: p.write_text("x"), "is not a folder"),
        (lambda p: (write_run(p), (p / "summary.json").write_text("{")), "summary.json"),
    ],
    ids=["missing-folder", "missing-metrics", "a-file", "corrupt-summary"],
)
def test_bad_run_folders_are_one_line_errors(app, tmp_path, setup, message):
    folder = tmp_path / "run"
    setup(folder)
    result = runner.invoke(app, ["runs", "show", str(folder)])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert str(folder) in result.output.replace("\n", "")


def test_sparkline_and_bar():
    assert sparkline([1.0, 2.0, 3.0]) == "▁▅█"
    assert sparkline([5.0, 5.0]) == "▄▄"
    assert sparkline([1.0, math.nan, 3.0]) == "▁ █"
    assert len(sparkline([float(i) for i in range(500)])) == 60
    assert bar(1.0, 0.0, 1.0, 4) == "████" and bar(0.0, 0.0, 1.0, 4) == "▏"
    assert bar(0.5, 0.0, 1.0, 3) == "█▌" and bar(math.nan, 0.0, 1.0, 4) == ""


def test_runs_show_imports_no_torch(tmp_path):
    run = write_run(tmp_path / "run")
    code = f"""
import sys
from typer.testing import CliRunner
from rec_core import make_plugin_manager
from rec_core.cli import build_app
result = CliRunner().invoke(build_app(make_plugin_manager(entry_points=False)), ["runs", "show", {str(run)!r}])
assert result.exit_code == 0, result.output
print("torch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False", out.stderr
