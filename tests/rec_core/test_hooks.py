"""One test per hook, each through a real installed throwaway distribution."""

from __future__ import annotations

from typer.testing import CliRunner

from rec_core.cli import build_app
from rec_core.registry import KINDS

SOURCE = '''
from rec_core import hookimpl

class Thing:
    """A thing."""

@hookimpl
def {hook}({arg}):
    {body}
'''


def _install(site, hook, body, arg="register"):
    site.install(
        "rec-hooktest",
        entry_points={"rec": {"hooktest": "hooktest_plugin"}},
        modules={"hooktest_plugin.py": SOURCE.format(hook=hook, arg=arg, body=body)},
    )
    return site.plugin_manager()


def _check_registry(site, kind, info=""):
    spec = KINDS[kind]
    pm = _install(site, spec.hook, f'register("thing-one", Thing{info})')
    entry = pm.registry(kind).get("thing-one", task="ctr") if spec.by_task else pm.registry(kind).get("thing-one")
    assert entry.plugin == "hooktest"
    assert entry.load().__name__ == "Thing"
    assert entry.description == "A thing."
    assert pm.records["hooktest"].registered[kind] == ["thing-one"]


def test_hook_rec_register_trainers(rec_plugin_site):
    _check_registry(rec_plugin_site, "trainers")


def test_hook_rec_register_models(rec_plugin_site):
    _check_registry(rec_plugin_site, "models", ', task="ctr"')


def test_hook_rec_register_loggers(rec_plugin_site):
    _check_registry(rec_plugin_site, "loggers")


def test_hook_rec_register_loss_weighters(rec_plugin_site):
    _check_registry(rec_plugin_site, "weighters")


def test_hook_rec_register_datasets(rec_plugin_site):
    _check_registry(rec_plugin_site, "datasets", ', task=("ctr", "mtl")')


def test_hook_rec_register_callbacks(rec_plugin_site):
    _check_registry(rec_plugin_site, "callbacks")


def test_hook_rec_register_text_encoders(rec_plugin_site):
    _check_registry(rec_plugin_site, "text-encoders")


def test_hook_rec_register_commands(rec_plugin_site):
    body = (
        "import typer\n"
        "    sub = typer.Typer(help='Thing tools.')\n"
        "    sub.command('count')(lambda: print('3 things'))\n"
        "    app.add_typer(sub, name='things')"
    )
    pm = _install(rec_plugin_site, "rec_register_commands", body, arg="app")
    app = build_app(pm)
    runner = CliRunner()
    result = runner.invoke(app, ["things", "count"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "3 things"
    assert "Plugins" in runner.invoke(app, ["--help"]).output
