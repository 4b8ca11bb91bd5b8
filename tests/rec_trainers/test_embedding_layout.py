"""The fused embedding layout: same values, gradients, training and checkpoints as per-field tables.

``EmbeddingLayer.set_embedding_layout("fused")`` stacks the plain tables of one width in a
``FusedEmbedding`` (one gather for the sparse fields of a ``flat``/``fields`` call). Every
test compares it with the per-field layout on the CPU; the GPU test runs where CUDA exists.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

from rec_core import ConfigError, DataError, TrainingConfig
from rec_core.data import ColumnarLoader
from rec_core.features import DenseFeature, SequenceFeature, SparseFeature
from rec_core.trainer._layout import resolve_embedding_layout
from rec_trainers import CTRTrainer
from rec_trainers.layers import EmbeddingLayer
from rec_trainers.layers.fused import FusedEmbedding
from rec_trainers.models.ranking import DeepFM

B = 16


def _features() -> list[Any]:
    return [
        SparseFeature("user", vocab_size=30, embed_dim=8, padding_idx=0),
        SparseFeature("item", vocab_size=40, embed_dim=8),
        SparseFeature("city", vocab_size=5, embed_dim=8, padding_idx=0),
        SequenceFeature("hist_item", vocab_size=40, embed_dim=8, pooling="mean", shared_with="item", padding_idx=0),
        SparseFeature("wide", vocab_size=20, embed_dim=4),  # alone at width 4: stays per field
        DenseFeature("price"),
    ]


def _batch(seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    hist = torch.randint(0, 40, (B, 6), generator=gen)
    hist[:, :2] = 0
    user = torch.randint(0, 30, (B,), generator=gen)
    user[:3] = 0  # the padding id of "user": its row must get no gradient
    return {"user": user, "item": torch.randint(0, 40, (B,), generator=gen),
            "city": torch.randint(0, 5, (B,), generator=gen), "hist_item": hist,
            "wide": torch.randint(0, 20, (B,), generator=gen), "price": torch.rand(B, generator=gen)}


def _pair() -> tuple[EmbeddingLayer, EmbeddingLayer]:
    torch.manual_seed(0)
    per_field = EmbeddingLayer(_features())
    fused = copy.deepcopy(per_field)
    fused.set_embedding_layout("fused")
    return per_field, fused


def test_fusing_stacks_the_plain_tables_of_one_width_and_keeps_the_others() -> None:
    per_field, fused = _pair()
    assert per_field.layout == "per-field" and fused.layout == "fused"
    assert list(fused.embed_dict) == ["wide"]
    (table,) = fused.fused_tables.values()
    assert isinstance(table, FusedEmbedding) and list(table.parts) == ["user", "item", "city"]
    assert table.weight.shape == (30 + 40 + 5, 8)
    assert [p.offset for p in table.parts.values()] == [0, 30, 70]
    with pytest.raises(ConfigError, match="no table of its own in the fused embedding layout"):
        fused.table(_features()[0])
    assert fused.owner(_features()[3]) == "item"


def test_fused_lookups_give_the_per_field_values_and_gradients() -> None:
    per_field, fused = _pair()
    x = _batch()
    features = _features()
    out_a, out_b = per_field.flat(x, features), fused.flat(x, features)
    # The sparse fields are the same rows; the history is pooled by one embedding_bag in the fused
    # layout (the same mean, summed in another order).
    assert torch.equal(per_field.fields(x, features[:3]), fused.fields(x, features[:3]))
    torch.testing.assert_close(out_b, out_a, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(fused.fields(x, features[:4]), per_field.fields(x, features[:4]), rtol=1e-6, atol=1e-6)
    upstream = torch.randn_like(out_a)
    out_a.backward(upstream)
    out_b.backward(upstream)
    (table,) = fused.fused_tables.values()
    for name in ("user", "item", "city"):
        part = table.parts[name]
        grad = table.weight.grad[part.offset : part.offset + part.rows]
        torch.testing.assert_close(grad, per_field.embed_dict[name].weight.grad, rtol=0, atol=1e-6)
    assert torch.count_nonzero(table.weight.grad[0]) == 0  # "user"'s padding row
    assert torch.count_nonzero(table.weight.grad[70]) == 0  # "city"'s padding row
    assert torch.count_nonzero(table.weight.grad[30]) > 0 or not bool((x["item"] == 0).any())


@pytest.mark.parametrize("pooling", ["mean", "sum"])
def test_a_fused_history_pools_in_one_embedding_bag_like_the_per_field_one(pooling: str) -> None:
    features = [SparseFeature("item", vocab_size=40, embed_dim=8),
                SequenceFeature("hist", vocab_size=40, embed_dim=8, pooling=pooling, shared_with="item", padding_idx=0),
                SparseFeature("tag", vocab_size=9, embed_dim=8, padding_idx=3)]
    torch.manual_seed(0)
    per_field = EmbeddingLayer(features)
    fused = copy.deepcopy(per_field)
    fused.set_embedding_layout("fused")
    hist = torch.tensor([[0, 0, 5, 7], [0, 0, 0, 0], [1, 2, 3, 39]])  # a history of padding only in row 1
    x = {"item": torch.tensor([1, 2, 3]), "hist": hist, "tag": torch.tensor([3, 4, 5])}
    a, b = per_field.pooled(x, features[1]), fused.pooled(x, features[1])
    torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-6)
    assert torch.count_nonzero(b[1]) == 0
    b.sum().backward()
    a.sum().backward()
    (table,) = fused.fused_tables.values()
    torch.testing.assert_close(table.weight.grad[:40], per_field.embed_dict["item"].weight.grad, rtol=1e-6, atol=1e-6)
    assert torch.count_nonzero(table.weight.grad[0]) == 0  # padding positions pass no gradient
    with pytest.raises(DataError, match=r"id 40 of feature 'item' is outside its table \(40 rows\)"):
        fused.pooled({**x, "hist": torch.tensor([[1, 40]])}, features[1])


def test_the_state_dict_keeps_the_per_field_names_and_loads_across_layouts() -> None:
    per_field, fused = _pair()
    a, b = per_field.state_dict(), fused.state_dict()
    assert sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)
    with torch.no_grad():
        for table in per_field.embed_dict.values():
            table.weight.add_(1.0)
    fused.load_state_dict(per_field.state_dict())
    torch.testing.assert_close(fused.flat(_batch(), _features()), per_field.flat(_batch(), _features()), rtol=1e-6,
                               atol=1e-6)
    back = copy.deepcopy(fused)
    back.set_embedding_layout("per-field")
    assert back.layout == "per-field" and not back.fused_tables
    assert all(torch.equal(back.state_dict()[k], per_field.state_dict()[k]) for k in a)
    assert back.embed_dict["user"].padding_idx == 0
    wrong = {k: v[:-1] if k.endswith("item.weight") else v for k, v in per_field.state_dict().items()}
    with pytest.raises(RuntimeError, match=r"size mismatch for embed_dict\.item\.weight"):
        fused.load_state_dict(wrong)
    partial = {k: v + 1.0 for k, v in per_field.state_dict().items() if not k.endswith("city.weight")}
    with pytest.raises(RuntimeError, match=r"Missing key\(s\) in state_dict: \"embed_dict\.city\.weight\"\. $"):
        fused.load_state_dict(partial)
    before = fused.state_dict()["embed_dict.city.weight"].clone()
    result = fused.load_state_dict(partial, strict=False)
    assert result.missing_keys == ["embed_dict.city.weight"] and not result.unexpected_keys
    after = fused.state_dict()
    assert torch.equal(after["embed_dict.city.weight"], before)  # kept its rows
    assert torch.equal(after["embed_dict.user.weight"], partial["embed_dict.user.weight"])  # the others loaded


def test_an_id_outside_its_field_is_refused_not_read_from_the_next_field() -> None:
    _, fused = _pair()
    x = _batch()
    x["user"][4] = 30  # "user" has 30 rows; row 30 of the stacked weight is "item"'s id 0
    with pytest.raises(DataError, match=r"id 30 of feature 'user' is outside its table \(30 rows\)"):
        fused.flat(x, _features())
    with pytest.raises(ConfigError, match="embedding layout must be one of per-field, fused"):
        fused.set_embedding_layout("packed")


def _ctr_data(n: int = 256) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    x = {f"c{i}": torch.randint(0, 12 + i, (n,), generator=gen) for i in range(5)}
    x["d"] = torch.rand(n, generator=gen)
    y = ((x["c0"] + x["c1"]) % 3 == 0).float()
    return x, y


def _deepfm() -> DeepFM:
    sparse = [SparseFeature(f"c{i}", vocab_size=12 + i, embed_dim=6) for i in range(5)]
    torch.manual_seed(3)
    return DeepFM(deep_features=[DenseFeature("d"), *sparse], fm_features=sparse, mlp_params={"dims": [16]})


def _train(tmp_path, layout: str, device: str = "cpu") -> tuple[CTRTrainer, dict[str, torch.Tensor]]:
    x, y = _ctr_data()
    trainer = CTRTrainer(_deepfm(), device=device, model_path=str(tmp_path / layout), progress_bar=False,
                         max_epochs=2, batch_size=32, embedding_layout=layout, random_seed=0)
    loader = ColumnarLoader(x, y, batch_size=32, shuffle=True, seed=0)
    trainer.fit(loader, verbose=False, saved=False)
    return trainer, {k: v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()}


def test_a_trainer_puts_the_model_in_the_configured_layout_and_trains_it_the_same(tmp_path) -> None:
    per_field, weights_a = _train(tmp_path, "auto")
    fused, weights_b = _train(tmp_path, "fused")
    assert per_field.embedding_layout == "per-field"  # "auto" on the CPU
    assert fused.embedding_layout == "fused"
    assert any(isinstance(m, FusedEmbedding) for m in fused.model.modules())
    assert weights_a.keys() == weights_b.keys()
    for name in weights_a:
        torch.testing.assert_close(weights_b[name], weights_a[name], rtol=1e-5, atol=1e-6, msg=name)
    assert resolve_embedding_layout("auto", torch.device("cuda", 0)) == "fused"
    with pytest.raises(ConfigError, match="config key 'embedding_layout' must be one of auto, per-field, fused"):
        TrainingConfig(embedding_layout="stacked")
    with pytest.raises(ConfigError, match="sparse_embeddings needs embedding_layout='per-field'"):
        CTRTrainer(_deepfm(), device="cpu", model_path=str(tmp_path / "s"), embedding_layout="fused",
                   sparse_embeddings=True)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_auto_fuses_and_trains_like_the_cpu(tmp_path) -> None:
    gpu, weights_gpu = _train(tmp_path, "auto", device="cuda")
    assert gpu.embedding_layout == "fused"
    _, weights_cpu = _train(tmp_path, "per-field")
    for name in weights_cpu:
        torch.testing.assert_close(weights_gpu[name], weights_cpu[name], rtol=1e-3, atol=1e-4, msg=name)
