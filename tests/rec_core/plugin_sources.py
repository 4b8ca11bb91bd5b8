"""Sources of throwaway third-party plugins used by the plugin-system tests."""

from __future__ import annotations

WIDGETS = '''
from rec_core import RecError, hookimpl


class WidgetTrainer:
    """Trains widgets (a dry run: records the request it was handed)."""

    seen = []

    @classmethod
    def from_request(cls, request, *, config, loggers=None):
        cls.seen.append(request)
        raise RecError("widget dry run: request recorded")


class WidgetModel:
    """A model of widgets."""


class WidgetLogger:
    """Logs widgets."""


@hookimpl
def rec_register_trainers(register):
    register("widget", WidgetTrainer, description="train widgets")


@hookimpl
def rec_register_models(register):
    register("gizmo", WidgetModel, task="widget")
    register("deepfm", WidgetModel, task="ctr", description="a third-party deepfm")


@hookimpl
def rec_register_loggers(register):
    register("widget-log", WidgetLogger)


@hookimpl
def rec_register_commands(app):
    @app.command("widget-hello")
    def hello(name: str = "world"):
        """Say hello from the widget plugin."""
        print(f"hello {name} from widgets")
'''

BROKEN_IMPORT = '''
import a_module_that_does_not_exist  # noqa: F401
'''

RAISES_IN_HOOK = '''
from rec_core import hookimpl


@hookimpl
def rec_register_models(register):
    register("okmodel", object, task="ctr")
    raise RuntimeError("model table corrupted")


@hookimpl
def rec_register_loggers(register):
    register("fine-log", object)
'''

DUPLICATE_DEEPFM = '''
from rec_core import hookimpl


@hookimpl
def rec_register_models(register):
    register("deepfm", object, task="ctr")
'''

BAD_NAMES = '''
from rec_core import hookimpl


@hookimpl
def rec_register_loggers(register):
    register("Bad_Name", object)
    register("good-name", object)


@hookimpl
def rec_register_models(register):
    register("taskless", object)
'''

TYPO_HOOK = '''
from rec_core import hookimpl


@hookimpl
def rec_register_trainer(register):  # typo: the spec is rec_register_trainers
    register("typo", object)
'''

BROKEN_COMMANDS = '''
from rec_core import hookimpl


@hookimpl
def rec_register_commands(app):
    raise ValueError("cannot build my commands")
'''
