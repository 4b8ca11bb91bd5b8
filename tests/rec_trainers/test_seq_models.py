"""Tests for rec_trainers.models.sequential: shapes, causality, padding, BERT4Rec's cloze task, learning.

Data here is synthetic: shape and wiring checks, plus a sanity check that each model can
learn a deterministic cycle of items that a model blind to its input cannot.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from rec_core.errors import ConfigError
from rec_core.features import SparseFeature
from rec_trainers.models import sequential
from rec_trainers.models.sequential import HSTU, NARM, BERT4Rec, GRU4Rec, SASRec, SequentialModel

N_ITEMS, DIM, MAX_LEN, B = 30, 16, 12, 4
ITEM = SparseFeature("item", N_ITEMS, 16, padding_idx=0)
MODELS: dict[str, type[SequentialModel]] = {
    "sasrec": SASRec,
    "gru4rec": GRU4Rec,
    "narm": NARM,
    "bert4rec": BERT4Rec,
    "hstu": HSTU,
}
SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "sasrec": {"num_blocks": 1, "num_heads": 2, "dropout_rate": 0.0},
    "gru4rec": {"hidden_size": 24, "dropout_rate": 0.0},
    "narm": {"hidden_size": 24, "emb_dropout": 0.0, "session_dropout": 0.0},
    "bert4rec": {"num_blocks": 1, "num_heads": 2, "dropout_rate": 0.0},
    "hstu": {"num_blocks": 1, "num_heads": 2, "dropout_rate": 0.0},
}
CAUSAL = ["sasrec", "gru4rec", "narm", "hstu"]
PADDING_INVARIANT = ["sasrec", "gru4rec", "narm", "bert4rec", "hstu"]


def build(name: str, n_items: int = N_ITEMS, **params: Any) -> SequentialModel:
    params = {"embed_dim": DIM, "max_len": MAX_LEN, **SMALL_PARAMS[name], **params}
    return MODELS[name](n_items, **params)


def left_padded(lengths: list[int], width: int = MAX_LEN, n_items: int = N_ITEMS) -> torch.Tensor:
    """Return random histories with the given numbers of items, left-padded to ``width``."""
    rows = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, n in zip(rows, lengths, strict=True):
        if n:
            row[-n:] = torch.randint(1, n_items, (n,))
    return rows


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.mark.parametrize("name", MODELS)
def test_output_shapes(name: str) -> None:
    model = build(name).eval()
    history = left_padded([MAX_LEN, 5, 1, 0])
    assert model.encode(history).shape == (B, MAX_LEN, DIM)
    assert model(history).shape == (B, MAX_LEN, N_ITEMS)
    assert model.query_states(history).shape == (B, DIM)
    assert model.scores(history).shape == (B, N_ITEMS)
    assert model.item_embeddings().shape == (N_ITEMS, DIM)
    assert torch.isfinite(model(history)).all() and torch.isfinite(model.scores(history)).all()
    assert not model.item_embeddings()[0].any()
    assert model.scores(left_padded([3, 2], width=MAX_LEN + 5)).shape == (2, N_ITEMS)  # older items cut off


@pytest.mark.parametrize("name", MODELS)
def test_from_features_builds(name: str) -> None:
    model = MODELS[name].from_features([ITEM], embed_dim=16, **SMALL_PARAMS[name])
    assert model.n_items == N_ITEMS and model.item_embeddings().shape == (N_ITEMS, 16)
    defaults = MODELS[name].from_features([ITEM])
    assert defaults.max_len == inspect.signature(MODELS[name]).parameters["max_len"].default
    with pytest.raises(ConfigError, match="'item' feature"):
        MODELS[name].from_features([SparseFeature("user", 5, 4)])


@pytest.mark.parametrize("name", MODELS)
def test_bf16_autocast_forward_and_backward(name: str) -> None:
    model = build(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inputs, labels = model.training_inputs(*[left_padded([MAX_LEN, 5, 1, 0])] * 2)
        logits = model(inputs)
    assert torch.isfinite(logits).all()
    F.cross_entropy(logits[labels.ne(0)].float(), labels[labels.ne(0)]).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_package_exports() -> None:
    assert set(sequential.__all__) == {"BERT4Rec", "GRU4Rec", "HSTU", "NARM", "Popularity", "SASRec", "SequentialModel"}


@pytest.mark.parametrize("name", CAUSAL)
def test_causal_models_do_not_look_ahead(name: str) -> None:
    model = build(name).eval()
    history = left_padded([MAX_LEN, 9, 6, 4])
    t = MAX_LEN - 3
    changed = history.clone()
    changed[:, t] = changed[:, t] % (N_ITEMS - 1) + 1  # another real item
    before, after = model.encode(history), model.encode(changed)
    torch.testing.assert_close(after[:, :t], before[:, :t])
    assert not torch.allclose(after[:, t], before[:, t])


@pytest.mark.parametrize("name", PADDING_INVARIANT)
def test_more_leading_padding_changes_nothing(name: str) -> None:
    model = build(name).eval()
    assert model.padding_invariant  # the flag that lets the trainer trim padding
    short = left_padded([7, 4, 1, 0], width=8)
    longer = torch.cat([torch.zeros(B, MAX_LEN - 8, dtype=torch.long), short], dim=1)
    torch.testing.assert_close(model.query_states(longer), model.query_states(short), atol=1e-5, rtol=1e-5)
    if name in CAUSAL:
        real = short.ne(0)
        torch.testing.assert_close(model.encode(longer)[:, -8:][real], model.encode(short)[real],
                                   atol=1e-5, rtol=1e-5)


def test_gru4rec_needs_its_alignment() -> None:
    """A plain GRU's state does move with leading zero inputs (its biases), so the alignment matters."""
    gru = nn.GRU(4, 6, batch_first=True)
    x = torch.randn(1, 3, 4)
    padded = torch.cat([torch.zeros(1, 2, 4), x], dim=1)
    assert not torch.allclose(gru(padded)[0][:, -1], gru(x)[0][:, -1], atol=1e-4)


def test_gru4rec_and_narm_zero_padding_states() -> None:
    history = left_padded([5, 0], width=8)
    for name in ("gru4rec", "narm"):
        states = build(name).eval().encode(history)
        assert not states[history.eq(0)].any() and states[history.ne(0)].abs().sum(-1).gt(0).all()


@pytest.mark.parametrize("name", CAUSAL)  # BERT4Rec ranks from an appended mask token (tested below)
def test_the_ranking_state_is_the_last_positions_state(name: str) -> None:
    model = build(name, **({"session_dropout": 0.5, "emb_dropout": 0.3} if name == "narm" else {})).eval()
    history = left_padded([0, 1, 3, MAX_LEN, 7, MAX_LEN - 1])
    with torch.no_grad():  # NARM computes it alone, in O(B L H) instead of every position's O(B L^2 H)
        torch.testing.assert_close(model.query_states(history), model.encode(history)[:, -1], atol=1e-6, rtol=1e-5)


# --- learning -------------------------------------------------------------------------------------------------

CYCLE = 10


def cycle(phase: int, n: int, width: int) -> torch.Tensor:
    """Return ``n`` items of the cycle 1..10 from ``phase``, left-padded to ``width``."""
    row = torch.zeros(width, dtype=torch.long)
    row[width - n :] = (torch.arange(n) + phase) % CYCLE + 1
    return row


def next_item_accuracy(model: SequentialModel, steps: int = 100) -> float:
    """Train on next items of the cycle (full-softmax CE), then return top-1 accuracy over all prefixes."""
    # Every phase at every length, so no position or length hints at the next item.
    rows = torch.stack([cycle(phase, n, MAX_LEN + 1) for phase in range(CYCLE) for n in range(2, MAX_LEN + 2)])
    history = rows[:, :-1]
    target = torch.where(history.ne(0), rows[:, 1:], 0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    for _ in range(steps):
        inputs, labels = model.training_inputs(history, target)
        keep = labels.ne(0)
        loss = F.cross_entropy(model(inputs)[keep], labels[keep])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    phases_and_lengths = [(phase, n) for phase in range(CYCLE) for n in range(1, MAX_LEN + 1)]
    prefixes = torch.stack([cycle(phase, n, MAX_LEN) for phase, n in phases_and_lengths])
    expected = torch.tensor([(phase + n) % CYCLE + 1 for phase, n in phases_and_lengths])
    with torch.no_grad():
        predicted = model.eval().scores(prefixes).argmax(dim=1)
    return predicted.eq(expected).float().mean().item()


@pytest.mark.parametrize("name", MODELS)
def test_learns_a_cycle_of_items(name: str) -> None:
    assert next_item_accuracy(build(name, n_items=CYCLE + 1)) > 0.9


class _InputBlind(SequentialModel):
    """A model whose states ignore the history: the learning check must fail it."""

    def __init__(self, n_items: int) -> None:
        super().__init__()
        self.n_items, self.max_len = n_items, MAX_LEN
        self.table = nn.Embedding(n_items, DIM, padding_idx=0)
        self.state = nn.Parameter(torch.randn(DIM))

    def encode(self, history: torch.Tensor) -> torch.Tensor:
        return self.state.expand(*history.shape, DIM)

    def item_embeddings(self) -> torch.Tensor:
        return self.table.weight


def test_learning_check_fails_an_input_blind_model() -> None:
    assert next_item_accuracy(_InputBlind(CYCLE + 1)) < 0.5


# --- BERT4Rec -------------------------------------------------------------------------------------------------


def test_bert4rec_cloze_masks_real_items_only() -> None:
    model = build("bert4rec", max_len=50, mask_prob=0.2)
    target = left_padded([50] * 150 + [20] * 50 + [1] * 20 + [0] * 10, width=50)
    inputs, labels = model.training_inputs(torch.zeros_like(target), target)
    masked = inputs.eq(model.mask_token)
    real = target.ne(0)
    assert not (masked & ~real).any() and inputs[~masked].equal(target[~masked])
    assert labels[masked].equal(target[masked]) and not labels[~masked].any()
    assert abs(masked[:200].sum().item() / real[:200].sum().item() - 0.2) < 0.02
    assert masked[real.any(dim=1)].any(dim=1).all() and not masked[~real.any(dim=1)].any()


def test_bert4rec_cloze_masks_the_last_item_of_a_row_with_none_drawn() -> None:
    model = build("bert4rec", mask_prob=0.05)
    target = left_padded([MAX_LEN] * 50 + [3] * 50)
    torch.manual_seed(1)
    drawn = (torch.rand(target.shape) < 0.05) & target.ne(0)  # the global RNG drives the draw
    torch.manual_seed(1)
    inputs, labels = model.training_inputs(target, target)
    masked = inputs.eq(model.mask_token)
    none_drawn = ~drawn.any(dim=1)
    assert 20 < none_drawn.sum() < 100
    assert masked[~none_drawn].equal(drawn[~none_drawn])
    assert masked[none_drawn].sum() == none_drawn.sum() and masked[none_drawn, -1].all()
    assert labels[none_drawn, -1].equal(target[none_drawn, -1])


def test_bert4rec_mask_token_is_never_ranked() -> None:
    model = build("bert4rec").eval()
    assert model.mask_token == N_ITEMS and model.item_embedding.num_embeddings == N_ITEMS + 1
    torch.testing.assert_close(model.item_embeddings(), model.item_embedding.weight[:N_ITEMS])
    history = left_padded([MAX_LEN, 3])
    assert model.scores(history).shape == (2, N_ITEMS)
    appended = torch.cat([history[:, 1:], torch.full((2, 1), N_ITEMS)], dim=1)
    torch.testing.assert_close(model.query_states(history), model.encode(appended)[:, -1])


def test_bert4rec_is_deterministic_in_eval_mode() -> None:
    model = build("bert4rec", dropout_rate=0.5)
    history = left_padded([MAX_LEN, 3])
    assert not torch.equal(model.encode(history), model.encode(history))
    model.eval()
    assert torch.equal(model.encode(history), model.encode(history))


# --- HSTU aliases and bad options -----------------------------------------------------------------------------


def test_hstu_accepts_torch_rechub_names() -> None:
    model = HSTU(vocab_size=N_ITEMS, d_model=DIM, n_heads=4, n_layers=3, max_seq_len=MAX_LEN, dropout=0.1)
    assert (model.n_items, model.max_len, len(model.blocks), model.blocks[0].heads) == (N_ITEMS, MAX_LEN, 3, 4)
    assert model.item_embeddings().shape == (N_ITEMS, DIM) and model.embedding_dropout.p == 0.1
    assert HSTU.from_features([ITEM], d_model=DIM, n_layers=1).item_embeddings().shape == (N_ITEMS, DIM)
    assert HSTU(N_ITEMS, embed_dim=DIM, d_model=DIM).item_embeddings().shape == (N_ITEMS, DIM)
    custom = HSTU(N_ITEMS, embed_dim=10, num_heads=3, linear_hidden_dim=5, attention_dim=2, max_len=MAX_LEN)
    assert custom.eval().encode(left_padded([4, 0])).shape == (2, MAX_LEN, 10)


BAD_OPTIONS: list[tuple[Callable[[], Any], str]] = [
    (lambda: SASRec(N_ITEMS, embed_dim=10, num_heads=3), "SASRec num_heads"),
    (lambda: BERT4Rec(N_ITEMS, embed_dim=10, num_heads=3), "BERT4Rec num_heads"),
    (lambda: HSTU(N_ITEMS, embed_dim=10, num_heads=3), "HSTU num_heads"),
    (lambda: GRU4Rec(N_ITEMS, dropout_rate=-0.1), "GRU4Rec dropout_rate"),
    (lambda: NARM(N_ITEMS, emb_dropout=-0.1), "NARM emb_dropout"),
    (lambda: NARM(N_ITEMS, session_dropout=1.0), "NARM session_dropout"),
    (lambda: BERT4Rec(N_ITEMS, dropout_rate=-0.2), "BERT4Rec dropout_rate"),
    (lambda: BERT4Rec(N_ITEMS, mask_prob=0.0), "BERT4Rec mask_prob"),
    (lambda: HSTU(N_ITEMS, dropout_rate=-0.2), "HSTU dropout_rate"),
    (lambda: GRU4Rec(N_ITEMS, hidden_size=0), "GRU4Rec hidden_size"),
    (lambda: GRU4Rec(0), "GRU4Rec n_items"),
    (lambda: NARM(N_ITEMS, max_len=0), "NARM max_len"),
    (lambda: HSTU(N_ITEMS, attention_dim=0), "HSTU attention_dim"),
    (lambda: HSTU(N_ITEMS, n_head=2), "unknown option 'n_head'"),
    (lambda: HSTU(N_ITEMS, embed_dim=32, d_model=16), "d_model=16 disagrees with embed_dim=32"),
    (lambda: HSTU.from_features([ITEM], vocab_size=N_ITEMS + 1), "vocab_size=31 disagrees with n_items=30"),
    (lambda: HSTU(), "HSTU needs n_items"),
]


@pytest.mark.parametrize(("make", "message"), BAD_OPTIONS)
def test_bad_options_are_config_errors(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        make()
    assert "\n" not in str(error.value)
