"""SeqTrainer: what it trains on, how it is evaluated, that it learns, resumes and ports from torch-rechub.

Learning tests use slices of the real data (``$REC_DATA_DIR``) and compare with popularity
scored by the same evaluator; a model trained on shuffled targets is the broken model the
bound must exclude.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from rec_core.datasets import load_interactions
from rec_core.distributed import shutdown
from rec_core.errors import ConfigError, DataError
from rec_core.evaluation import RetrievalEvaluator, RetrievalQueries
from rec_trainers import SeqTrainer
from rec_trainers.models.sequential import BERT4Rec, GRU4Rec, Popularity, SASRec
from rec_trainers.trainers._next_item_loss import next_item_loss
from rec_trainers.trainers._seq_data import split_queries, training_columns

from ..rec_core.test_datasets_files import real_data_file


def _ml100k_slice(tmp_path, users: int = 300):
    """The first ``users`` users of MovieLens-100K (all their ratings, with times) as a user file."""
    import pandas as pd

    frame = pd.read_csv(real_data_file("movielens-100k-recbole/ml-100k.inter.gz"), sep="\t")
    frame.columns = [c.split(":")[0] for c in frame.columns]
    frame = frame[frame["user_id"] <= users]
    path = tmp_path / "ml100k-slice.csv"
    frame[["user_id", "item_id", "timestamp"]].to_csv(path, index=False)
    return load_interactions(path, timestamp="timestamp")


def _beauty_slice(tmp_path, users: int = 3000, items: int = 500):
    """Amazon Beauty (S3-Rec's sequences) on its ``items`` most popular items: the first ``users`` users with 3+."""
    from collections import Counter

    rows = [line.split() for line in real_data_file("amazon-beauty-5core/s3rec/Beauty.txt").read_text().splitlines()]
    popular = {item for item, _ in Counter(i for row in rows for i in row[1:]).most_common(items)}
    kept = [[row[0], *(i for i in row[1:] if i in popular)] for row in rows]
    path = tmp_path / "beauty-slice.txt"
    path.write_text("".join(" ".join(row) + "\n" for row in [row for row in kept if len(row) > 3][:users]))
    return load_interactions(path)


def _trainer(model, tmp_path, **settings):
    base = {"device": "cpu", "model_path": str(tmp_path / "ckpt"), "progress_bar": False}
    return SeqTrainer(model, **{**base, **settings})


def _fit_and_test(trainer, data, *, shuffle_targets: bool = False) -> dict[str, float]:
    loaders = trainer.make_loaders(data)
    if shuffle_targets:  # the broken model: each position learns a random item of the training data
        target = loaders["train"].dataset.x["target"]
        real = target.ne(0)
        target[real] = target[real][torch.randperm(int(real.sum()), generator=torch.Generator().manual_seed(0))]
    trainer.fit(loaders["train"], loaders["val"], verbose=False)
    return trainer.evaluate(loaders["test"])


def _popularity(data, tmp_path) -> dict[str, float]:
    trainer = _trainer(Popularity.from_data(data), tmp_path)
    return trainer.evaluate(trainer.make_loaders(data)["test"])


# ------------------------------------------------------------------ what is trained and evaluated


def test_queries_hold_the_known_history_and_never_the_target(tmp_path):
    data = _ml100k_slice(tmp_path, users=60)
    interactions = data.interactions
    for split, known_parts in (("val", 1), ("test", 2)):
        queries = split_queries(data, split, max_len=30)
        targets = queries.targets.items.numpy()
        for row, user in enumerate(queries.inputs["user"].tolist()):
            sequence = interactions.items[interactions.users == user]  # time order
            known = sequence[: len(sequence) - 3 + known_parts]  # val: all but the last two; test: all but one
            assert targets[row] == sequence[len(known)]
            history = queries.inputs["history"][row].numpy()
            assert history[history != 0].tolist() == known[-30:].tolist()  # the most recent 30, target excluded
            assert sorted(queries.exclude.take(torch.tensor([row])).items.tolist()) == sorted(known.tolist())
        assert queries.excluded_items.tolist() == [0]


def test_training_rows_are_transitions_of_the_training_items_only(tmp_path):
    data = _ml100k_slice(tmp_path, users=40)
    columns = training_columns(data, max_len=20)
    interactions = data.interactions
    train = interactions.part == 0
    expected = set()
    for user in np.unique(interactions.users):
        items = interactions.items[(interactions.users == user) & train]
        expected |= {(user, a, b) for a, b in itertools.pairwise(items)}
    seen = set()
    for user, history, target in zip(columns["user"], columns["history"], columns["target"], strict=True):
        assert ((history == 0) == (target == 0)).all()
        seen |= {(user, a, b) for a, b in zip(history, target, strict=True) if a}
    assert seen == expected  # validation and test items never appear as inputs or targets


def test_evaluation_reports_ranking_loss_and_accuracy_with_ties_against_the_target(tmp_path):
    class Fixed(torch.nn.Module):
        n_items, max_len = 5, 3

        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def scores(self, history):
            table = torch.tensor([[0.0, 3.0, 2.0, 2.0, 1.0], [0.0, 1.0, 1.0, 4.0, 0.0]])
            return table[history[:, -1] - 1] + self.weight

    queries = RetrievalQueries({"history": torch.tensor([[0, 0, 1], [0, 0, 2]])}, torch.tensor([2, 2]), 5,
                               excluded_items=[0])
    metrics = _trainer(Fixed(), tmp_path, eval_ks=[1, 2]).evaluate(queries)
    # query 0: item 2 ties item 3 behind item 1 -> rank 3; query 1: item 2 ties item 1 behind item 3 -> rank 3
    assert metrics["hit@2"] == 0.0 and metrics["accuracy"] == 0.0 and metrics["mrr"] == pytest.approx(1 / 3)
    first = -2.0 + math.log(math.exp(3) + 2 * math.exp(2) + math.exp(1))
    second = -1.0 + math.log(2 * math.exp(1) + math.exp(4) + 1)
    assert metrics["loss"] == pytest.approx((first + second) / 2)


def test_the_chunked_full_softmax_equals_the_plain_one():
    torch.manual_seed(0)
    states = torch.randn(37, 8, requires_grad=True)
    items = torch.randn(50, 8, requires_grad=True)
    labels = torch.randint(1, 50, (37,))
    plain = next_item_loss("cross_entropy", states, labels, items)
    plain_grads = torch.autograd.grad(plain, [states, items])
    chunked = next_item_loss("cross_entropy", states, labels, items, memory_budget=50 * 12 * 5)  # 5 rows a chunk
    chunked_grads = torch.autograd.grad(chunked, [states, items])
    assert torch.allclose(plain, chunked)
    for a, b in zip(plain_grads, chunked_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    log_softmax = torch.log_softmax(states @ items[1:].T, dim=1)  # padding is not in the softmax
    assert torch.allclose(plain, -log_softmax[torch.arange(37), labels - 1].mean())


# ------------------------------------------------------------------ learning


def test_sasrec_beats_popularity_on_movielens_where_shuffled_targets_cannot(tmp_path):
    data = _ml100k_slice(tmp_path)
    popular = _popularity(data, tmp_path)["ndcg@10"]
    settings = {"max_epochs": 6, "learning_rate": 3e-3, "batch_size": 64, "early_stopping_patience": 100}

    def sasrec():
        torch.manual_seed(0)
        return SASRec(data.items.n_items, embed_dim=32, num_blocks=1, dropout_rate=0.2, max_len=30)

    trained = _fit_and_test(_trainer(sasrec(), tmp_path / "a", **settings), data)["ndcg@10"]
    broken = _fit_and_test(_trainer(sasrec(), tmp_path / "b", **settings), data, shuffle_targets=True)["ndcg@10"]
    assert trained >= 1.4 * popular, (trained, popular)
    assert broken <= 1.15 * popular, (broken, popular)


def test_gru4rec_beats_popularity_on_beauty(tmp_path):
    data = _beauty_slice(tmp_path)
    popular = _popularity(data, tmp_path)["recall@10"]
    torch.manual_seed(0)
    model = GRU4Rec(data.items.n_items, embed_dim=32, hidden_size=64, max_len=20, dropout_rate=0.1)
    trained = _fit_and_test(_trainer(model, tmp_path, max_epochs=5, learning_rate=1e-2, batch_size=128), data)
    assert trained["recall@10"] >= 4 * popular, (trained["recall@10"], popular)


# ------------------------------------------------------------------ engine features


def test_resume_in_the_middle_of_an_epoch_is_bit_identical(tmp_path):
    """Two epochs straight equal a run that crashed mid-epoch and resumed from its step checkpoint."""
    data = _ml100k_slice(tmp_path, users=80)

    class Crash(Exception):
        pass

    from rec_core.callbacks import Callback

    class CrashAt(Callback):
        def on_train_batch_start(self, trainer, batch, batch_idx):
            if trainer.global_step == 7:
                raise Crash

    def trainer(folder, callbacks=()):
        torch.manual_seed(0)  # BERT4Rec's cloze masks and dropout draw from the global RNG
        model = BERT4Rec(data.items.n_items, embed_dim=16, num_blocks=1, max_len=20)
        return _trainer(model, folder, max_epochs=2, batch_size=32, every_n_train_steps=5, random_seed=3,
                        loss_type="sampled_softmax", num_negatives=20, callbacks=list(callbacks))

    straight = trainer(tmp_path / "a")
    loaders = straight.make_loaders(data)
    assert len(loaders["train"]) > 7  # the crash falls inside the first epoch
    straight.fit(loaders["train"], loaders["val"], verbose=False)
    crashed = trainer(tmp_path / "b", [CrashAt()])
    with pytest.raises(Crash):
        crashed.fit(loaders["train"], loaders["val"], verbose=False)
    last = tmp_path / "b" / "ckpt" / "last.ckpt"
    state = torch.load(last, weights_only=True)
    assert state["global_step"] == 5 and not state["epoch_complete"]
    resumed = trainer(tmp_path / "b")
    resumed.resume_checkpoint(last)
    resumed.fit(loaders["train"], loaders["val"], verbose=False)
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


def test_the_sampled_protocol_is_labelled_and_ranks_only_candidates(tmp_path):
    data = _ml100k_slice(tmp_path, users=50)
    trainer = _trainer(Popularity.from_data(data), tmp_path, eval_protocol="sampled-popularity", eval_negatives=20)
    queries = trainer.make_loaders(data)["test"]
    candidates = queries.inputs["candidates"]
    assert candidates.shape == (len(queries), 21)
    assert (candidates[:, 0] == queries.targets.items).all()
    for row in range(len(queries)):
        known = set(queries.exclude.take(torch.tensor([row])).items.tolist())
        negatives = candidates[row, 1:].tolist()
        assert len(set(negatives)) == 20 and not (set(negatives) & (known | {0, int(candidates[row, 0])}))
    metrics = trainer.evaluate(queries)
    assert trainer.monitor == "val/sampled_ndcg@10"
    assert set(metrics) == {f"sampled_{name}" for name in RetrievalEvaluator(with_loss=True).metric_names()}
    full = _popularity(data, tmp_path)
    assert metrics["sampled_recall@10"] > full["recall@10"]  # 21 candidates are easier than the catalogue


def test_bad_settings_are_one_line_config_errors(tmp_path):
    model = SASRec(10, embed_dim=8, max_len=5)
    with pytest.raises(ConfigError, match="'loss_type' must be one of"):
        _trainer(model, tmp_path, loss_type="hinge")
    with pytest.raises(ConfigError, match="unknown loss_params key 'margin'"):
        _trainer(model, tmp_path, loss_params={"margin": 1})
    with pytest.raises(ConfigError, match="eval_protocol"):
        _trainer(model, tmp_path, eval_protocol="sampled")
    with pytest.raises(DataError, match="torch-rechub"):
        _trainer(model, tmp_path).training_step(torch.zeros(2, 5, dtype=torch.long))


# ------------------------------------------------------------------ torch-rechub's SeqTrainer API


def test_a_torch_rechub_hstu_script_runs_with_only_its_imports_changed(tmp_path):
    from torch.utils.data import DataLoader, TensorDataset

    from rec_trainers.models.sequential import HSTU  # torch_rechub.models.generative.hstu.HSTUModel

    data = _ml100k_slice(tmp_path, users=60)
    vocab = data.items.n_items

    def rechub_loader(split, shuffle):
        queries = split_queries(data, split, max_len=20)
        seq = queries.inputs["history"]
        positions = torch.arange(20).expand_as(seq)
        time_diffs = torch.zeros_like(seq)
        return DataLoader(TensorDataset(seq, positions, time_diffs, queries.targets.items.unsqueeze(1)),
                          batch_size=16, shuffle=shuffle)

    torch.manual_seed(0)
    model = HSTU(vocab_size=vocab, d_model=16, n_heads=2, n_layers=1, max_seq_len=20, dropout=0.1)
    trainer = SeqTrainer(model=model, optimizer_fn=torch.optim.Adam, optimizer_params={"lr": 1e-3,
                         "weight_decay": 1e-5}, n_epoch=2, earlystop_patience=5, device="cpu",
                         model_path=str(tmp_path), loss_type="nce", progress_bar=False)
    train_loader, val_loader = rechub_loader("val", True), rechub_loader("test", False)
    trainer.fit(train_loader, val_loader)
    val_loss, val_accuracy = trainer.evaluate(val_loader)
    assert math.isfinite(val_loss) and 0.0 <= val_accuracy <= 1.0
    assert (tmp_path / "model.pth").is_file()
    logits = model(next(iter(val_loader))[0])
    assert logits.shape == (16, 20, vocab)


# ------------------------------------------------------------------ DDP: two gloo processes


def _seq_ddp_worker(index: int, port: int, out: str) -> None:
    import os
    import traceback
    import warnings
    from pathlib import Path

    warnings.simplefilter("error")
    os.environ.update(OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2",
                      RANK=str(index), LOCAL_RANK=str(index))
    torch.set_num_threads(1)
    try:
        data = load_interactions(Path(out) / "sequences.txt")
        torch.manual_seed(0)
        model = SASRec(data.items.n_items, embed_dim=16, num_blocks=1, max_len=10)
        trainer = SeqTrainer(model, device="cpu", model_path=str(Path(out) / f"ckpt{index}"), progress_bar=False,
                             max_epochs=2, batch_size=16, learning_rate=1e-2, random_seed=1)
        loaders = trainer.make_loaders(data)
        trainer.fit(loaders["train"], loaders["val"], verbose=False)
        result = {"weights": {k: v.clone() for k, v in trainer.model.state_dict().items()},
                  "test": trainer.evaluate(loaders["test"])}
    except BaseException:
        (Path(out) / f"rank{index}.error").write_text(traceback.format_exc())
        os._exit(1)
    torch.save(result, Path(out) / f"rank{index}.pt")
    shutdown()  # a barrier first: no rank leaves while its peer still talks to it


def test_ddp_ranks_train_the_same_model_and_agree_with_one_process_on_the_metrics(tmp_path):
    from ..rec_core.ddp_workers import run_ranks

    generator = np.random.default_rng(0)
    lines = [" ".join(map(str, [user, *generator.integers(1, 40, size=generator.integers(4, 12))]))
             for user in range(1, 61)]
    (tmp_path / "sequences.txt").write_text("\n".join(lines) + "\n")
    rank0, rank1 = run_ranks(_seq_ddp_worker, tmp_path, module=__name__)
    for name, tensor in rank0["weights"].items():
        assert torch.equal(tensor, rank1["weights"][name]), name
    assert rank0["test"] == rank1["test"]
    data = load_interactions(tmp_path / "sequences.txt")
    model = SASRec(data.items.n_items, embed_dim=16, num_blocks=1, max_len=10)
    model.load_state_dict(rank0["weights"])
    single = _trainer(model, tmp_path / "single").evaluate(split_queries(data, "test", 10))
    assert single == pytest.approx(rank0["test"], rel=1e-6)  # the ranks' shares add up to every user
