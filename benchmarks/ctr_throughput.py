"""CTR training throughput: rec's CTRTrainer vs plain PyTorch loops vs torch-rechub, on CPU or CUDA.

DeepFM (embeddings 16, MLP 256-128, dropout 0.2), one epoch over a seeded Criteo-shaped set
(13 dense + 26 Zipf sparse fields, vocabularies capped at 100k). Each variant runs in its own
process so that its peak memory is its own:

* ``plain``       — a hand-written loop, rec's DeepFM module with one table per field, the
                    rows resident on the device (batches cut there), fused Adam: the eager limit
* ``plain-fused`` — the same with the model's tables stacked in one (``embedding_layout="fused"``:
                    one gather for the 26 fields)
* ``plain-graph`` — (CUDA only) the fused model's whole step (forward, backward, Adam) captured
                    once as a CUDA graph and replayed per full batch: the launch-free ceiling
* ``rec``         — ``rec_trainers.CTRTrainer.fit`` on a ``ColumnarLoader`` with its defaults
                    (CPU: sparse embedding gradients updated by RowAdam; CUDA: fused tables,
                    the columns on the GPU, fused Adam)
* ``rec-dense``   — the same with ``sparse_embeddings=False``
* ``rec-graph``   — (CUDA only) the ``rec`` run with ``capture_step=True``: the trainer's whole step
                    captured as a CUDA graph (the last partial batch eager)
* ``rec-rowadam`` — (CUDA only) per-field tables with sparse gradients updated by RowAdam
                    (``embedding_layout="per-field"``, ``sparse_embeddings=True``): the CPU's default
                    update, measured against the GPU's (fused tables, dense fused Adam)
* ``rec-host``    — (CUDA only) the ``rec`` run with the columns kept on the host
                    (``data_on_device=False``): every column of every batch copied on its own
* ``rec-prefetch``— (CUDA only) the same with ``prefetch_batches=True``: one packed pinned copy per
                    batch on a side stream, one batch ahead
* ``rechub``      — torch-rechub 0.9's ``CTRTrainer.train_one_epoch`` (if torch-rechub is installed)

Run: ``nox -s bench`` or ``python benchmarks/ctr_throughput.py [--rows 500000] [--device cuda]
[--batch-size 2048]``. Targets: CPU: rec >= 0.9 x plain and >= 2.5 x torch-rechub; CUDA: rec
>= 0.8 x plain-fused, rec-graph >= 0.5 x plain-graph.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

VARIANTS = ("plain", "plain-fused", "plain-graph", "rec", "rec-dense", "rec-graph", "rec-rowadam", "rec-host",
            "rec-prefetch", "rechub")
CUDA_ONLY = ("plain-graph", "rec-graph", "rec-rowadam", "rec-host", "rec-prefetch")
CPU_VARIANTS = ("plain", "rec", "rec-dense", "rechub")


def _data(rows: int, seed: int):
    from rec_trainers.datasets import make_criteo_like

    x, y = make_criteo_like(rows, seed=seed, vocab_cap=100_000)
    vocab = {name: int(values.max()) + 1 for name, values in x.items() if name.startswith("C")}
    return x, y, vocab


def _rec_model(vocab: dict[str, int]):
    from rec_core.features import DenseFeature, SparseFeature
    from rec_trainers.models.ranking import DeepFM

    dense = [DenseFeature(f"I{i}") for i in range(1, 14)]
    sparse = [SparseFeature(name, vocab_size=size, embed_dim=16) for name, size in vocab.items()]
    return DeepFM(deep_features=dense + sparse, fm_features=sparse, mlp_params={"dims": [256, 128], "dropout": 0.2})


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _resident(args: argparse.Namespace, *, fused: bool):
    """Return (model, columns, labels, order) with everything on ``args.device``."""
    import torch

    from rec_core.trainer._layout import apply_embedding_layout

    x, y, vocab = _data(args.rows, args.seed)
    torch.manual_seed(args.seed)
    model = _rec_model(vocab).to(args.device)
    apply_embedding_layout(model, "fused" if fused else "per-field", torch.device(args.device))
    columns = {k: torch.as_tensor(v).to(args.device) for k, v in x.items()}
    labels = torch.as_tensor(y).to(args.device)
    order = torch.randperm(args.rows, device=args.device)
    return model, columns, labels, order


def run_plain(args: argparse.Namespace, *, fused: bool = False) -> tuple[float, int]:
    import torch

    model, columns, labels, order = _resident(args, fused=fused)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    model.train()
    _sync(args.device)
    start = time.perf_counter()
    for idx in order.split(args.batch_size):
        features = {k: v.index_select(0, idx) for k, v in columns.items()}
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(features), labels.index_select(0, idx))
        loss.backward()
        optimizer.step()
    _sync(args.device)
    return time.perf_counter() - start, args.rows


def run_graph(args: argparse.Namespace) -> tuple[float, int]:
    """The fused model's whole step captured as one CUDA graph, replayed for every full batch."""
    import torch
    from torch.nn.functional import binary_cross_entropy_with_logits as bce

    if not args.device.startswith("cuda"):
        raise SystemExit("plain-graph needs --device cuda")
    model, columns, labels, order = _resident(args, fused=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True, capturable=True)
    model.train()
    size = args.batch_size
    static_x = {k: v[:size].clone() for k, v in columns.items()}
    static_y = labels[:size].clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up outside the capture (allocations, autotuning)
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            bce(model(static_x), static_y).backward()
            optimizer.step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        bce(model(static_x), static_y).backward()
        optimizer.step()
    full = args.rows // size
    _sync(args.device)
    start = time.perf_counter()
    for k in range(full):
        idx = order[k * size : (k + 1) * size]
        for name, column in columns.items():
            torch.index_select(column, 0, idx, out=static_x[name])
        torch.index_select(labels, 0, idx, out=static_y)
        graph.replay()
    _sync(args.device)
    return time.perf_counter() - start, full * size


def run_rec(args: argparse.Namespace, *, sparse: bool | None, **settings: object) -> tuple[float, int]:
    """``CTRTrainer.fit`` with its defaults, plus ``settings`` (TrainingConfig keys)."""
    from rec_core.data import ColumnarLoader
    from rec_trainers import CTRTrainer

    x, y, vocab = _data(args.rows, args.seed)
    loader = ColumnarLoader(x, y, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    trainer = CTRTrainer(_rec_model(vocab), optimizer_params={"lr": 1e-3, "weight_decay": 0.0}, n_epoch=1,
                         device=args.device, earlystop_patience=0, progress_bar=False, sparse_embeddings=sparse,
                         random_seed=args.seed, **settings)
    _sync(args.device)
    start = time.perf_counter()
    trainer.fit(loader, verbose=False, saved=False)
    _sync(args.device)
    return time.perf_counter() - start, args.rows


def run_rechub(args: argparse.Namespace) -> tuple[float, int]:
    import torch
    from torch_rechub.basic.features import DenseFeature, SparseFeature
    from torch_rechub.models.ranking import DeepFM
    from torch_rechub.trainers import CTRTrainer
    from torch_rechub.utils.data import DataGenerator

    rows = min(args.rows, args.rechub_rows or args.rows)  # it is slow: its samples/s need fewer rows
    x, y, vocab = _data(rows, args.seed)
    torch.manual_seed(args.seed)
    dense = [DenseFeature(f"I{i}") for i in range(1, 14)]
    sparse = [SparseFeature(name, vocab_size=size, embed_dim=16) for name, size in vocab.items()]
    model = DeepFM(deep_features=dense + sparse, fm_features=sparse, mlp_params={"dims": [256, 128], "dropout": 0.2})
    train_dl, _, _ = DataGenerator(x, y).generate_dataloader(split_ratio=[1.0, 0.0], batch_size=args.batch_size,
                                                             num_workers=0)
    trainer = CTRTrainer(model, optimizer_params={"lr": 1e-3, "weight_decay": 0.0}, n_epoch=1, device=args.device)
    _sync(args.device)
    start = time.perf_counter()
    trainer.train_one_epoch(train_dl)
    _sync(args.device)
    return time.perf_counter() - start, rows


def _peak_mib(device: str) -> tuple[float, float | None]:
    import torch

    host = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    return host, gpu


def _child(variant: str, args: argparse.Namespace) -> None:
    runners = {
        "plain": lambda: run_plain(args),
        "plain-fused": lambda: run_plain(args, fused=True),
        "plain-graph": lambda: run_graph(args),
        "rec": lambda: run_rec(args, sparse=None),
        "rec-dense": lambda: run_rec(args, sparse=False),
        "rec-graph": lambda: run_rec(args, sparse=None, capture_step=True),
        "rec-rowadam": lambda: run_rec(args, sparse=True, embedding_layout="per-field"),
        "rec-host": lambda: run_rec(args, sparse=None, data_on_device=False),
        "rec-prefetch": lambda: run_rec(args, sparse=None, data_on_device=False, prefetch_batches=True),
        "rechub": lambda: run_rechub(args),
    }
    seconds, rows = runners[variant]()
    host, gpu = _peak_mib(args.device)
    print(json.dumps({"variant": variant, "seconds": seconds, "rows": rows, "samples_per_s": rows / seconds,
                      "peak_rss_mib": host, "peak_gpu_mib": gpu}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--variants", default=None,
                        help=f"comma-separated subset of {', '.join(VARIANTS)} (default: all the device runs)")
    parser.add_argument("--rechub-rows", type=int, default=None,
                        help="rows for the torch-rechub run, if fewer than --rows (samples/s stay comparable)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args)
        return
    cuda = args.device.startswith("cuda")
    chosen = (args.variants.split(",") if args.variants else list(VARIANTS if cuda else CPU_VARIANTS))
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)} (choose from {', '.join(VARIANTS)})")
    if not cuda and set(chosen) & set(CUDA_ONLY):
        parser.error(f"{', '.join(sorted(set(chosen) & set(CUDA_ONLY)))} need(s) --device cuda")
    results = {}
    for variant in chosen:
        if variant == "rechub":
            try:
                import torch_rechub  # noqa: F401
            except ImportError:
                print("torch-rechub is not installed here: skipping it (pip install torch-rechub==0.9.0)")
                continue
        command = [sys.executable, __file__, "--child", variant, "--rows", str(args.rows), "--batch-size",
                   str(args.batch_size), "--seed", str(args.seed), "--device", args.device]
        if args.rechub_rows:
            command += ["--rechub-rows", str(args.rechub_rows)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{variant}: failed\n{done.stderr[-2000:]}")
            continue
        results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    where = args.device if cuda else f"CPU, {os.cpu_count()} cores"
    print(f"\nDeepFM, {args.rows:,} rows, batch {args.batch_size}, one epoch, {where}")
    print("| variant | samples/s | seconds | peak RSS MiB | peak GPU MiB | vs plain | vs plain-fused | vs rechub |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    refs = {name: results.get(name, {}).get("samples_per_s") for name in ("plain", "plain-fused", "rechub")}
    if "plain-graph" in results and "rec-graph" in results:
        ratio = results["rec-graph"]["samples_per_s"] / results["plain-graph"]["samples_per_s"]
        print(f"rec-graph / plain-graph: {ratio:.2f}x (target >= 0.5x)")
    for variant, r in results.items():
        ratios = [f"{r['samples_per_s'] / ref:.2f}x" if ref else "-" for ref in refs.values()]
        gpu = f"{r['peak_gpu_mib']:,.0f}" if r.get("peak_gpu_mib") is not None else "-"
        print(f"| {variant} | {r['samples_per_s']:,.0f} | {r['seconds']:.2f} | {r['peak_rss_mib']:,.0f} | {gpu} | "
              + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
