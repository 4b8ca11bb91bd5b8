"""Tests for rec_core.evaluation: batch, retrieval (chunked, and under real DDP) and generative.

The retrieval trainer here is a two-tower toy with small integer embeddings, so scores
tie often; its metrics must equal :func:`rec_core.metrics.full_ranking` on the full
users × items matrix for every chunk size, on one process and on two gloo ranks.
"""

from __future__ import annotations

import contextlib
import os
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from rec_core import BaseTrainer, ConfigError, DataError
from rec_core.data import ColumnarLoader
from rec_core.distributed import DistContext, shutdown
from rec_core.evaluation import (
    BatchEvaluator,
    Evaluator,
    GenerativeEvaluator,
    ItemLists,
    RetrievalEvaluator,
    RetrievalQueries,
)
from rec_core.metrics import full_ranking, ranked_list_metrics, ranking_metric_names

from .ddp_workers import run_ranks
from .trainer_fixtures import ClickTrainer, Logistic, loaders, settings

N_USERS, N_ITEMS, DIM = 23, 40, 4  # 23 queries: uneven shards on two ranks
KS = (1, 5, 10)
DEADLINE_S = 90.0


# -- a two-tower toy trainer ---------------------------------------------------------------------
class _TwoTower(nn.Module):
    def __init__(self, integer: bool = True) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.users = nn.Embedding(N_USERS, DIM)
        self.items = nn.Embedding(N_ITEMS, DIM)
        with torch.no_grad():
            for table in (self.users, self.items):
                values = torch.randint(-2, 3, table.weight.shape, generator=gen).float()
                table.weight.copy_(values if integer else torch.randn(table.weight.shape, generator=gen))


class _RetrievalTrainer(BaseTrainer):
    def __init__(self, model: nn.Module, evaluator: Evaluator | None = None, **config: Any) -> None:
        super().__init__(model, **config)
        self.chosen = evaluator
        self.chunk_rows: list[int] = []
        self.sessions = 0
        self._item_table: torch.Tensor | None = None

    def configure_evaluator(self) -> Evaluator:
        return self.chosen or RetrievalEvaluator(ks=KS)

    def training_step(self, batch: Any) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(self.model.users(x["user"]) @ self.model.items.weight.T, y)

    @contextlib.contextmanager
    def scoring_session(self) -> Iterator[None]:
        self.sessions += 1
        self._item_table = self.model.items.weight.detach()
        try:
            yield
        finally:
            self._item_table = None

    def score_items(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        if torch.is_grad_enabled() or self.model.training or self._item_table is None:
            raise AssertionError("score_items must run in eval mode, without autograd, inside the session")
        self.chunk_rows.append(len(inputs["user"]))
        return self.model.users(inputs["user"]) @ self._item_table.T


def _trainer(evaluator: Evaluator | None = None, *, integer: bool = True, **config: Any) -> _RetrievalTrainer:
    options: dict[str, Any] = {"device": "cpu", "progress_bar": False, "optimizer": "SGD", "learning_rate": 0.1}
    options.update(config)
    return _RetrievalTrainer(_TwoTower(integer), evaluator, **options)


def _queries(*, multi: bool = False, seed: int = 0) -> RetrievalQueries:
    gen = torch.Generator().manual_seed(seed)
    history = [torch.randperm(N_ITEMS, generator=gen)[: int(torch.randint(0, 6, (1,), generator=gen))]
               for _ in range(N_USERS)]
    if multi:
        targets: Any = [torch.randint(1, N_ITEMS, (int(torch.randint(1, 5, (1,), generator=gen)),), generator=gen)
                        for _ in range(N_USERS)]
    else:
        targets = torch.randint(1, N_ITEMS, (N_USERS,), generator=gen)
    return RetrievalQueries({"user": torch.arange(N_USERS)}, targets, N_ITEMS, exclude=history, excluded_items=[0])


def _expected(model: _TwoTower, queries: RetrievalQueries, ks: tuple[int, ...] = KS) -> dict[str, float]:
    scores = model.users.weight.detach() @ model.items.weight.detach().T
    known = queries.exclude.mask(N_ITEMS)
    known[:, 0] = True
    return full_ranking(scores, queries.targets, known, ks)


# -- retrieval on one process --------------------------------------------------------------------
@pytest.mark.parametrize("multi", [False, True])
def test_retrieval_equals_full_ranking_for_every_chunk_size(multi: bool) -> None:
    queries = _queries(multi=multi)
    expected = None
    for chunk_size in (1, 4, 7, N_USERS, 1000, None):
        trainer = _trainer(RetrievalEvaluator(ks=KS, chunk_size=chunk_size))
        expected = expected or _expected(trainer.model, queries)
        got = trainer.evaluate(queries)
        assert list(got) == ranking_metric_names(KS)
        for name, value in expected.items():
            assert got[name] == pytest.approx(value, abs=1e-12), (chunk_size, name)
        assert trainer.sessions == 1 and trainer.model.training  # one session; train mode restored
    assert 0 < expected["hit@10"] < 1  # the toy model is neither perfect nor hopeless


def test_the_memory_budget_bounds_the_chunk() -> None:
    evaluator = RetrievalEvaluator(ks=KS, memory_budget=N_ITEMS * 8 * 6)
    assert evaluator.rows_per_chunk(N_ITEMS) == 6
    assert RetrievalEvaluator(memory_budget=1).rows_per_chunk(N_ITEMS) == 1
    trainer = _trainer(evaluator)
    trainer.evaluate(_queries())
    assert trainer.chunk_rows == [6, 6, 6, 5]


def test_recommend_returns_the_best_unknown_items_in_query_order() -> None:
    queries = _queries()
    trainer = _trainer(RetrievalEvaluator(ks=KS, chunk_size=5), integer=False)
    top = trainer.evaluator.recommend(trainer, queries, 3)
    scores = trainer.model.users.weight.detach() @ trainer.model.items.weight.detach().T
    known = queries.exclude.mask(N_ITEMS)
    known[:, 0] = True
    assert torch.equal(top, scores.masked_fill(known, -torch.inf).topk(3, dim=1).indices)
    # asking for more items than can be ranked pads with -1
    small = RetrievalQueries({"user": torch.arange(2)}, None, N_ITEMS, exclude=[torch.arange(2, N_ITEMS),
                                                                                torch.arange(1, N_ITEMS)])
    padded = RetrievalEvaluator(chunk_size=1).recommend(trainer, small, 4)
    assert padded.shape == (2, 4) and padded[0, 2:].tolist() == [-1, -1] and padded[1].tolist() == [0, -1, -1, -1]
    assert sorted(padded[0, :2].tolist()) == [0, 1]


def test_fit_validates_with_the_retrieval_evaluator(tmp_path: Path) -> None:
    queries = _queries()
    users = torch.arange(N_USERS).repeat(4)
    train = ColumnarLoader({"user": users}, torch.randint(0, N_ITEMS, (len(users),)), batch_size=32)
    trainer = _trainer(integer=False, **settings(tmp_path, max_epochs=2, monitor="val/ndcg@10"))
    assert trainer.metric_names() == ranking_metric_names(KS)
    best, result = trainer.fit(train, queries, verbose=False, saved=False)
    assert result is not None and set(result) == {f"val/{name}" for name in ranking_metric_names(KS)}
    assert best == result["val/ndcg@10"] and 0 <= best <= 1
    assert trainer.config.resolved_mode() == "max"
    assert set(trainer.test(queries)) == {f"test/{name}" for name in ranking_metric_names(KS)}


def test_retrieval_errors_name_the_problem() -> None:
    queries = _queries()
    with pytest.raises(ConfigError, match=r"RetrievalEvaluator needs _Plain to implement score_items\(\)"):
        RetrievalEvaluator().evaluate(_Plain(Logistic(), device="cpu"), queries)
    with pytest.raises(ConfigError, match="evaluates RetrievalQueries, got a list"):
        _trainer().evaluate([1, 2])
    wrong = _trainer()
    wrong.score_items = lambda inputs: torch.zeros(len(inputs["user"]), N_ITEMS - 1)  # type: ignore[method-assign]
    with pytest.raises(DataError, match=r"returned shape \(23, 39\) for 23 queries; expected \(23, 40\)"):
        wrong.evaluate(queries)
    nan = _trainer()
    nan.score_items = lambda inputs: torch.full((len(inputs["user"]), N_ITEMS), torch.nan)  # type: ignore[method-assign]
    with pytest.raises(DataError, match="NaN"):
        nan.evaluate(queries)
    with pytest.raises(DataError, match="have no targets"):
        _trainer().evaluate(RetrievalQueries({"user": torch.arange(2)}, None, N_ITEMS))
    with pytest.raises(ConfigError, match="distinct"):
        RetrievalEvaluator(ks=(5, 5))
    with pytest.raises(ConfigError, match="chunk_size"):
        RetrievalEvaluator(chunk_size=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"inputs": {"user": torch.arange(3), "age": torch.arange(4)}}, "disagree on the number of queries"),
        ({"inputs": {}}, "inputs are empty"),
        ({"targets": torch.tensor([1, 2, 40])}, r"targets item index 40 in row 2 is outside \[0, 40\)"),
        ({"targets": [torch.tensor([1]), torch.tensor([], dtype=torch.long), torch.tensor([3])]}, "query 1 has no"),
        ({"exclude": [[1], [2]]}, "exclude has 2 rows but there are 3"),
        ({"excluded_items": [40]}, "excluded_items item index 40"),
        ({"n_items": 0}, "n_items must be a positive integer"),
    ],
)
def test_queries_validate_in_one_line(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"inputs": {"user": torch.arange(3)}, "targets": torch.tensor([1, 2, 3]), "n_items": N_ITEMS}
    args.update(kwargs)
    with pytest.raises(DataError, match=match):
        RetrievalQueries(**args)


def test_queries_accept_item_lists_and_shard_themselves() -> None:
    lists = ItemLists(torch.tensor([0, 1, 3, 3]), torch.tensor([5, 6, 7]))
    queries = RetrievalQueries({"user": torch.arange(3)}, [[1], [2, 3], [4]], N_ITEMS, exclude=lists)
    assert queries.exclude is lists and queries.targets.lengths.tolist() == [1, 2, 1]
    part = queries.take(torch.tensor([2, 1]))
    assert part.inputs["user"].tolist() == [2, 1] and part.exclude.lengths.tolist() == [0, 2]
    rank_one = DistContext(rank=1, world_size=2, local_rank=1, device=torch.device("cpu"))
    assert rank_one.shard_eval(queries) is queries


# -- the default batch evaluator ----------------------------------------------------------------
class _Plain(ClickTrainer):
    pass


class _DeclaredClick(ClickTrainer):
    batch_metrics = ("auc", "logloss")


def test_batch_evaluator_is_the_default_and_reports_declared_names(tmp_path: Path) -> None:
    _, val = loaders()
    trainer = _Plain(Logistic(), **settings(tmp_path))
    assert isinstance(trainer.evaluator, BatchEvaluator)
    assert trainer.evaluator is trainer.evaluator  # created once
    assert trainer.metric_names() == ["loss"]
    assert set(trainer.evaluate(val)) == {"loss"}
    assert _DeclaredClick(Logistic(), **settings(tmp_path)).metric_names() == ["auc", "logloss"]
    swapped = _Plain(Logistic(), **settings(tmp_path))
    swapped.evaluator = GenerativeEvaluator(ks=(2,))
    assert swapped.metric_names() == ["recall@2", "ndcg@2", "hit@2", "mrr@2", "mrr"]


# -- generation ------------------------------------------------------------------------------------
class _Generator(ClickTrainer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked: list[int] = []

    def configure_evaluator(self) -> Evaluator:
        return GenerativeEvaluator(ks=(1, 3))

    def generate(self, batch: dict[str, Any], k: int) -> torch.Tensor:
        self.asked.append(k)
        return batch["ranked"][:, :k]

    def generation_targets(self, batch: dict[str, Any]) -> Any:
        return batch["targets"]


def test_generative_evaluator_scores_the_generated_lists(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(3)
    ranked = torch.randint(0, 8, (10, 5), generator=gen)
    targets = [torch.randint(0, 8, (int(n),), generator=gen) for n in torch.randint(1, 3, (10,), generator=gen)]
    batches = [{"ranked": ranked[i : i + 4], "targets": targets[i : i + 4]} for i in range(0, 10, 4)]
    trainer = _Generator(Logistic(), **settings(tmp_path))
    got = trainer.evaluate(batches)
    expected = ranked_list_metrics(ranked[:, :3], targets, ks=(1, 3))
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name
    assert trainer.asked == [3, 3, 3] and trainer.model.training
    assert 0 < got["hit@3"] < 1
    with pytest.raises(ConfigError, match=r"needs _Plain to implement generate\(\), generation_targets\(\)"):
        GenerativeEvaluator().evaluate(_Plain(Logistic(), **settings(tmp_path)), batches)
    with pytest.raises(DataError, match="held no rows"):
        trainer.evaluate([])


# -- retrieval under real DDP: two gloo processes --------------------------------------------------
def _ddp_worker(index: int, port: int, out: str) -> None:
    warnings.simplefilter("error")
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(index),
                      LOCAL_RANK=str(index))
    try:
        trainer = _trainer(RetrievalEvaluator(ks=KS, chunk_size=4))
        result = {
            "rank": trainer.dist.rank,
            "single": trainer.evaluate(_queries()),
            "multi": trainer.evaluate(_queries(multi=True)),
            "top": trainer.evaluator.recommend(trainer, _queries(), 5),
            "rows": list(trainer.chunk_rows),
        }
    except BaseException:
        (Path(out) / f"rank{index}.error").write_text(traceback.format_exc())
        os._exit(1)
    torch.save(result, Path(out) / f"rank{index}.pt")
    shutdown()  # a barrier first: no rank leaves while its peer still talks to it


def _launch_ddp(out: Path) -> list[dict[str, Any]]:
    return run_ranks(_ddp_worker, out, module=__name__, deadline_s=DEADLINE_S)


def test_retrieval_under_two_process_ddp_matches_one_process(tmp_path: Path) -> None:
    ranks = _launch_ddp(tmp_path)
    single = _trainer(RetrievalEvaluator(ks=KS, chunk_size=4))
    for kind, queries in (("single", _queries()), ("multi", _queries(multi=True))):
        expected = single.evaluate(queries)
        for result in ranks:
            assert result[kind].keys() == expected.keys()
            for name, value in expected.items():
                assert result[kind][name] == pytest.approx(value, abs=1e-12), (result["rank"], kind, name)
    top = single.evaluator.recommend(single, _queries(), 5)
    assert torch.equal(ranks[0]["top"], top) and torch.equal(ranks[1]["top"], top)
    # each rank scored its interleaved share only: 12 and 11 of the 23 queries, 4 at a time
    assert [r["rank"] for r in ranks] == [0, 1]
    assert ranks[0]["rows"][:3] == [4, 4, 4] and sum(ranks[0]["rows"][:3]) == 12
    assert ranks[1]["rows"][:3] == [4, 4, 3] and sum(ranks[1]["rows"][:3]) == 11
