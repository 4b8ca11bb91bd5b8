"""``synthetic-ctr``: the bundled default CTR data set, generated from a known click model.

Nothing is read from disk: :func:`~rec_trainers.datasets.generator.generate_ctr` draws
125,000 Criteo-shaped rows (13 dense, 26 sparse fields with vocabularies capped at 100, a
target ``item`` and a 20-long ``hist_item`` history over 500 items) in well under a
second, fully determined by the seed. The sparse fields' ids are shifted to ``1..n`` so
that id 0 stays reserved (``item`` and ``hist_item`` already use 0 as padding). As the
true click probabilities are known, ``info["bayes_auc"]`` holds the best AUC any model
can reach on the test split (``info["bayes_auc_val"]`` on the validation split).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from rec_core.datasets.spec import LoadContext, Table, TableDataset
from rec_core.features import DenseFeature, SequenceFeature, SparseFeature
from rec_trainers.datasets.generator import SyntheticCTR, generate_ctr

__all__ = ["SYNTHETIC_CTR", "SyntheticCTRDataset"]

_PADDED = ("item", "hist_item")  # generated with id 0 as padding already


class SyntheticCTRDataset(TableDataset):
    """Criteo-shaped rows with a user history, labelled by a known click model.

    Options (``load(**params)``): ``rows`` (125,000), ``vocab_cap`` (100), ``n_items``
    (500), ``history_len`` (20), ``zipf_a`` (1.2) and ``split`` ((0.8, 0.1, 0.1)).
    ``data_dir`` and ``cache_dir`` are unused.
    """

    options: ClassVar[dict[str, Any]] = {
        "rows": 125_000,
        "vocab_cap": 100,
        "n_items": 500,
        "history_len": 20,
        "zipf_a": 1.2,
        "split": (0.8, 0.1, 0.1),
    }
    default_embed_dim: ClassVar[int] = 16

    def build(self, options: dict[str, Any], context: LoadContext) -> Table:
        """Generate the rows."""
        data = generate_ctr(
            options["rows"],
            seed=context.seed,
            vocab_cap=options["vocab_cap"],
            n_items=options["n_items"],
            history_len=options["history_len"],
            zipf_a=options["zipf_a"],
        )
        columns = {
            name: values if name in _PADDED or name in data.dense_names else values + 1
            for name, values in data.columns.items()
        }
        return Table(
            columns,
            {"label": data.labels},
            _features(data, context.embed_dim),
            split=options["split"],
            info={"seed": context.seed},
            split_info=lambda rows: _bayes_auc(data, rows),
        )


def _features(data: SyntheticCTR, embed_dim: int) -> list[Any]:
    features: list[Any] = [DenseFeature(name) for name in data.dense_names]
    for name in data.sparse_names:
        if name == "item":
            features.append(SparseFeature(name, data.vocab_sizes[name], embed_dim, padding_idx=0))
        else:
            features.append(SparseFeature(name, data.vocab_sizes[name] + 1, embed_dim))
    if "hist_item" in data.columns:
        features.append(
            SequenceFeature(
                "hist_item", data.vocab_sizes["hist_item"], embed_dim, "mean", shared_with="item", padding_idx=0
            )
        )
    return features


def _bayes_auc(data: SyntheticCTR, rows: dict[str, np.ndarray]) -> dict[str, float]:
    """Return the AUC of the true click probabilities on the validation and test rows."""
    from rec_core.metrics import auc  # imports torch: only when a data set is built

    info: dict[str, float] = {}
    for key, part in (("bayes_auc_val", rows["val"]), ("bayes_auc", rows["test"])):
        if len(part) and 0 < data.labels[part].sum() < len(part):
            info[key] = round(auc(data.labels[part], data.probs[part]), 4)
    return info


SYNTHETIC_CTR = SyntheticCTRDataset()
