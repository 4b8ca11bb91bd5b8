"""Per-data-set recipes: the tuned trainer settings and model options a registered data set ships.

A data set registered with ``recipe="package:relative/path.toml"`` names a TOML file inside
that package. ``rec train TASK --data NAME`` applies it under the user's config file,
``--set`` and flags (``--recipe none`` leaves it out); ``rec list datasets`` shows which
models have one. A user's file (``--data FILE``) has no recipe. The file holds tables per
task::

    [ctr]                  # trainer settings (TrainingConfig fields) for every ctr model
    max_epochs = 100
    [ctr.trainer.deepfm]   # trainer settings for deepfm only, over [ctr]
    learning_rate = 0.001
    [ctr.model.deepfm]     # deepfm's options, as --set model.KEY=VALUE would give them
    mlp_params = {dims = [400, 400, 400], dropout = 0.2, batch_norm = true}

A model "has a recipe" when it has a ``trainer`` or ``model`` table; a task table with
neither applies its settings to every model of that task. Reading a recipe imports no torch.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rec_core.config import tomllib
from rec_core.errors import RecError

if TYPE_CHECKING:
    from rec_core.plugins import RecPluginManager
    from rec_core.registry import Registration

__all__ = ["ALL_MODELS", "Recipe", "format_value", "read_recipe", "recipe_for", "recipe_models", "resolve_recipe"]

ALL_MODELS = "*"
"""What :func:`recipe_models` lists for a task whose settings apply to every model."""

_PER_MODEL = ("trainer", "model")


@dataclass(frozen=True)
class Recipe:
    """The part of a data set's recipe that applies to one task and model.

    Attributes:
        data: The data set's registry name.
        task: The trainer's registry name.
        model: The model it was looked up for (``None``: the task's settings only).
        source: The file, as registered (``"rec_trainers:recipes/frappe.toml"``).
        settings: Trainer settings: ``[TASK]`` with ``[TASK.trainer.MODEL]`` over it.
        model_params: ``[TASK.model.MODEL]``.
        overridden: Keys the user set too (``"batch_size"``, ``"model.dropout"``); theirs win.
    """

    data: str
    task: str
    model: str | None
    source: str
    settings: dict[str, Any] = field(default_factory=dict)
    model_params: dict[str, Any] = field(default_factory=dict)
    overridden: tuple[str, ...] = ()

    def without(self, settings: set[str], model_params: set[str]) -> Recipe:
        """Return the recipe less the keys the user set, recorded in :attr:`overridden`."""
        dropped = sorted(k for k in self.settings if k in settings)
        dropped += sorted(f"model.{k}" for k in self.model_params if k in model_params)
        return Recipe(
            self.data, self.task, self.model, self.source,
            {k: v for k, v in self.settings.items() if k not in settings},
            {k: v for k, v in self.model_params.items() if k not in model_params},
            tuple(dropped),
        )

    def items(self) -> list[tuple[str, Any]]:
        """Return ``(key, value)`` pairs as ``--set`` names them (``model.`` before model options)."""
        return [*sorted(self.settings.items()), *((f"model.{k}", v) for k, v in sorted(self.model_params.items()))]

    def describe(self) -> str:
        """Return one line: what was applied, from where, and what the user's values replaced."""
        name = f"{self.data}/{self.model}" if self.model else self.data
        values = ", ".join(f"{key}={format_value(value)}" for key, value in self.items()) or "nothing left"
        line = f"recipe {name} ({self.source}): {values}"
        if self.overridden:
            line += f"; yours: {', '.join(self.overridden)}"
        return line + "; --recipe none to train without it"

    def to_json(self) -> dict[str, Any]:
        """Return the recipe as a JSON-able dict (recorded in ``run.json``)."""
        return {"data": self.data, "task": self.task, "model": self.model, "source": self.source,
                "settings": self.settings, "model_params": self.model_params, "overridden": list(self.overridden)}


def read_recipe(entry: Registration) -> dict[str, Any]:
    """Return the recipe file of a data-set registration as a dict (``{}`` without one).

    Raises:
        RecError: the file is missing, not valid TOML, or not laid out as above (a
            packaging bug; the message names the data set and the file).
    """
    reference = entry.info.get("recipe")
    if not reference:
        return {}
    package, _, relative = str(reference).partition(":")
    try:
        text = importlib.resources.files(package).joinpath(relative).read_text(encoding="utf-8")
        values = tomllib.loads(text)
    except (ModuleNotFoundError, OSError, ValueError) as exc:
        raise RecError(f"data set '{entry.name}': cannot read its recipe {reference}: {exc}") from None
    for task, table in values.items():
        where = f"data set '{entry.name}': recipe {reference}: [{task}]"
        if not isinstance(table, dict):
            raise RecError(f"{where} must be a table of trainer settings")
        for kind in _PER_MODEL:
            models = table.get(kind, {})
            if not isinstance(models, dict) or not all(isinstance(v, dict) for v in models.values()):
                raise RecError(f"{where}: '{kind}' must hold one table per model ([{task}.{kind}.NAME])")
    return values


def resolve_recipe(pm: RecPluginManager, data: str, task: str, model: str | None) -> Recipe | None:
    """Return the recipe that data set ``data`` ships for ``task`` and ``model``, or ``None``.

    Raises:
        RecError: the data set's recipe file is unreadable (see :func:`read_recipe`).
    """
    entry = pm.registry("datasets").get(data)
    values = read_recipe(entry)
    if task not in values:
        return None
    settings = {k: v for k, v in values[task].items() if k not in _PER_MODEL}
    model_params: dict[str, Any] = {}
    if model:
        settings.update(values[task].get("trainer", {}).get(model, {}))
        model_params = dict(values[task].get("model", {}).get(model, {}))
    if not settings and not model_params:
        return None
    return Recipe(data, task, model, str(entry.info["recipe"]), settings, model_params)


def recipe_for(pm: RecPluginManager, data: str, model: str | None, task: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the ``(trainer settings, model options)`` of data set ``data``'s recipe for ``task`` and ``model``.

    The Python-side equivalent of what ``rec train TASK --data DATA --model MODEL`` applies
    (used by the quality benchmarks); ``({}, {})`` where there is no recipe.
    """
    recipe = resolve_recipe(pm, data, task, model)
    return (dict(recipe.settings), dict(recipe.model_params)) if recipe else ({}, {})


def recipe_models(entry: Registration) -> dict[str, list[str]]:
    """Return task -> the models with their own recipe tables (``["*"]``: the settings fit every model).

    Raises:
        RecError: the recipe file is unreadable (see :func:`read_recipe`).
    """
    found: dict[str, list[str]] = {}
    for task, table in read_recipe(entry).items():
        names = sorted({name for kind in _PER_MODEL for name in table.get(kind, {})})
        found[task] = names or [ALL_MODELS]
    return found


def format_value(value: Any) -> str:
    """Return ``value`` as ``--set`` reads it back (TOML inline syntax): ``{dims=[400, 400], dropout=0.2}``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={format_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return repr(value)
