"""Tests of the loss-weighter contract and the equal weighter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import pytest
import torch
from torch import Tensor, nn

from rec_core.errors import ConfigError
from rec_core.weighting import BaseLossWeighter, EqualWeighter


class TwoTaskNet(nn.Module):
    """A shared bottom layer with one head per task."""

    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.Linear(4, 8)
        self.head_a = nn.Linear(8, 1)
        self.head_b = nn.Linear(8, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        hidden = torch.relu(self.shared(x))
        return self.head_a(hidden).squeeze(-1), self.head_b(hidden).squeeze(-1)


def task_losses(net: TwoTaskNet, seed: int = 0) -> dict[str, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 4, generator=generator)
    y_reg = torch.randn(16, generator=generator)
    y_click = torch.randint(0, 2, (16,), generator=generator).float()
    out_a, out_b = net(x)
    return {
        "a": nn.functional.mse_loss(out_a, y_reg),
        "b": nn.functional.binary_cross_entropy_with_logits(out_b, y_click),
    }


def make_net() -> TwoTaskNet:
    torch.manual_seed(0)
    return TwoTaskNet()


def train_step(weighter: BaseLossWeighter, net: TwoTaskNet, losses: Mapping[str, Tensor]) -> Tensor:
    """Run the trainer's sequence: combine -> backward -> after_backward."""
    loss = weighter.combine(losses)
    loss.backward(retain_graph=weighter.retain_graph)
    weighter.after_backward(losses, list(net.shared.parameters()))
    return loss


class NormalisedGradWeighter(BaseLossWeighter):
    """Toy gradient balancer with its own parameters (uncertainty-style log variances).

    ``combine`` weights each loss by ``exp(-log_var)`` plus a ``log_var`` penalty; then
    ``after_backward`` replaces the shared-layer gradient by the sum of the per-task
    gradients, each scaled to unit norm, and scales it by ``shared_scale``.
    """

    name: ClassVar[str] = "toy-normalised"
    retain_graph: ClassVar[bool] = True

    def __init__(self, task_names: Sequence[str], shared_scale: float = 0.5) -> None:
        super().__init__(task_names)
        self.log_vars = nn.Parameter(torch.zeros(len(self.task_names)))
        self.shared_scale = shared_scale

    def combine(self, losses: Mapping[str, Tensor]) -> Tensor:
        stacked = torch.stack(self.ordered_losses(losses))
        return (torch.exp(-self.log_vars) * stacked + self.log_vars).sum()

    def after_backward(
        self, losses: Mapping[str, Tensor], shared_parameters: Sequence[nn.Parameter]
    ) -> None:
        params = list(shared_parameters)
        total = [torch.zeros_like(p) for p in params]
        for name in self.task_names:
            grads = torch.autograd.grad(losses[name], params, retain_graph=True)
            norm = torch.sqrt(sum((g**2).sum() for g in grads))
            total = [t + g / norm for t, g in zip(total, grads, strict=True)]
        for param, grad in zip(params, total, strict=True):
            param.grad = self.shared_scale * grad

    def loss_weights(self) -> dict[str, float]:
        weights = torch.exp(-self.log_vars.detach())
        return {name: float(w) for name, w in zip(self.task_names, weights, strict=True)}


# --- EqualWeighter ------------------------------------------------------------------------


def test_equal_weighter_gradient_equals_gradient_of_summed_loss() -> None:
    net = make_net()
    reference = task_losses(net)
    expected = torch.autograd.grad(reference["a"] + reference["b"], list(net.parameters()))

    weighter = EqualWeighter(["a", "b"])
    losses = task_losses(net)
    loss = train_step(weighter, net, losses)

    torch.testing.assert_close(loss, losses["a"] + losses["b"])
    for param, grad in zip(net.parameters(), expected, strict=True):
        torch.testing.assert_close(param.grad, grad)


def test_equal_weighter_contract_values() -> None:
    weighter = EqualWeighter(("ctr", "cvr"))
    assert weighter.name == "equal"
    assert weighter.retain_graph is False
    assert weighter.task_names == ("ctr", "cvr")
    assert weighter.loss_weights() == {"ctr": 1.0, "cvr": 1.0}
    assert list(weighter.parameters()) == []
    assert weighter.state_dict() == {}
    losses = {"cvr": torch.tensor(2.0), "ctr": torch.tensor(0.5)}
    assert weighter(losses).item() == pytest.approx(2.5)  # nn.Module call == combine
    assert "ctr" in repr(weighter)


def test_mismatched_loss_keys_raise_config_error_naming_them() -> None:
    weighter = EqualWeighter(["ctr", "cvr"])
    with pytest.raises(ConfigError, match=r"missing \['cvr'\].*unexpected \['ctcvr'\]"):
        weighter.combine({"ctr": torch.tensor(1.0), "ctcvr": torch.tensor(1.0)})
    with pytest.raises(ConfigError, match=r"missing \['cvr'\]"):
        weighter.combine({"ctr": torch.tensor(1.0)})
    with pytest.raises(ConfigError, match=r"unexpected \['extra'\]"):
        weighter.combine(
            {"ctr": torch.tensor(1.0), "cvr": torch.tensor(1.0), "extra": torch.tensor(1.0)}
        )


@pytest.mark.parametrize(
    ("task_names", "message"),
    [([], "at least one task"), (["a", "a"], "duplicate task names"), ([1, 2], "strings")],
)
def test_invalid_task_names_raise_config_error(task_names: list, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        EqualWeighter(task_names)


def test_base_weighter_is_abstract() -> None:
    with pytest.raises(TypeError, match="combine"):
        BaseLossWeighter(["a"])  # type: ignore[abstract]


def test_default_hooks_are_harmless() -> None:
    class SumOnly(BaseLossWeighter):
        name = "sum-only"

        def combine(self, losses: Mapping[str, Tensor]) -> Tensor:
            return sum(self.ordered_losses(losses), torch.tensor(0.0))

    weighter = SumOnly(["a"])
    param = nn.Parameter(torch.ones(2))
    param.grad = torch.full((2,), 3.0)
    weighter.after_backward({"a": torch.tensor(1.0)}, [param])
    torch.testing.assert_close(param.grad, torch.full((2,), 3.0))
    assert weighter.loss_weights() == {}


# --- a weighter that uses after_backward and owns parameters -------------------------------


def test_after_backward_can_rewrite_shared_gradients() -> None:
    net = make_net()
    shared = list(net.shared.parameters())
    heads = list(net.head_a.parameters()) + list(net.head_b.parameters())

    # Expected gradients, computed independently of the weighter.
    reference = task_losses(net)
    per_task = {
        name: torch.autograd.grad(reference[name], shared, retain_graph=True) for name in ("a", "b")
    }
    expected_shared = [torch.zeros_like(p) for p in shared]
    for grads in per_task.values():
        norm = torch.sqrt(sum((g**2).sum() for g in grads))
        expected_shared = [e + g / norm for e, g in zip(expected_shared, grads, strict=True)]
    expected_heads = torch.autograd.grad(reference["a"] + reference["b"], heads)

    weighter = NormalisedGradWeighter(["a", "b"], shared_scale=0.5)
    train_step(weighter, net, task_losses(net))

    for param, grad in zip(shared, expected_shared, strict=True):
        torch.testing.assert_close(param.grad, 0.5 * grad)
    # Head gradients come from the plain backward of the combined loss (weights exp(0)=1).
    for param, grad in zip(heads, expected_heads, strict=True):
        torch.testing.assert_close(param.grad, grad)


def test_weighter_parameters_are_optimised_and_saved_with_the_model() -> None:
    net = make_net()
    weighter = NormalisedGradWeighter(["a", "b"])
    optimizer = torch.optim.SGD([*net.parameters(), *weighter.parameters()], lr=0.1)

    for step in range(3):
        optimizer.zero_grad()
        train_step(weighter, net, task_losses(net, seed=step))
        optimizer.step()

    assert not torch.equal(weighter.log_vars.detach(), torch.zeros(2))
    weights = weighter.loss_weights()
    assert set(weights) == {"a", "b"}
    assert all(isinstance(w, float) for w in weights.values())
    assert weights != {"a": 1.0, "b": 1.0}

    state = weighter.state_dict()
    assert set(state) == {"log_vars"}
    restored = NormalisedGradWeighter(["a", "b"])
    restored.load_state_dict(state)
    torch.testing.assert_close(restored.log_vars, weighter.log_vars)
    assert restored.loss_weights() == weights
