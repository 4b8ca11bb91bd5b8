"""``rec plugins``, ``rec settings TASK`` and ``rec list KIND``: what is installed and what it provides."""

from __future__ import annotations

import enum

import typer
from rich.markup import escape
from rich.table import Table

from rec_core.cli._console import out_console, print_json
from rec_core.config_docs import describe_settings
from rec_core.errors import RecError
from rec_core.plugins import RecPluginManager
from rec_core.providers import known_providers
from rec_core.recipes import ALL_MODELS, format_value, recipe_models
from rec_core.registry import KINDS, Registration

__all__ = ["add_inspect_commands"]

Kind = enum.Enum("Kind", {key: key for key in KINDS}, type=str)  # type: ignore[misc]

def add_inspect_commands(app: typer.Typer, pm: RecPluginManager) -> None:
    """Add ``plugins``, ``settings`` and ``list`` to ``app``."""

    @app.command("plugins")
    def plugins(json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
        """List installed plugins, what each registered, and why a broken one failed."""
        pm.load_all_registries()
        records = sorted(pm.records.values(), key=lambda r: r.name)
        if json:
            print_json([r.to_json() for r in records])
            return
        table = Table(title="rec plugins", title_justify="left")
        for column in ("plugin", "distribution", "version", "registered", "status"):
            table.add_column(column)
        for record in records:
            registered = "\n".join(
                f"{kind}: {', '.join(sorted(names))}" for kind, names in sorted(record.registered.items()) if names
            )
            if record.blocked:
                status = f"[yellow]{escape(record.blocked)}[/]"
            elif record.errors:
                status = f"[red]{len(record.errors)} error(s), see below[/]"
            else:
                status = "[green]ok[/]"
            table.add_row(record.name, record.distribution or "-", record.version or "-", registered or "-", status)
        out_console.print(table)
        for record in records:
            for error in record.errors:
                out_console.print(f"[red]plugin '{escape(record.name)}':[/] {escape(error)}")
        if not pm.registry("trainers").names():
            out_console.print(f"[yellow]No trainers installed.[/] {_get_more()}")

    _settings_command(app, pm)

    @app.command("list")
    def list_(
        kind: Kind = typer.Argument(..., help="What to list.", show_default=False),
        task: str | None = typer.Option(None, "--task", "-t", help="Only entries for this task (e.g. ctr)."),
        json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """List registered trainers, models, loggers, weighters, data sets, callbacks or text encoders."""
        registry = pm.registry(kind.value)
        entries = registry.entries(task)
        recipes = {e.name: _recipe_models(e) for e in entries} if kind.value == "datasets" else {}
        if json:
            print_json([
                {"name": e.name, "task": e.task, "plugin": e.plugin, "description": e.description,
                 **({"recipes": recipes[e.name]} if recipes else {})}
                for e in entries
            ])
            return
        if not entries:
            where = f" for task '{task}'" if task else ""
            out_console.print(f"No {kind.value} registered{where}. {_missing_hint(kind.value)}")
            return
        table = Table(title=f"rec {kind.value}", title_justify="left")
        columns = ["name", "task", "plugin", "description"] if kind.value in ("models", "datasets") else [
            "name", "plugin", "description"]
        if recipes:
            columns.append("recipes")
        for column in columns:
            table.add_column(column)
        for e in entries:
            row = {"name": e.name, "task": _task_text(e.task), "plugin": e.plugin, "description": e.description,
                   "recipes": _recipe_text(recipes.get(e.name, {}))}
            table.add_row(*(escape(row[c]) for c in columns))
        out_console.print(table)


def _settings_command(app: typer.Typer, pm: RecPluginManager) -> None:
    @app.command("settings")
    def settings(
        task: str = typer.Argument(..., help="The task whose trainer's settings to show (rec train TASK).",
                                   show_default=False),
        json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """List the config keys of a task's trainer: --set key=value (or a --config TOML) sets them."""
        trainer = pm.registry("trainers").get(task).load()
        default_config = getattr(trainer, "default_config", None)
        if default_config is None:
            raise RecError(f"trainer '{task}' ({trainer.__module__}.{trainer.__qualname__}) has no default_config(); "
                           "it is not a rec_core.BaseTrainer")
        docs = describe_settings(default_config())
        if json:
            print_json([doc.to_json() for doc in docs])
            return
        table = Table(title=f"rec train {task}: --set KEY=VALUE", title_justify="left",
                      caption="Defaults of the trainer; a registered data set's recipe may set some "
                              "(rec list datasets), and your --config, --set and flags win over it.",
                      caption_justify="left")
        for column in ("key", "default", "type", "description"):
            table.add_column(column, overflow="fold")
        for doc in docs:
            default = "-" if doc.default is None else format_value(doc.default)  # as --set takes it
            table.add_row(doc.name, escape(default), escape(doc.type), escape(doc.description))
        out_console.print(table)


def _recipe_models(entry: Registration) -> dict[str, list[str]] | str:
    """Return task -> models with a tuned recipe on this data set, or the reason it cannot be read."""
    try:
        return recipe_models(entry)
    except RecError as exc:
        return f"unreadable: {exc}"


def _recipe_text(found: dict[str, list[str]] | str) -> str:
    """Return ``"ctr: deepfm, fm"`` (``"all models"`` where the task's settings fit every model), or "-"."""
    if isinstance(found, str):
        return found
    parts = [f"{task}: {'all models' if names == [ALL_MODELS] else ', '.join(names)}" for task, names in found.items()]
    return "; ".join(parts) or "-"


def _task_text(task: object) -> str:
    if task is None:
        return "-"
    return task if isinstance(task, str) else ", ".join(task)  # type: ignore[arg-type]


def _missing_hint(kind: str) -> str:
    providers = sorted(package for package, kinds in known_providers().items() if kinds.get(kind))
    if providers:
        return "Install " + " or ".join(providers) + " to get some: pip install " + " ".join(providers)
    return _get_more()


def _get_more() -> str:
    """Return what each rec package adds, from the names it registers (``providers.json``)."""
    # the package with the most trainers first (the one a new user most likely wants)
    packages = sorted(known_providers().items(), key=lambda item: (-len(item[1].get("trainers", ())), item[0]))
    offers = []
    for package, kinds in packages:
        shown = {kind: names for kind, names in kinds.items() if kind in ("trainers", "loggers")} or kinds
        offers.append(f"{package}: " + "; ".join(f"{kind} {', '.join(names)}" for kind, names in shown.items()))
    names = " ".join(package for package, _ in packages)
    return f"Trainers and models come from plugins: pip install {names} ({'; '.join(offers)})."
