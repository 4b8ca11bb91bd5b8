"""``rec recommend`` for TIGER runs: a user's next items, generated under the catalogue's trie.

The run is rebuilt by rec-core's :class:`~rec_core.trainer.reload.ReloadsRuns` (config, model
from the checkpoint, the data set loaded again); the items' semantic IDs are attached again
from the source the run recorded (``--semantic-ids FILE`` or ``--rqvae RUN``). The user's
input is built as for training: the user token, then the semantic-ID tokens of their last
``max_seq_length`` items (train, validation and test). Constrained beam search returns
``k`` plus as many items as the user knows, so that ``k`` unseen items remain once every
known item is left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from rec_core.errors import RecError
from rec_core.trainer.reload import ReloadsRuns

if TYPE_CHECKING:
    from rec_core.config import TrainingConfig
    from rec_core.datasets import TaskData, UserSequences
    from rec_core.pipeline import PreparedRun
    from rec_core.plugins import RecPluginManager
    from rec_core.run import TrainRequest
    from rec_core.runfolder import RunFolder

__all__ = ["RecommendsByGeneration"]

_PATH_KEYS = ("semantic_ids", "rqvae")


class RecommendsByGeneration(ReloadsRuns):
    """Mixed into :class:`~rec_genrec.trainers.tiger.TIGERTrainer` (with its ``SemanticIdSteps``)."""

    @classmethod
    def from_request(cls, request: TrainRequest, *, config: TrainingConfig, loggers: Any = None) -> PreparedRun:
        """Build the run; record the semantic-ID source as an absolute path, so it is found from any folder."""
        prepared = super().from_request(request, config=config, loggers=loggers)
        params = prepared.description["data_params"]
        for key in _PATH_KEYS:
            if key in params and Path(str(params[key])).exists():
                params[key] = str(Path(str(params[key])).resolve())
        return prepared

    @classmethod
    def _reload_data(cls, description: dict[str, Any], config: TrainingConfig, pm: RecPluginManager) -> TaskData:
        """Load the data set again and attach the items' semantic IDs from the recorded source."""
        params = dict(description.get("data_params") or {})
        source = {key: params.pop(key) for key in cls.data_keys if key in params}  # type: ignore[attr-defined]
        for key in _PATH_KEYS:
            if key in source and not Path(str(source[key])).exists():
                raise RecError(f"the run's semantic IDs ({key} {source[key]}) are gone; rec recommend needs them")
        data = super()._reload_data({**description, "data_params": params}, config, pm)
        return cls.attach_semantic_ids(data, source)  # type: ignore[attr-defined,no-any-return]

    def prepare_recommendation(self, data: TaskData) -> None:
        """Constrain generation to the data's catalogue and keep its token layout for the users' inputs."""
        from rec_genrec.trainers._pipeline import SEMANTIC_ID

        self._item_table = torch.as_tensor(data.items.attributes[SEMANTIC_ID])  # type: ignore[union-attr]
        self._vocabulary = self.vocabulary_of(data, self.config)  # type: ignore[attr-defined]
        self.set_catalogue(self._item_table, self._vocabulary)  # type: ignore[attr-defined]

    def history_inputs(self, history: np.ndarray, user: int) -> dict[str, torch.Tensor]:
        """Return the one-row model input of a user with item ``history`` (oldest first), as in training."""
        recent = torch.as_tensor(np.asarray(history, dtype=np.int64)[-int(self.config.max_seq_length):])  # type: ignore[attr-defined]
        tokens = self._vocabulary.code_tokens(self._item_table[recent]).reshape(-1)
        if self._vocabulary.num_user_buckets:
            tokens = torch.cat([self._vocabulary.user_tokens(torch.tensor([user])), tokens])
        input_ids = tokens[None, :].to(self.device)  # type: ignore[attr-defined]
        return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids, dtype=torch.float)}

    def top_items(self, data: TaskData, user: int, known: UserSequences, k: int) -> list[int]:
        """Generate ``k`` plus as many items as ``user`` knows under the trie; keep the best ``k`` unknown ones."""
        history = known.items[known.offsets[user] : known.offsets[user + 1]]
        seen = set(history.tolist())
        wanted = min(k + len(seen), data.items.n_items - 1)  # type: ignore[union-attr]
        self.model.eval()  # type: ignore[attr-defined]
        with torch.no_grad():
            generated = self.generate(self.history_inputs(history, user), wanted)[0].tolist()  # type: ignore[attr-defined]
        return [item for item in generated if item > 0 and item not in seen][:k]

    @classmethod
    def export_index_from_run(cls, folder: RunFolder, output: Path, checkpoint: str = "best", *, faiss: bool = False,
                              pm: RecPluginManager) -> dict[str, Any]:
        """Refuse: a TIGER run generates items' semantic IDs and has no item vectors to export.

        Raises:
            RecError: Always.
        """
        raise RecError(f"{folder.path} is a TIGER run: it generates items from semantic IDs and has no item "
                       "vectors to export; use rec recommend RUN --user ID")
