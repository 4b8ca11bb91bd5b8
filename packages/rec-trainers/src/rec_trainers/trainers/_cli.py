"""``rec train ctr`` and ``rec predict`` for CTR runs: data -> features -> model -> trainer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rec_core.data import ColumnarLoader
from rec_core.errors import ConfigError, DataError, RecError
from rec_core.features import feature_from_dict, feature_to_dict
from rec_core.files import read_json, write_json_atomically
from rec_core.runner import PreparedRun

if TYPE_CHECKING:
    from rec_core import TrainingConfig
    from rec_core.run import TrainRequest
    from rec_trainers.datasets import CTRData
    from rec_trainers.trainers.ctr import CTRTrainer

__all__ = ["RUN_MODEL_FILE", "predict_from_run", "prepare_ctr_run"]

RUN_MODEL_FILE = "model.json"
RUN_ENCODER_FILE = "encoder.json"


def prepare_ctr_run(
    cls: type[CTRTrainer], request: TrainRequest, *, config: TrainingConfig, loggers: list[Any]
) -> PreparedRun:
    """Load the data, build the model from its features and wrap both in a trainer."""
    data = _load_data(request, config)
    pm = request.plugin_manager
    entry = request.model or (pm.registry("models").get(cls.default_model, task="ctr") if pm else None)
    if entry is None:
        raise RecError("no model given and no plugin manager to find the default one")
    model_cls = entry.load()
    try:
        model = model_cls.from_features(data.features, **request.model_params)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (data set '{data.name}')") from None
    trainer = cls(model, config=config, loggers=loggers)

    def loader(split: Any, **kwargs: Any) -> ColumnarLoader | None:
        if split is None:
            return None
        columns, labels = split
        return ColumnarLoader(columns, labels, batch_size=config.batch_size, **kwargs)

    def write_files(run_dir: Path) -> None:
        description = {
            "model": entry.name,
            "model_params": request.model_params,
            "data": data.name,
            "label": data.label,
            "features": [feature_to_dict(f) for f in data.features],
        }
        write_json_atomically(run_dir / RUN_MODEL_FILE, description)
        if data.encoder is not None:
            data.encoder.save(run_dir / RUN_ENCODER_FILE)

    return PreparedRun(
        trainer=trainer,
        train_loader=loader(data.train, shuffle=True, seed=config.random_seed),
        val_loader=loader(data.val),
        test_loader=loader(data.test),
        info={"model": entry.name, "data": data.name, **data.info},
        write_files=write_files,
    )


def _load_data(request: TrainRequest, config: TrainingConfig) -> CTRData:
    from rec_trainers.datasets import DEFAULT_DATASET, load_table

    params = dict(request.data_params)
    if isinstance(request.data, Path):
        label = params.pop("label", None)
        if not label:
            raise DataError(f"{request.data}: say which column is the label, e.g. --label click")
        return load_table(request.data, label=label, seed=config.random_seed, **params)
    entry = request.data
    if entry is None:
        if request.plugin_manager is None:
            raise RecError("no data given and no plugin manager to find the default data set")
        entry = request.plugin_manager.registry("datasets").get(DEFAULT_DATASET)
    if not entry.matches_task("ctr"):
        raise RecError(f"data set '{entry.name}' is for task '{entry.task}', not ctr")
    return entry.load().load(seed=config.random_seed, **params)


def predict_from_run(
    cls: type[CTRTrainer], run_dir: Path, data: Path, output: Path, checkpoint: str = "best"
) -> dict[str, Any]:
    """Score ``data`` with the model of a finished run, encoded the way it was trained.

    Raises:
        RecError: the run folder lacks what is needed, or ``output`` already exists.
        DataError: ``data`` is missing a column the model needs.
    """
    from rec_core.plugins import make_plugin_manager
    from rec_trainers.datasets import TabularEncoder, read_table

    description = _read_description(run_dir)
    encoder_file = run_dir / RUN_ENCODER_FILE
    if not encoder_file.is_file():
        raise RecError(
            f"{run_dir} was trained on the built-in data set '{description['data']}', which has no "
            f"saved encoding ({encoder_file} is missing); rec predict scores runs trained on a file"
        )
    if output.exists():
        raise RecError(f"output {output} already exists; choose another --output (nothing was overwritten)")
    encoder = TabularEncoder.load(encoder_file)
    frame = read_table(data)
    columns = encoder.transform(frame, source=str(data))
    features = [feature_from_dict(f) for f in description["features"]]
    model_cls = make_plugin_manager().registry("models").get(description["model"], task="ctr").load()
    model = model_cls.from_features(features, **description.get("model_params", {}))
    path = _checkpoint_path(run_dir, checkpoint)
    trainer = cls(model, progress_bar=False, checkpoint_dir=str(run_dir / "checkpoints"))
    trainer._load_model_weights(path)
    scores = trainer.predict(ColumnarLoader(columns, batch_size=8192)).numpy()
    result = frame.copy()
    result["prediction"] = scores
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".parquet":
        result.to_parquet(output)
    else:
        result.to_csv(output, index=False)
    return {"rows": len(result), "output": str(output), "checkpoint": str(path)}


def _read_description(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_MODEL_FILE
    return read_json(path, missing=f"{run_dir} is not a finished rec train ctr run ({path} is missing)")


def _checkpoint_path(run_dir: Path, checkpoint: str) -> Path:
    folder = run_dir / "checkpoints"
    if checkpoint in ("best", "last"):
        index = folder / "checkpoints.json"
        name = read_json(index, missing=f"{index} is missing").get(checkpoint) or "last.ckpt"
        return folder / name
    path = Path(checkpoint)
    if not path.is_file():
        raise RecError(f"checkpoint not found: {path}")
    return path
