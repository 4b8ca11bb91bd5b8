"""Generative retrieval on Amazon Beauty: RQ-VAE semantic IDs and TIGER, beside SASRec, popularity and torch-rechub.

One run, one split (leave-one-out: each user's last item is the test target, the one
before it the validation target; the split of ``rec train seq --data amazon-beauty``):

1. Item titles -> all-MiniLM-L6-v2 embeddings (cached) -> RQ-VAE with rec-genrec's defaults:
   reconstruction cosine, codebook perplexity per level and the collision rate of the
   catalogue before the collision code (anchor: ~2.5% of 12,101 items), wall time.
2. TIGER on those semantic IDs with its defaults within a wall-clock budget (the last epoch
   that starts inside it finishes): test recall@5/10 and NDCG@5/10 by beam search
   constrained to real items (20 beams), the validation curve per epoch, seconds per epoch.
3. Popularity (the most frequent training items, the same ranked-list metric code) and
   SASRec with its Beauty recipe (``benchmarks/seq_quality.py``; exact full ranking with
   the user's known items excluded, ties against the target) on the same split.
4. torch-rechub 0.9's RQ-VAE and TIGER (``benchmarks/genrec_rechub.py``) on the same item
   embeddings and split, where they run.

Anchors (Beauty, full schedule on GPUs): TIGER paper R@5 0.0454, N@5 0.0321, R@10 0.0648,
N@10 0.0384; genrec's reproduction R@10 0.0721 / N@10 0.0378. On a CPU the budget bounds
TIGER to a few epochs of the paper's ~200k steps; the numbers say what a bounded run reaches.

Run: ``nox -s bench -- genrec`` or ``python benchmarks/genrec_quality.py [--tiger-minutes 40]
[--sasrec-minutes 10] [--rechub-minutes 10] [--skip sasrec rechub] [--set key=value]``
(needs ``REC_DATA_DIR``; the first run encodes 12,101 titles, about two minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import parse_sets

KS = (5, 10)
METRICS = ("recall@5", "ndcg@5", "recall@10", "ndcg@10")
ANCHORS = [
    {"model": "TIGER paper (GPU, full schedule)", "recall@5": 0.0454, "ndcg@5": 0.0321, "recall@10": 0.0648,
     "ndcg@10": 0.0384},
    {"model": "genrec's TIGER reproduction", "recall@10": 0.0721, "ndcg@10": 0.0378},
]


class CurveLogger:
    """A rec logger that keeps each epoch's validation metrics and when they arrived."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.started = time.perf_counter()

    def log_hyperparams(self, params: dict) -> None:
        """Ignore the hyperparameters."""

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        """Keep the validation metrics of an epoch."""
        if "val/ndcg@10" in metrics:
            self.rows.append({"seconds": time.perf_counter() - self.started,
                              **{k: float(v) for k, v in metrics.items() if k.startswith(("val/", "train/loss"))}})

    def finish(self, status: str = "success") -> None:
        """Nothing to flush."""


def rqvae_stage(items, args: argparse.Namespace) -> tuple:
    """Train the RQ-VAE with its defaults; return the semantic-ID table (row = item id) and its figures."""
    import torch

    from rec_genrec.models.rqvae import RqVae, codebook_perplexity, collision_rate
    from rec_genrec.runs import semantic_id_table
    from rec_genrec.trainers import RQVAETrainer, RQVAETrainingConfig

    config = RQVAETrainingConfig(checkpoint_dir=os.path.join(args.workdir, "rqvae"), progress_bar=False,
                                 random_seed=args.seed, **parse_sets(args.rqvae_set))
    torch.manual_seed(args.seed)
    model = RqVae(input_dim=items.input_dim, hidden_dim=config.hidden_dim, latent_dim=config.latent_dim,
                  num_embeddings=config.num_embeddings, num_levels=config.num_levels,
                  commitment_cost=config.commitment_cost)
    trainer = RQVAETrainer(model, config, items)
    started = time.perf_counter()
    trainer.train_model()
    seconds = time.perf_counter() - started
    table = semantic_id_table(model, items.embeddings)
    codes = table[1:, : config.num_levels]
    reconstruction = trainer.evaluate_reconstruction(trainer.create_item_loader())
    perplexity = codebook_perplexity(codes, config.num_embeddings).tolist()
    row = {"model": "rec RQ-VAE", "collision_rate": collision_rate(codes), "cosine_similarity":
           reconstruction["cosine_similarity"], "perplexity": perplexity, "epochs": trainer.current_epoch,
           "seconds": seconds, "max_collision_code": int(table[:, -1].max())}
    return table, row


def tiger_stage(data, table, args: argparse.Namespace) -> dict:
    """Train TIGER with its defaults within the budget; return its test metrics and validation curve."""
    import torch

    from rec_core.callbacks import TimeLimit
    from rec_genrec.data.sequences import SequenceDataset
    from rec_genrec.models.tiger import Tiger
    from rec_genrec.trainers import TIGERTrainer, TIGERTrainingConfig

    config = TIGERTrainingConfig(checkpoint_dir=os.path.join(args.workdir, "tiger"), progress_bar=args.progress,
                                 random_seed=args.seed, eval_k_values=list(KS), **parse_sets(args.set))
    codebook = max(int(table.max()) + 1, config.codebook_size)
    dataset = SequenceDataset.from_interactions(data, table, "train", max_history=config.max_seq_length,
                                                codebook_size=codebook, num_user_buckets=config.num_user_buckets)
    torch.manual_seed(args.seed)
    model = Tiger(vocab_size=dataset.vocabulary.vocab_size, embedding_dim=config.embedding_dim,
                  num_heads=config.num_heads, num_layers=config.num_layers, attn_dim=config.attn_dim,
                  dropout=config.dropout, max_seq_length=config.max_seq_length, num_levels=table.shape[1],
                  codebook_size=codebook)
    curve = CurveLogger()
    trainer = TIGERTrainer(model, config, dataset, logger=curve, callbacks=[TimeLimit(args.tiger_minutes * 60)])
    started = time.perf_counter()
    trainer.train_model()
    wall = time.perf_counter() - started
    test = trainer.test_results or {}
    epochs = max(trainer.current_epoch, 1)
    return {"model": "rec TIGER (budget)", **{m: test.get(f"test/{m}", float("nan")) for m in METRICS},
            "epochs": trainer.current_epoch, "s_per_epoch": wall / epochs, "wall_s": wall,
            "params": sum(p.numel() for p in model.parameters()), "train_rows": len(dataset), "curve": curve.rows}


def popularity_row(data) -> dict:
    """Rank the most frequent training items for every test user; score with the same ranked-list metrics."""
    import numpy as np
    import torch

    from rec_core.datasets.interactions import user_sequences
    from rec_core.metrics import ranked_list_metrics

    train = user_sequences(data.interactions, ("train",))
    counts = np.bincount(train.items, minlength=data.items.n_items)
    counts[0] = -1
    top = torch.as_tensor(np.argsort(-counts, kind="stable")[: max(KS)])
    targets = torch.as_tensor(user_sequences(data.interactions, ("test",)).items)  # one test item per user
    ranked = top.expand(len(targets), -1)
    metrics = ranked_list_metrics(ranked, targets, KS)
    return {"model": "popularity (same metric code)", **{m: float(metrics[m]) for m in METRICS}}


def sasrec_row(args: argparse.Namespace) -> dict:
    """Train SASRec with its Beauty recipe within the budget (benchmarks/seq_quality.py)."""
    from rec_core.plugins import make_plugin_manager
    from seq_quality import run_model

    pm = make_plugin_manager()
    data = pm.registry("datasets").get("amazon-beauty").load().load(seed=args.seed)
    options = argparse.Namespace(minutes=args.sasrec_minutes, seed=args.seed, set=[], model_set=[], progress=False,
                                 verbose=False)
    row = run_model(pm, "amazon-beauty", data, "sasrec", options)
    return {"model": "rec SASRec (recipe, full ranking)", **{m: row["test"][m] for m in METRICS},
            "epochs": row["epochs"], "s_per_epoch": row["s_per_epoch"], "wall_s": row["wall_s"]}


def rechub_rows(data, items, args: argparse.Namespace) -> list[dict]:
    """Run torch-rechub 0.9's RQ-VAE and TIGER on the same embeddings and split (benchmarks/genrec_rechub.py)."""
    import numpy as np
    import torch

    from genrec_rechub import run_rechub_rqvae, run_rechub_tiger
    from rec_core.datasets.interactions import known_before, user_sequences
    from rec_genrec.models.rqvae import append_collision_codes

    rows = []
    # their de-duplication runs unbounded Sinkhorn rounds (minutes) and leaves IDs shared: the collision code is ours
    rq = run_rechub_rqvae(items.embeddings.numpy(), seconds=args.rechub_minutes * 60, seed=args.seed, dedup=False)
    if "error" in rq:
        return [{"model": "torch-rechub RQ-VAE", "error": rq["error"]}]
    rows.append({"model": "torch-rechub RQ-VAE", **{k: rq[k] for k in ("collision_rate", "cosine_similarity",
                                                                       "epochs", "seconds") if k in rq}})
    codes = rq.get("codes_dedup", rq["codes"])
    if len(np.unique(codes, axis=0)) < len(codes):
        codes = append_collision_codes(torch.as_tensor(codes)).numpy()
    table = np.concatenate([np.zeros((1, codes.shape[1]), dtype=np.int64), codes])
    train = user_sequences(data.interactions, ("train",))
    histories = [(u, train.of(u).tolist()) for u in range(1, len(train)) if len(train.of(u))]

    def cases(split: str) -> list:
        known, targets = known_before(data.interactions, split), user_sequences(data.interactions, (split,))
        return [(u, known.of(u).tolist(), int(targets.of(u)[0])) for u in range(1, len(targets)) if len(targets.of(u))]

    tiger = run_rechub_tiger(histories, cases("val"), cases("test"), table, minutes=args.rechub_minutes,
                             seed=args.seed, k_values=KS, max_eval_cases=args.rechub_eval_cases)
    rows.append({"model": "torch-rechub TIGER (budget)", **{k: v for k, v in tiger.items() if k != "val_curve"}})
    return rows


def print_tables(stages: dict) -> None:
    """Print the RQ-VAE table and the retrieval table (markdown)."""
    print("\n## RQ-VAE on Beauty's 12,101 titles (all-MiniLM-L6-v2)")
    print("| model | collision rate | cosine | perplexity per level | epochs | seconds |")
    print("|---|---|---|---|---|---|")
    for row in stages.get("rqvae", []):
        if "error" in row:
            print(f"| {row['model']} | error: {row['error']} | | | | |")
            continue
        perplexity = "/".join(f"{p:.0f}" for p in row.get("perplexity", [])) or "-"
        print(f"| {row['model']} | {row['collision_rate']:.2%} | {row.get('cosine_similarity', float('nan')):.3f} | "
              f"{perplexity} | {row.get('epochs', '')} | {row.get('seconds', 0):.0f} |")
    print("\n## Beauty, leave-one-out, test split")
    print("| model | " + " | ".join(METRICS) + " | epochs | s/epoch | wall s |")
    print("|---|" + "---|" * (len(METRICS) + 3))
    for row in [*stages.get("retrieval", []), *ANCHORS]:
        if "error" in row:
            print(f"| {row['model']} | error: {row['error']} |" + " |" * (len(METRICS) + 2))
            continue
        cells = [f"{row[m]:.4f}" if m in row else "-" for m in METRICS]
        extra = [str(row.get("epochs", "")), f"{row['s_per_epoch']:.0f}" if "s_per_epoch" in row else "",
                 f"{row['wall_s']:.0f}" if "wall_s" in row else ""]
        print(f"| {row['model']} | " + " | ".join(cells + extra) + " |")
    for row in stages.get("retrieval", []):
        for point in row.get("curve", []):
            print(f"  {row['model']} after {point['seconds']:.0f} s: val ndcg@10 {point.get('val/ndcg@10', 0):.4f}, "
                  f"val recall@10 {point.get('val/recall@10', 0):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiger-minutes", type=float, default=40.0, help="TIGER training budget")
    parser.add_argument("--sasrec-minutes", type=float, default=10.0, help="SASRec training budget")
    parser.add_argument("--rechub-minutes", type=float, default=10.0, help="each torch-rechub stage's budget")
    parser.add_argument("--rechub-eval-cases", type=int, default=1000,
                        help="test users torch-rechub's TIGER ranks (seeded sample; ~0.2-0.9 s each on a CPU)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["sasrec", "rechub", "tiger"])
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--set", action="append", default=[], help="TIGER config override, key=value")
    parser.add_argument("--rqvae-set", action="append", default=[], help="RQ-VAE config override, key=value")
    parser.add_argument("--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "rec-genrec-bench"))
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--json", type=str, default=None, help="also write the rows to this file")
    args = parser.parse_args()

    from rec_genrec.data.dataset_factory import DatasetFactory

    data = DatasetFactory.load_interactions("p5_amazon", split="beauty", seed=args.seed)
    items = DatasetFactory.create_item_dataset("p5_amazon", split="beauty")
    table, rq_row = rqvae_stage(items, args)
    stages: dict = {"rqvae": [rq_row], "retrieval": [popularity_row(data)]}
    print_tables(stages)
    if "tiger" not in args.skip:
        stages["retrieval"].append(tiger_stage(data, table, args))
        print_tables(stages)
    if "sasrec" not in args.skip:
        stages["retrieval"].append(sasrec_row(args))
        print_tables(stages)
    if "rechub" not in args.skip:
        try:
            rows = rechub_rows(data, items, args)
        except ImportError as exc:  # torch-rechub or transformers missing
            rows = [{"model": "torch-rechub", "error": f"{type(exc).__name__}: {exc}"}]
        stages["rqvae"] += [r for r in rows if "RQ-VAE" in r["model"]]
        stages["retrieval"] += [r for r in rows if "RQ-VAE" not in r["model"]]
        print_tables(stages)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(stages, handle, indent=2, default=str)


if __name__ == "__main__":
    main()
