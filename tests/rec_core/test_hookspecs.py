"""Meta-tests: every hook specification is documented, has a stable signature and a test."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from rec_core import hookspecs

HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("rec_"))
TESTS_DIR = Path(__file__).parent


def test_the_hook_set_is_the_documented_one():
    assert HOOKS == [
        "rec_register_callbacks",
        "rec_register_commands",
        "rec_register_datasets",
        "rec_register_loggers",
        "rec_register_loss_weighters",
        "rec_register_models",
        "rec_register_text_encoders",
        "rec_register_trainers",
    ]


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_a_documented_spec(hook):
    function = getattr(hookspecs, hook)
    assert hasattr(function, "rec_spec"), f"{hook} is not marked with @hookspec"
    params = list(inspect.signature(function).parameters)
    assert params == (["app"] if hook == "rec_register_commands" else ["register"])
    doc = inspect.getdoc(function) or ""
    assert "Called" in doc, f"{hook}: say when it is called"
    assert "Raises:" in doc, f"{hook}: say what raises"
    assert "Example::" in doc and "@hookimpl" in doc, f"{hook}: give an example"
    assert hook in doc.split("Example::")[1], f"{hook}: the example must implement this hook"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook):
    """A test named test_hook_<hook>... must exercise each hook through an installed plugin."""
    pattern = re.compile(rf"def test_hook_{hook}\w*\(")
    found = [p.name for p in TESTS_DIR.rglob("test_*.py") if pattern.search(p.read_text(encoding="utf-8"))]
    assert found, f"no test named test_hook_{hook}* under {TESTS_DIR}"
