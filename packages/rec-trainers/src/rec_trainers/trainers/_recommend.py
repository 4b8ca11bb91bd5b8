"""``rec recommend`` and ``rec export-index`` for the trainers that rank a catalogue (seq, match).

rec-core's :class:`~rec_core.trainer.reload.ReloadsRuns` rebuilds the run and answers
``rec recommend``; here :meth:`RecommendsFromRuns.top_items` builds the user's query with the
trainer's :meth:`~RecommendsFromRuns.user_query` and ranks the catalogue with the retrieval
evaluator, every item the user interacted with (train, validation or test) excluded.
:meth:`RecommendsFromRuns.export_index_from_run` writes the item vectors the model scores
users against (:meth:`~RecommendsFromRuns.item_vectors`), for serving outside rec.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rec_core.errors import RecError
from rec_core.trainer.reload import ReloadsRuns

if TYPE_CHECKING:
    from rec_core.datasets import TaskData, UserSequences
    from rec_core.evaluation import RetrievalQueries
    from rec_core.plugins import RecPluginManager
    from rec_core.runfolder import RunFolder

__all__ = ["RecommendsFromRuns", "one_user"]


class RecommendsFromRuns(ReloadsRuns):
    """Mixed into a retrieval trainer: rank the catalogue for a run's user, export its item vectors."""

    def user_query(self, data: TaskData, user: int, history: UserSequences) -> RetrievalQueries:
        """Return the one-row query of encoded user ``user`` whose known items are ``history``."""
        raise NotImplementedError

    def top_items(self, data: TaskData, user: int, known: UserSequences, k: int) -> list[int]:
        """Rank the whole catalogue for ``user`` with the retrieval evaluator, the known items masked."""
        from rec_core.evaluation import RetrievalEvaluator

        return RetrievalEvaluator().recommend(self, self.user_query(data, user, known), k)[0].tolist()

    def item_vectors(self, data: TaskData) -> np.ndarray:
        """Return the ``(n_items - 1, d)`` float32 vectors of items ``1..n-1`` that users are scored against."""
        raise NotImplementedError

    @classmethod
    def export_index_from_run(cls, folder: RunFolder, output: Path, checkpoint: str = "best", *, faiss: bool = False,
                              pm: RecPluginManager) -> dict[str, Any]:
        """Write the run's item vectors for serving: ``item_embeddings.npy``, ``item_ids.json``, ``index.json``.

        ``item_embeddings.npy`` row ``r`` is the item ``item_ids.json[r]`` (original ids); a
        user is scored by the inner product with its vector(s). With ``faiss``, also
        ``items.faiss``: an exact inner-product index (``faiss.IndexFlatIP``) over the same rows.
        The folder is written whole or not at all.

        Raises:
            RecError: ``output`` exists, faiss is not installed, or the run cannot be loaded.
        """
        import json
        import shutil
        import tempfile

        if output.exists():
            raise RecError(f"output {output} already exists; choose another --output (nothing was overwritten)")
        faiss_module = _import_faiss() if faiss else None
        trainer, data, path = cls._trainer_from_run(folder, checkpoint, pm)
        vectors = np.ascontiguousarray(trainer.item_vectors(data), dtype=np.float32)
        ids = list(data.items.ids[1:])
        output.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
        try:
            np.save(staging / "item_embeddings.npy", vectors)
            (staging / "item_ids.json").write_text(json.dumps(ids), encoding="utf-8")
            facts = {"run": str(folder.path), "checkpoint": str(path), "items": len(ids), "dim": int(vectors.shape[1]),
                     "metric": "inner_product", "faiss": faiss}
            if faiss_module is not None:
                index = faiss_module.IndexFlatIP(vectors.shape[1])
                index.add(vectors)
                faiss_module.write_index(index, str(staging / "items.faiss"))
            (staging / "index.json").write_text(json.dumps(facts, indent=2), encoding="utf-8")
            staging.rename(output)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return {**facts, "output": str(output)}


def _import_faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise RecError('--faiss needs the faiss library: pip install "rec-trainers[faiss]" (faiss-cpu)') from None
    return faiss


def one_user(user: int) -> np.ndarray:
    """Return the index array of one encoded user."""
    return np.array([user], dtype=np.int64)
