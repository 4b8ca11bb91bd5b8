"""How a trainer class turns a ``rec train`` request into a run, in overridable steps.

:meth:`RequestStepsMixin.from_request` is the same for every trainer::

    data    = cls.load_data(request, config)            a named data set, a user file or the default
    entry   = cls.model_entry(request)                  --model, or the trainer's default_model
    params  = cls.model_params(request, config, data)   the model options (default: the request's)
    model   = cls.build_model(entry, params, data)      the registered factory, fed the data's features
    trainer = cls.create_trainer(model, config, ...)    with --weighter (over cls.loss_parts) and --callback
    loaders = trainer.make_loaders(data)                one per split
    record  = cls.describe(entry, params, data)         model.json: how rec predict rebuilds the model

A new trainer is a class with ``training_step`` (and metrics) plus one registration; it
overrides a step only where its task differs (a sequence reader, a retrieval loader, ...).
``predict_from_run`` scores a file with a finished run the same way for every trainer
whose runs were trained on a user's table.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rec_core.errors import ConfigError, DataError, RecError
from rec_core.pipeline import PreparedRun

if TYPE_CHECKING:
    from torch import nn

    from rec_core.config import TrainingConfig
    from rec_core.datasets import TaskData
    from rec_core.plugins import RecPluginManager
    from rec_core.registry import Registration
    from rec_core.run import TrainRequest
    from rec_core.runfolder import RunFolder

__all__ = ["RequestStepsMixin"]

PREDICT_BATCH_SIZE = 8192


class RequestStepsMixin:
    """``from_request`` and its steps; mixed into :class:`~rec_core.BaseTrainer`."""

    default_model: ClassVar[str | None] = None
    """The model ``rec train TASK`` trains without ``--model`` (a registered model name)."""
    default_data: ClassVar[str | None] = None
    """The data set ``rec train TASK`` trains on without ``--data`` (a registered data-set name)."""
    data_tasks: ClassVar[tuple[str, ...]] = ()
    """Other tasks whose registered data sets this trainer reads too (tiger reads seq's interaction data)."""

    @classmethod
    def from_request(cls, request: TrainRequest, *, config: TrainingConfig, loggers: Any = None) -> PreparedRun:
        """Build the data, the model, the trainer and its loaders for a ``rec train`` request.

        Raises:
            RecError: any problem with the data, the model options, the weighter or callbacks.
        """
        data = cls.load_data(request, config)
        entry = cls.model_entry(request)
        params = cls.model_params(request, config, data)
        model = cls.build_model(entry, params, data)
        trainer = cls.create_trainer(model, config, request, data, loggers)
        loaders = trainer.make_loaders(data)
        return PreparedRun(
            trainer=trainer,  # type: ignore[arg-type]
            train_loader=loaders.get("train"),
            val_loader=loaders.get("val"),
            test_loader=loaders.get("test"),
            data=data,
            description=cls.describe(entry, params, data),
            info={"model": entry.name, "data": data.name, **data.info},
        )

    # -- data ---------------------------------------------------------------------------------
    @classmethod
    def load_data(cls, request: TrainRequest, config: TrainingConfig) -> TaskData:
        """Return the request's data: a user file, a registered data set, or the default one.

        Raises:
            RecError: the data set serves another task, or there is no default.
        """
        if isinstance(request.data, Path):
            return cls.load_data_file(request, dict(request.data_params), config)
        entry = request.data or cls._default_entry(request, "datasets", cls.default_data, "--data NAME|FILE")
        if not any(entry.matches_task(task) for task in (request.task, *cls.data_tasks)):
            raise RecError(f"data set '{entry.name}' is for task '{entry.task}', not {request.task}")
        data = entry.load().load(seed=config.random_seed, **request.data_params)
        return dataclasses.replace(data, name=entry.name)

    @classmethod
    def load_data_file(cls, request: TrainRequest, params: dict[str, Any], config: TrainingConfig) -> TaskData:
        """Read a user's table (``--data FILE``); the default reads labelled rows with ``load_table``.

        Raises:
            DataError: no label column was named, or the file is unusable.
            ConfigError: an unknown ``data.*`` option.
        """
        from rec_core.datasets import load_table, load_table_options

        path = request.data
        if not params.get("label"):
            raise DataError(f"{path}: say which column is the label: {_option_hint(request, 'data.label')}")
        return load_table(path, seed=config.random_seed, **load_table_options(params))

    # -- model -------------------------------------------------------------------------------------
    @classmethod
    def model_params(cls, request: TrainRequest, config: TrainingConfig, data: TaskData) -> dict[str, Any]:
        """Return the model's options: the request's ``model.*`` settings (a trainer may add what the data fixes).

        They are recorded in ``model.json``, so ``rec predict`` rebuilds the same model.
        """
        return dict(request.model_params)

    @classmethod
    def model_entry(cls, request: TrainRequest) -> Registration:
        """Return the registration of ``--model``, or of the trainer's ``default_model``."""
        return request.model or cls._default_entry(request, "models", cls.default_model, "--model NAME")

    @classmethod
    def build_model(cls, entry: Registration, params: dict[str, Any], data: TaskData) -> nn.Module:
        """Build the model ``entry`` registers from the data's features and the user's options.

        The factory is called as ``factory.from_features(features, **params)`` when it has
        that constructor, else ``factory(**params)``.

        Raises:
            ConfigError: the options do not fit the model or the data (names both).
        """
        return _make_model(entry, params, data.features, f"data set '{data.name}'")

    @classmethod
    def restore_model(cls, description: dict[str, Any], pm: RecPluginManager, task: str) -> nn.Module:
        """Rebuild a finished run's model from its ``model.json`` description (before loading weights)."""
        from rec_core.features import feature_from_dict

        entry = pm.registry("models").get(description["model"], task=task)
        features = [feature_from_dict(f) for f in description.get("features", [])]
        context = f"run data '{description.get('data')}'"
        return _make_model(entry, description.get("model_params", {}), features, context)

    @classmethod
    def describe(cls, entry: Registration, params: dict[str, Any], data: TaskData) -> dict[str, Any]:
        """Return the run's ``model.json``: what :meth:`restore_model` needs to rebuild the model."""
        from rec_core.features import feature_to_dict

        return {
            "model": entry.name,
            "model_params": params,
            "data": data.name,
            "targets": data.targets,
            "features": [feature_to_dict(f) for f in data.features],
        }

    # -- trainer and loaders -------------------------------------------------------------------------
    @classmethod
    def create_trainer(cls, model: nn.Module, config: TrainingConfig, request: TrainRequest, data: TaskData,
                       loggers: Any = None) -> Any:
        """Return the trainer, with the ``--weighter`` and ``--callback`` objects the request names.

        Raises:
            ConfigError: a weighter or callback rejects its options.
        """
        weighter = None
        if request.weighter is not None:
            entry, options = request.weighter
            known = {k: v for k, v in cls.weighter_context(data, model).items() if _accepts(entry.load(), k)}
            weighter = _instantiate(entry, "loss weighter", {**known, **options}, cls.loss_parts(data, model))
        callbacks = [_instantiate(entry, "callback", options) for entry, options in request.callbacks]
        return cls(model, config=config, loggers=loggers, callbacks=callbacks, loss_weighter=weighter)  # type: ignore[call-arg]

    @classmethod
    def loss_parts(cls, data: TaskData, model: nn.Module) -> list[str]:
        """Return the names of the loss parts ``training_step`` returns (default: one per target).

        A ``--weighter`` combines these parts; a trainer whose parts are not its targets
        (e.g. reconstruction and commitment losses) overrides this.
        """
        return data.target_names or ["loss"]

    @classmethod
    def weighter_context(cls, data: TaskData, model: nn.Module) -> dict[str, Any]:
        """Return keyword arguments a ``--weighter`` gets when its constructor takes them (default none).

        A multi-task trainer passes e.g. ``task_types``; the user's ``[weighter]`` options win.
        """
        return {}

    def make_loaders(self, data: TaskData) -> dict[str, Any]:
        """Return a :class:`~rec_core.data.ColumnarLoader` per split (the training one shuffled)."""
        from rec_core.data import ColumnarLoader

        config = self.config  # type: ignore[attr-defined]
        loaders: dict[str, Any] = {}
        for name, split in data.splits.items():
            labels = split.stacked_targets(data.target_names) if split.targets else None
            shuffle = {"shuffle": True, "seed": config.random_seed} if name == "train" else {}
            loaders[name] = ColumnarLoader(split.columns, labels, batch_size=config.batch_size, **shuffle)
        return loaders

    # -- rec predict -----------------------------------------------------------------------------------
    @classmethod
    def predict_from_run(cls, folder: RunFolder, data: Path, output: Path, checkpoint: str = "best", *,
                         pm: RecPluginManager) -> dict[str, Any]:
        """Score the table ``data`` with a finished run's model, encoded as its training data was.

        Writes ``data``'s columns plus ``prediction`` (one per target for several) to ``output``.

        Raises:
            RecError: the run has no saved encoding (a named data set), ``output`` exists, or a
                file cannot be read or written.
            DataError: ``data`` lacks a column the model needs.
        """
        from rec_core.data import ColumnarLoader
        from rec_core.datasets import TabularEncoder, read_table
        from rec_core.runfolder import RunFolder, os_errors_named

        run = folder.read_run()
        description = folder.read_description()
        encoder_file = folder.file(RunFolder.ENCODER)
        if not encoder_file.is_file():
            raise RecError(
                f"{folder.path} was trained on the data set '{description.get('data')}', which has no saved "
                f"encoding ({encoder_file} is missing); rec predict scores runs trained on a file"
            )
        if output.exists():
            raise RecError(f"output {output} already exists; choose another --output (nothing was overwritten)")
        path = folder.checkpoint(checkpoint)
        frame = read_table(data)
        columns = TabularEncoder.load(encoder_file).transform(frame, source=str(data))
        model = cls.restore_model(description, pm, run["task"])
        config = folder.read_config(cls.config_class).replace(progress_bar=False, device="auto")  # type: ignore[attr-defined]
        trainer = cls(model, config=config)  # type: ignore[call-arg]
        trainer._load_model_weights(path)
        scores = trainer.predict(ColumnarLoader(columns, batch_size=PREDICT_BATCH_SIZE)).numpy()
        result = frame.copy()
        targets = list(description.get("targets") or {})
        if scores.ndim == 2 and scores.shape[1] > 1:
            names = targets if len(targets) == scores.shape[1] else [str(i) for i in range(scores.shape[1])]
            for index, name in enumerate(names):
                result[f"prediction_{name}"] = scores[:, index]
        else:
            result["prediction"] = scores.reshape(-1)
        _write_frame(result, output, os_errors_named)
        return {"rows": len(result), "output": str(output), "checkpoint": str(path)}

    # -- rec recommend ---------------------------------------------------------------------------------
    @classmethod
    def recommend_from_run(cls, folder: RunFolder, user: str, k: int = 10, checkpoint: str = "best", *,
                           pm: RecPluginManager) -> dict[str, Any]:
        """Return ``{"user", "history", "checkpoint", "items": [{"rank", "item", "title"}]}``: a user's top-``k``.

        Retrieval trainers (seq, match) implement it; the default refuses with one line.

        Raises:
            RecError: this task's runs do not recommend, or the user is unknown.
        """
        task = folder.read_run()["task"]
        raise RecError(f"rec recommend works for runs that rank items (seq, match); {folder.path} is a {task} run")

    @classmethod
    def export_index_from_run(cls, folder: RunFolder, output: Path, checkpoint: str = "best", *, faiss: bool = False,
                              pm: RecPluginManager) -> dict[str, Any]:
        """Write a run's item vectors (and optionally a faiss index) for serving; retrieval trainers implement it.

        Raises:
            RecError: this task's runs have no item index.
        """
        task = folder.read_run()["task"]
        raise RecError(f"rec export-index works for runs that rank items (seq, match); {folder.path} is a {task} run")

    # -- helpers --------------------------------------------------------------------------------------------
    @classmethod
    def _default_entry(cls, request: TrainRequest, kind: str, name: str | None, flag: str) -> Registration:
        pm = request.plugin_manager
        if pm is None:
            from rec_core.plugins import make_plugin_manager

            pm = make_plugin_manager()
        registry = pm.registry(kind)
        if name is None:
            raise RecError(f"trainer '{request.task}' has no default {registry.kind.singular}; choose one with {flag}")
        return registry.get(name, task=request.task)


def _make_model(entry: Registration, params: dict[str, Any], features: list[Any], context: str) -> Any:
    factory = entry.load()
    build = getattr(factory, "from_features", None)
    try:
        return build(features, **params) if build is not None else factory(**params)
    except ConfigError as exc:
        raise ConfigError(f"{exc} ({context})") from None
    except (TypeError, ValueError, KeyError) as exc:  # options the factory could not use
        raise ConfigError(f"model '{entry.name}': bad options {params} ({context}): {type(exc).__name__}: {exc}") \
            from exc


def _instantiate(entry: Registration, kind: str, options: dict[str, Any], *args: Any) -> Any:
    cls = entry.load()
    try:
        return cls(*args, **options)
    except ConfigError as exc:
        raise ConfigError(f"{kind} '{entry.name}': {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{kind} '{entry.name}': bad options {options}: {exc}") from exc


def _accepts(factory: Any, keyword: str) -> bool:
    """Return whether calling ``factory`` accepts the keyword argument ``keyword``."""
    import inspect

    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == keyword or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def _option_hint(request: TrainRequest, target: str) -> str:
    """Return how the user sets ``target`` (a trainer flag if it registered one, else ``--set``)."""
    for option in request.trainer.info.get("options", ()):
        if option.get("target") == target:
            return f"{option['flag']} COLUMN"
    return f"--set {target}=COLUMN"


def _write_frame(frame: Any, output: Path, os_errors_named: Any) -> None:
    from rec_core.files import atomic_write

    def write(tmp: Path) -> None:
        if output.suffix == ".parquet":
            frame.to_parquet(tmp)
        else:
            frame.to_csv(tmp, index=False, sep="\t" if output.suffix == ".tsv" else ",")

    with os_errors_named(output):
        atomic_write(output, write)
