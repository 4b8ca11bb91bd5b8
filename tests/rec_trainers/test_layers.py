"""Tests for rec_trainers.layers: hand-computed cases for each shared layer."""

from __future__ import annotations

from itertools import combinations

import pytest
import torch
from torch import nn

from rec_core.errors import ConfigError, DataError
from rec_core.features import DenseFeature, SequenceFeature, SparseFeature
from rec_trainers.layers import (
    CIN,
    FM,
    MLP,
    ActivationUnit,
    BiLinearInteraction,
    CrossNetMix,
    CrossNetV2,
    CrossNetwork,
    Dice,
    EmbeddingLayer,
    InteractingLayer,
    LinearLogit,
    SENETLayer,
    pool_sequence,
)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_fm_equals_explicit_pairwise_sum() -> None:
    x = torch.randn(4, 5, 3, dtype=torch.float64)
    pairs = sum(x[:, i] * x[:, j] for i, j in combinations(range(5), 2))
    torch.testing.assert_close(FM(reduce_sum=False)(x), pairs)
    torch.testing.assert_close(FM()(x), pairs.sum(dim=1, keepdim=True))


def test_cross_network_one_layer_by_hand() -> None:
    cross = CrossNetwork(4, num_layers=1)
    with torch.no_grad():
        cross.b.copy_(torch.tensor([[0.1, -0.2, 0.3, 0.0]]))
    x = torch.randn(3, 4)
    w, b = cross.w[0].detach(), cross.b[0].detach()
    expected = x * (x @ w).unsqueeze(1) + b + x
    torch.testing.assert_close(cross(x), expected)


def test_cross_network_two_layers_feed_forward() -> None:
    cross = CrossNetwork(4, num_layers=2)
    x0 = torch.randn(3, 4)
    w, b = cross.w.detach(), cross.b.detach()
    x1 = x0 * (x0 @ w[0]).unsqueeze(1) + b[0] + x0
    x2 = x0 * (x1 @ w[1]).unsqueeze(1) + b[1] + x1
    torch.testing.assert_close(cross(x0), x2)


def test_cross_net_v2_one_layer_by_hand() -> None:
    cross = CrossNetV2(4, num_layers=1)
    layer = cross.layers[0]
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([0.5, 0.0, -0.5, 1.0]))
    x = torch.randn(3, 4)
    expected = x * (x @ layer.weight.detach().T + layer.bias.detach()) + x
    torch.testing.assert_close(cross(x), expected)


def test_cross_net_mix_is_identity_without_expert_output() -> None:
    cross = CrossNetMix(6, num_layers=2, low_rank=3, num_experts=2)
    with torch.no_grad():
        cross.u.zero_()
    x = torch.randn(5, 6)
    torch.testing.assert_close(cross(x), x)
    with torch.no_grad():
        cross.u.normal_()
    assert cross(x).shape == (5, 6)
    with pytest.raises(ConfigError, match="cross layer"):
        CrossNetMix(6, num_layers=0)


def test_cin_one_layer_by_hand() -> None:
    cin = CIN(3, [2], split_half=False)
    x = torch.randn(4, 3, 5)
    layer = cin.layers[0]
    maps = torch.zeros(4, 2, 5)
    for h in range(2):
        for i in range(3):
            for j in range(3):
                maps[:, h] += layer.weight[h, i * 3 + j] * x[:, i] * x[:, j]
        maps[:, h] += layer.bias[h]
    expected = cin.fc(torch.relu(maps).sum(dim=2))
    torch.testing.assert_close(cin(x), expected)


def test_cin_split_half_sizes() -> None:
    cin = CIN(4, [6, 4], split_half=True)
    assert cin.fc.in_features == 3 + 4
    assert cin(torch.randn(2, 4, 8)).shape == (2, 1)
    with pytest.raises(ConfigError, match="even"):
        CIN(4, [5, 4], split_half=True)
    with pytest.raises(ConfigError, match="layer size"):
        CIN(4, [])


def test_bilinear_field_all_and_interaction_by_hand() -> None:
    x = torch.randn(2, 3, 4)
    layer = BiLinearInteraction(4, 3, "field_all")
    w = layer.weight[0]
    expected = torch.stack([(x[:, i] @ w) * x[:, j] for i, j in combinations(range(3), 2)], dim=1)
    torch.testing.assert_close(layer(x), expected)

    layer = BiLinearInteraction(4, 3, "field_interaction")
    expected = torch.stack(
        [(x[:, i] @ layer.weight[p]) * x[:, j] for p, (i, j) in enumerate(combinations(range(3), 2))], dim=1
    )
    torch.testing.assert_close(layer(x), expected)

    layer = BiLinearInteraction(4, 3, "field_each")
    expected = torch.stack([(x[:, i] @ layer.weight[i]) * x[:, j] for i, j in combinations(range(3), 2)], dim=1)
    torch.testing.assert_close(layer(x), expected)
    with pytest.raises(ConfigError, match="bilinear_type"):
        BiLinearInteraction(4, 3, "field_pairs")


def test_senet_scales_each_field_by_one_weight() -> None:
    x = torch.randn(2, 6, 4)
    out = SENETLayer(6, reduction_ratio=3)(x)
    ratio = out / x
    torch.testing.assert_close(ratio, ratio[..., :1].expand_as(ratio))
    assert bool(((ratio > 0) & (ratio < 1)).all())


def test_interacting_layer_is_permutation_equivariant() -> None:
    layer = InteractingLayer(8, num_heads=2)
    x = torch.randn(3, 5, 8)
    perm = torch.tensor([4, 2, 0, 1, 3])
    torch.testing.assert_close(layer(x)[:, perm], layer(x[:, perm]))
    with pytest.raises(ConfigError, match="divisible"):
        InteractingLayer(8, num_heads=3)


@pytest.mark.parametrize("use_softmax", [False, True])
def test_activation_unit_ignores_masked_positions(use_softmax: bool) -> None:
    unit = ActivationUnit(4, dims=[8], use_softmax=use_softmax).eval()
    history, target = torch.randn(3, 5, 4), torch.randn(3, 4)
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=torch.bool)
    changed = torch.where(mask.unsqueeze(-1), history, torch.randn(3, 5, 4))
    out = unit(history, target, mask)
    torch.testing.assert_close(out, unit(changed, target, mask))
    torch.testing.assert_close(out[2], torch.zeros(4))


def test_mlp_maps_torch_rechub_mlp_params() -> None:
    mlp = MLP(10, **{"dims": [8, 4], "dropout": 0.1, "activation": "prelu"})
    kinds = [type(layer).__name__ for layer in mlp.mlp]
    assert kinds == ["Linear", "PReLU", "Dropout", "Linear", "PReLU", "Dropout", "Linear"]
    assert mlp(torch.randn(3, 10)).shape == (3, 1)
    hidden = MLP(10, [8, 4], output_layer=False, batch_norm=True)
    assert hidden.output_dim == 4
    assert any(isinstance(layer, nn.BatchNorm1d) for layer in hidden.mlp)
    assert hidden(torch.randn(3, 10)).shape == (3, 4)
    with pytest.raises(ConfigError, match="unknown activation"):
        MLP(10, [8], activation="swishy")


def test_dice_with_zero_alpha_gates_by_sigmoid() -> None:
    dice = Dice(3)
    x = torch.randn(6, 3)
    normed = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-8)
    torch.testing.assert_close(dice(x), torch.sigmoid(normed) * x)
    assert dice.eval()(torch.randn(1, 3)).shape == (1, 3)


def _layer_with_known_table(pooling: str, padding_idx: int | None = None) -> tuple[EmbeddingLayer, SequenceFeature]:
    seq = SequenceFeature("hist", vocab_size=6, embed_dim=2, pooling=pooling, padding_idx=padding_idx)
    layer = EmbeddingLayer([seq])
    with torch.no_grad():
        layer.table(seq).weight.copy_(torch.arange(12, dtype=torch.float32).view(6, 2) + 1)
    return layer, seq


def test_sequence_mean_pooling_ignores_padding() -> None:
    layer, seq = _layer_with_known_table("mean")
    ids = torch.tensor([[1, 2, 0, 0], [0, 3, 0, 3], [0, 0, 0, 0]])
    table = layer.table(seq).weight.detach()
    expected = torch.stack([(table[1] + table[2]) / 2, table[3], torch.zeros(2)])
    torch.testing.assert_close(layer.pooled({"hist": ids}, seq), expected)


def test_sequence_sum_pooling_and_custom_padding_idx() -> None:
    layer, seq = _layer_with_known_table("sum", padding_idx=5)
    ids = torch.tensor([[0, 2, 5, 5]])
    table = layer.table(seq).weight.detach()
    torch.testing.assert_close(layer.pooled({"hist": ids}, seq), (table[0] + table[2]).unsqueeze(0))
    assert pool_sequence(torch.ones(1, 3, 2), torch.tensor([[True, False, True]]), "sum").tolist() == [[2.0, 2.0]]


def test_shared_with_uses_one_table() -> None:
    item = SparseFeature("item", vocab_size=10, embed_dim=4)
    hist = SequenceFeature("hist_item", vocab_size=10, embed_dim=4, shared_with="item")
    layer = EmbeddingLayer([hist, item])
    assert list(layer.embed_dict) == ["item"]
    assert layer.table(hist) is layer.table(item)
    assert sum(p.numel() for p in layer.parameters()) == 40
    x = {"item": torch.tensor([3]), "hist_item": torch.tensor([[3, 0]])}
    torch.testing.assert_close(layer.pooled(x, hist), layer.pooled(x, item))


def test_shared_with_errors_name_the_features() -> None:
    hist = SequenceFeature("hist_item", vocab_size=10, embed_dim=4, shared_with="item")
    with pytest.raises(ConfigError, match="'hist_item' shares the table of 'item', which is not among"):
        EmbeddingLayer([hist])
    with pytest.raises(ConfigError, match="embed_dim=4, not 8"):
        EmbeddingLayer([SparseFeature("item", 10, 8), hist])
    with pytest.raises(ConfigError, match="vocab_size=10"):
        EmbeddingLayer([SparseFeature("item", 5, 4), hist])


def test_padding_row_is_zero_and_gets_no_gradient() -> None:
    item = SparseFeature("item", vocab_size=5, embed_dim=3, padding_idx=0)
    layer = EmbeddingLayer([item])
    table = layer.table(item)
    assert table.padding_idx == 0
    assert not table.weight[0].any()
    layer.pooled({"item": torch.tensor([0, 1, 0])}, item).sum().backward()
    assert table.weight.grad is not None
    assert not table.weight.grad[0].any() and table.weight.grad[1].all()


def test_fields_flat_and_torch_rechub_forward() -> None:
    a, b = SparseFeature("a", 5, 3), SparseFeature("b", 7, 3)
    price, vec = DenseFeature("price"), DenseFeature("vec", 2)
    layer = EmbeddingLayer([a, b, price, vec])
    x = {
        "a": torch.tensor([1, 2]),
        "b": torch.tensor([0, 6]),
        "price": torch.tensor([0.5, 1.5]),
        "vec": torch.ones(2, 2),
    }
    fields = layer.fields(x, [a, price, b])
    assert fields.shape == (2, 2, 3)
    flat = layer.flat(x, [a, price, b, vec])
    assert flat.shape == (2, 3 + 1 + 3 + 2)
    torch.testing.assert_close(flat[:, 3], x["price"])
    torch.testing.assert_close(layer(x, [a, b]), fields)
    torch.testing.assert_close(layer(x, [a, price, b, vec], squeeze_dim=True), flat)


def test_embedding_layer_input_errors() -> None:
    a = SparseFeature("a", 5, 3)
    concat = SequenceFeature("hist", 5, 3, pooling="concat")
    layer = EmbeddingLayer([a, concat])
    with pytest.raises(DataError, match="feature 'a' missing from the batch"):
        layer.fields({"b": torch.tensor([1])}, [a])
    with pytest.raises(ConfigError, match="concat"):
        layer.pooled({"hist": torch.tensor([[1, 2]])}, concat)
    with pytest.raises(ConfigError, match="two different definitions of feature 'a'"):
        EmbeddingLayer([a, SparseFeature("a", 6, 3)])


def test_linear_logit_by_hand() -> None:
    a = SparseFeature("a", 4, 8)
    tags = SequenceFeature("tags", 4, 8, pooling="sum")
    price = DenseFeature("price")
    linear = LinearLogit([a, tags, price])
    assert linear.weights is not None and linear.dense_linear is not None
    with torch.no_grad():
        linear.weights.table(a).weight.copy_(torch.tensor([[0.0], [1.0], [2.0], [3.0]]))
        linear.weights.table(tags).weight.copy_(torch.tensor([[9.0], [10.0], [20.0], [30.0]]))
        linear.dense_linear.weight.fill_(0.5)
        linear.bias.fill_(-1.0)
    x = {"a": torch.tensor([2, 3]), "tags": torch.tensor([[1, 2], [0, 0]]), "price": torch.tensor([4.0, 0.0])}
    torch.testing.assert_close(linear(x), torch.tensor([[-1.0 + 2 + 30 + 2], [-1.0 + 3]]))
