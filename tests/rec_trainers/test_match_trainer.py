"""MatchTrainer: learning on MovieLens, the rec train match / recommend / export-index commands, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from rec_core.cli import build_app
from rec_trainers.trainers.match import MatchTrainer

from ..rec_core.cli_checks import fails_with, runner


@pytest.fixture(scope="module")
def app(pm):
    return build_app(pm)


@pytest.fixture(scope="module")
def ml100k(pm):
    if not (Path(os.environ.get("REC_DATA_DIR", "-")) / "movielens-100k-recbole").is_dir():
        pytest.skip("needs MovieLens-100K from the shared data: set REC_DATA_DIR")
    return pm.registry("datasets").get("ml-100k").load().load(seed=2022)


def _trainer(pm, data, tmp_path, model="dssm", **settings):
    from rec_trainers.trainers._match_data import match_columns

    base = {"device": "cpu", "model_path": str(tmp_path), "progress_bar": False, "in_batch_neg": True,
            "mode": 2, "temperature": 0.05, "max_epochs": 3, "batch_size": 256, "history_len": 30}
    base.update(settings)
    torch.manual_seed(0)
    features = match_columns(data, base["history_len"], 32).features
    factory = pm.registry("models").get(model, task="match").load()
    return MatchTrainer(factory.from_features(features), **base)


def _popularity_recall(data, queries, k=20):
    interactions = data.interactions
    counts = np.bincount(interactions.items[interactions.part == 0], minlength=data.items.n_items).astype(float)
    counts[0] = -1
    hits = 0
    for row in range(len(queries)):
        scores = counts.copy()
        scores[queries.exclude.take(torch.tensor([row])).items.numpy()] = -1
        hits += int(queries.targets.items[row]) in set(np.argsort(-scores, kind="stable")[:k].tolist())
    return hits / len(queries)


def test_dssm_with_in_batch_negatives_beats_popularity_where_a_blind_user_tower_cannot(pm, ml100k, tmp_path):
    trainer = _trainer(pm, ml100k, tmp_path / "a")
    loaders = trainer.make_loaders(ml100k)
    popular = _popularity_recall(ml100k, loaders["test"])
    trainer.fit(loaders["train"], loaders["val"], verbose=False)
    trained = trainer.evaluate(loaders["test"])["recall@20"]

    blind = _trainer(pm, ml100k, tmp_path / "b")
    blind_loaders = blind.make_loaders(ml100k)
    user_columns = [n for n in blind_loaders["train"].dataset.x if n.startswith("user") or n.startswith("hist")]
    for name in user_columns:  # the broken model: its user tower sees the same input for everyone
        blind_loaders["train"].dataset.x[name].zero_()
        blind_loaders["test"].inputs[name].zero_()
        blind_loaders["val"].inputs[name].zero_()
    blind.fit(blind_loaders["train"], blind_loaders["val"], verbose=False)
    ignorant = blind.evaluate(blind_loaders["test"])["recall@20"]
    assert trained >= 1.4 * popular, (trained, popular)
    assert ignorant <= 1.15 * popular, (ignorant, popular)


def test_pair_wise_bpr_and_point_wise_training_learn(pm, ml100k, tmp_path):
    for name, settings in (("bpr", {"mode": 1}), ("point", {"mode": 0, "in_batch_neg": False, "train_negatives": 2,
                                                           "temperature": 1.0, "max_epochs": 1})):
        trainer = _trainer(pm, ml100k, tmp_path / name, **settings)
        loaders = trainer.make_loaders(ml100k)
        before = trainer.evaluate(loaders["test"], load_best_model=False)["ndcg@20"]
        trainer.fit(loaders["train"], loaders["val"], verbose=False)
        assert trainer.evaluate(loaders["test"])["ndcg@20"] > 2 * before, name


def test_rec_train_match_recommend_and_export_index_agree_with_faiss(app, ml100k, tmp_path):
    faiss = pytest.importorskip("faiss", reason='the faiss extra is not installed (pip install "rec-trainers[faiss]")')
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "match", "--data", "ml-100k", "--epochs", "1", "--output", str(out),
                                 "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert {"test/recall@20", "test/ndcg@20", "test/recall@50", "test/mrr"} <= set(summary["test"])
    assert summary["test"]["test/recall@20"] > 0.15  # one epoch already beats popularity's 0.126
    # ml-100k's match recipe times the first steps per thread count and trains on the fastest
    assert 'cpu_threads = "auto"' in (out / "config.toml").read_text()
    assert summary["cpu_threads"] in {max(1, torch.get_num_threads() >> shift) for shift in range(8)}
    answer = runner.invoke(app, ["recommend", str(out), "--user", "1", "--k", "10", "--json"])
    assert answer.exit_code == 0, answer.output
    items = [entry["item"] for entry in json.loads(answer.output)["items"]]
    seen = {ml100k.items.ids[i] for i in ml100k.interactions.items[ml100k.interactions.users == 1]}
    assert len(items) == 10 and not set(items) & seen

    exported = runner.invoke(app, ["export-index", str(out), "--faiss", "--json"])
    assert exported.exit_code == 0, exported.output
    index_dir = out / "index"
    vectors = np.load(index_dir / "item_embeddings.npy")
    ids = json.loads((index_dir / "item_ids.json").read_text())
    assert vectors.shape == (1682, json.loads(exported.output)["dim"]) and ids == ml100k.items.ids[1:]
    queries = np.random.default_rng(0).standard_normal((20, vectors.shape[1])).astype(np.float32)
    exact = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :10]
    _, found = faiss.read_index(str(index_dir / "items.faiss")).search(queries, 10)
    assert (found == exact).all()  # random queries: no ties
    fails_with(app, ["export-index", str(out)], "already exists")


def test_bad_requests_are_one_line(app, ml100k, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "match", "--data", "ml-100k", "--epochs", "1", "--output", str(out)])
    assert result.exit_code == 0, result.output
    fails_with(app, ["recommend", str(out), "--user", "99999"], "unknown user '99999'")
    fails_with(app, ["train", "match", "--data", "ml-100k", "--set", "match_mode=1", "--set", "in_batch_neg=false",
                     "--output", str(tmp_path / "x")], "in_batch_neg=true")
    fails_with(app, ["train", "match", "--data", "ml-100k", "--set", "match_mode=3", "--output", str(tmp_path / "y")],
               "match_mode")
    ctr = tmp_path / "ctr"
    assert runner.invoke(app, ["train", "ctr", "--epochs", "1", "--output", str(ctr)]).exit_code == 0
    fails_with(app, ["export-index", str(ctr)], "rec export-index works for runs that rank items")


def test_a_user_file_with_side_tables_trains(app, tmp_path):
    generator = np.random.default_rng(1)
    rows = ["visitor,product,when"] + [f"u{u},p{int(generator.integers(0, 30))},{t}" for u in range(40) for t in
                                      range(8)]
    (tmp_path / "events.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "users.csv").write_text("visitor,city\n" + "\n".join(f"u{u},c{u % 3}" for u in range(40)) + "\n")
    (tmp_path / "items.csv").write_text("product,tags\n" + "\n".join(f"p{i},t{i % 4} t{i % 5}" for i in range(30)))
    result = runner.invoke(app, [
        "train", "match", "--data", str(tmp_path / "events.csv"), "--user-col", "visitor", "--item-col", "product",
        "--time-col", "when", "--users", str(tmp_path / "users.csv"), "--items", str(tmp_path / "items.csv"),
        "--epochs", "1", "--set", "batch_size=32", "--output", str(tmp_path / "run"), "--json",
    ])
    assert result.exit_code == 0, result.output
    features = {f["name"] for f in json.loads((tmp_path / "run" / "model.json").read_text())["features"]}
    assert {"user_city", "item_tags", "hist_item_id", "item_id", "user_id"} <= features
    answer = runner.invoke(app, ["recommend", str(tmp_path / "run"), "--user", "u3", "--k", "3", "--json"])
    assert answer.exit_code == 0, answer.output


def test_every_registered_match_model_trains_from_the_command_line(app, pm, tmp_path):
    if not (Path(os.environ.get("REC_DATA_DIR", "-")) / "rechub-samples" / "ml-1m").is_dir():
        pytest.skip("needs torch-rechub's ml-1m sample: set REC_DATA_DIR")
    models = pm.registry("models").names(task="match")
    assert models == ["comirec-dr", "comirec-sa", "dssm", "mind", "youtubednn"]
    for model in models:
        result = runner.invoke(app, ["train", "match", "--data", "ml-1m-sample", "--model", model, "--epochs", "1",
                                     "--set", "batch_size=16", "--output", str(tmp_path / model), "--json"])
        assert result.exit_code == 0, (model, result.output)
        assert "test/recall@20" in json.loads(result.output.strip().splitlines()[-1])["test"]


def test_torch_rechub_defaults_hold_without_a_config(pm, ml100k, tmp_path):
    from rec_trainers.trainers._match_data import match_columns

    features = match_columns(ml100k, 10, 8).features
    model = pm.registry("models").get("dssm", task="match").load().from_features(features)
    trainer = MatchTrainer(model, device="cpu", model_path=str(tmp_path))
    assert (trainer.config.match_mode, trainer.config.in_batch_neg, trainer.config.max_epochs) == (0, False, 10)
    assert MatchTrainer.default_config().in_batch_neg  # rec train match's own default
