"""Fixtures shared by rec-trainers' tests."""

from __future__ import annotations

import pytest

from rec_core.plugins import RecPluginManager, make_plugin_manager

TRAINERS = ("ctr", "match", "mtl", "seq")


@pytest.fixture(scope="module")
def pm() -> RecPluginManager:
    """Return the installed plugins; skip the module where rec-trainers' trainers are not among them."""
    manager = make_plugin_manager()
    if not all(task in manager.registry("trainers") for task in TRAINERS):
        pytest.skip("rec-trainers is not installed in this environment")
    return manager
