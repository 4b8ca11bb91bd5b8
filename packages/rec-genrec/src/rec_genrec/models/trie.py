"""Decoding constrained to real items: a prefix trie of semantic IDs, beam search and sampling.

:class:`SemanticIdTrie` stores, for each level ``l``, a dense table ``(prefixes of length l,
codebook_size)``: entry ``[p, c]`` is the prefix node reached by appending code ``c`` to
prefix ``p`` (at the last level: the item id), ``-1`` where no item continues that way. A
step of decoding is then one gather for a whole batch of beams: the allowed codes of every
beam are ``table[nodes] >= 0``. Memory: at most ``n_items * codebook_size`` int32 entries
per level (12 MB per level for Beauty's 12k items and 256 codes).

:func:`beam_search` and :func:`sample` drive any scorer ``score_next(prefix, parents) ->
log-probs``, where ``prefix`` is ``(batch, beams, t)`` codes, ``parents`` ``(batch, beams)``
says which beam of the previous call each beam extends (``None`` on the first call; a
scorer that caches per-beam state reorders it by them), and the result
``(batch, beams, codebook_size)`` is the log-probabilities of the code at level ``t``.
Beams live as tensors (no Python loop over beams or rows). A candidate's score is the sum of
the model's log-probabilities of its codes: the log-probability of the whole semantic ID;
invalid codes are masked out, never renormalised over, so the scores are those an exhaustive
ranking of the catalogue would give.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch

from rec_core.errors import ConfigError, DataError

__all__ = ["Generation", "SemanticIdTrie", "beam_search", "filter_logits", "sample"]

Scorer = Callable[[torch.Tensor, "torch.Tensor | None"], torch.Tensor]


class Generation(NamedTuple):
    """Generated items, best first.

    Attributes:
        items: LongTensor ``(batch, k)`` of item ids; ``-1`` pads a row with fewer candidates.
        codes: LongTensor ``(batch, k, L)`` of their semantic IDs (``-1`` for padding).
        scores: Float tensor ``(batch, k)``: the log-probability of each ID (``-inf`` for padding).
    """

    items: torch.Tensor
    codes: torch.Tensor
    scores: torch.Tensor


class SemanticIdTrie:
    """The prefix trie of a catalogue's semantic IDs, as one dense lookup table per level.

    Args:
        semantic_ids: LongTensor ``(n_items + 1, L)``: row ``i`` is item ``i``'s codes; row 0
            (padding) is left out of the catalogue.
        codebook_size: Codes per level (codes lie in ``[0, codebook_size)``).

    Raises:
        DataError: A code is out of range, or two items share a semantic ID (names both).

    Example:
        >>> trie = SemanticIdTrie(torch.tensor([[0, 0], [1, 0], [1, 2]]), codebook_size=3)
        >>> trie.lookup(torch.tensor([[1, 2], [0, 2]])).tolist()
        [2, 0]
    """

    def __init__(self, semantic_ids: Any, codebook_size: int) -> None:
        from rec_genrec.data.sequences import check_semantic_ids

        table = check_semantic_ids(semantic_ids, codebook_size)
        self.codebook_size = int(codebook_size)
        self.num_levels = int(table.shape[1])
        self.num_items = int(table.shape[0] - 1)
        self.semantic_ids = table
        self.children = _child_tables(table[1:].numpy(), self.codebook_size)

    def to(self, device: torch.device | str) -> SemanticIdTrie:
        """Move the tables to ``device`` (in place) and return the trie."""
        self.children = [t.to(device) for t in self.children]
        self.semantic_ids = self.semantic_ids.to(device)
        return self

    @property
    def device(self) -> torch.device:
        """Return the device of the tables."""
        return self.children[0].device

    def step(self, level: int, nodes: torch.Tensor) -> torch.Tensor:
        """Return the children of prefix ``nodes`` at ``level``, ``(*nodes.shape, codebook_size)``.

        ``-1`` marks a code no item continues with; at the last level the children are item ids.
        """
        return self.children[level][nodes].long()

    def allowed(self, prefixes: torch.Tensor) -> torch.Tensor:
        """Return which codes may follow each prefix: bool ``(N, codebook_size)`` for prefixes ``(N, t)``, ``t < L``.

        A prefix that is itself invalid allows nothing.
        """
        if prefixes.shape[1] >= self.num_levels:
            raise ConfigError(f"a prefix of {prefixes.shape[1]} codes is a whole semantic ID ({self.num_levels} "
                              "levels); nothing follows it")
        nodes, valid = self._walk(prefixes)
        return (self.step(prefixes.shape[1], nodes) >= 0) & valid[:, None]

    def is_prefix(self, prefixes: torch.Tensor) -> torch.Tensor:
        """Return whether each row of ``prefixes`` ``(N, t)`` begins some item's semantic ID (bool ``(N,)``)."""
        return self._walk(prefixes)[1]

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Return the item id of each semantic ID ``(..., L)``; 0 where the codes name no item."""
        shape = codes.shape[:-1]
        if codes.shape[-1] != self.num_levels:
            raise DataError(f"semantic IDs have {self.num_levels} codes, got {codes.shape[-1]}")
        items, valid = self._walk(codes.reshape(-1, self.num_levels))
        return torch.where(valid, items, 0).reshape(shape)

    def _walk(self, prefixes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the node (item id after ``L`` codes) each prefix ends at, and whether it exists."""
        if prefixes.ndim != 2 or prefixes.shape[1] > self.num_levels:
            raise ConfigError(f"prefixes must be (N, t) codes with t <= {self.num_levels}, got {tuple(prefixes.shape)}")
        prefixes = prefixes.to(self.device).long()
        nodes = torch.zeros(prefixes.shape[0], dtype=torch.long, device=self.device)
        valid = torch.ones(prefixes.shape[0], dtype=torch.bool, device=self.device)
        for level in range(prefixes.shape[1]):  # levels, not rows
            code = prefixes[:, level]
            valid &= (code >= 0) & (code < self.codebook_size)
            child = self.step(level, nodes).gather(1, code.clamp(0, self.codebook_size - 1)[:, None])[:, 0]
            valid &= child >= 0
            nodes = child.clamp(min=0)
        return nodes, valid

    def __repr__(self) -> str:
        return (f"SemanticIdTrie(items={self.num_items}, levels={self.num_levels}, "
                f"codebook_size={self.codebook_size})")


def _child_tables(codes: np.ndarray, codebook_size: int) -> list[torch.Tensor]:
    """Return the per-level child tables of the items' codes ``(n_items, L)`` (item ``i + 1`` is row ``i``)."""
    n_items, levels = codes.shape
    tables = []
    parents = np.zeros(n_items, dtype=np.int64)  # every item starts at the root
    n_parents = 1
    for level in range(levels):
        if level + 1 < levels:
            _, children = np.unique(codes[:, : level + 1], axis=0, return_inverse=True)
            children = children.reshape(-1).astype(np.int64)
        else:
            children = np.arange(1, n_items + 1, dtype=np.int64)
            keys = parents * codebook_size + codes[:, level]
            order = np.argsort(keys, kind="stable")
            repeated = np.flatnonzero(keys[order][1:] == keys[order][:-1])
            if len(repeated):
                first, second = sorted(int(i) + 1 for i in order[repeated[0] : repeated[0] + 2])
                shown = ", ".join(str(int(c)) for c in codes[first - 1])
                raise DataError(f"items {first} and {second} share the semantic ID ({shown}); semantic IDs must be "
                                "unique (add a collision level)")
        table = np.full((n_parents, codebook_size), -1, dtype=np.int32)
        table[parents, codes[:, level]] = children
        tables.append(torch.from_numpy(table))
        parents, n_parents = children, int(children.max()) + 1
    return tables


# ------------------------------------------------------------------------------- decoding


def beam_search(score_next: Scorer, trie: SemanticIdTrie, batch_size: int, num_beams: int, k: int) -> Generation:
    """Return the ``k`` best distinct catalogue items per row by beam search inside the trie.

    Args:
        score_next: ``(prefix (batch, beams, t), parents) -> log-probs (batch, beams, codebook_size)``.
        trie: The catalogue.
        batch_size: Rows.
        num_beams: Beam width (at least ``k``); a width of at least the number of prefixes
            at every level makes the search exhaustive.
        k: Items returned per row, best first; rows pad with ``-1`` when the catalogue has fewer.

    Raises:
        ConfigError: ``k`` is not positive or ``num_beams < k``.
    """
    if k < 1 or num_beams < k:
        raise ConfigError(f"beam search needs 1 <= k <= num_beams, got k={k}, num_beams={num_beams}")
    device, size = trie.device, trie.codebook_size
    scores = torch.zeros(batch_size, 1, device=device)
    nodes = torch.zeros(batch_size, 1, dtype=torch.long, device=device)
    codes = torch.zeros(batch_size, 1, 0, dtype=torch.long, device=device)
    alive = torch.ones(batch_size, 1, dtype=torch.bool, device=device)
    parent: torch.Tensor | None = None
    for level in range(trie.num_levels):  # levels, not beams
        log_probs = score_next(codes, parent).float()
        children = trie.step(level, nodes)  # (batch, beams, size)
        candidates = (scores[..., None] + log_probs).masked_fill(children < 0, -torch.inf)
        width = min(num_beams, candidates.shape[1] * size)
        scores, index = candidates.reshape(batch_size, -1).topk(width, dim=1)
        parent, code = index // size, index % size
        nodes = children.reshape(batch_size, -1).gather(1, index)
        alive = torch.isfinite(scores) & (nodes >= 0)
        scores = scores.masked_fill(~alive, -torch.inf)
        nodes = nodes.clamp(min=0)  # a dead beam parks at node 0; its -inf score keeps it last
        history = codes.gather(1, parent[..., None].expand(-1, -1, level))
        codes = torch.cat([history, code[..., None]], dim=2)
    return _top(nodes, codes, scores, alive, k)


def sample(
    score_next: Scorer,
    trie: SemanticIdTrie,
    batch_size: int,
    num_samples: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Generation:
    """Draw ``num_samples`` catalogue items per row, code by code inside the trie; return them best first.

    Each code is drawn from the model's distribution at ``temperature``, restricted to the
    codes the trie allows after the prefix, then to the ``top_k`` most likely and to the
    smallest set holding ``top_p`` of the probability (:func:`filter_logits`). Draws are
    independent, so a row may repeat an item. Scores are the model's log-probabilities
    (temperature 1), as in :func:`beam_search`.

    Raises:
        ConfigError: A bad ``num_samples``, ``temperature``, ``top_k`` or ``top_p``.
    """
    if num_samples < 1:
        raise ConfigError(f"num_samples must be positive, got {num_samples}")
    _check_sampling(temperature, top_k, top_p)
    device = trie.device
    scores = torch.zeros(batch_size, num_samples, device=device)
    nodes = torch.zeros(batch_size, num_samples, dtype=torch.long, device=device)
    codes = torch.zeros(batch_size, num_samples, 0, dtype=torch.long, device=device)
    same = torch.arange(num_samples, device=device).expand(batch_size, -1)  # a draw extends its own prefix
    for level in range(trie.num_levels):
        log_probs = score_next(codes, same if level else None).float()
        children = trie.step(level, nodes)
        logits = filter_logits(log_probs, children >= 0, temperature=temperature, top_k=top_k, top_p=top_p)
        probs = torch.softmax(logits, dim=-1).reshape(-1, trie.codebook_size)
        code = torch.multinomial(probs, 1, generator=generator).reshape(batch_size, num_samples)
        scores = scores + log_probs.gather(2, code[..., None])[..., 0]
        nodes = children.gather(2, code[..., None])[..., 0]
        codes = torch.cat([codes, code[..., None]], dim=2)
    return _top(nodes, codes, scores, torch.ones_like(nodes, dtype=torch.bool), num_samples)


def filter_logits(
    logits: torch.Tensor,
    allowed: torch.Tensor | None = None,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """Return ``logits / temperature`` with every code that may not be drawn set to ``-inf``.

    In order: codes not ``allowed`` go; of the rest, only the ``top_k`` largest stay (ties
    at the k-th value stay too); then only the smallest set of most likely codes whose
    probability reaches ``top_p`` (the most likely code always stays).

    Args:
        logits: ``(..., codes)`` scores.
        allowed: Bool mask like ``logits`` (the trie's), or ``None`` for all.
        temperature: Divides the logits (> 0).
        top_k: Keep this many codes (``None`` or 0: all).
        top_p: Nucleus mass in ``(0, 1]`` (``None`` or 1: all).

    Raises:
        ConfigError: ``temperature <= 0``, a negative ``top_k`` or ``top_p`` outside ``(0, 1]``.
    """
    _check_sampling(temperature, top_k, top_p)
    logits = logits.float() / temperature
    if allowed is not None:
        logits = logits.masked_fill(~allowed, -torch.inf)
    if top_k and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, -torch.inf)
    if top_p is not None and top_p < 1.0:
        ordered, order = logits.sort(dim=-1, descending=True)
        probs = torch.softmax(ordered, dim=-1)
        before = probs.cumsum(dim=-1) - probs  # mass of the more likely codes
        drop = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order, before >= top_p)
        logits = logits.masked_fill(drop, -torch.inf)
    return logits


def _check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    if not temperature > 0:
        raise ConfigError(f"temperature must be > 0, got {temperature}")
    if top_k is not None and top_k < 0:
        raise ConfigError(f"top_k must be >= 0, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ConfigError(f"top_p must lie in (0, 1], got {top_p}")


def _top(nodes: torch.Tensor, codes: torch.Tensor, scores: torch.Tensor, alive: torch.Tensor, k: int) -> Generation:
    """Return the ``k`` best of each row's final candidates (items = final nodes), padded with ``-1``."""
    scores, order = scores.sort(dim=1, descending=True, stable=True)
    items = torch.where(alive, nodes, -1).gather(1, order)
    codes = codes.gather(1, order[..., None].expand_as(codes))
    codes = codes.masked_fill((items < 0)[..., None], -1)
    missing = k - items.shape[1]
    if missing > 0:
        batch, levels = codes.shape[0], codes.shape[2]
        items = torch.cat([items, items.new_full((batch, missing), -1)], dim=1)
        codes = torch.cat([codes, codes.new_full((batch, missing, levels), -1)], dim=1)
        scores = torch.cat([scores, scores.new_full((batch, missing), -torch.inf)], dim=1)
    return Generation(items[:, :k], codes[:, :k], scores[:, :k])
