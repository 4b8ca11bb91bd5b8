"""The plugin system with real installed throwaway distributions."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rec_core import providers
from rec_core.cli import build_app
from rec_core.errors import PluginLoadError, UnknownNameError
from rec_core.plugins import DISABLE_ENV, LOAD_ENV, make_plugin_manager

from . import plugin_sources as src

runner = CliRunner()


def install(site, name, source, *, dist=None, version="1.2.3"):
    module = f"{name.replace('-', '_')}_plugin"
    site.install(
        dist or f"rec-{name}",
        version=version,
        entry_points={"rec": {name: module}},
        modules={f"{module}.py": source},
    )


def test_third_party_trainer_model_logger_and_command_are_discovered(rec_plugin_site):
    install(rec_plugin_site, "widgets", src.WIDGETS)
    pm = rec_plugin_site.plugin_manager()

    assert pm.registry("trainers").get("widget").plugin == "widgets"
    assert pm.registry("models").get("gizmo", task="widget").obj.__name__ == "WidgetModel"
    assert pm.registry("models").names(task="ctr") == ["deepfm"]
    assert "widget-log" in pm.registry("loggers")
    assert "jsonl" in pm.registry("loggers")  # built-ins still there

    app = build_app(pm)
    result = runner.invoke(app, ["widget-hello", "--name", "rec"])
    assert result.exit_code == 0, result.output
    assert "hello rec from widgets" in result.output
    help_text = runner.invoke(app, ["--help"]).output
    assert "Plugins" in help_text and "widget-hello" in help_text
    assert "widget" in runner.invoke(app, ["train", "--help"]).output


def test_rec_plugins_json_reports_distribution_version_and_registrations(rec_plugin_site):
    install(rec_plugin_site, "widgets", src.WIDGETS)
    result = runner.invoke(build_app(rec_plugin_site.plugin_manager()), ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    records = {r["name"]: r for r in json.loads(result.output)}
    assert records["widgets"]["distribution"] == "rec-widgets"
    assert records["widgets"]["version"] == "1.2.3"
    assert records["widgets"]["registered"] == {
        "loggers": ["widget-log"],
        "models": ["deepfm", "gizmo"],
        "trainers": ["widget"],
    }
    assert records["core"]["registered"]["loggers"] == ["jsonl"]
    assert records["core"]["errors"] == []


def test_disable_plugins_blocks_a_plugin(rec_plugin_site, monkeypatch):
    install(rec_plugin_site, "widgets", src.WIDGETS)
    install(rec_plugin_site, "raiser", src.RAISES_IN_HOOK)
    monkeypatch.setenv(DISABLE_ENV, "widgets")
    pm = rec_plugin_site.plugin_manager()
    assert "widget" not in pm.registry("trainers")
    assert "fine-log" in pm.registry("loggers")
    assert pm.records["widgets"].blocked == f"blocked by {DISABLE_ENV}"
    output = runner.invoke(build_app(pm), ["plugins"]).output
    assert "blocked by" in output


def test_load_plugins_is_an_allow_list(rec_plugin_site, monkeypatch):
    install(rec_plugin_site, "widgets", src.WIDGETS)
    install(rec_plugin_site, "raiser", src.RAISES_IN_HOOK)
    rec_plugin_site.plugin_manager(only=["raiser"])  # sets REC_LOAD_PLUGINS
    monkeypatch.setenv(LOAD_ENV, "raiser")
    pm = make_plugin_manager()
    assert "widget" not in pm.registry("trainers")
    assert "fine-log" in pm.registry("loggers")
    assert pm.records["widgets"].blocked == f"not in {LOAD_ENV}"
    assert "jsonl" in pm.registry("loggers")  # the built-in plugin is never blocked


def test_plugin_with_import_error_is_reported_and_named_when_its_names_are_asked_for(rec_plugin_site):
    install(rec_plugin_site, "broken", src.BROKEN_IMPORT, dist="rec-broken")
    install(rec_plugin_site, "widgets", src.WIDGETS)
    pm = rec_plugin_site.plugin_manager()
    app = build_app(pm)

    result = runner.invoke(app, ["plugins"])
    assert result.exit_code == 0
    assert "ModuleNotFoundError" in result.output and "a_module_that_does_not_exist" in result.output
    assert runner.invoke(app, ["--help"]).exit_code == 0
    assert pm.registry("trainers").get("widget")  # the healthy plugin still works

    with pytest.raises(UnknownNameError) as excinfo:
        pm.registry("models").get("shiny", task="ctr")
    message = str(excinfo.value)
    assert "plugin 'broken' (rec-broken 1.2.3) failed to load" in message
    assert "a_module_that_does_not_exist" in message

    result = runner.invoke(app, ["train", "widget", "--model", "shiny"])
    assert result.exit_code == 1
    assert "plugin 'broken'" in result.output
    assert "Traceback" not in result.output


def test_exception_inside_a_hook_is_recorded_and_other_hooks_still_work(rec_plugin_site):
    install(rec_plugin_site, "raiser", src.RAISES_IN_HOOK)
    pm = rec_plugin_site.plugin_manager()
    assert "fine-log" in pm.registry("loggers")
    assert "okmodel" in pm.registry("models")  # registered before the hook raised
    errors = pm.records["raiser"].errors
    assert errors == ["RuntimeError in hook rec_register_models: model table corrupted"]


def test_duplicate_names_name_both_plugins(rec_plugin_site):
    install(rec_plugin_site, "widgets", src.WIDGETS)
    install(rec_plugin_site, "dupe", src.DUPLICATE_DEEPFM)
    pm = rec_plugin_site.plugin_manager()
    registry = pm.registry("models")
    assert "gizmo" in registry
    with pytest.raises(PluginLoadError, match=r"'deepfm' \(task 'ctr'\) is registered by plugins 'dupe' and 'widgets'"):
        registry.get("deepfm", task="ctr")
    assert any("registered by plugin 'dupe' and by plugin 'widgets'" in e for e in pm.records["widgets"].errors)


def test_invalid_names_and_missing_task_are_recorded(rec_plugin_site):
    install(rec_plugin_site, "badnames", src.BAD_NAMES)
    pm = rec_plugin_site.plugin_manager()
    assert pm.registry("loggers").names() == ["good-name", "jsonl"]
    assert "taskless" not in pm.registry("models")
    errors = " | ".join(pm.records["badnames"].errors)
    assert "'Bad_Name'" in errors and "lowercase" in errors
    assert "'taskless' without task=" in errors


def test_hook_name_typo_is_reported_not_fatal(rec_plugin_site):
    install(rec_plugin_site, "typo", src.TYPO_HOOK)
    install(rec_plugin_site, "widgets", src.WIDGETS)
    pm = rec_plugin_site.plugin_manager()
    assert pm.registry("trainers").names() == ["widget"]
    assert "rec_register_trainer" in pm.records["typo"].errors[0]
    assert runner.invoke(build_app(pm), ["plugins"]).exit_code == 0


def test_broken_command_hook_does_not_break_the_cli(rec_plugin_site):
    install(rec_plugin_site, "badcmd", src.BROKEN_COMMANDS)
    install(rec_plugin_site, "widgets", src.WIDGETS)
    pm = rec_plugin_site.plugin_manager()
    app = build_app(pm)
    assert runner.invoke(app, ["--help"]).exit_code == 0
    assert runner.invoke(app, ["widget-hello"]).exit_code == 0
    assert "cannot build my commands" in runner.invoke(app, ["plugins"]).output


def test_unknown_names_suggest_close_ones_and_list_the_available(rec_plugin_site):
    install(rec_plugin_site, "widgets", src.WIDGETS)
    pm = rec_plugin_site.plugin_manager()
    with pytest.raises(UnknownNameError) as excinfo:
        pm.registry("models").get("deepfn", task="ctr")
    assert str(excinfo.value) == "unknown ctr model 'deepfn'; did you mean 'deepfm'? (available: deepfm)"
    with pytest.raises(UnknownNameError, match="'tensorboardx' is provided by rec-tracking"):
        pm.registry("loggers").get("tensorboardx")


def test_a_switched_off_provider_is_named_with_the_variable_not_pip_install(rec_plugin_site, monkeypatch):
    install(rec_plugin_site, "widgets", src.WIDGETS, dist="rec-widgets")
    install(rec_plugin_site, "raiser", src.RAISES_IN_HOOK)
    monkeypatch.setattr(providers, "known_providers", lambda: {"rec-widgets": {"trainers": ["widget"]}})
    monkeypatch.setenv(DISABLE_ENV, "widgets")
    pm = rec_plugin_site.plugin_manager(only=["widgets", "raiser"])
    with pytest.raises(UnknownNameError) as info:
        pm.registry("trainers").get("widget")
    message = str(info.value)
    assert "'widget' is provided by rec-widgets, which is installed but switched off: plugin 'widgets' is " \
           f"blocked by {DISABLE_ENV}" in message
    assert "pip install" not in message
    monkeypatch.setattr(providers, "known_providers", lambda: {"rec-gadgets": {"trainers": ["gadget"]}})
    with pytest.raises(UnknownNameError, match="'gadget' is provided by rec-gadgets: pip install rec-gadgets"):
        pm.registry("trainers").get("gadget")  # not installed at all: then pip install is the answer


def test_rec_version_lists_installed_plugin_distributions(rec_plugin_site):
    install(rec_plugin_site, "widgets", src.WIDGETS, version="2.0.1")
    result = runner.invoke(build_app(rec_plugin_site.plugin_manager()), ["--version"])
    assert result.exit_code == 0
    assert "rec-core 0.1.0" in result.output
    assert "rec-widgets 2.0.1" in result.output


def test_lazy_references_are_imported_on_load_only(rec_plugin_site):
    rec_plugin_site.install(
        "rec-lazy",
        entry_points={"rec": {"lazy": "lazy_plugin"}},
        modules={
            "lazy_plugin.py": """
                from rec_core import hookimpl

                @hookimpl
                def rec_register_trainers(register):
                    register("lazy", "lazy_impl:LazyTrainer")
                    register("missing", "lazy_impl:NoSuchTrainer")
            """,
            "lazy_impl.py": "class LazyTrainer:\n    pass\n",
        },
    )
    import sys

    pm = rec_plugin_site.plugin_manager()
    assert pm.registry("trainers").names() == ["lazy", "missing"]
    assert "lazy_impl" not in sys.modules
    assert pm.registry("trainers").get("lazy").load().__name__ == "LazyTrainer"
    with pytest.raises(PluginLoadError, match="'missing' from plugin 'lazy' could not be loaded"):
        pm.registry("trainers").get("missing").load()
