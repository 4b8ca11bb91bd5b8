"""Measure how fast ColumnarLoader delivers batches compared with torch's DataLoader.

Builds a seeded, Criteo-shaped columnar data set (13 dense float columns, 26 sparse
int64 columns with Zipf-distributed ids capped at 100k) and prints samples per second
for:

    (a) ColumnarLoader, shuffled (and, for reference, not shuffled)
    (b) DataLoader(TorchDataset, batch_size, shuffle=True) with the default collate
    (c) the same DataLoader with num_workers=1
    (d) for reference, DataLoader over numpy columns indexed per sample, as
        torch-rechub's own TorchDataset does

DataLoader runs index and collate sample by sample, so they are timed over at most
``--max-baseline-batches`` batches (worker start-up included for (c)) to keep the script
quick; the rate is what matters. Run::

    python benchmarks/loader_throughput.py --rows 100000
"""

from __future__ import annotations

import os

# libgomp busy-waits by default, which hurts on small shared machines; respect a user's
# own setting (see shared/notes/cpu-threads.md). Must happen before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import time
from collections.abc import Iterable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from rec_core.data import ColumnarLoader, TorchDataset

N_DENSE, N_SPARSE, MAX_ID = 13, 26, 100_000


def make_criteo_like(rows: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Return seeded Criteo-shaped columns and binary labels."""
    rng = np.random.default_rng(seed)
    x: dict[str, np.ndarray] = {}
    for i in range(1, N_DENSE + 1):
        x[f"I{i}"] = rng.lognormal(0.0, 1.0, rows).astype(np.float32)
    for i in range(1, N_SPARSE + 1):
        x[f"C{i}"] = np.minimum(rng.zipf(1.3, rows), MAX_ID).astype(np.int64) - 1
    y = (rng.random(rows) < 0.25).astype(np.float32)
    return x, y


class NumpyDataset(Dataset):
    """Index numpy columns one sample at a time (torch-rechub's dataset behaviour)."""

    def __init__(self, x: dict[str, np.ndarray], y: np.ndarray) -> None:
        self.x, self.y = x, y

    def __getitem__(self, index: int) -> tuple[dict[str, object], object]:
        return {name: column[index] for name, column in self.x.items()}, self.y[index]

    def __len__(self) -> int:
        return len(self.y)


def rate(batches: Iterable[object], limit: int | None = None) -> tuple[float, int, float]:
    """Consume up to ``limit`` batches; return (samples/s, samples, seconds)."""
    samples = 0
    start = time.perf_counter()
    for k, (_, y) in enumerate(batches):  # type: ignore[misc]
        samples += len(y)
        if limit is not None and k + 1 >= limit:
            break
    seconds = time.perf_counter() - start
    return samples / seconds, samples, seconds


def main() -> None:
    """Parse arguments, run the measurements and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=3, help="epochs for ColumnarLoader")
    parser.add_argument("--max-baseline-batches", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    t0 = time.perf_counter()
    x, y = make_criteo_like(args.rows, args.seed)
    dataset = TorchDataset(x, y)
    print(
        f"{args.rows:,} rows, {N_DENSE} dense + {N_SPARSE} sparse columns, batch "
        f"{args.batch_size}, built in {time.perf_counter() - t0:.1f}s; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}"
    )

    results: list[tuple[str, float, int, float]] = []
    for label, shuffle in (("(a) ColumnarLoader, shuffle=True", True), ("    ColumnarLoader, shuffle=False", False)):
        loader = ColumnarLoader(dataset, batch_size=args.batch_size, shuffle=shuffle, seed=args.seed)
        rate(loader, 1)  # warm-up: first-call allocations
        loader.set_epoch(0)
        total_samples, total_seconds = 0, 0.0
        for _ in range(args.epochs):
            _, samples, seconds = rate(loader)
            total_samples += samples
            total_seconds += seconds
        results.append((label, total_samples / total_seconds, total_samples, total_seconds))

    limit = args.max_baseline_batches
    plain = DataLoader(dataset, batch_size=args.batch_size, shuffle=True)
    results.append(("(b) DataLoader, default collate", *rate(plain, limit)))
    worker = DataLoader(dataset, batch_size=args.batch_size, shuffle=True, num_workers=1)
    results.append(("(c) DataLoader, num_workers=1", *rate(worker, limit)))
    numpy_backed = DataLoader(NumpyDataset(x, y), batch_size=args.batch_size, shuffle=True)
    results.append(("(d) DataLoader, numpy per-sample dataset", *rate(numpy_backed, limit)))

    ratio = results[0][1] / results[2][1]
    print_table(results, ratio)


def print_table(results: list[tuple[str, float, int, float]], ratio: float) -> None:
    """Print the measurements as a rich table, or plain text without rich."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        for label, speed, samples, seconds in results:
            print(f"{label:<36} {speed:>14,.0f} samples/s  ({samples:,} in {seconds:.2f}s)")
        print(f"(a)/(b) = {ratio:,.1f}x")
        return
    table = Table(title="loader throughput")
    table.add_column("loader")
    table.add_column("samples/s", justify="right")
    table.add_column("samples", justify="right")
    table.add_column("seconds", justify="right")
    for label, speed, samples, seconds in results:
        table.add_row(label.strip(), f"{speed:,.0f}", f"{samples:,}", f"{seconds:.2f}")
    console = Console()
    console.print(table)
    console.print(f"(a)/(b) = {ratio:,.1f}x")


if __name__ == "__main__":
    main()
