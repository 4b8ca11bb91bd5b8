"""genrec's ``DatasetFactory``: the item and sequence data sets of the training scripts, from our files.

``DatasetFactory.create_item_dataset("p5_amazon", root=..., split="beauty")`` returns the
catalogue's title embeddings (:class:`~rec_genrec.data.items.ItemDataset`, the RQ-VAE's
input); ``create_sequence_dataset(..., pretrained_rqvae_path=...)`` the users' histories as
semantic-ID tokens (:class:`~rec_genrec.data.sequences.SequenceDataset`, TIGER's input),
leave-one-out. Both read ``amazon-beauty-5core`` (see :mod:`rec_core.datasets.amazon_beauty`)
from ``root``, else ``$REC_DATA_DIR``, else the rec cache folder: ``root`` is where to look
first, as rec looks for every data file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from rec_core.errors import ConfigError

if TYPE_CHECKING:
    from rec_core.datasets import TaskData
    from rec_genrec.data.items import ItemDataset
    from rec_genrec.data.sequences import SequenceDataset
    from rec_genrec.data.text import TextEncoder

__all__ = ["DatasetFactory", "read_semantic_ids"]

DEFAULT_MAX_HISTORY = 20
"""Items of history TIGER sees (the TIGER paper's limit)."""


class DatasetFactory:
    """Create genrec's data sets by name.

    ``("p5_amazon", "beauty")`` (alias ``"amazon-beauty"``) is Amazon Beauty, read from its
    files with rec-core alone; any other rec data set of interactions whose items have text
    (``rec list datasets``, e.g. ``ml-100k``, ``ml-1m-sample``) is loaded through the data-set
    registry, with ``split="default"``.
    """

    BEAUTY: ClassVar[tuple[tuple[str, str], ...]] = (("p5_amazon", "beauty"), ("amazon-beauty", "beauty"),
                                                     ("amazon-beauty", "default"))
    ITEM_SPLITS: ClassVar[tuple[str, ...]] = ("all",)
    SEQUENCE_SPLITS: ClassVar[tuple[str, ...]] = ("train", "val", "valid", "test")

    @classmethod
    def load_interactions(cls, dataset: str = "p5_amazon", root: str | Path | None = None, split: str = "beauty",
                          **options: Any) -> TaskData:
        """Return the data set's interactions (leave-one-out) and catalogue, as rec's :class:`TaskData`.

        Raises:
            ConfigError: An unknown split.
            UnknownNameError: An unknown data set (lists the registered ones).
            DataError: A file is missing or damaged.
        """
        data_dir = Path(root) if root is not None else None
        if (dataset, split) in cls.BEAUTY:
            from rec_core.datasets.amazon_beauty import load_amazon_beauty

            data = load_amazon_beauty(data_dir=data_dir, **{"min_user_interactions": 3, **options})
            data.name = "amazon-beauty"
            return data
        if dataset == "p5_amazon":
            raise ConfigError(f"data set 'p5_amazon' has no split {split!r} (splits: beauty)")
        if split != "default":
            raise ConfigError(f"data set {dataset!r}: split must be 'default' (got {split!r}); "
                              "only p5_amazon has named splits")
        from rec_core.plugins import make_plugin_manager

        entry = make_plugin_manager().registry("datasets").get(dataset)
        data = entry.load().load(data_dir=data_dir, **options)
        data.name = entry.name
        return data

    @classmethod
    def create_item_dataset(cls, dataset: str = "p5_amazon", root: str | Path | None = None, split: str = "beauty",
                            train_test_split: str = "all", *, encoder: str | TextEncoder | None = None,
                            cache_dir: str | Path | None = None, **kwargs: Any) -> ItemDataset:
        """Return every catalogue item's title embedding, in item-id order.

        Args:
            dataset: ``"p5_amazon"`` (or ``"amazon-beauty"``), or a registered data set with item text.
            root: Where to look for the data files first.
            split: ``"beauty"`` for ``p5_amazon``, else ``"default"``.
            train_test_split: ``"all"``: semantic IDs are learnt for the whole catalogue;
                :meth:`RQVAETrainer.create_dataloaders` holds out items for validation.
            encoder: A text encoder or a registered name (default ``$REC_GENREC_TEXT_ENCODER``,
                else ``minilm``); embeddings are cached.
            cache_dir: The rec cache folder.
            **kwargs: Refused (named in the error).

        Raises:
            ConfigError: An unknown data set, split or option.
        """
        from rec_genrec.data.items import ItemDataset

        _refuse(kwargs, "create_item_dataset")
        if train_test_split not in cls.ITEM_SPLITS:
            raise ConfigError(f"create_item_dataset: train_test_split must be one of {', '.join(cls.ITEM_SPLITS)} "
                              f"(got {train_test_split!r})")
        data = cls.load_interactions(dataset, root, split)
        return ItemDataset.from_task_data(data, encoder, cache_dir=cache_dir)

    @classmethod
    def create_sequence_dataset(cls, dataset: str = "p5_amazon", root: str | Path | None = None,
                                split: str = "beauty", train_test_split: str = "train",
                                pretrained_rqvae_path: str | Path | None = None, *,
                                semantic_ids: torch.Tensor | np.ndarray | str | Path | None = None,
                                max_history: int = DEFAULT_MAX_HISTORY, encoder: str | TextEncoder | None = None,
                                cache_dir: str | Path | None = None, **kwargs: Any) -> SequenceDataset:
        """Return the users' histories as semantic-ID tokens, leave-one-out.

        Args:
            dataset, root, split: As for :meth:`create_item_dataset`.
            train_test_split: ``"train"`` (every next item of the training part; its
                validation and test companions come with it), ``"val"`` (alias ``"valid"``)
                or ``"test"``.
            pretrained_rqvae_path: An RQ-VAE saved by ``RQVAETrainer.train_model``
                (``rqvae.ckpt``) or a ``rec train rqvae`` run folder: the items' semantic
                IDs are computed from it (with the collision code).
            semantic_ids: Instead of ``pretrained_rqvae_path``: an ``(n_items + 1, levels)``
                table (row = item id) or a file written by ``rec genrec semantic-ids``.
            max_history: Items of history per example (most recent kept).
            encoder: The text encoder the RQ-VAE was trained on (default as for items).
            cache_dir: The rec cache folder.
            **kwargs: Refused (named in the error).

        Raises:
            ConfigError: Neither or both sources of semantic IDs, an unknown split or option.
        """
        _refuse(kwargs, "create_sequence_dataset")
        if train_test_split not in cls.SEQUENCE_SPLITS:
            raise ConfigError(f"create_sequence_dataset: train_test_split must be one of "
                              f"{', '.join(cls.SEQUENCE_SPLITS)} (got {train_test_split!r})")
        if (pretrained_rqvae_path is None) == (semantic_ids is None):
            raise ConfigError("create_sequence_dataset: give the items' semantic IDs, either "
                              "pretrained_rqvae_path=rqvae.ckpt or semantic_ids=TABLE|FILE")
        data = cls.load_interactions(dataset, root, split)
        if pretrained_rqvae_path is not None:
            from rec_genrec.runs import load_rqvae, semantic_ids_of

            table = semantic_ids_of(load_rqvae(pretrained_rqvae_path), data, encoder=encoder, cache_dir=cache_dir)
        else:
            table = read_semantic_ids(semantic_ids, n_items=data.items.n_items if data.items else 0)
        from rec_genrec.data.sequences import SequenceDataset

        part = "val" if train_test_split == "valid" else train_test_split
        return SequenceDataset.from_interactions(data, table, split=part, max_history=max_history)

    @classmethod
    def _check(cls, dataset: str, split: str) -> None:
        if dataset not in cls.DATASETS:
            raise ConfigError(f"unknown genrec data set {dataset!r} (data sets: {', '.join(cls.DATASETS)})")
        if split not in cls.DATASETS[dataset]:
            splits = ", ".join(cls.DATASETS[dataset])
            raise ConfigError(f"data set {dataset!r} has no split {split!r} (splits: {splits})")


def read_semantic_ids(source: torch.Tensor | np.ndarray | str | Path | None, *, n_items: int) -> torch.Tensor:
    """Return a semantic-ID table given as an array or a ``.csv`` / ``.npy`` file (``rec genrec semantic-ids``).

    A CSV has an ``item_id`` column and code columns ``code_0``, ``code_1``, ...; a table
    without the padding row 0 gets one.

    Raises:
        DataError: The file cannot be read, or the table does not cover ``n_items - 1`` items.
    """
    from rec_core.errors import DataError

    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            if path.suffix == ".npy":
                table = np.load(path, allow_pickle=False)
            else:
                import pandas as pd

                frame = pd.read_csv(path).sort_values("item_id")
                codes = [c for c in frame.columns if c.startswith("code_")]
                if not codes:
                    raise DataError(f"{path}: no code_0, code_1, ... columns (columns: {', '.join(frame.columns)})")
                table = frame[codes].to_numpy()
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"cannot read semantic IDs from {path}: {type(exc).__name__}: {exc}") from None
    else:
        table = np.asarray(source)
    table = torch.as_tensor(np.asarray(table, dtype=np.int64))
    if table.ndim != 2:
        raise DataError(f"a semantic-ID table must be (items, levels), got shape {tuple(table.shape)}")
    if len(table) == n_items - 1:
        table = torch.cat([torch.zeros(1, table.shape[1], dtype=torch.long), table])
    if len(table) != n_items:
        raise DataError(f"the semantic-ID table has {len(table)} rows but the catalogue has {n_items - 1} items "
                        "(plus padding row 0)")
    return table


def _refuse(kwargs: dict[str, Any], where: str) -> None:
    if kwargs:
        raise ConfigError(f"{where}: unknown option {sorted(kwargs)[0]!r}")
