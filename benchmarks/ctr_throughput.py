"""CTR training throughput: rec's CTRTrainer vs a plain PyTorch loop vs torch-rechub.

DeepFM (embeddings 16, MLP 256-128, dropout 0.2), batch 2048, one epoch over a seeded
Criteo-shaped set (13 dense + 26 Zipf sparse fields, vocabularies capped at 100k), on CPU.
Each variant runs in its own process so that its peak RSS is its own:

* ``rec``        — ``rec_trainers.CTRTrainer.fit`` on a ``ColumnarLoader`` with its defaults
                   (sparse embedding gradients updated by RowAdam, fused Adam for the rest)
* ``rec-dense``  — the same with ``sparse_embeddings=False`` (dense fused Adam everywhere)
* ``plain``      — a hand-written loop over pre-made batch tensors, same model, fused Adam: the limit
* ``rechub``     — torch-rechub 0.9's ``CTRTrainer.train_one_epoch`` (if torch-rechub is installed)

Run: ``nox -s bench`` or ``python benchmarks/ctr_throughput.py [--rows 500000]``.
Targets: rec >= 0.9 x plain, and >= 2.5 x torch-rechub.
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

VARIANTS = ("plain", "rec", "rec-dense", "rechub")


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


def run_plain(rows: int, batch: int, seed: int) -> float:
    import torch

    x, y, vocab = _data(rows, seed)
    torch.manual_seed(seed)
    model = _rec_model(vocab)
    columns = {k: torch.as_tensor(v) for k, v in x.items()}
    labels = torch.as_tensor(y)
    order = torch.randperm(rows)
    batches = [({k: v[idx] for k, v in columns.items()}, labels[idx]) for idx in order.split(batch)]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    model.train()
    start = time.perf_counter()
    for features, target in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(features), target)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def run_rec(rows: int, batch: int, seed: int, *, sparse: bool | None) -> float:
    from rec_core.data import ColumnarLoader
    from rec_trainers import CTRTrainer

    x, y, vocab = _data(rows, seed)
    loader = ColumnarLoader(x, y, batch_size=batch, shuffle=True, seed=seed)
    trainer = CTRTrainer(_rec_model(vocab), optimizer_params={"lr": 1e-3, "weight_decay": 0.0}, n_epoch=1,
                         device="cpu", earlystop_patience=0, progress_bar=False, sparse_embeddings=sparse,
                         random_seed=seed)
    start = time.perf_counter()
    trainer.fit(loader, verbose=False, saved=False)
    return time.perf_counter() - start


def run_rechub(rows: int, batch: int, seed: int) -> float:
    import torch
    from torch_rechub.basic.features import DenseFeature, SparseFeature
    from torch_rechub.models.ranking import DeepFM
    from torch_rechub.trainers import CTRTrainer
    from torch_rechub.utils.data import DataGenerator

    x, y, vocab = _data(rows, seed)
    torch.manual_seed(seed)
    dense = [DenseFeature(f"I{i}") for i in range(1, 14)]
    sparse = [SparseFeature(name, vocab_size=size, embed_dim=16) for name, size in vocab.items()]
    model = DeepFM(deep_features=dense + sparse, fm_features=sparse, mlp_params={"dims": [256, 128], "dropout": 0.2})
    train_dl, _, _ = DataGenerator(x, y).generate_dataloader(split_ratio=[1.0, 0.0], batch_size=batch, num_workers=0)
    trainer = CTRTrainer(model, optimizer_params={"lr": 1e-3, "weight_decay": 0.0}, n_epoch=1, device="cpu")
    start = time.perf_counter()
    trainer.train_one_epoch(train_dl)
    return time.perf_counter() - start


def _child(variant: str, rows: int, batch: int, seed: int) -> None:
    runners = {
        "plain": lambda: run_plain(rows, batch, seed),
        "rec": lambda: run_rec(rows, batch, seed, sparse=None),
        "rec-dense": lambda: run_rec(rows, batch, seed, sparse=False),
        "rechub": lambda: run_rechub(rows, batch, seed),
    }
    seconds = runners[variant]()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"variant": variant, "seconds": seconds, "samples_per_s": rows / seconds, "peak_rss_mib": peak_mib}
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.rows, args.batch_size, args.seed)
        return
    results = {}
    for variant in args.variants.split(","):
        if variant == "rechub":
            try:
                import torch_rechub  # noqa: F401
            except ImportError:
                print("torch-rechub is not installed here: skipping it (pip install torch-rechub==0.9.0)")
                continue
        command = [sys.executable, __file__, "--child", variant, "--rows", str(args.rows),
                   "--batch-size", str(args.batch_size), "--seed", str(args.seed)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{variant}: failed\n{done.stderr[-2000:]}")
            continue
        results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\nDeepFM, {args.rows:,} rows, batch {args.batch_size}, one epoch, CPU threads {os.cpu_count()}")
    print(f"{'variant':<12} {'samples/s':>12} {'seconds':>9} {'peak RSS MiB':>13} {'vs plain':>9} {'vs rechub':>10}")
    plain = results.get("plain", {}).get("samples_per_s")
    rechub = results.get("rechub", {}).get("samples_per_s")
    for variant, r in results.items():
        vs_plain = f"{r['samples_per_s'] / plain:.2f}x" if plain else "-"
        vs_rechub = f"{r['samples_per_s'] / rechub:.2f}x" if rechub else "-"
        print(f"{variant:<12} {r['samples_per_s']:>12,.0f} {r['seconds']:>9.2f} {r['peak_rss_mib']:>13.0f} "
              f"{vs_plain:>9} {vs_rechub:>10}")


if __name__ == "__main__":
    main()
