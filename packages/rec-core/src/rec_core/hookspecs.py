"""Hook specifications: the contract between rec and its plugins.

A plugin is a module named by an entry point in the ``rec`` group::

    [project.entry-points.rec]
    my-plugin = "my_package.plugin"

The module implements any of the hooks below, marked with :data:`hookimpl`. Each
registration hook receives a ``register`` callable, always called as
``register(name, obj, **info)``. Hooks are called once per process, lazily, the first time
a registry of that kind is needed; they are called with keyword arguments only.

Registry names are lowercase ``[a-z0-9-]`` and stable: users type them on the command line
and store them in config files. Registering a name that another plugin already registered
is an error naming both plugins. An exception raised inside a hook is recorded against the
plugin (``rec plugins`` shows it); the other plugins keep working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import typer

__all__ = [
    "PROJECT_NAME",
    "Register",
    "hookimpl",
    "hookspec",
    "rec_register_callbacks",
    "rec_register_commands",
    "rec_register_datasets",
    "rec_register_loggers",
    "rec_register_loss_weighters",
    "rec_register_models",
    "rec_register_text_encoders",
    "rec_register_trainers",
]

PROJECT_NAME = "rec"
"""The pluggy project name and the entry-point group of rec plugins."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class Register(Protocol):
    """The callable handed to every ``rec_register_*`` hook."""

    def __call__(self, name: str, obj: Any, /, **info: Any) -> None:
        """Register ``obj`` under ``name``; ``info`` is optional metadata."""


@hookspec
def rec_register_trainers(register: Register) -> None:
    """Register trainer classes, one per task.

    Called the first time rec needs the trainer registry, e.g. to build the
    ``rec train TASK`` sub-commands or to resolve ``rec list trainers``.

    Call ``register(name, trainer_cls, description=...)`` once per trainer. ``name`` is the
    task name users type (``rec train ctr``); ``trainer_cls`` subclasses
    :class:`rec_core.BaseTrainer`. Every registered trainer gets a ``rec train NAME``
    sub-command with the common options, without CLI code of its own: rec-core's pipeline
    loads the data, builds the model, makes the loaders and writes the run folder through
    the class's overridable ``from_request`` steps (``default_model``/``default_data`` name
    what runs without ``--model``/``--data``). ``options=[{"flag": "--label", "target":
    "data.label", "help": ...}]`` adds trainer-specific flags that set ``--set`` keys.

    Raises:
        PluginLoadError: (recorded, not propagated) when the name is already taken by
            another plugin or is not lowercase ``[a-z0-9-]``.

    Example::

        @hookimpl
        def rec_register_trainers(register):
            register("ctr", CTRTrainer, description="click-through-rate prediction")
    """


@hookspec
def rec_register_models(register: Register) -> None:
    """Register model factories for a task.

    Called the first time rec needs the model registry (``rec train TASK --model NAME``,
    ``rec list models``).

    Call ``register(name, factory, task=TASK, description=...)``. ``task`` is required: it
    names the trainer the model is meant for, and model names are unique within a task (a
    ``dssm`` for ``match`` and a ``dssm`` for ``ctr`` may coexist). ``factory`` is the model
    class or a callable building it from feature definitions.

    Raises:
        PluginLoadError: (recorded) on a duplicate ``(task, name)``, a missing ``task`` or
            an invalid name.

    Example::

        @hookimpl
        def rec_register_models(register):
            register("deepfm", DeepFM, task="ctr", description="FM + MLP (Guo et al. 2017)")
    """


@hookspec
def rec_register_loggers(register: Register) -> None:
    """Register experiment loggers usable as ``rec train ... --logger NAME``.

    Called the first time rec needs the logger registry.

    Call ``register(name, logger_cls, description=...)``; ``logger_cls`` subclasses
    :class:`rec_core.loggers.BaseLogger`. Import heavy SDKs inside the logger's
    ``__init__``, not in the plugin module, so ``rec --help`` stays fast and a missing SDK
    only matters when that logger is used.

    Raises:
        PluginLoadError: (recorded) on a duplicate or invalid name.

    Example::

        @hookimpl
        def rec_register_loggers(register):
            register("wandb", WandbLogger, description="Weights & Biases")
    """


@hookspec
def rec_register_loss_weighters(register: Register) -> None:
    """Register multi-task loss weighters (``equal``, ``uwl``, ``gradnorm``, ...).

    Called the first time rec needs the weighter registry.

    Call ``register(name, weighter_cls, description=...)``; ``weighter_cls`` subclasses
    :class:`rec_core.BaseLossWeighter`.

    Raises:
        PluginLoadError: (recorded) on a duplicate or invalid name.

    Example::

        @hookimpl
        def rec_register_loss_weighters(register):
            register("gradnorm", GradNormWeighter, description="GradNorm (Chen et al. 2018)")
    """


@hookspec
def rec_register_datasets(register: Register) -> None:
    """Register named data sets usable as ``rec train TASK --data NAME``.

    Called the first time rec needs the data-set registry.

    Call ``register(name, dataset_spec, task=..., description=...)``. ``dataset_spec`` is a
    recipe object with ``load(*, seed, data_dir=None, cache_dir=None, embed_dim=None,
    **options) -> rec_core.datasets.TaskData`` (files, schema, features, targets, split);
    ``task`` says which trainers can use it (a string or a tuple of strings). The
    registered name is the data set's name everywhere (the pipeline stamps it on the data).
    ``recipe="package:relative/path.toml"`` (optional) ships tuned trainer settings and model
    options that ``rec train TASK --data NAME`` applies under the user's own (layout in
    :mod:`rec_core.recipes`; ``rec list datasets`` shows which models have one).

    Raises:
        PluginLoadError: (recorded) on a duplicate or invalid name.

    Example::

        @hookimpl
        def rec_register_datasets(register):
            register("frappe", FRAPPE, task="ctr", description="Frappe app usage, NFM split")
    """


@hookspec
def rec_register_callbacks(register: Register) -> None:
    """Register training callbacks by name (usable from config files).

    Called the first time rec needs the callback registry.

    Call ``register(name, callback_cls, description=...)``; ``callback_cls`` subclasses
    :class:`rec_core.callbacks.Callback`. Per-batch behaviour belongs in callbacks, never in
    pluggy hooks.

    Raises:
        PluginLoadError: (recorded) on a duplicate or invalid name.

    Example::

        @hookimpl
        def rec_register_callbacks(register):
            register("swa", StochasticWeightAveraging, description="average late weights")
    """


@hookspec
def rec_register_text_encoders(register: Register) -> None:
    """Register text encoders: item text (titles, descriptions) -> one vector per item.

    Called the first time rec needs the text-encoder registry (e.g. ``rec train rqvae``,
    which learns semantic IDs from item text).

    Call ``register(name, encoder_factory, description=...)``; ``encoder_factory(**options)``
    returns an object with ``name`` (str, identifies the embeddings in caches), ``dim``
    (int) and ``encode(texts: list[str]) -> numpy.ndarray`` of shape ``(len(texts), dim)``.
    Load models lazily in the factory, not at registration.

    Raises:
        PluginLoadError: (recorded) on a duplicate or invalid name.

    Example::

        @hookimpl
        def rec_register_text_encoders(register):
            register("my-bert", MyBertEncoder, description="our in-house BERT, 768-d")
    """


@hookspec
def rec_register_commands(app: typer.Typer) -> None:
    """Add sub-commands to the ``rec`` command line.

    Called once when the ``rec`` application is built, after rec-core's own commands.
    Add commands or sub-apps to ``app`` with Typer's API; give them
    ``rich_help_panel="Plugins"`` (rec sets it when you do not) so ``rec --help`` shows them
    apart from the built-in commands. Import heavy libraries inside the command function,
    not at module level: building the app must stay fast.

    Raises:
        PluginLoadError: (recorded) when the hook raises; the commands of other plugins and
            rec's own still work.

    Example::

        @hookimpl
        def rec_register_commands(app):
            @app.command("semantic-ids")
            def semantic_ids(path: str) -> None:
                '''Export RQ-VAE semantic IDs.'''
    """
