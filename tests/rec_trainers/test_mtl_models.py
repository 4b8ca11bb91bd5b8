"""Tests for rec_trainers.models.multi_task: shapes, torch-rechub arguments, shared parameters, ESMM, learning.

Data here is synthetic: these are shape, wiring and speed checks (plus a sanity check
that each model can fit a signal tied to a feature id).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from rec_core.errors import ConfigError
from rec_core.features import DenseFeature, SequenceFeature, SparseFeature
from rec_trainers.layers import CGC, AttentionTransfer, ExpertGate
from rec_trainers.models import multi_task
from rec_trainers.models.multi_task import AITM, ESMM, MMOE, PLE, MultiTaskModel, SharedBottom
from rec_trainers.models.multi_task.esmm import ctcvr_logit

B = 32
USER = SparseFeature("user", 20, 8)
ITEM = SparseFeature("item", 30, 8)
CAT = SparseFeature("cat", 6, 4, padding_idx=0)
HIST = SequenceFeature("hist_item", 30, 8, pooling="mean", shared_with="item")
TAGS = SequenceFeature("tags", 12, 4, pooling="sum")
PRICE = DenseFeature("price")
VEC = DenseFeature("vec", 3)
ALL = [USER, ITEM, CAT, HIST, TAGS, PRICE, VEC]
CLS, REG = "classification", "regression"
SMALL = {"dims": [16], "dropout": 0.0}
TOWER = {"dims": [8], "dropout": 0.0}
MODELS: dict[str, type[MultiTaskModel]] = {
    "sharedbottom": SharedBottom,
    "esmm": ESMM,
    "mmoe": MMOE,
    "ple": PLE,
    "aitm": AITM,
}
SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "sharedbottom": {"bottom_params": SMALL, "tower_params_list": TOWER},
    "esmm": {"cvr_params": SMALL, "ctr_params": SMALL},
    "mmoe": {"n_expert": 3, "expert_params": SMALL, "tower_params_list": TOWER},
    "ple": {"n_level": 2, "n_expert_specific": 1, "n_expert_shared": 2, "expert_params": SMALL,
            "tower_params_list": TOWER},
    "aitm": {"bottom_params": SMALL, "tower_params_list": TOWER},
}
# The task-type mixes each model accepts.
TASK_MIXES: dict[str, list[list[str]]] = {
    "sharedbottom": [[CLS], [CLS, REG], [REG, CLS, CLS]],
    "esmm": [[CLS, CLS]],
    "mmoe": [[CLS], [CLS, REG], [REG, REG, CLS]],
    "ple": [[CLS], [CLS, REG], [REG, CLS, REG]],
    "aitm": [[CLS], [CLS, CLS], [CLS, CLS, CLS]],
}
MIX_CASES = [(name, mix) for name, mixes in TASK_MIXES.items() for mix in mixes]


def two_tasks(name: str) -> list[str]:
    return [CLS, CLS] if name in ("esmm", "aitm") else [CLS, REG]


def build(name: str, task_types: list[str] | None = None, features: list[Any] = ALL) -> MultiTaskModel:
    return MODELS[name].from_features(features, task_types or two_tasks(name), **SMALL_PARAMS[name])


def task_modules(model: MultiTaskModel) -> list[list[nn.Module]]:
    """Return, per task, the modules that belong to that task only."""
    if isinstance(model, ESMM):
        return [[model.tower_ctr], [model.tower_cvr]]
    per_task: list[list[nn.Module]] = [[tower] for tower in model.towers]  # type: ignore[attr-defined]
    if isinstance(model, MMOE):
        for mods, gate in zip(per_task, model.gates, strict=True):
            mods.append(gate)
    if isinstance(model, PLE):  # lower levels' task experts also feed the shared gate, so every task reaches them
        for level in model.cgc_layers:
            for t, mods in enumerate(per_task):
                mods.append(level.gates_specific[t])
        for t, mods in enumerate(per_task):
            mods.append(model.cgc_layers[-1].experts_specific[t])
    if isinstance(model, AITM):
        for t, mods in enumerate(per_task):
            mods.append(model.bottoms[t])
            if t:
                mods += [model.info_gates[t - 1], model.aits[t - 1]]
    return per_task


def params_of(modules: list[nn.Module]) -> set[int]:
    return {id(p) for module in modules for p in module.parameters()}


def make_batch(n: int = B, seq_len: int = 6) -> dict[str, torch.Tensor]:
    hist = torch.randint(1, 30, (n, seq_len))
    hist[:, seq_len // 2 :] *= torch.rand(n, 1) < 0.5  # some rows padded with 0
    return {
        "user": torch.randint(0, 20, (n,)),
        "item": torch.randint(0, 30, (n,)),
        "cat": torch.randint(0, 6, (n,)),
        "hist_item": hist,
        "tags": torch.randint(0, 12, (n, 4)),
        "price": torch.randn(n),
        "vec": torch.randn(n, 3),
    }


def task_loss(out: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == CLS:
        return F.binary_cross_entropy_with_logits(out, y)
    return F.mse_loss(out, y)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.mark.parametrize(("name", "task_types"), MIX_CASES)
def test_forward_shape_for_every_task_mix(name: str, task_types: list[str]) -> None:
    model = build(name, task_types)
    out = model(make_batch())
    assert out.shape == (B, len(task_types))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    assert model.task_types == task_types and model.n_task == len(task_types)
    assert model.eval()(make_batch(n=1)).shape == (1, len(task_types))


# torch-rechub's constructor calls (argument values from its multi-task examples).
RECHUB_CALLS: dict[str, tuple[Callable[[], MultiTaskModel], int]] = {
    "sharedbottom": (lambda: SharedBottom(ALL, [CLS, CLS], bottom_params={"dims": [117]},
                                          tower_params_list=[{"dims": [8]}, {"dims": [8]}]), 2),
    # torch-rechub's layout: [CVR, CTR, CTCVR]
    "esmm": (lambda: ESMM([USER, CAT], [ITEM, HIST], cvr_params={"dims": [16, 8]}, ctr_params={"dims": [16, 8]}), 3),
    "mmoe": (lambda: MMOE(ALL, [CLS, REG], 8, expert_params={"dims": [16]},
                          tower_params_list=[{"dims": [8]}, {"dims": [8]}]), 2),
    "ple": (lambda: PLE(ALL, [CLS, CLS], n_level=1, n_expert_specific=2, n_expert_shared=1,
                        expert_params={"dims": [16]}, tower_params_list=[{"dims": [8]}, {"dims": [8]}]), 2),
    "aitm": (lambda: AITM(ALL, 2, bottom_params={"dims": [32, 16]},
                          tower_params_list=[{"dims": [8]}, {"dims": [8]}]), 2),
    "mmoe-activation-dropout": (lambda: MMOE(ALL, [CLS, CLS, REG], 4, {"dims": [16, 8], "activation": "relu",
                                                                       "dropout": 0.2},
                                             [{"dims": [8], "dropout": 0.1}] * 3), 3),
    "ple-3-levels": (lambda: PLE(ALL, [REG, CLS], 3, 1, 1, {"dims": [16, 8]}, [{"dims": [8]}] * 2), 2),
    "aitm-3-tasks": (lambda: AITM(ALL, 3, {"dims": [16]}, [{"dims": [8]}] * 3), 3),
}


@pytest.mark.parametrize("case", sorted(RECHUB_CALLS))
def test_torch_rechub_constructor_calls(case: str) -> None:
    make, n_task = RECHUB_CALLS[case]
    out = make()(make_batch())
    assert out.shape == (B, n_task) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODELS)
def test_from_features_defaults_build(name: str) -> None:
    model = MODELS[name].from_features(ALL, task_types=two_tasks(name))
    assert model(make_batch()).shape == (B, 2)
    assert "logits" in (MODELS[name].__doc__ or "")
    assert hasattr(multi_task, MODELS[name].__name__)


def test_package_exports() -> None:
    assert sorted(multi_task.__all__) == sorted(["AITM", "ESMM", "MMOE", "PLE", "MultiTaskModel", "SharedBottom"])
    assert all(hasattr(multi_task, name) for name in multi_task.__all__)
    assert all(issubclass(cls, MultiTaskModel) for cls in MODELS.values())


@pytest.mark.parametrize("name", MODELS)
def test_from_features_rejects_unknown_params(name: str) -> None:
    with pytest.raises(ConfigError, match=f"unknown parameter 'n_experts' for {MODELS[name].__name__} \\(accepted: "):
        MODELS[name].from_features(ALL, two_tasks(name), n_experts=4)


def test_tower_params_list_may_be_one_dict() -> None:
    model = MMOE(ALL, [CLS, REG, CLS], 2, SMALL, TOWER)
    assert len(model.towers) == 3 and model.towers[0] is not model.towers[1]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: MMOE.from_features(ALL, ["classfication"]), "unknown task type 'classfication' for MMOE"),
        (lambda: SharedBottom.from_features(ALL, []), "at least one task"),
        (lambda: SharedBottom.from_features(ALL, "classification"), "task_types must be a list"),
        (lambda: SharedBottom.from_features([], [CLS]), "needs at least one feature"),
        (lambda: ESMM.from_features(ALL, [CLS]), "ESMM needs two classification tasks"),
        (lambda: ESMM([USER], [ITEM], SMALL, SMALL, outputs=("cvr", "ctr")), "must name 'ctr' and 'ctcvr'"),
        (lambda: ESMM.from_features(ALL, [CLS, REG]), "ESMM supports only classification tasks"),
        (lambda: ESMM.from_features(ALL, [CLS, CLS], user_features=["usr"]), "user feature 'usr' is not among"),
        (lambda: ESMM.from_features(ALL, [CLS, CLS], user_features="user"), "user_features must be a list"),
        (lambda: ESMM([], [], SMALL, SMALL), "ESMM needs at least one feature"),
        (lambda: AITM.from_features(ALL, [CLS, REG]), "AITM supports only classification tasks"),
        (lambda: AITM(ALL, 0, SMALL, TOWER), "n_task must be >= 1"),
        (lambda: MMOE(ALL, [CLS, CLS], 0, SMALL, TOWER), "n_expert must be >= 1"),
        (lambda: MMOE(ALL, [CLS, CLS], 2.5, SMALL, TOWER), "n_expert must be an integer"),
        (lambda: MMOE(ALL, [CLS, CLS], 2, SMALL, [TOWER]), "tower_params_list has 1 entries for 2 tasks"),
        (lambda: MMOE(ALL, [CLS, CLS], 2, {"dims": []}, TOWER), "at least one hidden layer"),
        (lambda: MMOE(ALL, [CLS, CLS], 2, {"dims": [8], "width": 3}, TOWER), "unknown mlp_params key 'width'"),
        (lambda: PLE(ALL, [CLS, CLS], 1, 1, 0, SMALL, TOWER), "n_expert_shared must be >= 1"),
        (lambda: PLE(ALL, [CLS, CLS], 0, 1, 1, SMALL, TOWER), "n_level must be >= 1"),
        (lambda: SharedBottom(ALL, [CLS], {"dims": [8], "output_layer": True}, [TOWER]), "output_layer"),
        (lambda: SharedBottom([SequenceFeature("s", 4, 8, pooling="concat")], [CLS], SMALL, [TOWER]),
         "pooling='concat'"),
    ],
)
def test_bad_arguments_are_config_errors(make: Callable[[], MultiTaskModel], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()


@pytest.mark.parametrize("name", MODELS)
def test_shared_parameters_are_declared(name: str) -> None:
    model = build(name)
    every = {id(p) for p in model.parameters()}
    shared = {id(p) for p in model.shared_parameters()}
    last = {id(p) for p in model.last_shared_parameters()}
    assert shared and last
    assert last <= shared <= every
    assert len(shared) == len(model.shared_parameters())  # no repeats
    assert params_of([model.embedding]) <= shared  # type: ignore[list-item]
    for mods in task_modules(model):
        assert not params_of(mods) & shared


def test_last_shared_layers_are_the_documented_ones() -> None:
    sb = build("sharedbottom")
    assert sb.last_shared_parameters() == list(sb.bottom_mlp.mlp[0].parameters())
    mmoe = build("mmoe")
    assert len(mmoe.last_shared_parameters()) == 2 * mmoe.n_expert  # weight + bias of each expert's last Linear
    ple = build("ple")
    top = ple.cgc_layers[-1]
    assert params_of(list(top.experts_shared)) == {id(p) for p in ple.last_shared_parameters()}
    ple_shared = {id(p) for p in ple.shared_parameters()}
    assert params_of([ple.cgc_layers[0].gate_shared]) <= ple_shared
    assert not params_of([level.experts_specific for level in ple.cgc_layers]) & ple_shared
    for name in ("esmm", "aitm"):
        model = build(name)
        assert model.last_shared_parameters() == list(model.embedding.parameters())


@pytest.mark.parametrize("name", MODELS)
def test_task_0_loss_reaches_shared_params_and_its_own_tower_only(name: str) -> None:
    model = build(name)
    model(make_batch())[:, 0].sum().backward()
    reached = {id(p) for p in model.parameters() if p.grad is not None and p.grad.any()}
    assert {id(p) for p in model.shared_parameters()} <= reached
    own, other = task_modules(model)
    assert params_of(own) <= reached
    assert not params_of(other) & reached  # task 1's tower (and gates, experts): no or all-zero gradients


@pytest.mark.parametrize("name", MODELS)
def test_bf16_autocast_forward_and_backward(name: str) -> None:
    model = build(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(make_batch())
        loss = F.binary_cross_entropy_with_logits(out.float(), torch.rand(B, 2).round())
    loss.backward()
    assert out.shape == (B, 2) and torch.isfinite(out).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_ctcvr_logit_is_the_logit_of_the_probability_product() -> None:
    a, b = torch.randn(1000, dtype=torch.float64) * 4, torch.randn(1000, dtype=torch.float64) * 4
    p = torch.sigmoid(a) * torch.sigmoid(b)
    torch.testing.assert_close(ctcvr_logit(a, b), torch.log(p) - torch.log1p(-p))
    torch.testing.assert_close(torch.sigmoid(ctcvr_logit(a.float(), b.float())), p.float())
    assert ctcvr_logit(torch.tensor(0.0), torch.tensor(0.0)).item() == pytest.approx(-math.log(3))


def test_ctcvr_logit_is_finite_for_large_logits() -> None:
    big = [-1e4, -80.0, -30.0, 30.0, 80.0, 1e4]
    a, b = torch.tensor(big).repeat_interleave(6), torch.tensor(big).repeat(6)
    a.requires_grad_(True)
    for dtype in (torch.float32, torch.bfloat16):
        out = ctcvr_logit(a.to(dtype), b.to(dtype))
        assert out.dtype == torch.float32 and torch.isfinite(out).all()
    out = ctcvr_logit(a, b)
    # Both near 1: logit ≈ min(a, b) (minus log 2 when equal); either very negative: ≈ the sum.
    assert out[-1].item() == pytest.approx(1e4 - math.log(2))
    assert out[0].item() == pytest.approx(-2e4)
    out.sum().backward()
    assert torch.isfinite(a.grad).all()  # type: ignore[arg-type]


def test_esmm_outputs_ctr_and_ctcvr_logits() -> None:
    model = build("esmm")
    x = make_batch()
    out = model(x)
    ctr, cvr = model.tower_logits(x)
    torch.testing.assert_close(out[:, 0], ctr)
    torch.testing.assert_close(torch.sigmoid(out[:, 1]), torch.sigmoid(ctr) * torch.sigmoid(cvr))


def test_esmm_from_features_splits_user_and_item_features() -> None:
    default = ESMM.from_features(ALL, [CLS, CLS])
    assert default.user_features == ALL and default.item_features == []
    split = ESMM.from_features(ALL, [CLS, CLS], user_features=["user", "price"])
    assert split.user_features == [USER, PRICE]
    assert split.item_features == [ITEM, CAT, HIST, TAGS, VEC]
    assert split(make_batch()).shape == (B, 2)


def test_ple_without_specific_experts_and_with_one_level() -> None:
    model = PLE(ALL, [CLS, REG], 1, 0, 2, SMALL, TOWER)
    assert model(make_batch()).shape == (B, 2)
    assert model.cgc_layers[0].gate_shared is None


def test_moe_blocks() -> None:
    gate = ExpertGate(5, 3)
    x, experts = torch.randn(4, 5), torch.randn(4, 3, 7)
    torch.testing.assert_close(gate.weights(x).sum(dim=1), torch.ones(4))
    torch.testing.assert_close(gate(x, experts), (gate.weights(x).unsqueeze(-1) * experts).sum(dim=1))
    with pytest.raises(ConfigError, match="expects 3 inputs"):
        CGC(2, 1, 2, 5, _expert, shared_gate=False)([x, x])
    outs = CGC(2, 1, 2, 5, _expert, shared_gate=True)([x, x, x])
    assert [o.shape for o in outs] == [(4, 7)] * 3


class _Expert(nn.Linear):
    output_dim = 7


def _expert(dim: int) -> nn.Module:
    return _Expert(dim, 7)


def test_attention_transfer_follows_the_paper() -> None:
    ait = AttentionTransfer(6)
    p, q = torch.randn(5, 6), torch.randn(5, 6)
    scores = torch.stack([(ait.query(u) * ait.key(u)).sum(-1) / math.sqrt(6) for u in (p, q)], dim=1)
    w = torch.softmax(scores, dim=1)
    expected = w[:, :1] * ait.value(p) + w[:, 1:] * ait.value(q)
    torch.testing.assert_close(ait(p, q), expected)
    torch.testing.assert_close(ait.weights(p, q), w)


def test_aitm_calibration_loss() -> None:
    logits = torch.tensor([[0.0, 2.0, -1.0], [1.0, 0.0, -1.0]])
    expected = (torch.sigmoid(torch.tensor(2.0)) - 0.5) / 2  # only row 0, step 0 -> 1 breaks the funnel
    torch.testing.assert_close(AITM.calibration_loss(logits), expected)
    with pytest.raises(ConfigError, match="expects \\(batch, n_task\\)"):
        AITM.calibration_loss(torch.zeros(3))


def synthetic_labels(name: str, x: dict[str, torch.Tensor]) -> torch.Tensor:
    first = (x["item"] < 15).float()
    if name in ("esmm", "aitm"):  # a funnel: the second step happens only after the first
        return torch.stack([first, first * (x["user"] < 10).float()], dim=1)
    return torch.stack([first, (x["user"] % 4).float() - 1.5], dim=1)  # regression target, variance 1.25


@pytest.mark.parametrize("name", MODELS)
def test_fits_a_two_task_synthetic_signal(name: str) -> None:
    """Sanity check only: each label is a function of a feature id that every model sees."""
    model = build(name)
    x = make_batch(n=256)
    y = synthetic_labels(name, x)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(80):
        optimizer.zero_grad()
        out = model(x)
        losses = [task_loss(out[:, i], y[:, i], kind) for i, kind in enumerate(model.task_types)]
        sum(losses).backward()  # type: ignore[union-attr]
        optimizer.step()
    # Constant predictors reach 0.69 (task 0), 0.56 (funnel step 2) and 1.25 (regression).
    assert [loss.item() for loss in losses] == [pytest.approx(0, abs=0.2)] * 2


def test_esmm_trains_ctr_and_ctcvr_in_either_layout() -> None:
    rechub = ESMM([USER, CAT], [ITEM], SMALL, SMALL)  # torch-rechub: [CVR, CTR, CTCVR]
    assert rechub.outputs == ["cvr", "ctr", "ctcvr"] and rechub.trained_tasks == (1, 2) and rechub.n_task == 3
    x = make_batch()
    out, (ctr, cvr) = rechub(x), rechub.tower_logits(x)
    torch.testing.assert_close(out[:, 0], cvr)
    torch.testing.assert_close(out[:, 2], ctcvr_logit(ctr, cvr))
    paper = ESMM.from_features(ALL, [CLS, CLS])  # two targets: click, then click-and-purchase
    assert paper.outputs == ["ctr", "ctcvr"] and paper.trained_tasks == (0, 1)
    assert ESMM.from_features(ALL, [CLS, CLS, CLS]).outputs == ["cvr", "ctr", "ctcvr"]
