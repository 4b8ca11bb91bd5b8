"""Tests for rec_core.features and rec_core.initializers."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from rec_core.errors import ConfigError
from rec_core.features import (
    DenseFeature,
    SequenceFeature,
    SparseFeature,
    get_auto_embedding_dim,
)
from rec_core.initializers import (
    Pretrained,
    RandomNormal,
    RandomUniform,
    XavierNormal,
    XavierUniform,
)


@pytest.mark.parametrize("vocab", [1, 2, 15, 16, 17, 100, 1000, 10_000, 123_457])
def test_auto_embedding_dim_follows_the_dcn_rule(vocab: int) -> None:
    assert get_auto_embedding_dim(vocab) == int(np.floor(6 * np.power(vocab, 0.25)))


def test_auto_embedding_dim_known_values() -> None:
    assert get_auto_embedding_dim(1) == 6
    assert get_auto_embedding_dim(16) == 12
    assert get_auto_embedding_dim(100) == 18


def test_sparse_feature_defaults_match_torch_rechub() -> None:
    feature = SparseFeature("C1", 100)
    assert feature.name == "C1"
    assert feature.vocab_size == 100
    assert feature.embed_dim == 18
    assert feature.shared_with is None
    assert feature.padding_idx is None
    assert feature.initializer == RandomNormal(0, 0.0001)


def test_positional_arguments_keep_torch_rechub_order() -> None:
    seq = SequenceFeature("hist", 50, 8, "sum", "item", 0)
    assert (seq.embed_dim, seq.pooling, seq.shared_with, seq.padding_idx) == (8, "sum", "item", 0)
    sparse = SparseFeature("item", 50, 8, None, 0, RandomUniform(-1, 1))
    assert (sparse.padding_idx, sparse.initializer) == (0, RandomUniform(-1, 1))
    assert SequenceFeature("tags", 1000).pooling == "mean"
    assert SequenceFeature("tags", 1000).embed_dim == get_auto_embedding_dim(1000)
    assert DenseFeature("age").embed_dim == 1
    assert DenseFeature("vec", 16).embed_dim == 16


def test_numpy_integers_are_accepted_and_stored_as_int() -> None:
    feature = SparseFeature("C1", np.int64(42), np.int32(4), padding_idx=np.int64(0))
    assert type(feature.vocab_size) is int and feature.vocab_size == 42
    assert type(feature.embed_dim) is int and feature.embed_dim == 4
    assert type(feature.padding_idx) is int


def test_equality_and_hash_follow_settings() -> None:
    assert SparseFeature("C1", 10) == SparseFeature("C1", 10)
    assert hash(SparseFeature("C1", 10)) == hash(SparseFeature("C1", 10))
    assert SparseFeature("C1", 10) != SparseFeature("C1", 11)
    assert SparseFeature("C1", 10) != SequenceFeature("C1", 10)
    assert DenseFeature("a") == DenseFeature("a")
    assert DenseFeature("a") != DenseFeature("a", 2)
    features = {SparseFeature("C1", 10), SparseFeature("C1", 10), DenseFeature("I1")}
    assert len(features) == 2
    assert SparseFeature("C1", 10) in [DenseFeature("I1"), SparseFeature("C1", 10)]


def test_repr_names_feature_and_shape() -> None:
    assert repr(SparseFeature("C1", 100, 8)) == "<SparseFeature C1 with Embedding shape (100, 8)>"
    text = repr(SequenceFeature("hist", 100, 8, pooling="sum", shared_with="item"))
    assert "hist" in text and "(100, 8)" in text and "sum" in text and "item" in text
    assert repr(DenseFeature("I1")) == "<DenseFeature I1>"


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: SparseFeature("", 10), ["name"]),
        (lambda: SparseFeature(None, 10), ["name"]),  # type: ignore[arg-type]
        (lambda: SparseFeature("C1", 0), ["C1", "vocab_size", ">= 1"]),
        (lambda: SparseFeature("C1", 2.5), ["C1", "vocab_size", "integer"]),  # type: ignore[arg-type]
        (lambda: SparseFeature("C1", True), ["C1", "vocab_size"]),
        (lambda: SparseFeature("C1", 10, 0), ["C1", "embed_dim"]),
        (lambda: SparseFeature("C1", 10, padding_idx=10), ["C1", "padding_idx"]),
        (lambda: SparseFeature("C1", 10, shared_with="C1"), ["C1", "itself"]),
        (lambda: SparseFeature("C1", 10, shared_with=""), ["C1", "shared_with"]),
        (lambda: SparseFeature("C1", 10, initializer="normal"), ["C1", "initializer"]),  # type: ignore[arg-type]
        (lambda: SequenceFeature("hist", 10, pooling="max"), ["hist", "pooling", "max"]),
        (lambda: SequenceFeature("hist", -3), ["hist", "vocab_size"]),
        (lambda: DenseFeature("I1", 0), ["I1", "embed_dim"]),
        (lambda: DenseFeature(" "), ["name"]),
    ],
)
def test_invalid_settings_raise_config_error_naming_the_feature(make, words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        make()
    for word in words:
        assert word in str(info.value)


def test_get_embedding_layer_is_cached_like_torch_rechub() -> None:
    torch.manual_seed(0)
    feature = SparseFeature("C1", 1000, 8)
    embed = feature.get_embedding_layer()
    assert isinstance(embed, torch.nn.Embedding)
    assert tuple(embed.weight.shape) == (1000, 8)
    assert feature.get_embedding_layer() is embed
    assert abs(embed.weight.std().item() - 1e-4) < 2e-5
    fresh = feature.build_embedding()
    assert fresh is not embed and tuple(fresh.weight.shape) == (1000, 8)
    assert feature == SparseFeature("C1", 1000, 8)  # the cache is not part of equality


@pytest.mark.parametrize(
    ("initializer", "check"),
    [
        (RandomNormal(1.0, 0.5), lambda w: abs(w.mean() - 1.0) < 0.05 and abs(w.std() - 0.5) < 0.05),
        (RandomUniform(-2.0, -1.0), lambda w: w.min() >= -2.0 and w.max() < -1.0),
        (XavierUniform(), lambda w: w.abs().max() <= math.sqrt(6 / (500 + 16)) + 1e-6),
        (XavierNormal(2.0), lambda w: abs(w.std() - 2.0 * math.sqrt(2 / (500 + 16))) < 0.02),
    ],
)
def test_initializers_build_embeddings_with_their_distribution(initializer, check) -> None:
    torch.manual_seed(0)
    embed = SequenceFeature("hist", 500, 16, initializer=initializer).get_embedding_layer()
    assert tuple(embed.weight.shape) == (500, 16)
    assert check(embed.weight.detach())


def test_pretrained_initializer_copies_weights_and_checks_shape() -> None:
    weights = np.arange(12, dtype=np.float64).reshape(4, 3)
    embed = SparseFeature("C1", 4, 3, initializer=Pretrained(weights)).get_embedding_layer()
    assert torch.equal(embed.weight, torch.arange(12, dtype=torch.float32).reshape(4, 3))
    assert not embed.weight.requires_grad
    trainable = Pretrained(weights, freeze=False)(4, 3)
    assert trainable.weight.requires_grad
    assert Pretrained(weights) == Pretrained(weights.tolist())
    assert "shape=(4, 3)" in repr(Pretrained(weights))
    with pytest.raises(ConfigError, match=r"\(4, 3\).*\(5, 3\)"):
        SparseFeature("C1", 5, 3, initializer=Pretrained(weights)).get_embedding_layer()
    with pytest.raises(ConfigError, match="2-D"):
        Pretrained(np.zeros(3))


def test_any_callable_initializer_is_accepted() -> None:
    def ones(vocab_size: int, embed_dim: int) -> torch.nn.Embedding:
        embed = torch.nn.Embedding(vocab_size, embed_dim)
        torch.nn.init.ones_(embed.weight)
        return embed

    embed = SparseFeature("C1", 3, 2, initializer=ones).get_embedding_layer()
    assert torch.equal(embed.weight, torch.ones(3, 2))


def test_shared_embedding_tables_can_be_built_from_features() -> None:
    features = [
        SparseFeature("item", 20, 4),
        SequenceFeature("hist", 20, 4, shared_with="item", padding_idx=0),
        DenseFeature("price"),
    ]
    tables = torch.nn.ModuleDict(
        {f.name: f.get_embedding_layer() for f in features if not isinstance(f, DenseFeature) and f.shared_with is None}
    )
    assert list(tables) == ["item"]
    hist = torch.tensor([[3, 5, 0]])
    assert tables[features[1].shared_with](hist).shape == (1, 3, 4)


def test_importing_features_does_not_import_torch() -> None:
    code = (
        "import sys, rec_core; before = 'torch' in sys.modules; "
        "import rec_core.features, rec_core.initializers; "
        "sys.exit(0 if before or 'torch' not in sys.modules else 1)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
