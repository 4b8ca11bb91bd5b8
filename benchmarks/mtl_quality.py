"""Multi-task quality on Census-Income (KDD): MMOE and PLE with every loss weighter, over seeds.

The ``census-income`` data set is the one UCI file we have (99,762 rows, MMoE's two tasks:
income > 50K and marital status "Never married"), split 8:1:1 with the split seed. Each
model is trained with each loss weighter (equal, uwl, gradnorm, metabalance) and early
stopping on the income task's validation AUC; the test AUC of both tasks is reported as
mean ± std over the seeds, beside single-task baselines on the same split from the same
run: DeepFM trained per task with rec's CTR trainer, and scikit-learn's logistic
regression over one-hot categoricals and standardised numerics. The same MMOE/PLE runs
with torch-rechub 0.9's MTLTrainer and models follow (when torch-rechub is installed),
recording which of its methods crash.

Anchors: MMoE income AUC 0.9447, marital 0.9932 (PaddleRec, full KDD data). On this one
file, logistic regression with a seeded 9:1 split reached income 0.9403 / marital 0.9938.

Run: ``nox -s bench -- mtl`` or ``python benchmarks/mtl_quality.py [--seeds 3]`` (needs
``REC_DATA_DIR`` pointing at the shared data).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import traceback

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

MODELS = ("mmoe", "ple")
WEIGHTERS = ("equal", "uwl", "gradnorm", "metabalance")
TASKS = ("income", "marital")
# torch-rechub's census example sizes (examples/ranking/run_census.py), per model
MODEL_PARAMS = {
    "mmoe": {"n_expert": 8, "expert_params": {"dims": [16]}, "tower_params_list": [{"dims": [8]}, {"dims": [8]}]},
    "ple": {"n_level": 1, "n_expert_specific": 2, "n_expert_shared": 1, "expert_params": {"dims": [16]},
            "tower_params_list": [{"dims": [8]}, {"dims": [8]}]},
}


def load(args: argparse.Namespace):
    from rec_trainers.datasets import CENSUS_INCOME

    return CENSUS_INCOME.load(seed=args.split_seed)


def loaders(data, batch_size: int, seed: int, target: int | None = None):
    """Return train/val/test ColumnarLoaders over both targets, or over one (``target``)."""
    from rec_core.data import ColumnarLoader

    def make(split, **kwargs):
        labels = split.stacked_targets(list(TASKS)) if target is None else split.targets[TASKS[target]]
        return ColumnarLoader(split.columns, labels, batch_size=batch_size, **kwargs)

    return make(data.train, shuffle=True, seed=seed), make(data.val), make(data.test)


def run_rec(data, model_name: str, weighter: str, seed: int, args: argparse.Namespace) -> dict[str, float]:
    """Train one rec MTL model with one weighter and seed; return test AUCs, epochs and seconds."""
    from rec_core.plugins import make_plugin_manager
    from rec_core.reproducibility import seed_everything
    from rec_trainers import MTLTrainer

    pm = make_plugin_manager()
    seed_everything(seed)
    task_types = ["classification", "classification"]
    model = pm.registry("models").get(model_name, task="mtl").load().from_features(
        data.features, task_types, **MODEL_PARAMS[model_name])
    adaptive = None if weighter == "equal" else {"method": weighter, **({"alpha": 0.16} if weighter == "gradnorm"
                                                                        else {})}
    train, val, test = loaders(data, args.batch_size, seed)
    with tempfile.TemporaryDirectory() as folder:
        trainer = MTLTrainer(model, task_types, optimizer_params={"lr": args.lr, "weight_decay": args.weight_decay},
                             adaptive_params=adaptive, n_epoch=args.max_epochs, earlystop_patience=args.patience,
                             device="cpu", model_path=folder, progress_bar=False, random_seed=seed)
        start = time.perf_counter()
        trainer.fit(train, val, verbose=False)
        seconds = time.perf_counter() - start
        metrics = trainer.evaluate(test)
    return {"income": metrics["task_0_auc"], "marital": metrics["task_1_auc"], "epochs": trainer.current_epoch,
            "seconds": seconds}


def run_deepfm(data, task: int, seed: int, args: argparse.Namespace) -> float:
    """Train DeepFM on one task with rec's CTR trainer; return its test AUC."""
    from rec_core.reproducibility import seed_everything
    from rec_trainers import CTRTrainer
    from rec_trainers.models.ranking import DeepFM

    seed_everything(seed)
    model = DeepFM.from_features(data.features, mlp_params={"dims": [64, 32], "dropout": 0.2})
    train, val, test = loaders(data, args.batch_size, seed, target=task)
    with tempfile.TemporaryDirectory() as folder:
        trainer = CTRTrainer(model, optimizer_params={"lr": args.lr, "weight_decay": args.weight_decay},
                             n_epoch=args.max_epochs, earlystop_patience=args.patience, device="cpu",
                             model_path=folder, progress_bar=False, random_seed=seed)
        trainer.fit(train, val, verbose=False)
        return float(trainer.evaluate(test)["auc"])


def run_logistic_regression(data) -> dict[str, float]:
    """Fit scikit-learn's logistic regression per task on one-hot categoricals + standardised numerics."""
    import numpy as np
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import OneHotEncoder

    from rec_core.features import DenseFeature

    dense = [f.name for f in data.features if isinstance(f, DenseFeature)]
    categorical = [f.name for f in data.features if f.name not in dense]

    def matrix(split, encoder):
        ids = np.stack([split.columns[name] for name in categorical], axis=1)
        values = np.stack([split.columns[name] for name in dense], axis=1)
        return sparse.hstack([encoder.transform(ids), sparse.csr_matrix(values)]).tocsr()

    encoder = OneHotEncoder(handle_unknown="ignore").fit(np.stack([data.train.columns[n] for n in categorical], 1))
    x_train, x_test = matrix(data.train, encoder), matrix(data.test, encoder)
    result = {}
    for task in TASKS:
        model = LogisticRegression(max_iter=2000, C=1.0).fit(x_train, data.train.targets[task])
        result[task] = float(roc_auc_score(data.test.targets[task], model.predict_proba(x_test)[:, 1]))
    return result


def run_rechub(data, model_name: str, weighter: str, seed: int, args: argparse.Namespace) -> dict[str, float] | str:
    """Train torch-rechub 0.9's model and MTLTrainer on the same arrays; return test AUCs or the crash."""
    import torch
    from torch_rechub.basic.features import DenseFeature, SparseFeature
    from torch_rechub.models.multi_task import MMOE, PLE
    from torch_rechub.trainers import MTLTrainer
    from torch_rechub.utils.data import DataGenerator

    from rec_core.features import SparseFeature as RecSparse

    torch.manual_seed(seed)
    features = [SparseFeature(f.name, f.vocab_size, embed_dim=f.embed_dim) if isinstance(f, RecSparse)
                else DenseFeature(f.name) for f in data.features]
    task_types = ["classification", "classification"]
    params = MODEL_PARAMS[model_name]
    model = MMOE(features, task_types, **params) if model_name == "mmoe" else PLE(features, task_types, **params)
    generator = DataGenerator(data.train.columns, data.train.stacked_targets(list(TASKS)))
    train, val, test = generator.generate_dataloader(
        x_val=data.val.columns, y_val=data.val.stacked_targets(list(TASKS)), x_test=data.test.columns,
        y_test=data.test.stacked_targets(list(TASKS)), batch_size=args.batch_size, num_workers=0)
    adaptive = None if weighter == "equal" else {"method": weighter, **({"alpha": 0.16} if weighter == "gradnorm"
                                                                        else {})}
    try:
        with tempfile.TemporaryDirectory() as folder:
            trainer = MTLTrainer(model, task_types=task_types, adaptive_params=adaptive,
                                 optimizer_params={"lr": args.lr, "weight_decay": args.weight_decay},
                                 n_epoch=args.max_epochs, earlystop_patience=args.patience, device="cpu",
                                 model_path=folder)
            start = time.perf_counter()
            trainer.fit(train, val)
            seconds = time.perf_counter() - start
            scores = trainer.evaluate(trainer.model, test)
    except Exception as exc:  # the point is to record which of its methods crash
        line = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return f"crash: {line[:90]}"
    return {"income": float(scores[0]), "marital": float(scores[1]), "seconds": seconds}


def spread(values: list[float]) -> float:
    """Return the sample standard deviation (0 for a single run)."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def cell(values: list[float]) -> str:
    return f"{statistics.mean(values):.4f} ± {spread(values):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--weighters", default=",".join(WEIGHTERS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--split-seed", type=int, default=2022)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--rechub-seeds", type=int, default=1, help="seeds of the torch-rechub runs (0: none)")
    args = parser.parse_args()
    data = load(args)
    seeds = [2022 + i for i in range(args.seeds)]
    print(f"Census-Income (KDD test file, {len(data.train)}/{len(data.val)}/{len(data.test)} rows, split seed "
          f"{args.split_seed}); Adam {args.lr}, weight decay {args.weight_decay}, batch {args.batch_size}, "
          f"early stopping on val income AUC (patience {args.patience}); test AUC mean ± std over {len(seeds)} seeds")
    print(f"{'model':<24} {'income AUC':>16} {'marital AUC':>16} {'epochs':>7} {'s/run':>6}", flush=True)

    lr = run_logistic_regression(data)
    print(f"{'logistic regression':<24} {lr['income']:>16.4f} {lr['marital']:>16.4f} {'':>7} {'':>6}", flush=True)
    deepfm = {task: [run_deepfm(data, i, seed, args) for seed in seeds] for i, task in enumerate(TASKS)}
    print(f"{'DeepFM, one per task':<24} {cell(deepfm['income']):>16} {cell(deepfm['marital']):>16}", flush=True)

    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for model_name in args.models.split(","):
        for weighter in args.weighters.split(","):
            runs = [run_rec(data, model_name, weighter, seed, args) for seed in seeds]
            results[(model_name, weighter)] = runs
            print(f"{model_name + ' + ' + weighter:<24} {cell([r['income'] for r in runs]):>16} "
                  f"{cell([r['marital'] for r in runs]):>16} {statistics.mean(r['epochs'] for r in runs):>7.1f} "
                  f"{statistics.mean(r['seconds'] for r in runs):>6.0f}", flush=True)

    print("\nvs logistic regression (must beat it on both tasks) and vs the equal-weight baseline (>= mean - 0.002):")
    for (model_name, weighter), runs in results.items():
        income, marital = (statistics.mean(r[task] for r in runs) for task in TASKS)
        beats = income > lr["income"] and marital > lr["marital"]
        base = results.get((model_name, "equal"))
        ok = "" if base is None else " ok" if all(
            statistics.mean(r[t] for r in runs) >= statistics.mean(r[t] for r in base) - 0.002 for t in TASKS
        ) else " BELOW"
        print(f"  {model_name + ' + ' + weighter:<24} beats LR on both: {'yes' if beats else 'NO'};"
              f" vs equal:{ok or ' -'}")

    if args.rechub_seeds:
        try:
            import torch_rechub  # noqa: F401
        except ImportError:
            print("\ntorch-rechub is not installed: pip install torch-rechub==0.9.0 for the comparison")
            return
        print(f"\ntorch-rechub 0.9 MTLTrainer, same models and data ({args.rechub_seeds} seed(s)):")
        for model_name in args.models.split(","):
            for weighter in args.weighters.split(","):
                for seed in seeds[: args.rechub_seeds]:
                    result = run_rechub(data, model_name, weighter, seed, args)
                    shown = result if isinstance(result, str) else (
                        f"income {result['income']:.4f}  marital {result['marital']:.4f}  {result['seconds']:.0f} s")
                    print(f"  {model_name + ' + ' + weighter:<24} seed {seed}: {shown}", flush=True)


if __name__ == "__main__":
    main()
