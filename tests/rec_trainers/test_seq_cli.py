"""``rec train seq`` and ``rec recommend`` through the command line: tables, summaries, recipes, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rec_core.cli import build_app
from rec_core.cli._train import build_request, recipe_for

from ..rec_core.cli_checks import fails_with, runner, snapshot

FAST = ["--set", "model.embed_dim=16", "--set", "model.max_len=10", "--epochs", "1", "--batch-size", "32"]


@pytest.fixture(scope="module")
def app(pm):
    return build_app(pm)


def _samples() -> None:
    path = Path(os.environ.get("REC_DATA_DIR", "-")) / "rechub-samples" / "diginetica"
    if not path.is_dir():
        pytest.skip(f"needs the shared real data sets: set REC_DATA_DIR (got {path.parent.parent})")


def _train(app, *args):
    result = runner.invoke(app, ["train", "seq", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def _sequence_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "sequences.txt"
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.fixture(scope="module")
def diginetica_run(app, tmp_path_factory):
    _samples()
    out = tmp_path_factory.mktemp("seq") / "run"
    summary = _train(app, "--data", "diginetica-sample", "--model", "sasrec", *FAST, "--output", str(out))
    return out, summary


def test_a_run_reports_full_ranking_metrics_under_their_plain_names(diginetica_run):
    out, summary = diginetica_run
    expected = {f"{metric}@{k}" for metric in ("recall", "ndcg", "hit", "mrr") for k in (5, 10, 20)}
    expected |= {"mrr", "loss", "accuracy"}
    assert set(summary["test"]) == {f"test/{name}" for name in expected}
    assert {f"val/{name}" for name in expected} <= set(summary["best"])
    assert summary["monitor"] == "val/ndcg@10" and summary["info"]["dropped_users"] == 41
    assert json.loads((out / "summary.json").read_text())["test"] == summary["test"]
    description = json.loads((out / "model.json").read_text())
    assert description["model"] == "sasrec" and description["model_params"]["max_len"] == 10


def test_the_table_names_the_ranking_metrics(app, tmp_path):
    _samples()
    result = runner.invoke(app, ["train", "seq", "--data", "yoochoose-sample", "--model", "gru4rec", *FAST,
                                 "--output", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "test/recall@10" in result.output and "test/ndcg@10" in result.output


def test_recommend_prints_original_ids_and_never_a_known_item(app, pm, diginetica_run):
    out, _ = diginetica_run
    from rec_trainers.datasets import DIGINETICA_SAMPLE

    data = DIGINETICA_SAMPLE.load()
    interactions = data.interactions
    user = interactions.user_ids[1]
    result = runner.invoke(app, ["recommend", str(out), "--user", user, "--k", "5", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    known = {data.items.ids[i] for i in interactions.items[interactions.users == 1]}
    items = [entry["item"] for entry in answer["items"]]
    assert len(items) == 5 and len(set(items)) == 5 and not set(items) & known
    assert set(items) <= set(data.items.ids[1:]) and answer["history"] == len(known)
    table = runner.invoke(app, ["recommend", str(out), "--user", user, "--k", "3"])
    assert table.exit_code == 0 and items[0] in table.output


def test_recommend_refuses_an_unknown_user_and_a_run_of_another_task(app, diginetica_run, tmp_path):
    out, _ = diginetica_run
    fails_with(app, ["recommend", str(out), "--user", "no-such-user"], "unknown user 'no-such-user'")
    ctr = tmp_path / "ctr"
    result = runner.invoke(app, ["train", "ctr", "--epochs", "1", "--output", str(ctr)])
    assert result.exit_code == 0, result.output
    fails_with(app, ["recommend", str(ctr), "--user", "1"], "rec recommend works for runs that rank items")


def test_a_user_table_with_named_columns_trains(app, tmp_path):
    rows = ["visitor,product,when"] + [f"u{u},p{(u * 7 + t) % 23},{t}" for u in range(30) for t in range(6)]
    path = tmp_path / "events.csv"
    path.write_text("\n".join(rows) + "\n")
    summary = _train(app, "--data", str(path), "--user-col", "visitor", "--item-col", "product", "--time-col",
                     "when", *FAST, "--output", str(tmp_path / "run"))
    assert summary["info"]["users"] == 30 and summary["info"]["items"] == 23
    answer = runner.invoke(app, ["recommend", str(tmp_path / "run"), "--user", "u3", "--json"])
    assert answer.exit_code == 0, answer.output
    assert all(entry["item"].startswith("p") for entry in json.loads(answer.output)["items"])


def test_bad_input_is_one_line_naming_file_and_line_and_writes_nothing(app, tmp_path):
    out = tmp_path / "run"
    bad = _sequence_file(tmp_path, ["1 3 4 5", "2 4 x7 9"])
    fails_with(app, ["train", "seq", "--data", str(bad), *FAST, "--output", str(out)],
               f"{bad} line 2: 'x7' is not an integer id")
    short = _sequence_file(tmp_path, ["1 3 4", "2 4"])
    fails_with(app, ["train", "seq", "--data", str(short), *FAST, "--set", "data.min_user_interactions=4",
                     "--output", str(out)], "has 4 or more interactions")
    good = _sequence_file(tmp_path, [f"{u} {u + 1} {u + 2} {u + 3} {u + 4}" for u in range(1, 20)])
    fails_with(app, ["train", "seq", "--data", str(good), "--model", "sasrec", "--set", "model.num_heads=3",
                     "--set", "model.embed_dim=16", "--output", str(out)], "num_heads (3) must divide embed_dim (16)")
    fails_with(app, ["train", "seq", "--data", str(good), "--set", "model.colour=1", "--output", str(out)],
               "colour")
    assert not out.exists()


def test_users_too_short_for_leave_one_out_are_dropped_and_counted(app, tmp_path):
    lines = [f"{u} {u + 1} {u + 2} {u + 3} {u + 4}" for u in range(1, 20)] + ["100 1 2", "101 5"]
    summary = _train(app, "--data", str(_sequence_file(tmp_path, lines)), *FAST, "--output", str(tmp_path / "r"))
    assert summary["info"]["dropped_users"] == 2 and summary["info"]["users"] == 19


def test_a_registered_data_set_brings_its_tuned_recipe(pm, tmp_path):
    values, model = recipe_for(pm, "amazon-beauty", "sasrec", "seq")
    assert values["max_epochs"] >= 50 and model["dropout_rate"] > 0
    request = build_request(pm, "seq", model="sasrec", data="amazon-beauty", output=tmp_path / "a")
    assert request.config.batch_size == values["batch_size"] and request.model_params == model
    overridden = build_request(pm, "seq", model="sasrec", data="amazon-beauty", output=tmp_path / "b",
                               sets=["batch_size=7", "model.dropout_rate=0.1"])
    assert overridden.config.batch_size == 7 and overridden.model_params["dropout_rate"] == 0.1
    assert recipe_for(pm, "amazon-beauty", "narm", "seq")[1] == {}  # options of another model are not applied
    assert recipe_for(pm, "criteo-sample", "deepfm", "ctr") == ({}, {})  # a data set without one
    assert recipe_for(pm, "amazon-beauty", "dssm", "match") == ({}, {})  # another task's table is not applied


def test_a_failed_run_leaves_an_existing_run_untouched(app, diginetica_run):
    out, _ = diginetica_run
    before = snapshot(out)
    fails_with(app, ["train", "seq", "--data", "diginetica-sample", "--set", "loss_type=hinge",
                     "--output", str(out)], "loss_type")
    assert snapshot(out) == before


def test_the_installed_rec_command_trains_recommends_and_exports(tmp_path):
    """What a user types, through the installed console script: train, recommend, export, and a bad call."""
    import subprocess

    from ..rec_core.test_cli import _rec_executable

    _samples()
    rec, out = _rec_executable(), tmp_path / "run"

    def run(*args):
        return subprocess.run([rec, *args], capture_output=True, text=True, timeout=300)

    trained = run("train", "seq", "--data", "diginetica-sample", *FAST, "--output", str(out), "--json")
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "test/ndcg@10" in json.loads(trained.stdout.strip().splitlines()[-1])["test"]
    recommended = run("recommend", str(out), "--user", "1", "--k", "3", "--json")  # session 1 of the sample
    assert recommended.returncode == 0, recommended.stderr
    assert len(json.loads(recommended.stdout)["items"]) == 3
    exported = run("export-index", str(out), "--json")
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["items"] == len(json.loads((out / "index" / "item_ids.json").read_text()))
    before = snapshot(out)
    unknown = run("recommend", str(out), "--user", "nobody")
    assert unknown.returncode == 1 and unknown.stderr.strip() == (
        "error: unknown user 'nobody': not in the run's data 'diginetica-sample' (53 users)")
    again = run("export-index", str(out))
    assert again.returncode == 1 and "already exists" in again.stderr and "Traceback" not in again.stderr
    assert snapshot(out) == before
