"""Tests for rec_trainers.models.ranking: construction, logits, gradients, bf16, sparse grads.

Data here is synthetic: these are shape, wiring and speed checks. Learning on real
data (Frappe) is tested elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from rec_core.errors import ConfigError
from rec_core.features import DenseFeature, SequenceFeature, SparseFeature
from rec_core.plugins import make_plugin_manager
from rec_trainers.models import ranking
from rec_trainers.models.ranking import (
    DCN,
    DIN,
    FM,
    LR,
    AutoInt,
    DCNv2,
    DeepFM,
    FiBiNET,
    FiBiNet,
    RankingModel,
    WideDeep,
    xDeepFM,
)

# The registered ctr models (names are declared once, in rec_trainers.plugin).
RANKING_MODELS: dict[str, type[RankingModel]] = {
    entry.name: entry.load() for entry in make_plugin_manager().registry("models").entries(task="ctr")
    if entry.plugin == "trainers"
}
B = 32
USER = SparseFeature("user", 20, 8)
ITEM = SparseFeature("item", 30, 8)
CAT = SparseFeature("cat", 6, 8, padding_idx=0)
HIST = SequenceFeature("hist_item", 30, 8, pooling="mean", shared_with="item")
TAGS = SequenceFeature("tags", 12, 8, pooling="sum")
PRICE = DenseFeature("price")
VEC = DenseFeature("vec", 3)
SPARSE = [USER, ITEM, CAT]
EMBEDDED = [*SPARSE, HIST, TAGS]
ALL = [*EMBEDDED, PRICE, VEC]
MLP = {"dims": [16, 8], "dropout": 0.0}

# Each case builds a model through torch-rechub's constructor arguments.
TORCH_RECHUB_CASES: dict[str, Callable[[], RankingModel]] = {
    "lr": lambda: LR(ALL),
    "fm": lambda: FM(ALL),
    "widedeep": lambda: WideDeep(wide_features=SPARSE, deep_features=ALL, mlp_params=MLP),
    "deepfm": lambda: DeepFM(deep_features=ALL, fm_features=EMBEDDED, mlp_params=MLP),
    "dcn": lambda: DCN(ALL, n_cross_layers=2, mlp_params=MLP),
    "dcnv2-parallel": lambda: DCNv2(ALL, 2, MLP, low_rank=4, num_experts=2),
    "dcnv2-stacked": lambda: DCNv2(ALL, 2, MLP, model_structure="stacked", use_low_rank_mixture=False),
    "dcnv2-crossnet-only": lambda: DCNv2(ALL, 2, None, model_structure="crossnet_only", low_rank=4),
    "xdeepfm": lambda: xDeepFM(ALL, cin_size=[8, 8], mlp_params=MLP),
    "autoint": lambda: AutoInt(EMBEDDED, [PRICE, VEC], num_layers=2, num_heads=2, mlp_params=MLP),
    "autoint-no-mlp": lambda: AutoInt(EMBEDDED, None, num_layers=1),
    "fibinet": lambda: FiBiNet(ALL, MLP, reduction_ratio=2),
    "fibinet-field-all": lambda: FiBiNet(EMBEDDED, MLP, bilinear_type="field_all"),
    "din": lambda: DIN(
        features=[USER, CAT, PRICE],
        history_features=[HIST],
        target_features=[ITEM],
        mlp_params=MLP,
        attention_mlp_params={"dims": [8], "activation": "dice", "use_softmax": False},
    ),
}
SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "lr": {},
    "fm": {},
    "dcnv2": {"mlp_params": MLP, "low_rank": 4},
    "xdeepfm": {"mlp_params": MLP, "cin_size": [8, 8]},
    "autoint": {"mlp_params": MLP, "num_layers": 2},
    "din": {"mlp_params": MLP, "attention_mlp_params": {"dims": [8]}},
}


def from_features(name: str) -> RankingModel:
    return RANKING_MODELS[name].from_features(ALL, **SMALL_PARAMS.get(name, {"mlp_params": MLP}))


CASES: dict[str, Callable[[], RankingModel]] = {
    **TORCH_RECHUB_CASES,
    **{f"{name}-from-features": (lambda name=name: from_features(name)) for name in RANKING_MODELS},
}


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


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(params=sorted(CASES))
def model(request: pytest.FixtureRequest) -> RankingModel:
    return CASES[request.param]()


def test_forward_returns_finite_logits(model: RankingModel) -> None:
    logits = model(make_batch())
    assert logits.shape == (B,)
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    assert model.eval()(make_batch(n=1)).shape == (1,)


def test_gradients_reach_every_parameter(model: RankingModel) -> None:
    model(make_batch()).sum().backward()
    dead = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not dead


def test_bf16_autocast_forward_and_backward(model: RankingModel) -> None:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(make_batch())
        loss = nn.functional.binary_cross_entropy_with_logits(logits.float(), torch.rand(B).round())
    loss.backward()
    assert logits.shape == (B,) and torch.isfinite(logits).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_sparse_embeddings_work_with_sparse_adam(model: RankingModel) -> None:
    embeddings = [m for m in model.modules() if isinstance(m, nn.Embedding)]
    assert embeddings
    for module in embeddings:
        module.sparse = True
    model(make_batch()).sum().backward()
    tables = [m.weight for m in embeddings]
    assert all(w.grad is not None and w.grad.is_sparse for w in tables)
    others = [p for p in model.parameters() if all(p is not w for w in tables)]
    before = [w.detach().clone() for w in tables]
    torch.optim.SparseAdam(tables, lr=0.01).step()
    if others:
        torch.optim.Adam(others, lr=0.01).step()
    assert all(not torch.equal(w, old) for w, old in zip(tables, before, strict=True))


@pytest.mark.parametrize("name", RANKING_MODELS)
def test_fits_a_synthetic_signal(name: str) -> None:
    """Sanity check only: the label is a function of the item id, which every model sees."""
    model = from_features(name)
    x = make_batch(n=256)
    y = (x["item"] < 15).float()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        optimizer.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.3


def test_padding_positions_do_not_change_predictions() -> None:
    x = make_batch()
    longer = {**x, "hist_item": torch.cat([x["hist_item"], torch.zeros(B, 3, dtype=torch.long)], dim=1)}
    for model in (CASES["din"]().eval(), CASES["deepfm"]().eval()):
        torch.testing.assert_close(model(x), model(longer))


@pytest.mark.parametrize("name", RANKING_MODELS)
def test_from_features_defaults_build(name: str) -> None:
    model_cls = RANKING_MODELS[name]
    model = model_cls.from_features(ALL)
    assert model(make_batch()).shape == (B,)
    assert issubclass(model_cls, RankingModel)
    assert "logits" in (model_cls.__doc__ or "")


def test_registry_names_are_stable() -> None:
    assert sorted(RANKING_MODELS) == sorted(
        ["lr", "fm", "widedeep", "deepfm", "dcn", "dcnv2", "xdeepfm", "autoint", "fibinet", "din"])
    assert RANKING_MODELS["deepfm"] is DeepFM and RANKING_MODELS["fibinet"] is FiBiNet
    assert FiBiNET is FiBiNet
    assert all(hasattr(ranking, name) for name in ranking.__all__)


def test_from_features_maps_the_list_onto_torch_rechub_arguments() -> None:
    deepfm = DeepFM.from_features(ALL)
    assert deepfm.deep_features == ALL and deepfm.fm_features == EMBEDDED
    assert deepfm.mlp.output_dim == 1
    widedeep = WideDeep.from_features(ALL)
    assert widedeep.wide_features == SPARSE and widedeep.deep_features == ALL
    autoint = AutoInt.from_features(ALL, num_heads=4)
    assert autoint.sparse_features == EMBEDDED and autoint.dense_features == [PRICE, VEC]
    din = DIN.from_features(ALL)
    assert din.history_features == [HIST] and din.target_features == [ITEM]
    assert din.features == [USER, CAT, TAGS, PRICE, VEC]
    dcn = DCN.from_features(ALL, n_cross_layers=1)
    assert dcn.cn.num_layers == 1


def test_from_features_rejects_unknown_params() -> None:
    with pytest.raises(ConfigError, match="unknown parameter 'num_heads' for DeepFM"):
        DeepFM.from_features(ALL, num_heads=2)
    with pytest.raises(ConfigError, match="unknown parameter 'mlp_params' for LR"):
        LR.from_features(ALL, mlp_params=MLP)


def test_din_from_features_needs_a_history_with_a_target() -> None:
    with pytest.raises(ConfigError, match="din needs a SequenceFeature with shared_with"):
        DIN.from_features([*SPARSE, TAGS, PRICE])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: DCN(ALL, 2, {"dims": [8], "hidden": 3}), "unknown mlp_params key 'hidden'"),
        (lambda: DCN(ALL, 2, {"dims": []}), "at least one hidden layer"),
        (lambda: DCN(ALL, 2, {"dims": [8], "output_layer": True}), "output_layer"),
        (lambda: DeepFM(ALL, [*SPARSE, SparseFeature("wide", 4, 16)], MLP), "one embed_dim"),
        (lambda: DCNv2(ALL, 2, MLP, model_structure="serial"), "unknown model_structure 'serial'"),
        (lambda: AutoInt(ALL), "DenseFeature 'price' belongs in dense_features"),
        (lambda: DIN([USER], [HIST], [], MLP), "pairs history_features"),
        (lambda: DIN([USER], [HIST], [ITEM], MLP, {"size": 3}), "unknown attention_mlp_params key 'size'"),
        (lambda: DeepFM(ALL, [SequenceFeature("s", 4, 8, pooling="concat")], MLP), "pooling='concat'"),
    ],
)
def test_constructor_errors_are_config_errors(build: Callable[[], RankingModel], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()
