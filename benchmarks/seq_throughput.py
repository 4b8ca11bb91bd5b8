"""Next-item training and evaluation speed: rec's SeqTrainer vs a plain PyTorch loop vs torch-rechub.

SASRec (hidden 64, 2 blocks, 1 head, max_len 50, dropout 0.5), batch 256, Adam lr 1e-3, on
Amazon Beauty's training rows (each a left-padded window of up to 50 transitions; a
position counts when it has a next item), on CPU with torch's default threads. All
training variants see the same batches in the same order: the first
``(warmup + batches) × batch`` rows of a seeded shuffle. Only the ``--batches`` after the
``--warmup`` ones are timed, from the end of the last warm-up batch to the end of the last
batch (fetching, forward, loss, backward and optimizer step). Each variant runs in its
own process so that its peak RSS is its own:

* ``plain``       — rec's SASRec module in a hand-written loop over pre-made batch tensors:
                    ``forward(history, target=...)``, ``next_item_loss("cross_entropy")``
                    (full softmax over the catalogue), fused Adam: the limit
* ``rec``         — ``rec_trainers.SeqTrainer.fit`` (one epoch, no validation) on a
                    ``ColumnarLoader`` with its defaults (full softmax, fused Adam)
* ``plain-bce``   — ``plain`` with ``next_item_loss("bce")``, one uniform negative per position
* ``rec-bce``     — ``rec`` with ``loss_type="bce"`` (one uniform negative per position)
* ``rechub``      — torch-rechub 0.9's matching ``SASRec`` (``seq``/``pos``/``neg``
                    SequenceFeatures sharing one table; one uniform negative per position
                    with a target, drawn beforehand) in a plain loop over pre-made batch
                    tensors with the SASRec paper's loss (BCE on the positive and negative
                    logits of the positions with a target) and torch.optim.Adam, as its
                    trainers build it. torch-rechub has no trainer for it: its SeqTrainer
                    wants ``(B, L, V)`` logits from ``model(tokens, time_diffs)``, and
                    ``MatchTrainer(mode=1)``'s BPR loss fails on the ``(B, L)`` positive and
                    negative logits SASRec returns (modes 0 and 2 want one score tensor);
                    nor does it ship a SASRec training example. A bare loop has no trainer
                    overhead, so the ratio to it is conservative for rec.

Evaluation (``eval-rec``, ``eval-naive``): users/s over all Beauty test users (22,363),
every item scored, the user's known items and padding excluded, with a freshly seeded
SASRec. ``eval-rec`` is ``SeqTrainer.evaluate(split_queries(data, "test", 50))`` (chunked
full ranking: recall/NDCG/hit/MRR@5/10/20, MRR, loss, accuracy); ``eval-naive`` scores the
whole users × items matrix in one go (~1 GiB) and takes ``torch.topk`` (recall/NDCG@5/10/20).
Peak RSS growth is measured over the level after setup.

Run: ``nox -s bench -- seqspeed`` or ``python benchmarks/seq_throughput.py [--batches 30]
[--warmup 3] [--variants rec,plain] [--json out.json]`` (needs ``REC_DATA_DIR`` pointing at
the shared data).
"""

from __future__ import annotations

import os

# libgomp busy-waits by default, which hurts on small shared machines; respect a user's
# own setting. Must happen before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

TRAINING = ("plain", "rec", "plain-bce", "rec-bce", "rechub")
EVALUATION = ("eval-rec", "eval-naive")
VARIANTS = TRAINING + EVALUATION
MAX_LEN, HIDDEN, LR = 50, 64, 1e-3
SAME_LOSS_PLAIN = {"plain": "plain", "rec": "plain", "plain-bce": "plain-bce", "rec-bce": "plain-bce",
                   "rechub": "plain-bce"}
LOSSES = {"plain": "CE (full softmax)", "rec": "CE (full softmax)", "plain-bce": "BCE, 1 neg/pos",
          "rec-bce": "BCE, 1 neg/pos", "rechub": "BCE, 1 neg/pos"}


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class _Stopwatch:
    """Clock the batches after the warm-up: from the end of the last warm-up batch to the end of the last one."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.start: float | None = None
        self.end: float | None = None

    def batch_end(self, index: int) -> None:
        now = time.perf_counter()
        if index == self.warmup - 1:
            self.start = now
        self.end = now

    @property
    def seconds(self) -> float:
        if self.start is None or self.end is None or self.end <= self.start:
            raise RuntimeError("no batch was timed after the warm-up")
        return self.end - self.start


def _data():
    from rec_trainers.datasets import AMAZON_BEAUTY

    return AMAZON_BEAUTY.load()


def _rows(data, args: argparse.Namespace) -> dict[str, Any]:
    """Return the first ``(warmup + batches) × batch`` training rows of a seeded shuffle, in order."""
    import numpy as np

    from rec_trainers.trainers._seq_data import training_columns

    columns = training_columns(data, MAX_LEN)
    wanted = (args.warmup + args.batches) * args.batch_size
    available = len(columns["target"])
    if wanted > available:
        raise SystemExit(f"{wanted:,} rows wanted ((warmup + batches) x batch size) but Beauty has {available:,}; "
                         f"lower --batches")
    order = np.random.default_rng(args.seed).permutation(available)[:wanted]
    return {name: values[order] for name, values in columns.items()}


def _batches(columns: dict[str, Any], size: int) -> list[dict[str, Any]]:
    """Return the rows cut into pre-made batch tensors, in order (what the plain loops iterate)."""
    import torch

    tensors = {name: torch.as_tensor(values) for name, values in columns.items()}
    rows = len(next(iter(tensors.values())))
    return [{name: t[start : start + size] for name, t in tensors.items()} for start in range(0, rows, size)]


def _rec_model(data, seed: int):
    import torch

    from rec_trainers.models.sequential import SASRec

    torch.manual_seed(seed)
    return SASRec.from_features(data.features, embed_dim=HIDDEN, max_len=MAX_LEN, num_blocks=2, num_heads=1,
                                dropout_rate=0.5)


def run_plain(data, rows: dict[str, Any], args: argparse.Namespace, loss_type: str) -> float:
    import torch

    from rec_trainers.trainers._next_item_loss import next_item_loss

    model = _rec_model(data, args.seed)
    batches = _batches({name: rows[name] for name in ("history", "target")}, args.batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, fused=True)
    watch = _Stopwatch(args.warmup)
    model.train()
    for index, batch in enumerate(batches):
        optimizer.zero_grad(set_to_none=True)
        states, chosen, items = model(batch["history"], target=batch["target"])
        next_item_loss(loss_type, states, chosen, items, num_negatives=1).backward()
        optimizer.step()
        watch.batch_end(index)
    return watch.seconds


def run_rec(data, rows: dict[str, Any], args: argparse.Namespace, loss_type: str) -> float:
    from rec_core.callbacks import Callback
    from rec_core.data import ColumnarLoader
    from rec_trainers import SeqTrainer

    watch = _Stopwatch(args.warmup)

    class Clock(Callback):
        def on_train_batch_end(self, trainer: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            watch.batch_end(batch_idx)

    loader = ColumnarLoader(rows, batch_size=args.batch_size, shuffle=False)
    with tempfile.TemporaryDirectory() as folder:
        trainer = SeqTrainer(_rec_model(data, args.seed), optimizer_params={"lr": LR, "weight_decay": 0.0},
                             n_epoch=1, device="cpu", earlystop_patience=0, model_path=folder, loss_type=loss_type,
                             progress_bar=False, random_seed=args.seed, callbacks=[Clock()])
        trainer.fit(loader, verbose=False, saved=False)
    return watch.seconds


def _rechub_model(n_items: int, seed: int):
    import torch
    from torch_rechub.basic.features import SequenceFeature
    from torch_rechub.models.matching import SASRec

    torch.manual_seed(seed)
    features = [SequenceFeature("seq", n_items, HIDDEN, pooling="concat", padding_idx=0)]
    features += [SequenceFeature(name, n_items, HIDDEN, pooling="concat", shared_with="seq", padding_idx=0)
                 for name in ("pos", "neg")]
    return SASRec(features, max_len=MAX_LEN, dropout_rate=0.5, num_blocks=2, num_heads=1)


def _rechub_inputs(data, rows: dict[str, Any], seed: int) -> dict[str, Any]:
    """Return torch-rechub's ``seq``/``pos``/``neg`` columns: one uniform negative per position with a target."""
    import numpy as np

    n_items = data.items.n_items
    target = rows["target"]
    negatives = np.random.default_rng(seed + 1).integers(1, n_items, size=target.shape)
    return {"seq": rows["history"], "pos": target, "neg": np.where(target != 0, negatives, 0)}


def run_rechub(data, rows: dict[str, Any], args: argparse.Namespace) -> float:
    import torch
    from torch.nn import functional as F

    model = _rechub_model(data.items.n_items, args.seed)
    batches = _batches(_rechub_inputs(data, rows, args.seed), args.batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    watch = _Stopwatch(args.warmup)
    model.train()
    for index, x in enumerate(batches):
        optimizer.zero_grad(set_to_none=True)
        pos_logits, neg_logits = model(x)
        chosen = x["pos"] != 0
        positive, negative = pos_logits[chosen], neg_logits[chosen]
        loss = (F.binary_cross_entropy_with_logits(positive, torch.ones_like(positive))
                + F.binary_cross_entropy_with_logits(negative, torch.zeros_like(negative)))
        loss.backward()
        optimizer.step()
        watch.batch_end(index)
    return watch.seconds


def run_training(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    data = _data()
    rows = _rows(data, args)
    runners = {
        "plain": lambda: run_plain(data, rows, args, "cross_entropy"),
        "rec": lambda: run_rec(data, rows, args, "cross_entropy"),
        "plain-bce": lambda: run_plain(data, rows, args, "bce"),
        "rec-bce": lambda: run_rec(data, rows, args, "bce"),
        "rechub": lambda: run_rechub(data, rows, args),
    }
    seconds = runners[variant]()
    timed = rows["target"][args.warmup * args.batch_size :]
    positions = int((timed != 0).sum())
    return {"variant": variant, "loss": LOSSES[variant], "seconds": seconds, "batches": args.batches,
            "sequences": len(timed), "positions": positions, "sequences_per_s": len(timed) / seconds,
            "positions_per_s": positions / seconds, "peak_rss_mib": _peak_rss_mib()}


def run_evaluation(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    from rec_trainers.trainers._seq_data import split_queries

    data = _data()
    queries = split_queries(data, "test", MAX_LEN)
    model = _rec_model(data, args.seed)
    with tempfile.TemporaryDirectory() as folder:
        if variant == "eval-rec":
            from rec_trainers import SeqTrainer

            trainer = SeqTrainer(model, device="cpu", model_path=folder, progress_bar=False)
            gc.collect()
            baseline = _peak_rss_mib()
            start = time.perf_counter()
            metrics = trainer.evaluate(queries, load_best_model=False)
            seconds = time.perf_counter() - start
        else:
            gc.collect()
            baseline = _peak_rss_mib()
            start = time.perf_counter()
            metrics = naive_ranking(model, queries)
            seconds = time.perf_counter() - start
    return {"variant": variant, "users": len(queries), "items": queries.n_items, "seconds": seconds,
            "users_per_s": len(queries) / seconds, "peak_rss_growth_mib": _peak_rss_mib() - baseline,
            "recall@10": metrics["recall@10"], "ndcg@10": metrics["ndcg@10"]}


def naive_ranking(model, queries) -> dict[str, float]:
    """Score every user against every item at once, mask known items, take the top 20: recall/NDCG@5/10/20."""
    import math

    import torch

    model.eval()
    with torch.no_grad():
        scores = model.scores(queries.inputs["history"])  # (users, items) in one go
    scores[:, 0] = -math.inf
    known = queries.exclude
    scores[torch.repeat_interleave(torch.arange(len(queries)), known.lengths), known.items] = -math.inf
    targets = queries.targets.items[queries.targets.offsets[:-1]]
    hits = (scores.topk(20, dim=1).indices == targets.unsqueeze(1)).float()
    gains = hits / torch.log2(torch.arange(2, 22, dtype=torch.float32))
    metrics = {}
    for k in (5, 10, 20):
        metrics[f"recall@{k}"] = float(hits[:, :k].sum(1).mean())
        metrics[f"ndcg@{k}"] = float(gains[:, :k].sum(1).mean())
    return metrics


def _child(variant: str, args: argparse.Namespace) -> None:
    import torch

    result = run_training(variant, args) if variant in TRAINING else run_evaluation(variant, args)
    print(json.dumps({**result, "torch_threads": torch.get_num_threads()}))


def _ratio(value: float, reference: float | None) -> str:
    return f"{value / reference:.2f}x" if reference else "-"


def print_tables(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    threads = next(iter(results.values()))["torch_threads"] if results else "-"
    training = [r for v, r in results.items() if v in TRAINING]
    if training:
        print(f"\n## SASRec training on Amazon Beauty: {args.batches} batches of {args.batch_size} timed after "
              f"{args.warmup} warm-up, hidden {HIDDEN}, 2 blocks, 1 head, max_len {MAX_LEN}, CPU, "
              f"torch threads {threads}")
        print("| variant | loss | positions/s | sequences/s | timed s | peak RSS MiB | vs plain | vs rechub |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        rechub = results.get("rechub", {}).get("positions_per_s")
        for r in training:
            plain = results.get(SAME_LOSS_PLAIN[r["variant"]], {}).get("positions_per_s")
            print(f"| {r['variant']} | {r['loss']} | {r['positions_per_s']:,.0f} | {r['sequences_per_s']:,.0f} | "
                  f"{r['seconds']:.2f} | {r['peak_rss_mib']:,.0f} | {_ratio(r['positions_per_s'], plain)} | "
                  f"{_ratio(r['positions_per_s'], rechub)} |")
        print(f"\n{training[0]['positions']:,} positions with a next item in {training[0]['sequences']:,} timed "
              "sequences. vs plain: against the plain loop with the same model and loss (CE rows vs plain, "
              "the others vs plain-bce). vs rechub: against torch-rechub's SASRec in a plain loop (BCE, one "
              "negative per position): like for like with rec-bce and plain-bce, not with the CE rows, which "
              "score the whole catalogue at every position.")
    evaluation = [r for v, r in results.items() if v in EVALUATION]
    if evaluation:
        first = evaluation[0]
        print(f"\n## Full-ranking evaluation: {first['users']:,} Beauty test users x {first['items']:,} items, "
              "known items excluded, untrained seeded SASRec")
        print("| variant | users/s | seconds | peak RSS growth MiB | recall@10 | ndcg@10 | vs naive |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        naive = results.get("eval-naive", {}).get("users_per_s")
        for r in evaluation:
            print(f"| {r['variant']} | {r['users_per_s']:,.0f} | {r['seconds']:.2f} | "
                  f"{r['peak_rss_growth_mib']:,.0f} | {r['recall@10']:.5f} | {r['ndcg@10']:.5f} | "
                  f"{_ratio(r['users_per_s'], naive)} |")
        print("\neval-rec also computes hit/MRR@k, MRR, loss and accuracy and counts ties against the target; "
              "eval-naive only top-20 recall/NDCG (its metrics are a consistency check, not quality figures).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=30, help="timed training batches")
    parser.add_argument("--warmup", type=int, default=3, help="untimed training batches first (at least 1)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {VARIANTS}")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warmup < 1 or args.batches < 1:
        parser.error("--warmup and --batches must be at least 1")
    if args.child:
        _child(args.child, args)
        return
    chosen = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)} (choose from {', '.join(VARIANTS)})")
    results: dict[str, dict[str, Any]] = {}
    for variant in chosen:
        if variant == "rechub":
            try:
                import torch_rechub  # noqa: F401
            except ImportError:
                print(f"torch-rechub is not installed here: skipping {variant} (pip install torch-rechub==0.9.0)")
                continue
        command = [sys.executable, __file__, "--child", variant, "--batches", str(args.batches),
                   "--warmup", str(args.warmup), "--batch-size", str(args.batch_size), "--seed", str(args.seed)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{variant}: failed\n{done.stderr[-2000:]}")
            continue
        results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    print_tables(results, args)
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("child", "json")}
        with open(args.json, "w") as handle:
            json.dump({"settings": settings, "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()
