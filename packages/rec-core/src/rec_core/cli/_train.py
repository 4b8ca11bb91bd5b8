"""``rec train TASK``: one sub-command per registered trainer, generated from the registry.

The options are common to every trainer and live here; a plugin's new trainer appears as
``rec train NAME`` with no CLI code of its own. The command resolves names, validates
options and builds a :class:`~rec_core.run.TrainRequest`; :func:`rec_core.pipeline.run_training`
runs it; the command prints the result table (or JSON) and turns Ctrl-C into exit code 130.
"""

from __future__ import annotations

import enum
import inspect
import os
import time
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from rec_core.cli._console import err_console, out_console, print_json
from rec_core.config import parse_value, read_toml
from rec_core.errors import ConfigError, RecError
from rec_core.plugins import RecPluginManager
from rec_core.recipes import Recipe, recipe_for, resolve_recipe
from rec_core.run import LAUNCHED_ENV, TrainRequest
from rec_core.runfolder import RunFolder

__all__ = ["add_train_commands", "build_request", "recipe_for"]

_SECTIONS = ("model", "data", "logger", "weighter", "callback")


class RecipeChoice(str, enum.Enum):
    """``--recipe``: apply the data set's recipe (``auto``) or not (``none``)."""

    auto = "auto"
    none = "none"


def add_train_commands(app: typer.Typer, pm: RecPluginManager) -> None:
    """Add the ``train`` group with one sub-command per registered trainer."""
    registry = pm.registry("trainers")

    class TrainGroup(TyperGroup):
        def resolve_command(self, ctx: typer.Context, args: list[str]) -> Any:
            name = args[0] if args else ""
            if name and not name.startswith("-") and self.get_command(ctx, name) is None:
                registry.get(name)  # raises UnknownNameError with suggestions and install hints
            return super().resolve_command(ctx, args)

    names = registry.names()
    listing = ", ".join(names) if names else "none installed (pip install rec-trainers)"
    train_app = typer.Typer(
        cls=TrainGroup,
        no_args_is_help=True,
        help=f"Train a model: rec train TASK --model NAME. Tasks: {listing}.",
    )
    for entry in registry.entries():
        command = _with_trainer_options(_make_train_command(pm, entry.name), entry.info.get("options", ()))
        train_app.command(entry.name, help=_train_help(entry.name, entry.description))(command)
    app.add_typer(train_app, name="train")


def _train_help(task: str, description: str) -> str:
    summary = description or f"Train a {task} model."
    return (
        f"{summary}\n\nModels: rec list models --task {task}. Settings: rec settings {task} lists every "
        "config key, its default and meaning; set one with --set key=value or in a TOML file (--config); "
        "flags win over --set, --set over the file."
    )


def _make_train_command(pm: RecPluginManager, task: str) -> Any:
    def train(
        model: str | None = typer.Option(None, "--model", "-m", help="Model name (rec list models --task TASK)."),
        data: str | None = typer.Option(
            None, "--data", "-d", help="Data set name (rec list datasets) or a .csv/.parquet file; default: bundled."
        ),
        config: Path | None = typer.Option(None, "--config", "-c", help="TOML file with config fields."),
        set_: list[str] = typer.Option([], "--set", "-s", help="key=value for any config field (repeatable)."),
        epochs: int | None = typer.Option(None, "--epochs", min=1, help="Maximum number of epochs."),
        batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="Batch size."),
        lr: float | None = typer.Option(None, "--lr", min=0.0, help="Learning rate."),
        device: str | None = typer.Option(None, "--device", help="cpu, cuda, cuda:1 or auto."),
        seed: int | None = typer.Option(None, "--seed", help="Random seed."),
        logger: list[str] = typer.Option([], "--logger", "-l", help="Logger name (repeatable)."),
        weighter: str | None = typer.Option(
            None, "--weighter", help="Loss weighter of a multi-task loss (rec list weighters)."
        ),
        callback: list[str] = typer.Option([], "--callback", help="Add a callback (repeatable; rec list callbacks)."),
        output: Path | None = typer.Option(None, "--output", "-o", help="Run folder; default runs/TASK-MODEL-TIME."),
        resume: Path | None = typer.Option(None, "--resume", help="Checkpoint file or run folder to continue."),
        nproc_per_node: int = typer.Option(1, "--nproc-per-node", min=1, help="Processes for DDP training."),
        json: bool = typer.Option(False, "--json", help="Print the summary as JSON on the last line."),
        recipe: RecipeChoice = typer.Option(
            RecipeChoice.auto, "--recipe", case_sensitive=False,
            help="auto: apply the named data set's tuned settings for this model, if it ships some (rec list "
                 "datasets); your --config, --set and flags still win. none: the trainer's defaults only.",
        ),
        trainer_options: dict[str, Any] | None = None,
    ) -> None:
        flags = {"max_epochs": epochs, "batch_size": batch_size, "learning_rate": lr, "device": device,
                 "random_seed": seed}
        request = build_request(
            pm, task, model=model, data=data, config_file=config, sets=set_,
            flags={k: v for k, v in flags.items() if v is not None}, loggers=logger, weighter=weighter,
            callbacks=callback, output=output, resume=resume, json=json, extras=trainer_options,
            recipe=recipe is RecipeChoice.auto,
        )
        if nproc_per_node > 1:
            from rec_core.distributed import launch_cli

            raise typer.Exit(launch_cli(nproc_per_node))
        _run_and_report(request)

    train.__doc__ = f"Train a {task} model."
    return train


def build_request(
    pm: RecPluginManager,
    task: str,
    *,
    model: str | None = None,
    data: str | None = None,
    config_file: Path | None = None,
    sets: list[str] | tuple[str, ...] = (),
    flags: dict[str, Any] | None = None,
    loggers: list[str] | tuple[str, ...] = (),
    weighter: str | None = None,
    callbacks: list[str] | tuple[str, ...] = (),
    output: Path | None = None,
    resume: Path | None = None,
    json: bool = False,
    extras: dict[str, Any] | None = None,
    recipe: bool = True,
) -> TrainRequest:
    """Resolve and validate a ``rec train`` invocation.

    Precedence: trainer defaults < the named data set's recipe (:mod:`rec_core.recipes`;
    ``recipe=False`` leaves it out) < config file < ``--set`` < explicit flags. The request's
    ``recipe`` holds what of it applies, less the keys the user set.

    Raises:
        RecError: an unknown name, key or file, with a one-line message saying which.
        typer.BadParameter: a malformed ``--set`` (exit code 2).
    """
    trainer = pm.registry("trainers").get(task)
    file_values = read_toml(config_file) if config_file else {}
    sections = {name: _table(file_values.pop(name, {}), name, config_file) for name in _SECTIONS}
    set_values = _parse_sets(sets)
    for target, value in (extras or {}).items():  # trainer-specific flags: {"data.label": "click"}
        _merge(set_values, _nested(target.split("."), value))
    for name in _SECTIONS:
        _merge(sections[name], _table(set_values.pop(name, {}), name, None))

    resumed, resume_path = RunFolder.for_resume(resume) if resume else (None, None)
    recorded = _recorded_request(pm, resumed, task) if resumed else {}
    model_name = model or sections["model"].pop("name", None) or recorded.get("model")
    sections["model"].pop("name", None)
    given_data = data or sections["data"].pop("name", None)
    sections["data"].pop("name", None)
    data_name = given_data or recorded.get("data")
    if given_data is None or given_data == recorded.get("data"):  # the resumed run's data: its options too
        sections["data"] = {**recorded.get("data_params", {}), **sections["data"]}
    weighter_name = weighter or sections["weighter"].pop("name", None)
    sections["weighter"].pop("name", None)
    if sections["weighter"] and not weighter_name:
        raise ConfigError("weighter options given but no weighter chosen: add --weighter NAME")
    resolved_loggers = _named(pm, "loggers", sections["logger"], loggers, config_file)
    resolved_callbacks = _named(pm, "callbacks", sections["callback"], callbacks, config_file)
    resolved_weighter = (pm.registry("weighters").get(weighter_name), sections["weighter"]) if weighter_name else None
    model_entry = pm.registry("models").get(model_name, task=task) if model_name else None
    data_ref = _resolve_data(pm, task, data_name)

    trainer_cls = trainer.load()
    config_cls = getattr(trainer_cls, "config_class", None)
    if config_cls is None:
        from rec_core.config import TrainingConfig as config_cls
    config_cls.check_keys(file_values, source=str(config_file))
    config_cls.check_keys(set_values, source="--set")
    applied = _recipe(pm, task, trainer_cls, data_ref, model_name) if recipe else None
    if applied is not None:
        config_cls.check_keys(applied.settings, source=f"the recipe {applied.source}")
        applied = applied.without({*file_values, *set_values, *(flags or {})}, set(sections["model"]))
    recipe_values = applied.settings if applied else {}
    sections["model"] = {**(applied.model_params if applied else {}), **recorded.get("model_params", {}),
                         **sections["model"]}
    defaults = trainer_cls.default_config().to_dict() if hasattr(trainer_cls, "default_config") else {}
    source = f"{config_file} and --set" if config_file else "--set"
    kept = resumed.read_config(config_cls).to_dict() if resumed and resumed.file(RunFolder.CONFIG).is_file() else {}
    config = config_cls.from_dict({**defaults, **recipe_values, **kept, **file_values, **set_values,
                                   **(flags or {})}, source=source)

    run_dir = output or (resumed.path if resumed else _default_output(task, model_name))
    if not os.environ.get(LAUNCHED_ENV):  # torchrun workers: the launcher checked already
        RunFolder(run_dir).check_can_start(resuming=resume_path is not None)
    return TrainRequest(
        task=task, trainer=trainer, config=config, output=run_dir, model=model_entry, data=data_ref,
        model_params=sections["model"], data_params=sections["data"], loggers=resolved_loggers,
        weighter=resolved_weighter, callbacks=resolved_callbacks, resume=resume_path, json=json,
        plugin_manager=pm, recipe=applied,
    )


def _recorded_request(pm: RecPluginManager, folder: RunFolder, task: str) -> dict[str, Any]:
    """Return what a resumed run was trained with: its model, data, and their options (its config is read apart).

    ``rec train TASK --resume RUN`` continues RUN as it was started; options given again replace
    these. The model and data count only where they name a registered model or data set (or the
    data file is still there); a checkpoint outside a run folder records nothing.

    Raises:
        ConfigError: RUN was trained by another task's trainer.
    """
    try:
        run = folder.read_run()
    except RecError:
        return {}
    if run.get("task") not in (None, task):
        raise ConfigError(f"{folder.path} is a '{run['task']}' run: continue it with rec train {run['task']} "
                          f"--resume {folder.path}")
    recorded: dict[str, Any] = {}
    if run.get("model") in pm.registry("models").names(task):
        recorded["model"] = run["model"]
    data_file = run.get("data_file")
    if data_file and Path(str(data_file)).is_file():
        recorded["data"] = str(data_file)
    elif run.get("data") and run["data"] in pm.registry("datasets"):  # any task's: tiger reads seq data sets
        recorded["data"] = run["data"]
    try:
        description = folder.read_description()
    except RecError:
        description = {}
    for key in ("model_params", "data_params"):  # model.json's: as built (sizes the data fixed, absolute paths)
        values = {**(run.get(key) or {}), **(description.get(key) or {})}
        if values:
            recorded[key] = values
    return recorded


def _recipe(pm: RecPluginManager, task: str, trainer_cls: Any, data_ref: Any, model: str | None) -> Recipe | None:
    """Return the recipe of the named (or the trainer's default) data set for this model; a file has none."""
    if isinstance(data_ref, Path):
        return None
    data = data_ref.name if data_ref is not None else getattr(trainer_cls, "default_data", None)
    if data is None or data not in pm.registry("datasets"):
        return None
    return resolve_recipe(pm, data, task, model or getattr(trainer_cls, "default_model", None))


def _named(pm: RecPluginManager, kind: str, tables: dict[str, Any], chosen: list[str] | tuple[str, ...],
           source: Path | None) -> list[tuple[Any, dict[str, Any]]]:
    """Resolve ``--logger``/``--callback`` names and their ``[logger.NAME]``/``[callback.NAME]`` options."""
    section = "logger" if kind == "loggers" else "callback"
    options = {name: _table(opts, f"{section}.{name}", source) for name, opts in tables.items()}
    for name in chosen:
        options.setdefault(name, {})
    return [(pm.registry(kind).get(name), opts) for name, opts in options.items()]


def _run_and_report(request: TrainRequest) -> None:
    """Run the request; print the result table (and JSON), or the Ctrl-C message with exit 130."""
    from rec_core.pipeline import RunInterrupted, run_training

    rank0 = int(os.environ.get("RANK", "0") or 0) == 0
    recipe = request.recipe

    def announce() -> None:  # once the request is valid: a bad one stays a single error line
        if recipe is not None:
            err_console.print(escape(recipe.describe()), style="cyan")

    try:
        summary = run_training(request.trainer.load(), request, on_start=announce)
    except RunInterrupted as stop:
        if rank0:
            where = f"latest checkpoint {stop.checkpoint}" if stop.checkpoint else "no checkpoint was written yet"
            err_console.print(
                f"[yellow]interrupted[/]: {where}; continue with: rec train {stop.task} --resume {stop.folder.path}"
            )
        raise typer.Exit(130) from None
    if rank0:
        _print_table(summary)
        if request.json:
            print_json(summary)


def _print_table(summary: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"rec train {summary['task']}: {summary['model']} on {summary['data']}",
                  title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in {**summary["best"], **summary["test"]}.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    for key, value in summary.get("info", {}).items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value), style="dim")
    for key in ("epochs", "global_step", "seconds", "cpu_threads", "captured_steps", "capture_fallback",
                "best_checkpoint"):
        if key in summary:
            table.add_row(key, str(summary[key]))
    out_console.print(table)


def _parse_sets(sets: list[str] | tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected key=value, got {item!r}", param_hint="'--set'")
        parts = key.strip().split(".")
        if len(parts) > 1 and parts[0] not in _SECTIONS:
            raise ConfigError(
                f"--set {key}: dotted keys must start with {', '.join(_SECTIONS)} (e.g. model.embed_dim=16)"
            )
        target = values
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = parse_value(raw.strip())
    return values


def _nested(parts: list[str], value: Any) -> dict[str, Any]:
    return {parts[0]: _nested(parts[1:], value) if len(parts) > 1 else value}


def _with_trainer_options(train: Any, options: Any) -> Any:
    """Add a trainer's own flags (registered as ``options=[...]``) to its command.

    Each option is a dict: ``flag`` ("--label"), ``target`` (a ``--set`` key such as
    "data.label"), ``help``, ``list`` (True: split "a,b" into a list) and ``multiple``
    (True: the flag may be repeated, ``--label click --label buy``; values are collected
    into a list, commas split too).
    """
    options = list(options)
    signature = inspect.signature(train, eval_str=True)
    base = [p for p in signature.parameters.values() if p.name != "trainer_options"]
    names = {f"opt_{o['flag'].lstrip('-').replace('-', '_')}": o for o in options}
    extra = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY,
            annotation=list[str] if option.get("multiple") else str | None,
            default=typer.Option([] if option.get("multiple") else None, option["flag"], help=option.get("help", "")),
        )
        for name, option in names.items()
    ]

    def command(**values: Any) -> None:
        chosen = {}
        for name, option in names.items():
            value = values.pop(name)
            if option.get("multiple"):
                if value:
                    chosen[option["target"]] = [v.strip() for item in value for v in item.split(",") if v.strip()]
            elif value is not None:
                chosen[option["target"]] = [v.strip() for v in value.split(",") if v.strip()] if option.get(
                    "list") else parse_value(value)
        train(**values, trainer_options=chosen)

    command.__signature__ = signature.replace(parameters=[*base, *extra])  # type: ignore[attr-defined]
    command.__doc__ = train.__doc__
    return command


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _table(value: Any, name: str, source: Path | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        where = f" in {source}" if source else ""
        raise ConfigError(f"'{name}'{where} must be a table of options (e.g. [{name}]), got {value!r}")
    return dict(value)


def _resolve_data(pm: RecPluginManager, task: str, name: str | None) -> Any:
    if name is None:
        return None
    path = Path(name)
    if path.suffix or path.exists() or "/" in name:
        if not path.exists():
            raise RecError(f"data file not found: {name}")
        return path
    return pm.registry("datasets").get(name)


def _default_output(task: str, model: str | None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{task}-{model or 'default'}-{stamp}"

