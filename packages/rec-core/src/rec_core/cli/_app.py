"""Build the ``rec`` Typer application from a plugin manager."""

from __future__ import annotations

import os
from typing import Any

import typer
from typer.core import TyperGroup

from rec_core import __version__
from rec_core.cli._console import out_console, print_error
from rec_core.cli._inspect import add_inspect_commands
from rec_core.cli._predict import add_export_index_command, add_predict_command, add_recommend_command
from rec_core.cli._runs import add_runs_commands
from rec_core.cli._train import add_train_commands
from rec_core.errors import RecError
from rec_core.plugins import RecPluginManager

__all__ = ["PLUGINS_PANEL", "build_app"]

PLUGINS_PANEL = "Plugins"
DEBUG_ENV = "REC_DEBUG"


class RecGroup(TyperGroup):
    """The root group: turns every :class:`RecError` into one red line and exit code 1."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RecError as exc:
            if ctx.params.get("debug") or os.environ.get(DEBUG_ENV):
                raise
            print_error(str(exc))
            raise typer.Exit(1) from None


def build_app(pm: RecPluginManager) -> typer.Typer:
    """Return the ``rec`` application with rec-core's commands and every plugin's.

    Building the app imports no torch: trainers and models are listed by name only.
    """
    app = typer.Typer(
        name="rec",
        cls=RecGroup,
        help="Train recommender models. Trainers, models, loggers and data sets come from plugins.",
        no_args_is_help=True,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.callback()
    def root(
        version: bool = typer.Option(
            False, "--version", help="Show the versions of rec and its plugins, then exit.",
            is_eager=True, callback=lambda value: _print_version(pm) if value else None,
        ),
        debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for handled errors."),
    ) -> None:
        """Train recommender models. Trainers, models, loggers and data sets come from plugins."""

    add_inspect_commands(app, pm)
    add_train_commands(app, pm)
    add_predict_command(app, pm)
    add_recommend_command(app, pm)
    add_export_index_command(app, pm)
    add_runs_commands(app)
    _add_plugin_commands(app, pm)
    return app


def _add_plugin_commands(app: typer.Typer, pm: RecPluginManager) -> None:
    commands_before = len(app.registered_commands)
    groups_before = len(app.registered_groups)
    pm.call_command_hooks(app)
    for info in app.registered_commands[commands_before:] + app.registered_groups[groups_before:]:
        panel = info.rich_help_panel
        if getattr(panel, "value", panel) is None:  # unset (Typer wraps defaults in a placeholder)
            info.rich_help_panel = PLUGINS_PANEL


def _print_version(pm: RecPluginManager) -> None:
    out_console.print(f"rec-core {__version__}")
    for record in sorted(pm.records.values(), key=lambda r: r.name):
        if record.distribution and record.distribution != "rec-core":
            status = "" if record.ok else "  [red](failed to load)[/]"
            out_console.print(f"{record.distribution} {record.version}  [dim](plugin {record.name})[/]{status}")
    raise typer.Exit(0)
