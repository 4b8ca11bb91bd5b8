"""``synthetic-ctr``: the bundled default CTR data set, generated from a known click model.

``rec train ctr --model deepfm`` with no ``--data`` trains on it. Nothing is read from
disk: :func:`~rec_trainers.datasets.generator.generate_ctr` draws 125,000 Criteo-shaped
rows (13 dense, 26 sparse fields with vocabularies capped at 100, a target ``item`` and a
20-long ``hist_item`` history over 500 items) in well under a second, fully determined by
the seed. As the true click probabilities are known, ``info["bayes_auc"]`` holds the best
AUC any model can reach on the test split; the CLI prints it next to the model's AUC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rec_core.features import DenseFeature, SequenceFeature, SparseFeature
from rec_trainers.datasets.common import CTRData, check_params, split_indices, take, take_or_none
from rec_trainers.datasets.generator import SyntheticCTR, generate_ctr, make_criteo_like

__all__ = ["DEFAULT_DATASET", "SYNTHETIC_CTR", "SyntheticCTRDataset", "make_criteo_like"]

DEFAULT_DATASET = "synthetic-ctr"

_DEFAULTS: dict[str, Any] = {
    "rows": 125_000,
    "vocab_cap": 100,
    "n_items": 500,
    "history_len": 20,
    "zipf_a": 1.2,
    "split": (0.8, 0.1, 0.1),
}


class SyntheticCTRDataset:
    """Criteo-shaped rows with a user history, labelled by a known click model.

    Options (``load(**params)``): ``rows`` (125,000), ``vocab_cap`` (100), ``n_items``
    (500), ``history_len`` (20), ``zipf_a`` (1.2) and ``split`` ((0.8, 0.1, 0.1)).
    """

    name: ClassVar[str] = DEFAULT_DATASET
    task: ClassVar[str] = "ctr"
    description: ClassVar[str] = "Generated Criteo-like clicks with a user history; Bayes-optimal AUC known"
    default_embed_dim: ClassVar[int] = 16

    def load(
        self,
        *,
        data_dir: Path | None = None,
        cache_dir: Path | None = None,
        seed: int = 2022,
        embed_dim: int | None = None,
        **params: Any,
    ) -> CTRData:
        """Generate the data set (no files are read; ``data_dir``/``cache_dir`` are unused).

        Raises:
            ConfigError: On an unknown option or a bad split.
        """
        options = check_params(self.name, params, _DEFAULTS)
        data = generate_ctr(
            options["rows"],
            seed=seed,
            vocab_cap=options["vocab_cap"],
            n_items=options["n_items"],
            history_len=options["history_len"],
            zipf_a=options["zipf_a"],
        )
        train_rows, val_rows, test_rows = split_indices(options["rows"], options["split"], seed)
        dim = embed_dim if embed_dim is not None else self.default_embed_dim
        return CTRData(
            name=self.name,
            label="label",
            features=_features(data, dim),
            train=take(data.columns, data.labels, train_rows),
            val=take_or_none(data.columns, data.labels, val_rows),
            test=take_or_none(data.columns, data.labels, test_rows),
            info=_info(data, train_rows, val_rows, test_rows, seed),
        )


def _features(data: SyntheticCTR, embed_dim: int) -> list[Any]:
    features: list[Any] = [DenseFeature(name) for name in data.dense_names]
    for name in data.sparse_names:
        padding = 0 if name == "item" else None
        features.append(SparseFeature(name, data.vocab_sizes[name], embed_dim, padding_idx=padding))
    if "hist_item" in data.columns:
        features.append(
            SequenceFeature(
                "hist_item", data.vocab_sizes["hist_item"], embed_dim, "mean", shared_with="item", padding_idx=0
            )
        )
    return features


def _info(data: SyntheticCTR, train: np.ndarray, val: np.ndarray, test: np.ndarray, seed: int) -> dict[str, Any]:
    from rec_core.metrics import auc  # imports torch: only when a data set is built

    info: dict[str, Any] = {
        "rows": len(data.labels),
        "train_rows": len(train),
        "val_rows": len(val),
        "test_rows": len(test),
        "positive_rate": round(float(data.labels.mean()), 4),
        "seed": seed,
    }
    for key, rows in (("bayes_auc_val", val), ("bayes_auc", test)):
        if len(rows) and 0 < data.labels[rows].sum() < len(rows):
            info[key] = round(auc(data.labels[rows], data.probs[rows]), 4)
    return info


SYNTHETIC_CTR = SyntheticCTRDataset()
