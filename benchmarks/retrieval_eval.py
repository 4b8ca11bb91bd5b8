"""Measure full-ranking retrieval evaluation: time, throughput and peak memory per chunk budget.

A random two-tower scorer (``--dim``-dimensional user and item embeddings, score = dot
product) ranks a ``--items`` catalogue for ``--users`` users through
``RetrievalEvaluator`` (via ``trainer.evaluate``), with ``--history`` known items masked
per user and ``--targets`` held-out items each. Every memory budget runs in a fresh
subprocess, which reports its wall time and the growth of its peak resident memory
(``ru_maxrss``) over the baseline taken after setup, printed beside the working set the
chunk is allowed and what one users × items float32 matrix would take. A random scorer
should find about ``k / items`` of the targets in its top k: the printed recall is a
sanity check, not a quality figure. Run::

    python benchmarks/retrieval_eval.py                       # 20k users x 50k items, 3 budgets
    python benchmarks/retrieval_eval.py --budgets-mib 32 128 --users 5000
"""

from __future__ import annotations

import os

# libgomp busy-waits by default, which hurts on small shared machines; respect a user's
# own setting. Must happen before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import contextlib
import gc
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

MIB = 2**20


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def run_variant(args: argparse.Namespace) -> dict[str, Any]:
    """Set up, evaluate once with ``--budget-mib``, and return the figures (runs in the child)."""
    import torch
    from torch import nn

    from rec_core import BaseTrainer
    from rec_core.evaluation import ItemLists, RetrievalEvaluator, RetrievalQueries

    if args.threads:
        torch.set_num_threads(args.threads)

    class TwoTowerTrainer(BaseTrainer):
        """Score = user embedding · item embedding; item embeddings fetched once per evaluation."""

        def configure_evaluator(self) -> RetrievalEvaluator:
            return RetrievalEvaluator(ks=(5, 10, 20), memory_budget=args.budget_mib * MIB)

        @contextlib.contextmanager
        def scoring_session(self) -> Iterator[None]:
            self._item_table = self.model.items.weight.detach()
            try:
                yield
            finally:
                self._item_table = None

        def score_items(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
            return self.model.users(inputs["user"]) @ self._item_table.T

    gen = torch.Generator().manual_seed(0)
    model = nn.Module()
    model.users = nn.Embedding(args.users, args.dim)
    model.items = nn.Embedding(args.items, args.dim)
    with torch.no_grad():
        model.users.weight.copy_(torch.randn(args.users, args.dim, generator=gen))
        model.items.weight.copy_(torch.randn(args.items, args.dim, generator=gen))
    picks = _distinct_items(gen, args)
    history = ItemLists(torch.arange(args.users + 1) * args.history, picks[:, : args.history].reshape(-1))
    targets = ItemLists(torch.arange(args.users + 1) * args.targets, picks[:, args.history :].reshape(-1))
    queries = RetrievalQueries({"user": torch.arange(args.users)}, targets, args.items, exclude=history)
    trainer = TwoTowerTrainer(model, device="cpu", progress_bar=False)
    chunk = trainer.evaluator.rows_per_chunk(args.items)
    gc.collect()
    baseline = _peak_rss_bytes()
    start = time.perf_counter()
    metrics = trainer.evaluate(queries)
    wall = time.perf_counter() - start
    return {
        "budget_mib": args.budget_mib,
        "chunk_rows": chunk,
        "wall_s": wall,
        "users_per_s": args.users / wall,
        "peak_growth_bytes": _peak_rss_bytes() - baseline,
        "working_set_bytes": chunk * args.items * 8,
        "recall@20": metrics["recall@20"],
        "ndcg@10": metrics["ndcg@10"],
        "threads": torch.get_num_threads(),
    }


def _distinct_items(gen: Any, args: argparse.Namespace) -> Any:
    """Draw ``history + targets`` distinct items per user, in random order, without a users × items matrix."""
    import torch

    wanted = args.history + args.targets
    draws = torch.randint(0, args.items - wanted + 1, (args.users, wanted), generator=gen).sort(dim=1).values
    distinct = draws + torch.arange(wanted)  # sorted draws plus 0, 1, … are strictly increasing
    return distinct.gather(1, torch.rand(args.users, wanted, generator=gen).argsort(dim=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--history", type=int, default=5, help="known items masked per user")
    parser.add_argument("--targets", type=int, default=1, help="held-out target items per user")
    parser.add_argument("--budgets-mib", type=int, nargs="+", default=[64, 256, 1024], help="chunk budgets to compare")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--budget-mib", type=int, help=argparse.SUPPRESS)  # set in the per-variant child
    args = parser.parse_args()
    if args.budget_mib is not None:
        print(json.dumps(run_variant(args)))
        return

    full = args.users * args.items * 4
    print(f"retrieval evaluation: {args.users:,} users x {args.items:,} items, dim {args.dim}, "
          f"{args.history} known + {args.targets} target item(s) per user")
    print(f"one users x items float32 score matrix would take {full / 1e9:.1f} GB ({full / MIB:,.0f} MiB)\n")
    header = (f"{'budget':>9} {'chunk rows':>10} {'wall s':>7} {'users/s':>9} {'working set':>12} "
              f"{'peak RSS growth':>16} {'of full matrix':>15} {'recall@20':>10}")
    print(header)
    print("-" * len(header))
    common = [f"--{name}={getattr(args, name)}" for name in ("users", "items", "dim", "history", "targets", "threads")]
    for budget in args.budgets_mib:
        out = subprocess.run([sys.executable, __file__, *common, f"--budget-mib={budget}"],
                             check=True, capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{budget:>6} MiB {r['chunk_rows']:>10,} {r['wall_s']:>7.1f} {r['users_per_s']:>9,.0f} "
              f"{r['working_set_bytes'] / MIB:>8,.0f} MiB {r['peak_growth_bytes'] / MIB:>12,.0f} MiB "
              f"{r['peak_growth_bytes'] / full:>14.1%} {r['recall@20']:>10.5f}")
    print(f"\n(random scorer: expected recall@20 ~ {20 / (args.items - args.history):.5f}; "
          f"torch threads: {r['threads']})")


if __name__ == "__main__":
    main()
