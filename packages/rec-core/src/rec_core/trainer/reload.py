"""Rebuild a finished run's trainer and data from its folder, and recommend with it (``rec recommend``).

A run folder records how its data was loaded: ``model.json`` names the registered data set and
its options (``data_params``), or the file (``data_file``). A trainer that mixes in
:class:`ReloadsRuns` records that at ``from_request`` and can then rebuild itself from the
folder: the config, the model from the chosen checkpoint, and the same data loaded again.
:meth:`ReloadsRuns.recommend_from_run` turns a user's id into their top items with the
trainer's :meth:`ReloadsRuns.top_items` (ranking or generation). Trainers of any package use
it (rec-trainers' seq and match, rec-genrec's TIGER).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rec_core.errors import RecError

if TYPE_CHECKING:
    from rec_core.config import TrainingConfig
    from rec_core.datasets import TaskData, UserSequences
    from rec_core.pipeline import PreparedRun
    from rec_core.plugins import RecPluginManager
    from rec_core.run import TrainRequest
    from rec_core.runfolder import RunFolder

__all__ = ["ReloadsRuns", "user_code"]


class ReloadsRuns:
    """Mixed into a trainer (before ``BaseTrainer``): record the data's origin, rebuild the run from its folder."""

    @classmethod
    def read_interaction_file(cls, path: Path, params: dict[str, Any], config: TrainingConfig) -> TaskData:
        """Read a user's interaction file as ``rec train TASK --data FILE`` does.

        Raises:
            RecError: This trainer cannot read data files back (the default).
        """
        raise RecError(f"{cls.__name__} cannot load the run's data file {path} again")

    def prepare_recommendation(self, data: TaskData) -> None:
        """Set up what ranking or generation needs besides the user's query (e.g. the item catalogue)."""

    def top_items(self, data: TaskData, user: int, known: UserSequences, k: int) -> list[int]:
        """Return the best ``k`` item ids for encoded user ``user``, best first, none of ``known[user]``'s items."""
        raise NotImplementedError

    @classmethod
    def recommend_from_run(cls, folder: RunFolder, user: str, k: int = 10, checkpoint: str = "best", *,
                           pm: RecPluginManager) -> dict[str, Any]:
        """Return a user's top-``k`` items (original ids and titles), every item they interacted with excluded.

        Raises:
            RecError: An unknown user, or the run's data cannot be loaded again.
        """
        from rec_core.datasets import user_sequences

        trainer, data, path = cls._trainer_from_run(folder, checkpoint, pm)
        code = user_code(data, user)
        known = user_sequences(data.interactions, ("train", "val", "test"))
        top = [i for i in trainer.top_items(data, code, known, k) if i > 0]
        titles = data.items.text or [""] * data.items.n_items
        return {
            "user": str(user),
            "history": int(known.lengths()[code]),
            "checkpoint": str(path),
            "items": [{"rank": rank, "item": data.items.ids[i], "title": titles[i]} for rank, i in enumerate(top, 1)],
        }

    @classmethod
    def load_data_file(cls, request: TrainRequest, params: dict[str, Any], config: TrainingConfig) -> TaskData:
        """Read ``--data FILE`` with :meth:`read_interaction_file`."""
        return cls.read_interaction_file(Path(request.data), params, config)  # type: ignore[arg-type]

    @classmethod
    def from_request(cls, request: TrainRequest, *, config: TrainingConfig, loggers: Any = None) -> PreparedRun:
        """Build the run; ``model.json`` also records how to load the data again."""
        prepared = super().from_request(request, config=config, loggers=loggers)  # type: ignore[misc]
        prepared.description["data_params"] = dict(request.data_params)
        if isinstance(request.data, Path):
            prepared.description["data_file"] = str(request.data.resolve())
        return prepared

    @classmethod
    def _trainer_from_run(cls, folder: RunFolder, checkpoint: str, pm: RecPluginManager) -> tuple[Any, TaskData, Path]:
        """Return the run's trainer with the checkpoint's weights, its data loaded again, and the checkpoint path.

        Raises:
            RecError: The data has no interactions, or cannot be loaded again.
        """
        description = folder.read_description()
        config = folder.read_config(cls.config_class).replace(progress_bar=False, device="auto")  # type: ignore[attr-defined]
        data = cls._reload_data(description, config, pm)
        if data.interactions is None or data.items is None:
            raise RecError(f"the run's data '{description.get('data')}' has no interactions")
        model = cls.restore_model(description, pm, folder.read_run()["task"])  # type: ignore[attr-defined]
        trainer = cls(model, config=config)  # type: ignore[call-arg]
        path = folder.checkpoint(checkpoint)
        trainer._load_model_weights(path)
        trainer.prepare_recommendation(data)
        return trainer, data, path

    @classmethod
    def _reload_data(cls, description: dict[str, Any], config: TrainingConfig, pm: RecPluginManager) -> TaskData:
        """Load the run's data again, as ``rec train`` did (a named data set or the recorded file)."""
        params = dict(description.get("data_params") or {})
        if description.get("data_file"):
            path = Path(description["data_file"])
            if not path.is_file():
                raise RecError(f"the run's data file {path} is gone; rec recommend needs the users' histories")
            return cls.read_interaction_file(path, params, config)
        entry = pm.registry("datasets").get(str(description.get("data")))
        return entry.load().load(seed=config.random_seed, **params)


def user_code(data: TaskData, user: str) -> int:
    """Return the encoded id of the user named ``user`` (as in the training data).

    Raises:
        RecError: The run's data has no such user.
    """
    interactions = data.interactions
    assert interactions is not None
    code = {name: index for index, name in enumerate(interactions.user_ids) if index}.get(str(user))
    if code is None:
        raise RecError(f"unknown user {user!r}: not in the run's data '{data.name}' ({interactions.n_users - 1} users)")
    return code
