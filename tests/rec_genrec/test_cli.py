"""``rec train rqvae``, ``rec genrec semantic-ids`` and ``rec train tiger`` through the command line.

On torch-rechub's 100-rating MovieLens-1M sample (93 titled movies), with the hashing text
encoder and tiny models, so the whole chain runs in seconds; bad input is one line.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from rec_core.cli import build_app
from rec_core.plugins import make_plugin_manager

from ..rec_core.cli_checks import fails_with, runner, snapshot
from ..rec_core.test_cli import _rec_executable

DATA = ["--data", "ml-1m-sample"]
TINY_RQVAE = ["--text-encoder", "hashing:32", "--set", "max_epochs=3", "--set", "batch_size=32",
              "--set", "hidden_dim=32", "--set", "latent_dim=8", "--set", "num_embeddings=8"]
TINY_TIGER = ["--set", "max_epochs=2", "--set", "batch_size=16", "--set", "embedding_dim=32", "--set", "num_heads=2",
              "--set", "num_layers=1", "--set", "attn_dim=32", "--set", "num_user_buckets=10",
              "--set", "codebook_size=8", "--set", "num_beams=20"]


@pytest.fixture(scope="module")
def app():
    path = Path(os.environ.get("REC_DATA_DIR", "-")) / "rechub-samples" / "ml-1m"
    if not path.is_dir():
        pytest.skip(f"needs the shared real data sets: set REC_DATA_DIR (got {path.parent.parent})")
    pm = make_plugin_manager()
    if "ml-1m-sample" not in pm.registry("datasets"):
        pytest.skip("the ml-1m-sample data set comes with rec-trainers, which is not installed here")
    return build_app(pm)


def _summary(app, *args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def rqvae_run(app, tmp_path_factory):
    out = tmp_path_factory.mktemp("rqvae") / "run"
    summary = _summary(app, "train", "rqvae", *DATA, *TINY_RQVAE, "--output", str(out))
    return out, summary


@pytest.fixture(scope="module")
def semantic_ids(app, rqvae_run, tmp_path_factory):
    target = tmp_path_factory.mktemp("ids") / "ids.csv"
    result = _summary(app, "genrec", "semantic-ids", str(rqvae_run[0]), "--output", str(target))
    return target, result


def test_rqvae_run_reports_reconstruction_and_codebook_metrics(rqvae_run):
    out, summary = rqvae_run
    assert summary["task"] == "rqvae" and summary["data"] == "ml-1m-sample" and summary["epochs"] == 3
    for name in ("test/cosine_similarity", "test/mse", "test/perplexity_l0", "test/perplexity_l2",
                 "test/collision_rate"):
        assert name in summary["test"], name
    description = json.loads((out / "model.json").read_text())
    assert description["model_params"]["input_dim"] == 32  # follows the text encoder
    assert description["text_encoder"] == "hashing:32"


def test_semantic_ids_cover_the_catalogue_and_are_unique(semantic_ids):
    target, result = semantic_ids
    table = pd.read_csv(target)
    assert result["items"] == len(table) == 93 and result["levels"] == 4
    assert table["item_id"].tolist() == list(range(1, 94))
    codes = table[["code_0", "code_1", "code_2", "code_3"]]
    assert not codes.duplicated().any()  # the collision code makes every ID unique
    assert codes[["code_0", "code_1", "code_2"]].max().max() < 8  # the RQ-VAE's 8 codes per level


def test_semantic_ids_never_overwrite_an_output(app, rqvae_run, semantic_ids):
    target, _ = semantic_ids
    before = target.read_bytes()
    fails_with(app, ["genrec", "semantic-ids", str(rqvae_run[0]), "--output", str(target)], "already exists")
    assert target.read_bytes() == before


def test_tiger_trains_on_exported_ids_and_reports_generation_metrics(app, semantic_ids, tmp_path):
    summary = _summary(app, "train", "tiger", *DATA, "--semantic-ids", str(semantic_ids[0]), *TINY_TIGER,
                       "--output", str(tmp_path / "tiger"))
    assert summary["task"] == "tiger" and summary["monitor"] == "val/ndcg@10"
    for name in ("test/recall@5", "test/recall@10", "test/ndcg@5", "test/ndcg@10"):
        assert 0.0 <= summary["test"][name] <= 1.0, name
    description = json.loads((tmp_path / "tiger" / "model.json").read_text())
    assert description["model_params"]["num_levels"] == 4 and description["model_params"]["codebook_size"] == 8
    assert description["semantic_ids"] == str(semantic_ids[0])


def test_tiger_reads_the_ids_from_an_rqvae_run_as_the_export_does(app, rqvae_run, semantic_ids, tmp_path):
    from rec_genrec.runs import load_rqvae, semantic_ids_of

    pm = make_plugin_manager()
    data = pm.registry("datasets").get("ml-1m-sample").load().load()
    table = semantic_ids_of(load_rqvae(rqvae_run[0]), data)
    exported = pd.read_csv(semantic_ids[0])[["code_0", "code_1", "code_2", "code_3"]].to_numpy()
    assert (table[1:].numpy() == exported).all()
    summary = _summary(app, "train", "tiger", *DATA, "--rqvae", str(rqvae_run[0]), *TINY_TIGER,
                       "--set", "max_epochs=1", "--output", str(tmp_path / "tiger"))
    assert "test/ndcg@10" in summary["test"]


def test_bad_genrec_input_is_one_line_and_writes_nothing(app, rqvae_run, tmp_path):
    fails_with(app, ["train", "tiger", *DATA, "--output", str(tmp_path / "a")], "--semantic-ids FILE")
    fails_with(app, ["train", "rqvae", "--data", "diginetica-sample", "--text-encoder", "hashing:8",
                     "--output", str(tmp_path / "b")], "has no item text")
    fails_with(app, ["train", "rqvae", *DATA, "--text-encoder", "hashng", "--output", str(tmp_path / "c")],
               "hashng")
    fails_with(app, ["train", "rqvae", *DATA, *TINY_RQVAE, "--set", "model.input_dim=5",
                     "--output", str(tmp_path / "d")], "model.input_dim=5")
    fails_with(app, ["train", "tiger", "--data", "frappe", "--semantic-ids", "x.csv", "--output", str(tmp_path / "e")],
               "is for task 'ctr'")
    assert not any((tmp_path / name).exists() for name in "abcde")
    before = snapshot(rqvae_run[0])
    fails_with(app, ["genrec", "semantic-ids", str(tmp_path), "--output", str(tmp_path / "ids.csv")], "run.json")
    fails_with(app, ["genrec", "semantic-ids", str(rqvae_run[0]), "--output", str(tmp_path / "ids.txt")],
               ".csv or .npy")
    assert snapshot(rqvae_run[0]) == before


def test_rec_recommend_generates_unseen_catalogue_items_for_a_tiger_run(app, semantic_ids, tmp_path, monkeypatch):
    from rec_core.datasets import user_sequences

    monkeypatch.chdir(tmp_path)  # trained with a relative --semantic-ids; the run records it absolute
    run, ids = tmp_path / "tiger", tmp_path / "ids.csv"
    ids.write_bytes(semantic_ids[0].read_bytes())
    _summary(app, "train", "tiger", *DATA, "--semantic-ids", "ids.csv", *TINY_TIGER, "--output", str(run))
    data = make_plugin_manager().registry("datasets").get("ml-1m-sample").load().load()
    known = user_sequences(data.interactions, ("train", "val", "test"))
    code = int(known.lengths().argmax())  # the user who knows the most items: the most to leave out
    user = data.interactions.user_ids[code]
    seen = {data.items.ids[i] for i in known.items[known.offsets[code] : known.offsets[code + 1]]}
    monkeypatch.chdir(tmp_path.parent)  # recommend from elsewhere: the recorded path still finds the IDs
    result = _summary(app, "recommend", str(run), "--user", str(user), "--k", "5")
    items = [entry["item"] for entry in result["items"]]
    assert len(items) == 5 and len(set(items)) == 5 and [e["rank"] for e in result["items"]] == [1, 2, 3, 4, 5]
    assert not set(items) & seen and set(items) <= set(data.items.ids[1:])
    assert result["user"] == str(user) and result["history"] == int(known.lengths()[code]) > 1
    assert _summary(app, "recommend", str(run), "--user", str(user), "--k", "5") == result  # beam search: stable
    installed = subprocess.run([_rec_executable(), "recommend", str(run), "--user", str(user), "--k", "5", "--json"],
                               capture_output=True, text=True, timeout=300)  # what a user types
    assert installed.returncode == 0, installed.stderr[-2000:]
    assert json.loads(installed.stdout) == result
    fails_with(app, ["recommend", str(run), "--user", "nobody"], "unknown user 'nobody'")
    fails_with(app, ["export-index", str(run)], "is a TIGER run: it generates items from semantic IDs")
    ids.unlink()
    before = snapshot(run)
    fails_with(app, ["recommend", str(run), "--user", str(user)],
               f"the run's semantic IDs (semantic_ids {ids.resolve()}) are gone")
    assert snapshot(run) == before


def test_every_config_key_of_the_genrec_trainers_is_documented() -> None:
    from rec_core.config_docs import describe_settings
    from rec_genrec import RQVAETrainer, TIGERTrainer

    for trainer in (RQVAETrainer, TIGERTrainer):
        assert [d.name for d in describe_settings(trainer.default_config()) if not d.description] == [], trainer
