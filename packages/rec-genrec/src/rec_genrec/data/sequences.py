"""TIGER's token layout and its training data: user histories as semantic-ID token sequences.

An item's *semantic ID* is a tuple of ``L`` codes (e.g. 3 RQ-VAE levels plus a collision
code), each below ``codebook_size``. A semantic-ID table is a LongTensor
``(n_items + 1, L)`` whose row ``i`` holds item ``i``'s codes (row 0, the padding item, is
never read). :class:`SemanticIdVocabulary` turns codes into tokens of one vocabulary:

=============================================  ======================================
token                                          meaning
=============================================  ======================================
``0``                                          padding
``1``                                          decoder start
``2 + l * codebook_size + c``                  code ``c`` at level ``l`` (``0 <= l < L``)
``2 + L * codebook_size + (user % buckets)``   the user, hashed into ``num_user_buckets``
=============================================  ======================================

so 4 levels of 256 codes and 2000 user buckets make ``vocab_size`` 3026.

:class:`SequenceDataset` serves one split of the interactions. Each row is
``{"input_ids", "labels", "target", "user"}``: the user token (none with 0 user buckets)
then the tokens of at most ``max_history`` history items (oldest first, most recent last),
and the target item's ``L`` tokens. Which rows a split holds:

* ``"train"``: every position of each user's training items after the first predicts its
  item from the training items before it (TIGER trains on all prefixes), histories cut to
  the last ``max_history`` items;
* ``"val"`` / ``"test"``: one row per interaction of the split, its history the user's
  items known before the split (train for validation, train + validation for test; see
  :func:`rec_core.datasets.known_before`). Under leave-one-out (the default split) each
  user's last item is the test target and the one before it the validation target.

A training dataset keeps the interactions it was cut from, so :meth:`SequenceDataset.companion`
returns its validation and test sets: a trainer builds all three loaders from it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset

from rec_core.errors import ConfigError, DataError

if TYPE_CHECKING:
    from rec_core.datasets import Interactions, TaskData

__all__ = [
    "BOS_TOKEN",
    "IGNORE_INDEX",
    "PAD_TOKEN",
    "SPLITS",
    "SemanticIdVocabulary",
    "SequenceBatches",
    "SequenceDataset",
    "check_semantic_ids",
    "collate_sequences",
]

PAD_TOKEN = 0
BOS_TOKEN = 1
IGNORE_INDEX = -100
"""Label padding: the loss skips it (genrec's collate pads labels with it)."""
SPECIAL_TOKENS = 2
SPLITS = ("train", "val", "test")


def check_semantic_ids(semantic_ids: Any, codebook_size: int, *, n_items: int | None = None) -> torch.Tensor:
    """Return a semantic-ID table as a CPU LongTensor ``(n_items + 1, L)`` after checking it.

    Args:
        semantic_ids: The table (tensor, array or nested list); row ``i`` is item ``i``'s codes.
        codebook_size: Codes must lie in ``[0, codebook_size)``.
        n_items: The largest item id the table must cover, if known.

    Raises:
        DataError: The table is not a 2-D integer table, is too short, or holds a code out of range.
    """
    table = torch.as_tensor(semantic_ids)
    if table.ndim != 2 or table.shape[1] == 0 or table.dtype == torch.bool or table.is_floating_point():
        raise DataError(f"semantic IDs must be an integer table (n_items + 1, levels), got {table.dtype} "
                        f"{tuple(table.shape)}")
    if table.shape[0] < 2:
        raise DataError(f"the semantic-ID table has {table.shape[0]} rows; row 0 is padding, items start at row 1")
    if n_items is not None and table.shape[0] <= n_items:
        raise DataError(f"the semantic-ID table has rows for items 0..{table.shape[0] - 1} but the data has item "
                        f"ids up to {n_items}")
    codes = table[1:]
    bad = (codes < 0) | (codes >= codebook_size)
    if bool(bad.any()):
        item, level = (int(v) for v in bad.nonzero()[0])
        raise DataError(f"semantic ID of item {item + 1} has code {int(codes[item, level])} at level {level}, "
                        f"outside [0, {codebook_size}) (codebook_size)")
    return table.long().cpu()


class SemanticIdVocabulary:
    """Map semantic-ID codes and users to tokens of one vocabulary (module docs give the layout).

    Args:
        num_levels: Codes per semantic ID (``L``).
        codebook_size: Codes per level.
        num_user_buckets: Hashed user tokens (0: no user token).

    Raises:
        ConfigError: A size is not a positive integer (buckets may be 0).

    Example:
        >>> vocab = SemanticIdVocabulary(num_levels=4, codebook_size=256, num_user_buckets=2000)
        >>> vocab.vocab_size, vocab.code_tokens(torch.tensor([[3, 0, 255, 1]])).tolist()
        (3026, [[5, 258, 1025, 1027]])
    """

    def __init__(self, num_levels: int = 4, codebook_size: int = 256, num_user_buckets: int = 2000) -> None:
        for name, value, least in (("num_levels", num_levels, 1), ("codebook_size", codebook_size, 1),
                                   ("num_user_buckets", num_user_buckets, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
                raise ConfigError(f"{name} must be an integer >= {least}, got {value!r}")
        self.num_levels = int(num_levels)
        self.codebook_size = int(codebook_size)
        self.num_user_buckets = int(num_user_buckets)

    @property
    def user_offset(self) -> int:
        """Return the first user token."""
        return SPECIAL_TOKENS + self.num_levels * self.codebook_size

    @property
    def vocab_size(self) -> int:
        """Return the number of tokens: padding, start, ``L * codebook_size`` codes and the user buckets."""
        return self.user_offset + self.num_user_buckets

    def level_offsets(self, device: torch.device | str | None = None) -> torch.Tensor:
        """Return the first token of each level, a LongTensor ``(L,)``."""
        return SPECIAL_TOKENS + self.codebook_size * torch.arange(self.num_levels, device=device)

    def code_tokens(self, codes: torch.Tensor) -> torch.Tensor:
        """Return the tokens of codes ``(..., L)`` (the last dimension is the level)."""
        return codes.long() + self.level_offsets(codes.device)

    def token_codes(self, tokens: torch.Tensor) -> torch.Tensor:
        """Return the codes of tokens ``(..., L)``; a token outside its level's range becomes ``-1``."""
        codes = tokens.long() - self.level_offsets(tokens.device)
        return codes.where((codes >= 0) & (codes < self.codebook_size), torch.full_like(codes, -1))

    def user_tokens(self, users: torch.Tensor) -> torch.Tensor:
        """Return the token of each (encoded, non-negative) user id: ``user_offset + user % num_user_buckets``.

        Ids are dense (``1..n``), so the modulo spreads them evenly over the buckets.

        Raises:
            ConfigError: The vocabulary has no user buckets.
        """
        if self.num_user_buckets == 0:
            raise ConfigError("this vocabulary has no user tokens (num_user_buckets=0)")
        return self.user_offset + torch.as_tensor(users).long() % self.num_user_buckets

    def check_vocab_size(self, vocab_size: int, *, what: str = "the model") -> None:
        """Refuse a model vocabulary too small for these tokens.

        Raises:
            ConfigError: One line with the size needed and how it is made up.
        """
        if vocab_size < self.vocab_size:
            raise ConfigError(
                f"{what} has vocab_size {vocab_size}, too small for the data's tokens: {self.vocab_size} needed "
                f"(2 special + {self.num_levels} levels x {self.codebook_size} codes + {self.num_user_buckets} "
                f"user buckets); set vocab_size={self.vocab_size}"
            )

    def __repr__(self) -> str:
        return (f"SemanticIdVocabulary(num_levels={self.num_levels}, codebook_size={self.codebook_size}, "
                f"num_user_buckets={self.num_user_buckets})")


@dataclass
class _Source:
    """What every split of one data set shares: the interactions, the tokens and the history length."""

    interactions: Interactions
    semantic_ids: torch.Tensor
    vocabulary: SemanticIdVocabulary
    max_history: int


class SequenceDataset(Dataset):
    """One split of user histories as TIGER rows (module docs): ``input_ids``, ``labels``, ``target``, ``user``.

    Build it with :meth:`from_interactions` (a :class:`~rec_core.datasets.TaskData`),
    :meth:`from_histories` (lists of item ids) or directly from
    :class:`~rec_core.datasets.Interactions`.

    Args:
        interactions: Interactions ordered by user then time, with their split (``part``).
        semantic_ids: Semantic-ID table ``(n_items + 1, L)`` covering every item id.
        split: ``"train"``, ``"val"`` or ``"test"``.
        max_history: Most history items per row (TIGER: 20); the most recent are kept.
        codebook_size: Codes per level.
        num_user_buckets: Hashed user tokens.

    Raises:
        ConfigError: An unknown split or a bad size.
        DataError: The semantic-ID table does not fit the items, or the training split has
            no user with two training items.
    """

    def __init__(
        self,
        interactions: Interactions,
        semantic_ids: Any,
        split: str = "train",
        *,
        max_history: int = 20,
        codebook_size: int = 256,
        num_user_buckets: int = 2000,
    ) -> None:
        if isinstance(max_history, bool) or not isinstance(max_history, (int, np.integer)) or max_history < 1:
            raise ConfigError(f"max_history must be a positive integer, got {max_history!r}")
        n_items = int(interactions.items.max()) if len(interactions) else 0
        table = check_semantic_ids(semantic_ids, codebook_size, n_items=n_items)
        vocabulary = SemanticIdVocabulary(table.shape[1], codebook_size, num_user_buckets)
        self._init(_Source(interactions, table, vocabulary, int(max_history)), split)

    def _init(self, source: _Source, split: str) -> None:
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r} (splits: {', '.join(SPLITS)})")
        self._source, self.split = source, split
        self._companions: dict[str, SequenceDataset] = {split: self}
        self._item_tokens = source.vocabulary.code_tokens(source.semantic_ids)
        self._items, self._users, self._starts, self._ends, self._targets = _rows(
            source.interactions, split, source.max_history)
        if split == "train" and len(self._targets) == 0:
            raise DataError("no user has two training interactions: there is no next item to learn")

    # -- constructors ------------------------------------------------------------------------
    @classmethod
    def from_interactions(
        cls,
        data: TaskData,
        semantic_ids: Any,
        split: str = "train",
        *,
        max_history: int = 20,
        codebook_size: int = 256,
        num_user_buckets: int = 2000,
    ) -> SequenceDataset:
        """Return ``split`` of a data set's interactions (e.g. ``rec_core``'s ``amazon-beauty``).

        Args:
            data: A :class:`~rec_core.datasets.TaskData` with ``interactions``.
            semantic_ids: Semantic-ID table ``(n_items + 1, L)`` in the data's item ids.
            split, max_history, codebook_size, num_user_buckets: As for the class.

        Raises:
            DataError: The data has no interactions, or the table does not fit its items.
        """
        if data.interactions is None:
            raise DataError(f"data set {data.name!r} has no interactions; TIGER needs user-item sequences")
        n_items = data.items.n_items - 1 if data.items is not None else None
        if n_items is not None:
            check_semantic_ids(semantic_ids, codebook_size, n_items=n_items)
        return cls(data.interactions, semantic_ids, split, max_history=max_history, codebook_size=codebook_size,
                   num_user_buckets=num_user_buckets)

    @classmethod
    def from_histories(
        cls,
        histories: Sequence[Sequence[int]],
        semantic_ids: Any,
        split: str = "train",
        *,
        users: Sequence[int] | None = None,
        max_history: int = 20,
        codebook_size: int = 256,
        num_user_buckets: int = 2000,
    ) -> SequenceDataset:
        """Return ``split`` of per-user item histories (ids ``1..n``, time order), split leave-one-out.

        Args:
            histories: One list of item ids per user.
            semantic_ids: Semantic-ID table ``(n_items + 1, L)``.
            split: ``"train"``, ``"val"`` or ``"test"``.
            users: Each history's user id (hashed into the user tokens); default ``1..len(histories)``.
            max_history, codebook_size, num_user_buckets: As for the class.

        Raises:
            DataError: An item id below 1, or ``users`` of another length than ``histories``.
        """
        from rec_core.datasets import Interactions
        from rec_core.datasets.splits import leave_one_out

        lengths = np.array([len(h) for h in histories], dtype=np.int64)
        user_ids = np.arange(1, len(histories) + 1) if users is None else np.asarray(users, dtype=np.int64)
        if len(user_ids) != len(histories):
            raise DataError(f"{len(histories)} histories but {len(user_ids)} users")
        items = np.concatenate([np.asarray(h, dtype=np.int64) for h in histories]) if len(histories) else \
            np.zeros(0, dtype=np.int64)
        if len(items) and items.min() < 1:
            raise DataError(f"item ids start at 1 (0 is padding); the histories hold {int(items.min())}")
        row_users = np.repeat(user_ids, lengths)
        names = [""] + [str(u) for u in range(1, int(user_ids.max(initial=0)) + 1)]
        interactions = Interactions(row_users, items, leave_one_out(row_users), names)
        return cls(interactions, semantic_ids, split, max_history=max_history, codebook_size=codebook_size,
                   num_user_buckets=num_user_buckets)

    # -- the other splits -------------------------------------------------------------------------
    def companion(self, split: str) -> SequenceDataset:
        """Return the ``split`` rows of the same interactions, tokens and history length (built once).

        Raises:
            ConfigError: An unknown split.
        """
        if split not in self._companions:
            other = SequenceDataset.__new__(SequenceDataset)
            other._init(self._source, split)
            other._companions = self._companions  # every split sees the same family
            self._companions[split] = other
        return self._companions[split]

    @property
    def val_dataset(self) -> SequenceDataset:
        """Return the validation rows (:meth:`companion`)."""
        return self.companion("val")

    @property
    def test_dataset(self) -> SequenceDataset:
        """Return the test rows (:meth:`companion`)."""
        return self.companion("test")

    # -- what the model and trainer read ---------------------------------------------------------
    @property
    def semantic_ids(self) -> torch.Tensor:
        """Return the semantic-ID table ``(n_items + 1, L)`` (every catalogue item, row 0 padding)."""
        return self._source.semantic_ids

    @property
    def vocabulary(self) -> SemanticIdVocabulary:
        """Return the token layout."""
        return self._source.vocabulary

    @property
    def max_history(self) -> int:
        """Return the most history items per row."""
        return self._source.max_history

    @property
    def targets(self) -> torch.Tensor:
        """Return every row's target item id (LongTensor ``(rows,)``)."""
        return torch.from_numpy(self._targets)

    @property
    def users(self) -> torch.Tensor:
        """Return every row's user id (LongTensor ``(rows,)``)."""
        return torch.from_numpy(self._users)

    def history_lengths(self) -> np.ndarray:
        """Return the number of history items of each row (for length-bucketed batching)."""
        return self._ends - self._starts

    def __len__(self) -> int:
        return len(self._targets)

    def batch(self, indices: Any) -> dict[str, torch.Tensor]:
        """Return rows ``indices`` as one padded batch, built without a Python loop over rows.

        The result equals :func:`collate_sequences` of ``[self[i] for i in indices]``:
        ``input_ids`` right-padded with 0, ``labels``, ``attention_mask`` (float, 1 on real
        tokens), ``target`` and ``user``.
        """
        rows = np.asarray(indices, dtype=np.int64).reshape(-1)
        starts, ends = self._starts[rows], self._ends[rows]
        lengths = ends - starts
        columns = np.arange(int(lengths.max(initial=0)))
        filled = columns[None, :] < lengths[:, None]
        history = np.zeros(filled.shape, dtype=np.int64)
        history[filled] = self._items[(starts[:, None] + columns[None, :])[filled]]
        tokens = self._item_tokens[torch.from_numpy(history)] * torch.from_numpy(filled)[..., None]
        users = torch.from_numpy(self._users[rows])
        input_ids = tokens.reshape(len(rows), -1)
        if self.vocabulary.num_user_buckets:
            input_ids = torch.cat([self.vocabulary.user_tokens(users)[:, None], input_ids], dim=1)
        targets = torch.from_numpy(self._targets[rows])
        return {"input_ids": input_ids, "labels": self._item_tokens[targets],
                "attention_mask": (input_ids != PAD_TOKEN).float(), "target": targets, "user": users}

    def __getitem__(self, index: int) -> dict[str, Any]:
        start, end = int(self._starts[index]), int(self._ends[index])
        user = int(self._users[index])
        input_ids = self._item_tokens[torch.from_numpy(self._items[start:end])].reshape(-1)
        if self.vocabulary.num_user_buckets:
            input_ids = torch.cat([self.vocabulary.user_tokens(torch.tensor([user])), input_ids])
        target = int(self._targets[index])
        return {"input_ids": input_ids, "labels": self._item_tokens[target].clone(), "target": target, "user": user}

    def __repr__(self) -> str:
        return f"SequenceDataset(split={self.split!r}, rows={len(self)}, {self.vocabulary!r})"


def _rows(interactions: Interactions, split: str, max_history: int) -> tuple[np.ndarray, ...]:
    """Return ``(items, users, starts, ends, targets)``: each row's history is ``items[starts:ends]``."""
    from rec_core.datasets import known_before, user_sequences

    if split == "train":
        sequences = user_sequences(interactions, ("train",))
        offsets = sequences.offsets
        positions = np.arange(len(sequences.items), dtype=np.int64)
        users = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
        rows = positions > offsets[users]  # the first training item has nothing before it
        ends = positions[rows]
        starts = np.maximum(offsets[users[rows]], ends - max_history)
        return sequences.items, users[rows], starts, ends, sequences.items[rows]
    known = known_before(interactions, split)
    chosen = np.flatnonzero(interactions.part == SPLITS.index(split))
    users = interactions.users[chosen].astype(np.int64)
    ends = known.offsets[users + 1]
    starts = np.maximum(known.offsets[users], ends - max_history)
    return known.items, users, starts, ends, interactions.items[chosen].astype(np.int64)


def collate_sequences(batch: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Collate rows as genrec's TIGER collate does, keeping ``target`` and ``user`` when the rows have them.

    ``input_ids`` are right-padded with 0, ``labels`` with ``-100``; ``attention_mask`` is a
    float tensor, 1 where ``input_ids`` is not padding.
    """
    from torch.nn.utils.rnn import pad_sequence

    input_ids = pad_sequence([row["input_ids"] for row in batch], batch_first=True, padding_value=PAD_TOKEN)
    labels = pad_sequence([row["labels"] for row in batch], batch_first=True, padding_value=IGNORE_INDEX)
    out = {"input_ids": input_ids, "labels": labels, "attention_mask": (input_ids != PAD_TOKEN).float()}
    for key in ("target", "user"):
        if batch and all(key in row for row in batch):
            out[key] = torch.as_tensor([int(row[key]) for row in batch], dtype=torch.long)
    return out


class SequenceBatches:
    """Batches of a :class:`SequenceDataset`, each cut at once by :meth:`SequenceDataset.batch`.

    Row order comes from a :class:`~rec_core.data.ColumnarLoader` over the row numbers, so
    batches are seeded per epoch, resumable mid-epoch, sharded across DDP ranks, and with
    ``bucket_by_length`` grouped by history length (less padding: the encoder's cost follows
    the longest history of a batch).

    Args:
        dataset: The rows.
        batch_size: Rows per batch (per rank).
        shuffle: A new seeded order every epoch.
        seed: Base seed of the orders.
        bucket_by_length: With ``shuffle``, batch rows of similar history length together.
    """

    def __init__(self, dataset: SequenceDataset, batch_size: int = 256, *, shuffle: bool = False, seed: int = 0,
                 bucket_by_length: bool = True) -> None:
        from rec_core.data import ColumnarLoader

        self.dataset = dataset
        bucket = dataset.history_lengths() if shuffle and bucket_by_length else None
        self.rows = ColumnarLoader({"row": np.arange(len(dataset))}, batch_size=batch_size, shuffle=shuffle,
                                   seed=seed, bucket_key=bucket)

    def __iter__(self) -> Any:
        for columns in self.rows:
            yield self.dataset.batch(columns["row"].numpy())

    def __len__(self) -> int:
        return len(self.rows)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order the next iteration follows."""
        self.rows.set_epoch(epoch)

    def state_dict(self) -> dict[str, int]:
        """Return the position in the epoch (see :meth:`~rec_core.data.ColumnarLoader.state_dict`)."""
        return self.rows.state_dict()

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Resume at a saved position."""
        self.rows.load_state_dict(state)

    def with_shard(self, rank: int, world_size: int) -> SequenceBatches:
        """Return this rank's batches (the same seed and position)."""
        shard = copy.copy(self)
        shard.rows = self.rows.with_shard(rank, world_size)
        return shard

    def __repr__(self) -> str:
        return f"SequenceBatches({self.dataset!r}, {self.rows!r})"
