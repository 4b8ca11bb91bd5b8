"""The two-tower losses against hand-computed values: BPR, list-wise softmax, in-batch softmax with log-Q."""

from __future__ import annotations

import math

import pytest
import torch

from rec_trainers.trainers._match_loss import bpr_loss, in_batch_softmax_loss, list_wise_loss, point_wise_loss


def test_bpr_is_minus_log_sigmoid_of_the_margin_and_stable_for_large_margins():
    positive, negative = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 1.0])
    expected = (-math.log(1 / (1 + math.exp(-1.5))) - math.log(1 / (1 + math.exp(2.0)))) / 2
    assert bpr_loss(positive, negative).item() == pytest.approx(expected)
    huge = bpr_loss(torch.tensor([-1000.0]), torch.tensor([1000.0]))
    assert huge.item() == pytest.approx(2000.0)  # no overflow to inf, no nan
    tiny = bpr_loss(torch.tensor([1000.0]), torch.tensor([-1000.0]))
    assert tiny.item() == 0.0
    several = bpr_loss(torch.tensor([1.0]), torch.tensor([[0.0, 2.0]]))  # one positive, two negatives
    assert several.item() == pytest.approx((math.log1p(math.exp(-1)) + math.log1p(math.exp(1))) / 2)
    grad = torch.tensor([0.0], requires_grad=True)
    bpr_loss(grad, torch.tensor([0.0])).backward()
    assert grad.grad.item() == pytest.approx(-0.5)  # d/dpos of -log sigmoid(pos - neg) at 0


def test_list_wise_and_point_wise_losses():
    logits = torch.tensor([[2.0, 1.0, 0.0]])
    expected = -2.0 + math.log(math.exp(2) + math.exp(1) + 1)
    assert list_wise_loss(logits).item() == pytest.approx(expected)
    assert list_wise_loss(logits, temperature=2.0).item() == pytest.approx(-1.0 + math.log(math.e + math.exp(0.5) + 1))
    assert point_wise_loss(torch.tensor([0.0]), torch.tensor([1.0])).item() == pytest.approx(math.log(2))


def test_in_batch_softmax_with_log_q_correction_and_duplicate_positives():
    users = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    items = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    logits = users @ items.T  # [[2,0,1],[0,1,0],[2,1,1]]
    q = torch.tensor([0.5, 0.25, 0.25])
    corrected = logits - q.log().unsqueeze(0)
    expected = sum(-corrected[r, r] + torch.logsumexp(corrected[r], 0) for r in range(3)) / 3
    loss = in_batch_softmax_loss(users, items, log_q=q.log())
    assert loss.item() == pytest.approx(expected.item())
    plain = sum(-logits[r, r] + torch.logsumexp(logits[r], 0) for r in range(3)) / 3
    assert in_batch_softmax_loss(users, items).item() == pytest.approx(plain.item())
    # rows 0 and 2 share item 7: neither is the other's negative
    ids = torch.tensor([7, 3, 7])
    masked = logits.clone()
    masked[0, 2] = masked[2, 0] = -math.inf
    dedup = sum(-masked[r, r] + torch.logsumexp(masked[r], 0) for r in range(3)) / 3
    assert in_batch_softmax_loss(users, items, ids).item() == pytest.approx(dedup.item())
    warm = in_batch_softmax_loss(users, items, temperature=0.5).item()
    halved = sum(-2 * logits[r, r] + torch.logsumexp(2 * logits[r], 0) for r in range(3)) / 3
    assert warm == pytest.approx(halved.item())
