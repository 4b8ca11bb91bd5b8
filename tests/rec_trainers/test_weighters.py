"""UWL, GradNorm and MetaBalance against hand-computed cases, in training, on resume and under DDP."""

from __future__ import annotations

import copy
import io
import math
import os
import traceback
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn import functional as F

from rec_core import BaseTrainer
from rec_core.data import ColumnarLoader
from rec_core.distributed import shutdown
from rec_core.errors import ConfigError
from rec_core.weighting import BaseLossWeighter
from rec_trainers.weighting import (
    ADAPTIVE_WEIGHTERS,
    GradNormWeighter,
    MetaBalanceWeighter,
    UWLWeighter,
    weighter_from_adaptive_params,
)
from tests.rec_core.ddp_workers import run_ranks

SQRT5 = math.sqrt(5.0)


def train_step(
    weighter: BaseLossWeighter, losses: Mapping[str, Tensor], params: Sequence[nn.Parameter], scale: float = 1.0
) -> None:
    """The trainer's sequence: combine -> backward (scaled, graph kept) -> after_backward."""
    loss = weighter.combine(losses)
    (loss * scale).backward(retain_graph=weighter.retain_graph)
    if scale == 1.0:
        weighter.after_backward(losses, params)
    else:
        weighter.after_backward(losses, params, loss_scale=scale)  # type: ignore[call-arg]


# -- UWL ------------------------------------------------------------------------------------------
def test_uwl_loss_and_log_variance_gradients_match_kendall_for_both_task_types() -> None:
    weighter = UWLWeighter(["price", "click"], task_types=["regression", "classification"])
    assert weighter.name == "uwl" and weighter.retain_graph is False
    with torch.no_grad():
        weighter.log_vars.copy_(torch.tensor([0.3, -0.2]))
    price, click = torch.tensor(2.0, requires_grad=True), torch.tensor(0.5, requires_grad=True)
    loss = weighter.combine({"click": click, "price": price})
    # regression: L/(2σ²) + log σ = ½·e^{-s}·L + s/2;  classification: L/σ² + log σ = e^{-s}·L + s/2
    expected = 0.5 * math.exp(-0.3) * 2.0 + 0.15 + math.exp(0.2) * 0.5 - 0.1
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    expected_grad = [-0.5 * math.exp(-0.3) * 2.0 + 0.5, -math.exp(0.2) * 0.5 + 0.5]
    torch.testing.assert_close(weighter.log_vars.grad, torch.tensor(expected_grad))
    assert price.grad.item() == pytest.approx(0.5 * math.exp(-0.3), rel=1e-6)
    assert click.grad.item() == pytest.approx(math.exp(0.2), rel=1e-6)
    weights = weighter.loss_weights()
    assert weights["price"] == pytest.approx(0.5 * math.exp(-0.3), rel=1e-6)
    assert weights["click"] == pytest.approx(math.exp(0.2), rel=1e-6)
    assert set(weighter.state_dict()) == {"log_vars"}


def test_uwl_defaults_to_classification_and_starts_at_unit_weights() -> None:
    weighter = UWLWeighter(["a", "b"])
    assert weighter.task_types == ("classification", "classification")
    assert weighter.loss_weights() == {"a": 1.0, "b": 1.0}
    loss = weighter.combine({"a": torch.tensor(1.0), "b": torch.tensor(2.0)})
    assert loss.item() == pytest.approx(3.0)
    loss.backward()
    torch.testing.assert_close(weighter.log_vars.grad, torch.tensor([-0.5, -1.5]))  # -L + 1/2


@pytest.mark.parametrize(
    ("task_types", "message"),
    [(["regression"], r"1 task types \['regression'\] for 2 tasks"), (["regression", "ranking"], "'ranking'")],
)
def test_uwl_rejects_bad_task_types(task_types: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        UWLWeighter(["a", "b"], task_types=task_types)


# -- GradNorm ---------------------------------------------------------------------------------------
def _gradnorm_losses(weight: nn.Parameter, y_a: float, y_b: float) -> dict[str, Tensor]:
    """Two tasks on one shared linear layer: h = W·x with x = (1, 2); L_i = (h - y_i)²."""
    hidden = weight @ torch.tensor([1.0, 2.0])
    return {"a": (hidden - y_a).pow(2).sum(), "b": (hidden - y_b).pow(2).sum()}


def test_gradnorm_weight_gradient_adam_update_and_renormalisation_by_hand() -> None:
    weighter = GradNormWeighter(["a", "b"])  # alpha 1.5, lr 0.025
    assert (weighter.name, weighter.retain_graph, weighter.parameter_scope) == ("gradnorm", True, "last_shared")
    assert list(weighter.parameters()) == []  # the trainer's optimizer never touches the weights
    weight = nn.Parameter(torch.tensor([[0.5, -0.5]]))  # h = 0.5 - 1 = -0.5
    lr, b1, b2, eps = 0.025, 0.9, 0.999, 1e-8

    # Step 1: L = (0.25, 2.25); ∇_W L_a = 2h·x = (-1, -2), norm √5; ∇_W L_b = 2(h-1)·x, norm 3√5.
    train_step(weighter, _gradnorm_losses(weight, 0.0, 1.0), [weight])
    torch.testing.assert_close(weight.grad, torch.tensor([[-4.0, -8.0]]))  # Σ w_i ∇L_i, w = 1: untouched
    # L̃ = r = (1, 1); G = (√5, 3√5); target = mean(G) = 2√5; ∂L_grad/∂w = sign(G - target)·n = (-√5, 3√5).
    g1 = [-SQRT5, 3 * SQRT5]
    # Adam's first step is lr·g/(|g| + eps), so the weights move by ∓lr and still sum to 2.
    w1 = [1.0 - lr * g / (abs(g) + eps) for g in g1]
    torch.testing.assert_close(weighter.weights, torch.tensor(w1))
    torch.testing.assert_close(weighter.initial_losses, torch.tensor([0.25, 2.25]))
    assert int(weighter.step) == 1

    # Step 2 (same W, y_a = 0.5): L = (1, 2.25); n = (2√5, 3√5); L̃ = (4, 1); r = (1.6, 0.4).
    weight.grad = None
    train_step(weighter, _gradnorm_losses(weight, 0.5, 1.0), [weight])
    torch.testing.assert_close(weight.grad, torch.tensor([[-2.0 * w1[0] - 3.0 * w1[1], -4.0 * w1[0] - 6.0 * w1[1]]]))
    norms, rates = [2 * SQRT5, 3 * SQRT5], [1.6, 0.4]
    grad_norms = [w1[0] * norms[0], w1[1] * norms[1]]  # √5·(2.05, 2.925)
    targets = [sum(grad_norms) / 2 * r**1.5 for r in rates]  # √5·(5.034, 0.629)
    assert grad_norms[0] < targets[0] and grad_norms[1] > targets[1]
    g2 = [-norms[0], norms[1]]
    m = [b1 * (1 - b1) * g1[i] + (1 - b1) * g2[i] for i in range(2)]
    v = [b2 * (1 - b2) * g1[i] ** 2 + (1 - b2) * g2[i] ** 2 for i in range(2)]
    raw = [w1[i] - lr * (m[i] / (1 - b1**2)) / (math.sqrt(v[i] / (1 - b2**2)) + eps) for i in range(2)]
    assert sum(raw) == pytest.approx(1.99913, abs=1e-5)  # unequal Adam steps: renormalisation matters
    w2 = [2.0 * w / sum(raw) for w in raw]
    torch.testing.assert_close(weighter.weights, torch.tensor(w2))
    assert weighter.weights.sum().item() == pytest.approx(2.0)
    torch.testing.assert_close(weighter.exp_avg, torch.tensor(m))
    torch.testing.assert_close(weighter.exp_avg_sq, torch.tensor(v))
    assert weighter.loss_weights() == pytest.approx({"a": w2[0], "b": w2[1]})

    # combine uses the current weights, detached.
    combined = weighter.combine({"a": torch.tensor(1.0), "b": torch.tensor(1.0)})
    assert combined.item() == pytest.approx(2.0) and not combined.requires_grad


def test_gradnorm_ignores_parameters_not_every_task_reaches() -> None:
    """A task-specific parameter passed with W (the trainer's default scope) changes nothing."""
    results = []
    for extra in (False, True):
        weighter = GradNormWeighter(["a", "b"])
        weight = nn.Parameter(torch.tensor([[0.5, -0.5]]))
        head = nn.Parameter(torch.tensor(3.0))
        losses = _gradnorm_losses(weight, 0.0, 1.0)
        losses["a"] = losses["a"] * head
        train_step(weighter, losses, [weight, head] if extra else [weight])
        results.append(weighter.weights.clone())
    assert torch.equal(results[0], results[1])
    with pytest.raises(ConfigError, match="no parameter reached by every task's loss"):
        train_step(GradNormWeighter(["a", "b"]), {"a": head * 2, "b": head.detach() * 2 + weight.sum()}, [head])


def test_gradnorm_rejects_bad_options() -> None:
    with pytest.raises(ConfigError, match="'alpha' must be a number >= 0, got -1"):
        GradNormWeighter(["a", "b"], alpha=-1)
    with pytest.raises(ConfigError, match="'lr' must be a number > 0, got 'fast'"):
        GradNormWeighter(["a", "b"], lr="fast")  # type: ignore[arg-type]


# -- MetaBalance ---------------------------------------------------------------------------------------
class _TwoChannel(nn.Module):
    """Shared p (2) and q (1) give h = (p·x, q·z) with x = (1, 2), z = 3; task heads v_a, v_b.

    L_i = ½(v_i·h - t_i)², so ∇_p L_i = e_i·v_i0·x, ∇_q L_i = e_i·v_i1·z, ∇_{v_i} L_i = e_i·h with
    the residual e_i = v_i·h - t_i: the two shared tensors see different task ratios.
    """

    def __init__(self) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.tensor([0.5, 0.25]))  # h0 = 1
        self.q = nn.Parameter(torch.tensor([0.5]))  # h1 = 1.5
        self.v_a = nn.Parameter(torch.tensor([1.0, 1.0]))
        self.v_b = nn.Parameter(torch.tensor([2.0, -1.0]))

    def losses(self, t_b: float) -> dict[str, Tensor]:
        hidden = torch.cat([(self.p * torch.tensor([1.0, 2.0])).sum(0, keepdim=True), self.q * 3.0])
        return {"a": 0.5 * (self.v_a @ hidden) ** 2, "b": 0.5 * (self.v_b @ hidden - t_b) ** 2}


def test_metabalance_rescales_auxiliary_gradients_per_shared_tensor_by_hand() -> None:
    net = _TwoChannel()
    weighter = MetaBalanceWeighter(["a", "b"])  # main "a", relax 0.7, beta 0.9
    assert (weighter.name, weighter.retain_graph, weighter.parameter_scope) == ("metabalance", True, "shared")
    params = [net.p, net.q, net.v_a, net.v_b]  # heads passed too: they must come out untouched

    # Step 1 (t_b = 0): e_a = 2.5, e_b = 0.5.
    # ∇_p: a (2.5, 5) norm 2.5√5, b (1, 2) norm √5;  ∇_q: a 7.5, b -1.5.   m = 0.1·norms.
    # scale_b = 0.7·m_a/m_b + 0.3: p 0.7·2.5 + 0.3 = 2.05; q 0.7·5 + 0.3 = 3.8.
    train_step(weighter, net.losses(t_b=0.0), params)
    torch.testing.assert_close(net.p.grad, torch.tensor([2.5 + 2.05 * 1.0, 5.0 + 2.05 * 2.0]))
    torch.testing.assert_close(net.q.grad, torch.tensor([7.5 + 3.8 * -1.5]))
    torch.testing.assert_close(net.v_a.grad, torch.tensor([2.5, 3.75]))  # e_a·h
    torch.testing.assert_close(net.v_b.grad, torch.tensor([0.5, 0.75]))  # e_b·h
    expected_norms = 0.1 * torch.tensor(
        [[2.5 * SQRT5, SQRT5], [7.5, 1.5], [math.hypot(2.5, 3.75), 0.0], [0.0, math.hypot(0.5, 0.75)]]
    )
    torch.testing.assert_close(weighter.running_norms, expected_norms)
    # Effective scale of b: ‖scale·m_b‖ / ‖m_b‖ over the tensors (its head counts with scale 1).
    m_b = [0.1 * SQRT5, 0.15, 0.1 * math.hypot(0.5, 0.75)]
    effective = math.sqrt((2.05 * m_b[0]) ** 2 + (3.8 * m_b[1]) ** 2 + m_b[2] ** 2) / math.sqrt(sum(m**2 for m in m_b))
    assert weighter.loss_weights() == pytest.approx({"a": 1.0, "b": effective})

    # Step 2, accumulated on top (no zero_grad), the loss scaled by ½ as with 2 micro-batches:
    # t_b = 1.5 gives e_b = -1: ∇_p L_b = (-2, -4) norm 2√5, ∇_q L_b = 3; a as before.
    # m_a = 0.19·(2.5√5, 7.5); m_b = (0.09√5 + 0.2√5, 0.135 + 0.3) = (0.29√5, 0.435).
    before = {name: p.grad.clone() for name, p in net.named_parameters()}
    train_step(weighter, net.losses(t_b=1.5), params, scale=0.5)
    scale_p, scale_q = 0.7 * (0.19 * 2.5) / 0.29 + 0.3, 0.7 * (0.19 * 7.5) / 0.435 + 0.3
    torch.testing.assert_close(net.p.grad, before["p"] + 0.5 * torch.tensor([2.5 - 2.0 * scale_p, 5.0 - 4.0 * scale_p]))
    torch.testing.assert_close(net.q.grad, before["q"] + 0.5 * torch.tensor([7.5 + 3.0 * scale_q]))
    torch.testing.assert_close(net.v_a.grad, before["v_a"] + 0.5 * torch.tensor([2.5, 3.75]))
    torch.testing.assert_close(net.v_b.grad, before["v_b"] + 0.5 * torch.tensor([-1.0, -1.5]))


def test_metabalance_main_task_by_name_relax_zero_and_errors() -> None:
    net = _TwoChannel()
    weighter = MetaBalanceWeighter(["a", "b"], relax_factor=0.0, main_task="b")
    assert weighter.main_index == 1 and weighter.main_task == "b"
    train_step(weighter, net.losses(t_b=0.0), [net.p, net.q])
    torch.testing.assert_close(net.p.grad, torch.tensor([3.5, 7.0]))  # r = 0: the plain sum
    assert weighter.loss_weights() == {"a": 1.0, "b": 1.0}
    with pytest.raises(ConfigError, match="given 1 shared parameters but has tracked 2"):
        train_step(weighter, net.losses(t_b=0.0), [net.p])
    with pytest.raises(ConfigError, match=r"'main_task' must be a task name or index, got 'c' \(tasks: \['a', 'b'\]\)"):
        MetaBalanceWeighter(["a", "b"], main_task="c")
    with pytest.raises(ConfigError, match=r"'main_task'.*got 2"):
        MetaBalanceWeighter(["a", "b"], main_task=2)
    with pytest.raises(ConfigError, match=r"'relax_factor' must be a number in \[0, 1\], got 1.5"):
        MetaBalanceWeighter(["a", "b"], relax_factor=1.5)
    with pytest.raises(ConfigError, match=r"'beta' must be a number in \[0, 1\), got 1"):
        MetaBalanceWeighter(["a", "b"], beta=1)
    sparse = nn.Embedding(4, 2, sparse=True)
    loss = sparse(torch.tensor([1])).sum()
    with pytest.raises(ConfigError, match="cannot balance sparse gradients"):
        MetaBalanceWeighter(["a", "b"]).after_backward({"a": loss, "b": 2 * loss}, [sparse.weight])


# -- behaviour: one task's loss 100x larger -----------------------------------------------------------
class _SharedBottom(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(0)  # the same start on every process and for every weighter
            self.bottom = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
            self.towers = nn.ModuleList(nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 1)) for _ in range(2))

    def forward(self, x: Tensor) -> list[Tensor]:
        hidden = self.bottom(x)
        return [tower(hidden).squeeze(-1) for tower in self.towers]


_GEN = torch.Generator().manual_seed(1)
_X = torch.randn(512, 8, generator=_GEN)
_Y = torch.stack([_X[:, :4].sum(1), torch.tanh(_X[:, 4:]).sum(1)], dim=1)


def _batch_losses(net: _SharedBottom, batch: int, scales: tuple[float, float]) -> dict[str, Tensor]:
    rows = slice(32 * batch % 512, 32 * batch % 512 + 32)
    out = net(_X[rows])
    return {name: scales[i] * F.mse_loss(out[i], _Y[rows, i]) for i, name in enumerate(("a", "b"))}


def _train(weighter: BaseLossWeighter, params: Any, steps: int, scales: tuple[float, float]) -> _SharedBottom:
    net = _SharedBottom()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    for batch in range(steps):
        optimizer.zero_grad()
        train_step(weighter, _batch_losses(net, batch, scales), params(net))
        optimizer.step()
    return net


def _task_grad_norms(net: _SharedBottom, params: list[nn.Parameter], losses: dict[str, Tensor]) -> list[float]:
    grads = [torch.autograd.grad(losses[name], params, retain_graph=True) for name in ("a", "b")]
    return [math.sqrt(sum(float(g.pow(2).sum()) for g in row)) for row in grads]


def test_equal_weighting_leaves_the_hundredfold_imbalance() -> None:
    net = _SharedBottom()
    norms = _task_grad_norms(net, list(net.bottom.parameters()), _batch_losses(net, 0, (1.0, 100.0)))
    assert norms[1] / norms[0] > 30


def test_gradnorm_balances_the_last_shared_layer_of_a_hundredfold_imbalance() -> None:
    """G_i = w_i·‖∇_W L_i‖ starts ~100x apart; GradNorm holds them within 2x.

    The weights move by about ``lr`` per step, so the per-step ratio oscillates around its
    target ``(r_b/r_a)^α``; the test takes its geometric mean over steps 50-150.
    """
    weighter = GradNormWeighter(["a", "b"])
    net = _SharedBottom()
    last_shared = list(net.bottom[2].parameters())
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    log_ratios = []
    for batch in range(150):
        optimizer.zero_grad()
        losses = _batch_losses(net, batch, (1.0, 100.0))
        norms = _task_grad_norms(net, last_shared, losses)
        weights = weighter.weights.tolist()
        log_ratios.append(math.log(weights[1] * norms[1] / (weights[0] * norms[0])))
        train_step(weighter, losses, last_shared)
        optimizer.step()
    assert math.exp(log_ratios[0]) > 30
    settled = math.exp(sum(log_ratios[50:]) / 100)
    assert 0.5 < settled < 2.0, settled
    weights = weighter.loss_weights()
    assert weights["b"] < 0.2 < 1.5 < weights["a"]
    assert sum(weights.values()) == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("main_task", "relax_factor", "scales"),
    [("b", 0.7, (1.0, 100.0)), ("a", 1.0, (1.0, 100.0))],
    ids=["weak-aux-boosted", "strong-aux-damped"],
)
def test_metabalance_balances_a_hundredfold_imbalance(
    main_task: str, relax_factor: float, scales: tuple[float, float]
) -> None:
    weighter = MetaBalanceWeighter(["a", "b"], relax_factor=relax_factor, main_task=main_task)

    def shared(net: _SharedBottom) -> list[nn.Parameter]:
        return list(net.bottom.parameters())

    net = _train(weighter, shared, steps=20, scales=scales)
    # One more step from zero gradients: the shared gradient is G_main + rescaled G_aux.
    net.zero_grad()
    losses = _batch_losses(net, 20, scales)
    params = shared(net)
    main = torch.autograd.grad(losses[main_task], params, retain_graph=True)
    train_step(weighter, losses, params)
    aux_grad = [p.grad - g for p, g in zip(params, main, strict=True)]
    main_norm = math.sqrt(sum(float(g.pow(2).sum()) for g in main))
    aux_norm = math.sqrt(sum(float(g.pow(2).sum()) for g in aux_grad))
    assert 0.5 < aux_norm / main_norm < 2.0


# -- state_dict: a resumed weighter continues bit-identically -------------------------------------------
@pytest.mark.parametrize("kind", ["gradnorm", "metabalance"])
def test_state_dict_round_trip_resumes_bit_identically(kind: str) -> None:
    def make() -> BaseLossWeighter:
        return GradNormWeighter(["a", "b"]) if kind == "gradnorm" else MetaBalanceWeighter(["a", "b"])

    def shared(net: _SharedBottom) -> list[nn.Parameter]:
        return list(net.bottom.parameters())

    weighter = make()
    net = _train(weighter, shared, steps=3, scales=(1.0, 10.0))
    buffer = io.BytesIO()
    torch.save(weighter.state_dict(), buffer)
    buffer.seek(0)
    expected_keys = (
        {"weights", "initial_losses", "exp_avg", "exp_avg_sq", "step"} if kind == "gradnorm" else {"running_norms"}
    )
    state = torch.load(buffer, weights_only=True)
    assert set(state) == expected_keys
    resumed = make()
    resumed.load_state_dict(state)
    for key, value in weighter.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
    assert resumed.loss_weights() == weighter.loss_weights()

    twin = copy.deepcopy(net)
    for w, model in ((weighter, net), (resumed, twin)):
        model.zero_grad()
        train_step(w, _batch_losses(model, 3, (1.0, 10.0)), shared(model))
    for key, value in weighter.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
    for a, b in zip(net.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a.grad, b.grad)
    if isinstance(weighter, GradNormWeighter):
        assert int(weighter.step) == int(resumed.step) == 4


def test_metabalance_refuses_a_state_for_other_tasks() -> None:
    state = {"running_norms": torch.ones(3, 3)}
    with pytest.raises(RuntimeError, match="running_norms"):
        MetaBalanceWeighter(["a", "b"]).load_state_dict(state)


# -- adaptive_params ------------------------------------------------------------------------------------
def test_adaptive_params_map_onto_the_weighters() -> None:
    assert weighter_from_adaptive_params(None, ["a", "b"]) is None
    assert sorted(ADAPTIVE_WEIGHTERS) == ["gradnorm", "metabalance", "uwl"]
    uwl = weighter_from_adaptive_params({"method": "uwl"}, ["a", "b"], ["regression", "classification"])
    assert isinstance(uwl, UWLWeighter) and uwl.task_types == ("regression", "classification")
    gradnorm = weighter_from_adaptive_params({"method": "gradnorm", "alpha": 0.16}, ("a", "b"))
    assert isinstance(gradnorm, GradNormWeighter) and (gradnorm.alpha, gradnorm.lr) == (0.16, 0.025)
    meta = weighter_from_adaptive_params({"method": "metabalance", "main_task": "b", "beta": 0.5}, ["a", "b"])
    assert isinstance(meta, MetaBalanceWeighter) and (meta.main_task, meta.beta, meta.relax_factor) == ("b", 0.5, 0.7)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"method": "pcgrad"}, r"unknown adaptive_params method 'pcgrad' \(valid: gradnorm, metabalance, uwl\)"),
        ({"alpha": 1.0}, r"adaptive_params needs a 'method' \(valid: gradnorm, metabalance, uwl\)"),
        ({"method": "gradnorm", "relax_factor": 0.5}, r"option\(s\) \['relax_factor'\] .* \(valid: alpha, lr\)"),
        ({"method": "uwl", "alpha": 1}, r"option\(s\) \['alpha'\] for method 'uwl' \(valid: none\)"),
        ({"method": "metabalance", "beta": 2}, r"'beta' must be a number in \[0, 1\)"),
        ("uwl", "adaptive_params must be a dict"),
    ],
)
def test_adaptive_params_errors_are_one_line(params: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        weighter_from_adaptive_params(params, ["a", "b"])
    assert "\n" not in str(info.value)


# -- real DDP: two gloo processes, different data per rank ---------------------------------------------
DEADLINE_S = 60.0


def _ddp_data(rank: int) -> tuple[Tensor, Tensor]:
    rows = slice(16 * rank, 16 * rank + 16)
    return _X[rows], _Y[rows]


def _ddp_scenario(model: nn.Module, net: _SharedBottom, x: Tensor, y: Tensor) -> dict[str, Any]:
    """MetaBalance for one step, then two GradNorm steps with an SGD step between."""

    def losses() -> dict[str, Tensor]:
        out = model(x)
        return {"a": F.mse_loss(out[0], y[:, 0]), "b": 50.0 * F.mse_loss(out[1], y[:, 1])}

    meta = MetaBalanceWeighter(["a", "b"])
    train_step(meta, losses(), list(net.bottom.parameters()))
    result: dict[str, Any] = {
        "shared_grads": [p.grad.clone() for p in net.bottom.parameters()],
        "running_norms": meta.running_norms.clone(),
    }
    gradnorm = GradNormWeighter(["a", "b"])
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    for _ in range(2):
        optimizer.zero_grad()
        train_step(gradnorm, losses(), list(net.bottom[2].parameters()))
        optimizer.step()
    result["gradnorm"] = {k: v.clone() for k, v in gradnorm.state_dict().items()}
    return result


def _ddp_worker(index: int, port: int, out: str) -> None:
    warnings.simplefilter("error")
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    try:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=index, world_size=2)
        net = _SharedBottom()
        model = nn.parallel.DistributedDataParallel(net)
        result = _ddp_scenario(model, net, *_ddp_data(index))
    except BaseException:
        (Path(out) / f"rank{index}.error").write_text(traceback.format_exc())
        os._exit(1)
    torch.save(result, Path(out) / f"rank{index}.pt")
    shutdown()  # a barrier first: no rank leaves while its peer still talks to it


def _launch_ddp(out: Path) -> list[dict[str, Any]]:
    return run_ranks(_ddp_worker, out, module=__name__, deadline_s=DEADLINE_S)


def test_ddp_ranks_end_with_identical_shared_gradients_and_weights(tmp_path: Path) -> None:
    rank0, rank1 = _launch_ddp(tmp_path)
    for a, b in zip(rank0["shared_grads"], rank1["shared_grads"], strict=True):
        assert torch.equal(a, b)
    assert torch.equal(rank0["running_norms"], rank1["running_norms"])
    for key, value in rank0["gradnorm"].items():
        assert torch.equal(value, rank1["gradnorm"][key]), key
    assert not torch.equal(rank0["gradnorm"]["weights"], torch.ones(2))  # the weights moved
    # The ranks agree with one process that sees both ranks' rows (equal halves: mean of means).
    net = _SharedBottom()
    x, y = (torch.cat(parts) for parts in zip(_ddp_data(0), _ddp_data(1), strict=True))
    single = _ddp_scenario(net, net, x, y)
    for a, b in zip(rank0["shared_grads"], single["shared_grads"], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(rank0["gradnorm"]["weights"], single["gradnorm"]["weights"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(rank0["gradnorm"]["initial_losses"], single["gradnorm"]["initial_losses"])


# -- inside BaseTrainer: the scopes, the graph, loss_weight/<task> and the checkpoint ---------------------
class _TwoTaskTrainer(BaseTrainer):
    def training_step(self, batch: Any) -> dict[str, Tensor]:
        x, y = batch
        out = self.network(x["x"])
        return {"a": F.mse_loss(out[0], y[:, 0]), "b": 100.0 * F.mse_loss(out[1], y[:, 1])}

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.model.bottom.parameters())

    def last_shared_parameters(self) -> list[nn.Parameter]:
        return list(self.model.bottom[2].parameters())


@pytest.mark.parametrize("method", ["uwl", "gradnorm", "metabalance"])
def test_weighters_train_and_checkpoint_inside_the_base_trainer(method: str, tmp_path: Path) -> None:
    weighter = weighter_from_adaptive_params({"method": method}, ["a", "b"])
    assert weighter is not None
    settings: dict[str, Any] = {"max_epochs": 2, "learning_rate": 1e-3, "device": "cpu", "progress_bar": False}
    trainer = _TwoTaskTrainer(
        _SharedBottom(), loss_weighter=weighter, checkpoint_dir=str(tmp_path / "ckpt"), **settings
    )
    train = ColumnarLoader({"x": _X[:256]}, _Y[:256], batch_size=32, shuffle=True, seed=0)
    trainer.fit(train, verbose=False)
    metrics = trainer.callback_metrics
    assert set(weighter.loss_weights()) == {"a", "b"}
    for name, value in weighter.loss_weights().items():
        assert metrics[f"loss_weight/{name}"] == pytest.approx(value)
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)["loss_weighter"]
    assert saved.keys() == weighter.state_dict().keys()
    for key, value in weighter.state_dict().items():
        assert torch.equal(saved[key], value), key
    if method == "uwl":
        assert not torch.equal(weighter.log_vars.detach(), torch.zeros(2))  # learned with the model
    else:
        assert weighter.loss_weights() != {"a": 1.0, "b": 1.0}
