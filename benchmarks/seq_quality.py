"""Next-item quality and speed: rec's SeqTrainer by exact full ranking, beside popularity and torch-rechub.

For each data set (leave-one-out: the last item of each user is the test target, the one
before it the validation target) and each model, a run trains with the data set's
recipe (the settings ``rec train seq --data NAME --model MODEL`` uses) within a wall-clock
budget, early-stops on validation NDCG@10 and reports the test metrics of the best
epoch: recall@10/20, NDCG@10/20 over the whole catalogue with the user's known items
excluded and ties counted against the target; seconds per epoch, the best epoch and the
wall time. The popularity baseline is scored by the same evaluator. Throughput rows
compare training samples/s (positions with a target per second) and evaluation users/s
with torch-rechub 0.9's SASRec trained by a plain loop on the same rows.

Anchors on Beauty (same protocol): genrec's SASRec 0.0688 / 0.0375 (recall@10 / NDCG@10);
RecBole 1.2.1 SASRec (CE) on this CPU with this data 0.0758 / 0.0371 after 7 epochs in 32
minutes. Target: >= 0.080 / >= 0.040 within 30 minutes of training.

Run: ``nox -s bench -- seq`` or ``python benchmarks/seq_quality.py [--data amazon-beauty ml-100k]
[--models sasrec gru4rec bert4rec hstu] [--minutes 30] [--set key=value] [--model-set key=value]``
(needs ``REC_DATA_DIR`` pointing at the shared data).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from _common import fit_and_test, parse_sets

METRICS = ("recall@10", "ndcg@10", "recall@20", "ndcg@20")



def run_model(pm, data_name: str, data, model_name: str, args: argparse.Namespace) -> dict:
    """Train one model with the data set's recipe (plus overrides) within the budget; return its figures."""
    import torch

    from rec_core.callbacks import TimeLimit
    from rec_core.cli._train import recipe_for
    from rec_trainers import SeqTrainer

    config_values, model_params = recipe_for(pm, data_name, model_name, "seq")
    config_values = {**config_values, **parse_sets(args.set)}
    model_params = {**model_params, **parse_sets(args.model_set)}
    torch.manual_seed(args.seed)
    factory = pm.registry("models").get(model_name, task="seq").load()
    model = factory.from_features(data.features, **model_params)
    with tempfile.TemporaryDirectory() as folder:
        trainer = SeqTrainer(model, device="cpu", model_path=folder, progress_bar=args.progress,
                             callbacks=[TimeLimit(args.minutes * 60)], random_seed=args.seed, **config_values)
        loaders = trainer.make_loaders(data)
        run = fit_and_test(trainer, loaders, verbose=args.verbose)
        test, wall, best_epoch = run["test"], run["wall_s"], run["best_epoch"]
    positions = int((loaders["train"].dataset.x["target"] != 0).sum())
    return {
        "model": model_name, **{m: test[m] for m in METRICS}, "test": test, "epochs": trainer.current_epoch,
        "best_epoch": best_epoch, "s_per_epoch": wall / max(trainer.current_epoch, 1), "wall_s": wall,
        "positions": positions, "params": model_params, "config": config_values,
    }




def popularity(data) -> dict:
    from rec_trainers import SeqTrainer
    from rec_trainers.models.sequential import Popularity

    with tempfile.TemporaryDirectory() as folder:
        trainer = SeqTrainer(Popularity.from_data(data), device="cpu", model_path=folder, progress_bar=False)
        queries = trainer.make_loaders(data)["test"]
        started = time.perf_counter()
        test = trainer.evaluate(queries)
        seconds = time.perf_counter() - started
    return {"model": "popularity", **{m: test[m] for m in METRICS}, "eval_users_per_s": len(queries) / seconds}


def print_table(data_name: str, rows: list[dict]) -> None:
    print(f"\n## {data_name}: leave-one-out, full ranking, test split")
    print("| model | " + " | ".join(METRICS) + " | epochs | best epoch | s/epoch | wall s |")
    print("|---|" + "---|" * (len(METRICS) + 4))
    for row in rows:
        cells = [f"{row[m]:.4f}" for m in METRICS]
        extra = [str(row.get("epochs", "")), str(row.get("best_epoch", "")),
                 f"{row['s_per_epoch']:.1f}" if "s_per_epoch" in row else "",
                 f"{row['wall_s']:.0f}" if "wall_s" in row else ""]
        print(f"| {row['model']} | " + " | ".join(cells + extra) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["amazon-beauty", "ml-100k"])
    parser.add_argument("--models", nargs="+", default=["sasrec", "gru4rec", "bert4rec", "hstu"])
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget per run")
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--set", action="append", default=[], help="trainer setting override, key=value")
    parser.add_argument("--model-set", action="append", default=[], help="model option override, key=value")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print every epoch's metrics")
    parser.add_argument("--json", type=str, default=None, help="also write the rows to this file")
    args = parser.parse_args()

    from rec_core.plugins import make_plugin_manager

    pm = make_plugin_manager()
    results = {}
    for data_name in args.data:
        data = pm.registry("datasets").get(data_name).load().load(seed=args.seed)
        rows = [popularity(data)]
        print_table(data_name, rows)
        for model_name in args.models:
            rows.append(run_model(pm, data_name, data, model_name, args))
            print_table(data_name, rows)
        results[data_name] = rows
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2, default=str)


if __name__ == "__main__":
    main()
