"""A seeded, Criteo-shaped CTR generator whose labels come from a known click model.

Rows look like Criteo's: ``I1..I13`` dense values (log-transformed counts) and
``C1..C26`` categorical ids drawn from Zipf distributions over vocabularies sized like
Criteo's (capped at ``vocab_cap``). With ``history_len > 0`` each row also has a target
``item`` and the user's recent items ``hist_item`` (right-padded with id 0).

The label of a row is drawn from ``sigmoid(logit)``, where the logit is a sum of known
terms (all parameters drawn from ``seed``):

* ``first_order``: one effect per id of every sparse field (and of ``item``);
* ``dense``: a linear effect of each standardised dense value;
* ``pairs``: a few pairwise interactions ``<u_j[x_j], u_k[x_k]>`` between small
  fields, the kind of signal factorization machines are built to find;
* ``history``: the affinity of the target item to the history,
  ``s[item] * mean(s[hist_item])`` for a latent item taste ``s`` (DIN's signal);

plus a bias that sets the mean click rate. Because the click probabilities are known,
the Bayes-optimal AUC (that of the true probabilities) is known too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "CRITEO_CARDINALITIES",
    "SyntheticCTR",
    "generate_ctr",
    "make_criteo_like",
    "zipf_ids",
]

# Distinct values of C1..C26 in the Criteo Kaggle training set (as listed by DLRM).
CRITEO_CARDINALITIES: tuple[int, ...] = (
    1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194,
    27, 14992, 5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572,
)  # fmt: skip

_TASTE_SPREAD = 0.05  # how far (as a quantile) a user's history strays from the user's taste


@dataclass
class SyntheticCTR:
    """Generated rows, labels and the ground truth behind them.

    Attributes:
        columns: Column name -> values: ``float32`` dense, ``int64`` ids, ``(rows, L)``
            ``int64`` for ``hist_item``.
        labels: ``float32`` 0/1 clicks drawn from ``probs``.
        probs: The true click probabilities.
        terms: The logit's parts (``first_order``, ``dense``, ``pairs``, ``history``);
            ``logit = bias + sum(terms.values())``.
        bias: The logit's constant.
        vocab_sizes: Sparse or sequence column -> number of ids (id 0 of ``item`` and
            ``hist_item`` is padding).
        dense_names: The dense columns, in order.
        sparse_names: The sparse columns, in order (``item`` last when present).
        pairs: The interacting field pairs.
    """

    columns: dict[str, np.ndarray]
    labels: np.ndarray
    probs: np.ndarray
    terms: dict[str, np.ndarray]
    bias: float
    vocab_sizes: dict[str, int]
    dense_names: list[str]
    sparse_names: list[str]
    pairs: list[tuple[str, str]] = field(default_factory=list)


def zipf_ids(rng: np.random.Generator, vocab: int, size: int | tuple[int, ...], a: float) -> np.ndarray:
    """Draw ids in ``[0, vocab)`` with ``P(id = k)`` roughly proportional to ``(k + 1) ** -a``.

    Uses the inverse CDF of the continuous power law on ``[1, vocab + 1)``, so a draw
    costs one ``pow`` whatever the vocabulary size.
    """
    u = rng.random(size)
    if abs(a - 1.0) < 1e-9:
        x = np.exp(u * np.log(vocab + 1.0))
    else:
        e = 1.0 - a
        x = (u * ((vocab + 1.0) ** e - 1.0) + 1.0) ** (1.0 / e)
    return np.minimum(x.astype(np.int64) - 1, vocab - 1)


def _dense_columns(
    rng: np.random.Generator, rows: int, count: int, scale: float
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Return count-like dense columns (``log1p`` of lognormal counts) and their effect on the logit."""
    columns: dict[str, np.ndarray] = {}
    effect = np.zeros(rows)
    centres = rng.uniform(0.0, 4.0, count)
    weights = rng.normal(0.0, scale, count)
    for d in range(count):
        counts = np.floor(np.exp(rng.normal(centres[d], 1.2, rows)) - 0.5).clip(0)
        values = np.log1p(counts)
        columns[f"I{d + 1}"] = values.astype(np.float32)
        std = values.std()
        effect += weights[d] * (values - values.mean()) / (std if std > 0 else 1.0)
    return columns, effect


def _history(
    rng: np.random.Generator, rows: int, n_items: int, history_len: int, a: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw target items, right-padded histories and the target/history affinity.

    Every item ``1..n_items`` has a latent taste coordinate ``s ~ N(0, 1)`` and every
    row's user a place on that axis; most history items, and some targets, are items
    near the user's place, the rest popular items. The affinity is
    ``s[target] * mean(s[history])``: a target that matches the history's taste clicks more.
    """
    taste = np.concatenate([[0.0], rng.normal(0.0, 1.0, n_items)])
    by_taste = np.argsort(taste[1:], kind="stable") + 1
    popularity = rng.permutation(n_items) + 1  # popularity rank -> item id

    def near(place: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        spot = (place + rng.normal(0.0, _TASTE_SPREAD, shape)) * n_items
        return by_taste[np.clip(spot.astype(np.int64), 0, n_items - 1)]

    place = rng.random(rows)
    lengths = rng.integers(1, history_len + 1, rows)
    hist = np.where(
        rng.random((rows, history_len)) < 0.8,
        near(place[:, None], (rows, history_len)),
        popularity[zipf_ids(rng, n_items, (rows, history_len), a)],
    )
    hist[np.arange(history_len)[None, :] >= lengths[:, None]] = 0
    target = np.where(rng.random(rows) < 0.3, near(place, (rows,)), popularity[zipf_ids(rng, n_items, rows, a)])
    affinity = taste[target] * taste[hist].sum(axis=1) / lengths
    return target, hist, affinity


def generate_ctr(
    rows: int,
    *,
    seed: int,
    dense: int = 13,
    sparse: int = 26,
    vocab_cap: int = 100_000,
    zipf_a: float = 1.2,
    history_len: int = 0,
    n_items: int | None = None,
    dense_scale: float = 0.15,
    first_order_scale: float = 0.7,
    n_pairs: int = 4,
    pair_scale: float = 0.3,
    pair_rank: int = 1,
    history_scale: float = 0.5,
    ctr: float = 0.25,
) -> SyntheticCTR:
    """Generate Criteo-shaped rows and labels from a known click model.

    Args:
        rows: Number of rows.
        seed: Seed of everything: effects, rows and labels.
        dense: Number of dense columns ``I1..``.
        sparse: Number of sparse columns ``C1..``; vocabulary ``j`` is Criteo's ``C{j}``
            cardinality (cycled past 26), capped at ``vocab_cap``.
        vocab_cap: Largest vocabulary of a sparse column.
        zipf_a: Zipf exponent of the id distributions.
        history_len: Length of ``hist_item``; 0 leaves out ``item`` and ``hist_item``.
        n_items: Number of items (default ``min(vocab_cap, 1000)``).
        dense_scale: Standard deviation of the dense columns' weights (on standardised values).
        first_order_scale: Largest standard deviation of a field's per-id effects.
        n_pairs: Number of interacting sparse-field pairs, chosen among the fields with
            10 to 30 ids (at most 10 pairs for Criteo's fields).
        pair_scale: Standard deviation of one pair's interaction term.
        pair_rank: Length of the factor vectors of the pair interactions.
        history_scale: Weight of the target/history affinity.
        ctr: Mean click probability the bias is set to.

    Returns:
        The generated :class:`SyntheticCTR`.
    """
    rng = np.random.default_rng(seed)
    columns, dense_effect = _dense_columns(rng, rows, dense, dense_scale)
    dense_names = list(columns)

    vocab_sizes: dict[str, int] = {}
    first_order = np.zeros(rows)
    strengths = first_order_scale * rng.uniform(0.0, 1.0, sparse) ** 2
    for j in range(sparse):
        name = f"C{j + 1}"
        vocab = min(CRITEO_CARDINALITIES[j % len(CRITEO_CARDINALITIES)], vocab_cap)
        ids = zipf_ids(rng, vocab, rows, zipf_a)
        columns[name] = ids
        vocab_sizes[name] = vocab
        first_order += _id_effects(rng, vocab, strengths[j])[ids]
    sparse_names = list(vocab_sizes)

    pairs = _choose_pairs(rng, [n for n in sparse_names if 10 <= vocab_sizes[n] <= 30], n_pairs)
    pair_effect = np.zeros(rows)
    factor_std = pair_rank**-0.25  # makes each dot product of unit variance
    for a, b in pairs:
        u = rng.normal(0.0, factor_std, (vocab_sizes[a], pair_rank))[columns[a]]
        v = rng.normal(0.0, factor_std, (vocab_sizes[b], pair_rank))[columns[b]]
        pair_effect += pair_scale * np.einsum("ij,ij->i", u, v)

    terms = {"first_order": first_order, "dense": dense_effect, "pairs": pair_effect}
    if history_len > 0:
        items = n_items if n_items is not None else min(vocab_cap, 1000)
        target, hist, affinity = _history(rng, rows, items, history_len, zipf_a)
        columns["item"], columns["hist_item"] = target, hist
        vocab_sizes["item"] = vocab_sizes["hist_item"] = items + 1
        sparse_names.append("item")
        # item ids are not in popularity order, so here the shrinkage only spreads the effect sizes
        terms["first_order"] = first_order + _id_effects(rng, items + 1, first_order_scale / 2)[target]
        terms["history"] = history_scale * affinity

    rest = np.sum(list(terms.values()), axis=0)
    bias = _bias_for_rate(rest, ctr)
    probs = 1.0 / (1.0 + np.exp(-(bias + rest)))
    labels = (rng.random(rows) < probs).astype(np.float32)
    return SyntheticCTR(columns, labels, probs, terms, bias, vocab_sizes, dense_names, sparse_names, pairs)


def _choose_pairs(rng: np.random.Generator, fields: list[str], count: int) -> list[tuple[str, str]]:
    """Pick ``count`` distinct unordered pairs of ``fields`` (fewer if there are not enough)."""
    every = [(a, b) for i, a in enumerate(fields) for b in fields[i + 1 :]]
    if not every or count <= 0:
        return []
    chosen = rng.choice(len(every), min(count, len(every)), replace=False)
    return [every[i] for i in sorted(chosen)]


def _id_effects(rng: np.random.Generator, vocab: int, scale: float) -> np.ndarray:
    """Draw one effect per id, shrinking towards 0 down the Zipf tail.

    Rare ids get small effects, as in real logs where a rare id says little more than
    its field's average; this keeps the signal learnable from a few epochs of data.
    """
    return rng.normal(0.0, scale, vocab) / np.sqrt(1.0 + np.arange(vocab) / 50.0)


def _bias_for_rate(logits: np.ndarray, rate: float) -> float:
    """Return ``b`` with ``mean(sigmoid(b + logits)) == rate`` (bisection; the mean is monotone in ``b``)."""
    low, high = -20.0, 20.0
    for _ in range(60):
        mid = (low + high) / 2
        if np.mean(1.0 / (1.0 + np.exp(-(mid + logits)))) < rate:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def make_criteo_like(
    rows: int,
    *,
    seed: int,
    dense: int = 13,
    sparse: int = 26,
    vocab_cap: int = 100_000,
    zipf_a: float = 1.2,
    history_len: int = 0,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Return Criteo-shaped columns and 0/1 labels, e.g. for a throughput benchmark.

    A thin wrapper around :func:`generate_ctr` (see there for the arguments) that keeps
    only the model inputs and labels.

    Example:
        >>> x, y = make_criteo_like(1000, seed=0)
        >>> sorted(x)[:3], x["C1"].dtype.name, y.dtype.name
        (['C1', 'C10', 'C11'], 'int64', 'float32')
    """
    data = generate_ctr(
        rows, seed=seed, dense=dense, sparse=sparse, vocab_cap=vocab_cap, zipf_a=zipf_a, history_len=history_len
    )
    return data.columns, data.labels
