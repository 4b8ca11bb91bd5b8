"""CTR quality on Frappe: each model's recipe, test AUC / log loss and wall time, beside BARS's Frappe_x1.

Every run goes through what ``rec train ctr --data frappe --model NAME --seed S`` does
(``build_request`` + ``run_training``: the data set's recipe, early stopping on validation
AUC, the best weights restored, then the test split), so the figures are those of a user's
first run. ``frappe`` is built from the raw Frappe logs the way the NFM paper built it (two
sampled negatives per log, 7:2:1 split); the seed draws those negatives and the split as well
as the initial weights, as ``--seed`` does. BARS's split has the same sizes but other rows.

BARS figures: test AUC / log loss of FuxiCTR 1.x on Frappe_x1 (github.com/reczoo/BARS,
ranking/ctr/*_frappe_x1; averages of 5 runs where BARS ran 5, AutoInt is AutoInt+).
Target: DeepFM mean test AUC >= 0.983 over seeds 1, 2, 3.

Run: ``nox -s bench -- quality`` or ``python benchmarks/ctr_quality.py [--models deepfm dcnv2 ...]
[--seeds 3] [--other-seeds 1] [--set key=value] [--recipe none] [--threads 1] [--json out.json]``
(needs ``REC_DATA_DIR`` pointing at the shared data).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

MODELS = ("deepfm", "dcnv2", "widedeep", "fm", "xdeepfm", "autoint")
HEADLINE = "deepfm"
TARGET = 0.983
BARS = {  # model -> (test AUC, test log loss) on Frappe_x1
    "lr": (0.935584, 0.307643),
    "fm": (0.967108, 0.206515),
    "widedeep": (0.983073, 0.153978),
    "deepfm": (0.983947, 0.149462),
    "dcn": (0.983418, 0.150676),
    "dcnv2": (0.983824, 0.152036),
    "xdeepfm": (0.984138, 0.146125),
    "autoint": (0.984812, 0.149007),
    "fibinet": (0.983182, 0.194074),
}


def run_once(pm, model: str, seed: int, args: argparse.Namespace) -> dict:
    """Train ``model`` as ``rec train ctr --data frappe --model MODEL --seed SEED [--set ...]`` would."""
    from rec_core.cli._train import build_request
    from rec_core.pipeline import run_training

    with tempfile.TemporaryDirectory() as folder:
        request = build_request(pm, "ctr", model=model, data="frappe", sets=["progress_bar=false", *args.set],
                                flags={"random_seed": seed}, output=Path(folder) / "run",
                                recipe=args.recipe == "auto")
        started = time.perf_counter()
        summary = run_training(request.trainer.load(), request)
        wall = time.perf_counter() - started
    return {"model": model, "seed": seed, "auc": summary["test"]["test/auc"],
            "logloss": summary["test"]["test/logloss"], "val_auc": summary["best"].get("val/auc"),
            "epochs": summary["epochs"], "fit_s": summary["seconds"], "wall_s": wall,
            "recipe": request.recipe.to_json() if request.recipe else None}


def spread(values: list[float]) -> float:
    """Return the sample standard deviation (0 for a single run)."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def print_summary(results: dict[str, list[dict]]) -> None:
    print("\n| model | runs | test AUC | ± std | log loss | epochs | wall s / run | BARS AUC | BARS log loss |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, runs in results.items():
        aucs = [r["auc"] for r in runs]
        bars_auc, bars_loss = BARS.get(name, (float("nan"), float("nan")))
        print(f"| {name} | {len(runs)} | {statistics.mean(aucs):.4f} | {spread(aucs):.4f} | "
              f"{statistics.mean(r['logloss'] for r in runs):.4f} | "
              f"{statistics.mean(r['epochs'] for r in runs):.1f} | {statistics.mean(r['wall_s'] for r in runs):.0f} | "
              f"{bars_auc:.4f} | {bars_loss:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--seeds", type=int, default=3, help=f"seeds 1..N for {HEADLINE}")
    parser.add_argument("--other-seeds", type=int, default=1, help="seeds 1..N for the other models")
    parser.add_argument("--set", action="append", default=[], help="as rec train --set (key=value, model.key=value)")
    parser.add_argument("--recipe", choices=("auto", "none"), default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--json", type=str, default=None, help="also write every run to this file")
    args = parser.parse_args()

    import torch

    from rec_core.plugins import make_plugin_manager

    if args.threads:
        torch.set_num_threads(args.threads)
    pm = make_plugin_manager()
    print(f"Frappe (NFM-style build), rec train ctr --data frappe, recipe {args.recipe}, "
          f"{torch.get_num_threads()} torch thread(s), {os.cpu_count()} CPUs")
    print(f"{'model':<10} {'seed':>4} {'test AUC':>9} {'logloss':>8} {'val AUC':>8} {'epochs':>6} {'wall s':>7}")
    results: dict[str, list[dict]] = {}
    for name in args.models:
        for seed in range(1, (args.seeds if name == HEADLINE else args.other_seeds) + 1):
            run = run_once(pm, name, seed, args)
            results.setdefault(name, []).append(run)
            print(f"{name:<10} {seed:>4} {run['auc']:>9.4f} {run['logloss']:>8.4f} {run['val_auc']:>8.4f} "
                  f"{run['epochs']:>6} {run['wall_s']:>7.0f}", flush=True)
    print_summary(results)
    if HEADLINE in results:
        mean = statistics.mean(r["auc"] for r in results[HEADLINE])
        verdict = "met" if mean >= TARGET else "NOT met"
        print(f"\n{HEADLINE} mean test AUC {mean:.4f} over {len(results[HEADLINE])} seed(s) vs target {TARGET} "
              f"(BARS {BARS[HEADLINE][0]:.4f}): {verdict}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
