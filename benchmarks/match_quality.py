"""Two-tower retrieval on ml-100k: rec's MatchTrainer beside popularity and torch-rechub, quality and speed.

Data: MovieLens-100K with its user and item side tables, leave-one-out (each user's last
item is the test target, the one before it the validation target). Every model reads
the same features (``rec_trainers.trainers._match_data``): user id, user attributes, the
last 50 known items mean-pooled in the item id's table, item id and item attributes.

Quality, test split, full ranking of the whole catalogue with the user's known items and
padding excluded, ties counted against the target: recall@k and NDCG@k for k = 10/20/50
(the tables show @20; the JSON has all), with ratios to popularity:

* ``popularity`` — training counts (``rec_trainers.models.sequential.Popularity``), ranked
  by rec's evaluator on the same users, targets and exclusions;
* ``dssm``, ``youtubednn`` — rec's models trained by ``MatchTrainer`` with ml-100k's match
  recipe (the settings ``rec train match --data ml-100k --model NAME`` uses: in-batch
  softmax with log-Q correction, temperature 0.05, batch 256, lr 1e-3, at most 30 epochs,
  early stopping on validation NDCG@20 with patience 5) within a wall-clock budget;
* ``rechub-dssm`` — torch-rechub 0.9's ``DSSM`` (towers 128-64 PReLU like rec's, embeddings
  32) trained by torch-rechub's ``MatchTrainer(mode=0)``, point-wise BCE on its
  ``sigmoid(cos)`` output as its ml-1m DSSM example does, on the same training rows
  (each training interaction plus 3 uniformly drawn unseen items labelled 0), fed through
  its ``MatchDataGenerator``. Each epoch is its ``train_one_epoch``; its ``EarlyStopper``
  (same patience) watches validation NDCG@20 instead of its AUC; the best weights are
  saved to ``model.pth`` as its ``fit`` does, and its ``inference_embedding`` gives the
  test users' and the catalogue's embeddings. Scores are inner products, ranked by rec's
  ``full_ranking`` with the same exclusions.

Throughput: training samples/s of one epoch (no validation) of DSSM on the same
point-wise rows (positives plus 3 negatives each, ~392k rows), batch 256, Adam lr 1e-3,
on CPU, each run in its own process: rec's ``MatchTrainer(mode=0)`` (BCE on logits)
on a ``ColumnarLoader`` against torch-rechub's ``MatchTrainer(mode=0).train_one_epoch``
on its ``MatchDataGenerator`` loader (``num_workers=0``). rec's towers get batch norm
here so that both models are the same (torch-rechub's MLP always has it). Four runs, all
under the same ``OMP_WAIT_POLICY=PASSIVE`` that ``rec`` sets:

* ``rec`` — with ml-100k's match recipe's ``cpu_threads = "auto"`` (what ``rec train match
  --data ml-100k`` does: the first steps are timed on torch's thread count and on one
  thread, and the faster is kept);
* ``rec-torch-threads`` — rec with torch's thread count (``cpu_threads`` unset);
* ``rechub`` — torch-rechub as its example runs, on torch's thread count;
* ``rechub-1-thread`` — torch-rechub after ``torch.set_num_threads(1)``, its best on a
  small CPU, for the like-for-like ratio.

The runs alternate ``--repeats`` times and the median run of each is shown. Target: rec >=
2.5x torch-rechub.

Run: ``nox -s bench -- match`` or ``python benchmarks/match_quality.py [--models dssm youtubednn
rechub-dssm] [--minutes 30] [--epochs N] [--speed-rows N] [--repeats 3] [--no-throughput] [--json out.json]``
(needs ``REC_DATA_DIR`` pointing at the shared data).
"""

from __future__ import annotations

import os

# libgomp busy-waits by default, which hurts on small shared machines; torch-rechub's tqdm
# bars would flood the tables. Both must be set before torch and tqdm are imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from _common import fit_and_test, parse_sets

os.environ.setdefault("TQDM_DISABLE", "1")

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

DATA = "ml-100k"
KS = (10, 20, 50)
METRICS = tuple(f"{name}@{k}" for k in KS for name in ("recall", "ndcg"))
SHOWN = ("recall@20", "ndcg@20")
MODELS = ("dssm", "youtubednn", "rechub-dssm")
TOWER = {"dims": [128, 64], "activation": "prelu"}
BATCH, LR, NEGATIVES = 256, 1e-3, 3



def load_data(seed: int):
    from rec_core.plugins import make_plugin_manager

    pm = make_plugin_manager()
    return pm, pm.registry("datasets").get(DATA).load().load(seed=seed)


def recipe(pm, model_name: str, args: argparse.Namespace) -> tuple[dict, dict]:
    """Return ml-100k's match recipe for ``model_name`` with the command line's overrides."""
    from rec_core.cli._train import recipe_for

    config_values, model_params = recipe_for(pm, DATA, model_name, "match")
    config_values = {**config_values, **parse_sets(args.set)}
    if args.epochs is not None:
        config_values["max_epochs"] = args.epochs
    return config_values, {**model_params, **parse_sets(args.model_set)}


def columns_for(data, config_values: dict):
    from rec_trainers.trainers._match_data import match_columns
    from rec_trainers.trainers.match import MatchConfig

    history_len = config_values.get("history_len", MatchConfig.history_len)
    return match_columns(data, history_len, config_values.get("embed_dim", MatchConfig.embed_dim)), history_len


# -- quality ----------------------------------------------------------------------------------------
def popularity(data) -> dict:
    from rec_trainers import SeqTrainer
    from rec_trainers.models.sequential import Popularity
    from rec_trainers.trainers._seq_data import split_queries

    with tempfile.TemporaryDirectory() as folder:
        trainer = SeqTrainer(Popularity.from_data(data), device="cpu", model_path=folder, progress_bar=False,
                             eval_ks=list(KS))
        test = trainer.evaluate(split_queries(data, "test", 50))
    return {"model": "popularity", "trained_by": "training counts", **{m: test[m] for m in METRICS}}


def run_rec(pm, data, model_name: str, args: argparse.Namespace) -> dict:
    """Train one rec model with the recipe (plus overrides) within the budget; return its test figures."""
    import torch

    from rec_core.callbacks import TimeLimit
    from rec_trainers.trainers.match import MatchTrainer

    config_values, model_params = recipe(pm, model_name, args)
    columns, _ = columns_for(data, config_values)
    torch.manual_seed(args.seed)
    factory = pm.registry("models").get(model_name, task="match").load()
    model = factory.from_features(columns.features, **model_params)
    with tempfile.TemporaryDirectory() as folder:
        trainer = MatchTrainer(model, device="cpu", model_path=folder, progress_bar=args.progress,
                               callbacks=[TimeLimit(args.minutes * 60)], random_seed=args.seed, **config_values)
        loaders = trainer.make_loaders(data)
        run = fit_and_test(trainer, loaders, verbose=args.verbose)
        test, wall, best_epoch = run["test"], run["wall_s"], run["best_epoch"]
    epochs = trainer.current_epoch
    return {
        "model": model_name, "trained_by": "rec MatchTrainer (recipe: in-batch softmax)",
        **{m: test[m] for m in METRICS}, "epochs": epochs, "best_epoch": best_epoch,
        "s_per_epoch": wall / max(epochs, 1), "wall_s": wall, "train_rows": len(loaders["train"].dataset),
        "params": model_params, "config": config_values,
    }




def rechub_dssm(columns):
    """Return torch-rechub's DSSM over torch-rechub features mirroring ``columns.features`` one for one.

    Fresh feature objects every call: torch-rechub caches a feature's embedding table on the
    feature itself, so two models built from the same objects would share weights.
    Sequences keep ``padding_idx=0``, without which its mean pooling would count the padding.
    """
    from torch_rechub.basic.features import SequenceFeature, SparseFeature
    from torch_rechub.models.matching import DSSM

    from rec_core.features import SequenceFeature as RecSequence

    user, item = [], []
    for fea in columns.features:
        if isinstance(fea, RecSequence):
            mirror = SequenceFeature(fea.name, fea.vocab_size, fea.embed_dim, pooling="mean",
                                     shared_with=fea.shared_with, padding_idx=0)
        else:
            mirror = SparseFeature(fea.name, fea.vocab_size, fea.embed_dim, padding_idx=fea.padding_idx)
        (item if fea.name.startswith("item") else user).append(mirror)
    model = DSSM(user, item, user_params=dict(TOWER), item_params=dict(TOWER))
    own = {fea.name for fea in [*user, *item] if fea.shared_with is None}
    if set(model.embedding.embed_dict) != own or model.user_dims != sum(f.embed_dim for f in user):
        raise RuntimeError(f"torch-rechub's DSSM did not take the features as given: tables "
                           f"{sorted(model.embedding.embed_dict)}, user width {model.user_dims}")
    return model


def describe_rechub(model) -> str:
    def name(fea) -> str:
        extra = [f"{fea.pooling}-pooled"] if hasattr(fea, "pooling") else []
        extra += [f"shared with {fea.shared_with}"] if fea.shared_with else []
        return fea.name + (f" ({', '.join(extra)})" if extra else "")

    return (f"user tower: {', '.join(name(f) for f in model.user_features)}; "
            f"item tower: {', '.join(name(f) for f in model.item_features)}")


def rechub_scores(model, inputs: dict, mode: str):
    """Return torch-rechub's ``mode`` (``"user"``/``"item"``) embeddings of ``inputs``, in eval mode."""
    import torch

    model.eval()
    model.mode = mode
    try:
        with torch.no_grad():
            return model({name: torch.as_tensor(values) for name, values in inputs.items()})
    finally:
        model.mode = None


def rank(users, items, queries) -> dict[str, float]:
    """Score users x items by inner product; rec's full ranking with the queries' exclusions and padding 0."""
    from rec_core.metrics import full_ranking

    scores = (users @ items.T).float()
    excluded = queries.exclude.mask(scores.shape[1])
    excluded[:, 0] = True
    return {m: float(v) for m, v in full_ranking(scores, queries.targets, exclude=excluded, ks=KS).items()}


def run_rechub(pm, data, args: argparse.Namespace) -> dict:
    """Train torch-rechub's DSSM point-wise on rec's training rows; score it by rec's full ranking."""
    import torch
    from torch_rechub.trainers import MatchTrainer
    from torch_rechub.utils.data import MatchDataGenerator

    from rec_trainers.trainers._match_data import catalogue_columns, split_queries, training_columns

    config_values, _ = recipe(pm, "dssm", args)
    columns, history_len = columns_for(data, config_values)
    x, y = training_columns(data, columns, history_len, negatives=NEGATIVES, seed=args.seed)
    val, test = (split_queries(data, columns, split, history_len) for split in ("val", "test"))
    catalogue = catalogue_columns(columns)
    epochs = args.rechub_epochs or config_values.get("max_epochs", 30)
    patience = config_values.get("early_stopping_patience", 5)
    torch.manual_seed(args.seed)
    model = rechub_dssm(columns)
    print(f"\ntorch-rechub DSSM features: {describe_rechub(model)}")
    with tempfile.TemporaryDirectory() as folder:
        trainer = MatchTrainer(model, mode=0, optimizer_params={"lr": args.rechub_lr, "weight_decay": args.rechub_wd},
                               n_epoch=epochs, earlystop_patience=patience, device="cpu", model_path=folder)
        test_users = {name: values.numpy() for name, values in test.inputs.items()}
        train_dl, test_dl, item_dl = MatchDataGenerator(x, y).generate_dataloader(
            test_users, catalogue, batch_size=config_values.get("batch_size", BATCH), num_workers=0)
        started = time.perf_counter()
        done, best_epoch = 0, 0
        for epoch in range(epochs):
            trainer.train_one_epoch(train_dl)
            done = epoch + 1
            score = rank(rechub_scores(model, val.inputs, "user"), rechub_scores(model, catalogue, "item"), val)
            if args.verbose:
                print(f"rechub-dssm epoch {done}: val ndcg@20 {score['ndcg@20']:.4f}")
            best_before = trainer.early_stopper.best_auc
            stop = trainer.early_stopper.stop_training(score["ndcg@20"], model.state_dict())
            best_epoch = done if trainer.early_stopper.best_auc > best_before else best_epoch
            if stop or time.perf_counter() - started >= args.minutes * 60:
                break
        wall = time.perf_counter() - started
        if trainer.early_stopper.best_weights is not None:  # None: validation NDCG@20 never rose above 0
            model.load_state_dict(trainer.early_stopper.best_weights)
        torch.save(model.state_dict(), os.path.join(folder, "model.pth"))  # what its fit() leaves behind
        users = trainer.inference_embedding(model=model, mode="user", data_loader=test_dl, model_path=folder)
        items = trainer.inference_embedding(model=model, mode="item", data_loader=item_dl, model_path=folder)
    test_metrics = rank(users, items, test)
    return {
        "model": "rechub-dssm", "trained_by": "torch-rechub MatchTrainer (mode=0, BCE on sigmoid(cos))",
        **{m: test_metrics[m] for m in METRICS}, "epochs": done, "best_epoch": best_epoch,
        "s_per_epoch": wall / max(done, 1), "wall_s": wall, "train_rows": len(y),
        "config": {"lr": args.rechub_lr, "weight_decay": args.rechub_wd, "negatives": NEGATIVES,
                   "max_epochs": epochs, "patience": patience, "tower": TOWER},
    }


def _ratio(value: float, reference: float | None) -> str:
    return f"{value / reference:.2f}x" if reference else "-"


def print_quality(rows: list[dict]) -> None:
    popular = next((row for row in rows if row["model"] == "popularity"), {})
    print(f"\n## {DATA}: two-tower retrieval, leave-one-out, full ranking, test split")
    print("| model | trained by | " + " | ".join(SHOWN) + " | " + " | ".join(f"{m} vs pop" for m in SHOWN)
          + " | epochs | best epoch | s/epoch | wall s |")
    print("|---|---|" + "---:|" * (2 * len(SHOWN) + 4))
    for row in rows:
        cells = [f"{row[m]:.4f}" for m in SHOWN] + [_ratio(row[m], popular.get(m)) for m in SHOWN]
        extra = [str(row.get("epochs", "")), str(row.get("best_epoch", "") or ""),
                 f"{row['s_per_epoch']:.1f}" if "s_per_epoch" in row else "",
                 f"{row['wall_s']:.0f}" if "wall_s" in row else ""]
        print(f"| {row['model']} | {row['trained_by']} | " + " | ".join(cells + extra) + " |")
    if any(row["model"] == "rechub-dssm" for row in rows):
        print("\nrechub-dssm: trained by torch-rechub, scored by rec's evaluator (rec_core.metrics.full_ranking "
              "of its user x item inner products, the same exclusions). recall/ndcg @10 and @50 are in --json.")


# -- throughput -------------------------------------------------------------------------------------
def _speed_rows(data, args: argparse.Namespace):
    """Return the point-wise training rows (positives + 3 negatives each), or a seeded subset of them."""
    import numpy as np

    from rec_trainers.trainers._match_data import match_columns, training_columns

    columns = match_columns(data, 50, 32)
    x, y = training_columns(data, columns, 50, negatives=NEGATIVES, seed=args.seed)
    if args.speed_rows and args.speed_rows < len(y):
        keep = np.sort(np.random.default_rng(args.seed).permutation(len(y))[: args.speed_rows])
        x, y = {name: values[keep] for name, values in x.items()}, y[keep]
    return columns, x, y


SPEED_VARIANTS = {
    # variant: (trainer, cpu_threads); "recipe" reads ml-100k's match recipe
    "rec": ("rec", "recipe"),
    "rec-torch-threads": ("rec", None),
    "rechub": ("rechub", None),
    "rechub-1-thread": ("rechub", 1),
}
SPEED_NAMES = {
    "rec": "rec MatchTrainer(mode=0) + ColumnarLoader, recipe cpu_threads={threads}",
    "rec-torch-threads": "rec, the same, torch's thread count",
    "rechub": "torch-rechub MatchTrainer(mode=0) + MatchDataGenerator, torch's thread count",
    "rechub-1-thread": "torch-rechub, the same, torch.set_num_threads(1)",
}


def speed_rec(data, args: argparse.Namespace, cpu_threads: int | str | None) -> tuple[float, int]:
    import torch

    from rec_core.callbacks import Callback
    from rec_core.data import ColumnarLoader
    from rec_trainers.models.matching import DSSM
    from rec_trainers.trainers.match import MatchTrainer

    columns, x, y = _speed_rows(data, args)
    tower = {**TOWER, "batch_norm": True}
    torch.manual_seed(args.seed)
    model = DSSM.from_features(columns.features, user_params=tower, item_params=dict(tower))
    clock: dict[str, float] = {}

    class Clock(Callback):
        def on_train_epoch_start(self, trainer: Any) -> None:
            clock["start"] = time.perf_counter()

        def on_train_epoch_end(self, trainer: Any) -> None:
            clock["end"] = time.perf_counter()

    loader = ColumnarLoader(x, y, batch_size=BATCH, shuffle=True, seed=args.seed)
    with tempfile.TemporaryDirectory() as folder:
        trainer = MatchTrainer(model, mode=0, in_batch_neg=False, optimizer_params={"lr": LR, "weight_decay": 0.0},
                               n_epoch=1, earlystop_patience=0, device="cpu", model_path=folder,
                               progress_bar=False, random_seed=args.seed, callbacks=[Clock()], cpu_threads=cpu_threads)
        _reset_peak_rss()
        trainer.fit(loader, verbose=False, saved=False)
    return clock["end"] - clock["start"], len(y)


def speed_rechub(data, args: argparse.Namespace, cpu_threads: int | None) -> tuple[float, int]:
    import torch
    from torch_rechub.trainers import MatchTrainer
    from torch_rechub.utils.data import MatchDataGenerator

    from rec_trainers.trainers._match_data import catalogue_columns

    if cpu_threads is not None:
        torch.set_num_threads(cpu_threads)
    columns, x, y = _speed_rows(data, args)
    torch.manual_seed(args.seed)
    model = rechub_dssm(columns)
    catalogue = catalogue_columns(columns)
    train_dl, _, _ = MatchDataGenerator(x, y).generate_dataloader(catalogue, catalogue, batch_size=BATCH,
                                                                  num_workers=0)
    with tempfile.TemporaryDirectory() as folder:
        trainer = MatchTrainer(model, mode=0, optimizer_params={"lr": LR, "weight_decay": 0.0}, n_epoch=1,
                               device="cpu", model_path=folder)
        _reset_peak_rss()
        start = time.perf_counter()
        trainer.train_one_epoch(train_dl)
        return time.perf_counter() - start, len(y)


def _reset_peak_rss() -> None:
    """Start the peak-RSS count afresh (Linux), so that it covers training, not the row building before it."""
    import gc

    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def _peak_rss_mib() -> float:
    try:
        with open("/proc/self/status") as handle:
            return next(int(line.split()[1]) for line in handle if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _child(variant: str, args: argparse.Namespace) -> None:
    import torch

    pm, data = load_data(args.seed)
    trainer, threads = SPEED_VARIANTS[variant]
    if threads == "recipe":
        threads = recipe(pm, "dssm", args)[0].get("cpu_threads")
    started_with = torch.get_num_threads()
    run = speed_rec if trainer == "rec" else speed_rechub
    seconds, rows = run(data, args, threads)
    print(json.dumps({"variant": variant, "seconds": seconds, "rows": rows, "samples_per_s": rows / seconds,
                      "peak_rss_mib": _peak_rss_mib(), "cpu_threads": threads, "torch_threads": started_with}))


def throughput(args: argparse.Namespace) -> dict[str, dict]:
    """Run each variant's epoch ``--repeats`` times, alternating, one process each; keep the median run."""
    import statistics

    runs: dict[str, list[dict]] = {variant: [] for variant in SPEED_VARIANTS}
    for _ in range(args.repeats):
        for variant in runs:
            command = [sys.executable, __file__, "--child", variant, "--seed", str(args.seed)]
            if args.speed_rows:
                command += ["--speed-rows", str(args.speed_rows)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"throughput {variant}: failed\n{done.stderr[-2000:]}")
                continue
            runs[variant].append(json.loads(done.stdout.strip().splitlines()[-1]))
    results = {}
    for variant, done_runs in runs.items():
        if done_runs:
            speeds = [r["samples_per_s"] for r in done_runs]
            median = statistics.median_low(speeds)
            results[variant] = {**done_runs[speeds.index(median)], "runs": len(speeds),
                                "samples_per_s_min": min(speeds), "samples_per_s_max": max(speeds)}
    return results


def print_throughput(results: dict[str, dict]) -> None:
    if not results:
        return
    first = next(iter(results.values()))
    print(f"\n## DSSM training throughput on {DATA}: one epoch of {first['rows']:,} point-wise rows "
          f"(positives + {NEGATIVES} negatives each), batch {BATCH}, Adam lr {LR:g}, towers 128-64 PReLU + batch "
          f"norm, embeddings 32, CPU ({os.cpu_count()} cores, torch's thread count {first['torch_threads']}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}), median of {first['runs']} runs")
    print("| run | samples/s | min-max samples/s | seconds | peak RSS MiB in training | vs torch-rechub | "
          "vs torch-rechub 1 thread |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    rechub = results.get("rechub", {}).get("samples_per_s")
    rechub_one = results.get("rechub-1-thread", {}).get("samples_per_s")
    for variant, r in results.items():
        name = SPEED_NAMES[variant].format(threads=r.get("cpu_threads"))
        print(f"| {name} | {r['samples_per_s']:,.0f} | {r['samples_per_s_min']:,.0f}-"
              f"{r['samples_per_s_max']:,.0f} | {r['seconds']:.2f} | {r['peak_rss_mib']:,.0f} | "
              f"{_ratio(r['samples_per_s'], rechub)} | {_ratio(r['samples_per_s'], rechub_one)} |")
    print("\nTarget: rec >= 2.5x torch-rechub. Timed: one training epoch (rec: epoch start to end inside fit, the "
          "thread probe included; torch-rechub: train_one_epoch), no validation; the runs alternate, one process "
          "each.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget per model")
    parser.add_argument("--epochs", type=int, default=None, help="cap every model's epochs (short checks)")
    parser.add_argument("--rechub-epochs", type=int, default=None, help="torch-rechub's epochs (default: recipe's)")
    parser.add_argument("--rechub-lr", type=float, default=LR)
    parser.add_argument("--rechub-wd", type=float, default=1e-6, help="torch-rechub's weight decay (its example's)")
    parser.add_argument("--speed-rows", type=int, default=None, help="time only this many rows (seeded subset)")
    parser.add_argument("--throughput", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--repeats", type=int, default=3, help="throughput runs per trainer (median kept)")
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--set", action="append", default=[], help="rec trainer setting override, key=value")
    parser.add_argument("--model-set", action="append", default=[], help="rec model option override, key=value")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print every epoch's metrics")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.child:
        _child(args.child, args)
        return
    if args.epochs is not None and args.rechub_epochs is None:
        args.rechub_epochs = args.epochs
    try:
        import torch_rechub  # noqa: F401
    except ImportError:
        print("torch-rechub is not installed here: skipping it (pip install torch-rechub==0.9.0)")
        args.models = [m for m in args.models if not m.startswith("rechub")]
        args.throughput = False

    pm, data = load_data(args.seed)
    rows = [popularity(data)]
    print_quality(rows)
    for model_name in args.models:
        rows.append(run_rechub(pm, data, args) if model_name == "rechub-dssm" else run_rec(pm, data, model_name, args))
        print_quality(rows)
    speed = throughput(args) if args.throughput else {}
    print_throughput(speed)
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("child", "json")}
        with open(args.json, "w") as handle:
            json.dump({"settings": settings, "quality": rows, "throughput": speed}, handle, indent=2, default=str)


if __name__ == "__main__":
    main()
