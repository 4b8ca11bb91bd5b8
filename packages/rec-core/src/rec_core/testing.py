"""Test helpers for rec and for authors of rec plugins.

Install a throwaway plugin distribution (a real ``*.dist-info`` with ``entry_points.txt``)
into a temporary folder and build a plugin manager that sees it::

    # conftest.py
    pytest_plugins = ["rec_core.testing"]

    # test_my_plugin.py
    def test_my_trainer_is_discovered(rec_plugin_site):
        rec_plugin_site.install(
            "my-rec-plugin",
            entry_points={"rec": {"mine": "my_rec_plugin"}},
            modules={"my_rec_plugin.py": PLUGIN_SOURCE},
        )
        pm = rec_plugin_site.plugin_manager()
        assert "mine" in pm.registry("trainers")

To test an installed package of your own, use ``make_plugin_manager()`` directly, or
``rec_plugin_site.plugin_manager(only=["mine"])``.

``rec_capture_on_cpu`` runs a trainer's ``capture_step=True`` path on the CPU, with the CUDA
graph replaced by :class:`ReplayedGraph` (records the step, runs it on every replay): it checks
the plumbing around a captured step (static inputs, one update per step, the eager last
batch, fallbacks) for your trainer. What a real capture refuses (an op that waits on the host
inside the step) shows only on a GPU.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from rec_core.plugins import LOAD_ENV, RecPluginManager, make_plugin_manager

if TYPE_CHECKING:
    from rec_core.plugins import PluginRecord

__all__ = ["PluginSite", "rec_plugin_manager", "rec_plugin_site", "write_distribution"]


def write_distribution(
    site_dir: str | Path,
    name: str,
    *,
    version: str = "0.1.0",
    entry_points: Mapping[str, Mapping[str, str]] | None = None,
    modules: Mapping[str, str] | None = None,
) -> Path:
    """Write an installed distribution into ``site_dir`` and return its ``.dist-info`` folder.

    Args:
        site_dir: a folder that is (or will be) on ``sys.path``.
        name: the distribution name, e.g. ``"my-rec-plugin"``.
        version: its version.
        entry_points: ``{group: {entry-point name: "module[:attr]"}}``.
        modules: ``{relative path: source}`` written next to the metadata, e.g.
            ``{"my_plugin.py": "..."}`` or ``{"pkg/__init__.py": "..."}``; sources are dedented.
    """
    site = Path(site_dir)
    normalized = re.sub(r"[-_.]+", "_", name)
    info_dir = site / f"{normalized}-{version}.dist-info"
    info_dir.mkdir(parents=True, exist_ok=True)
    (info_dir / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines: list[str] = []
    for group, eps in (entry_points or {}).items():
        lines.append(f"[{group}]")
        lines.extend(f"{ep_name} = {target}" for ep_name, target in eps.items())
        lines.append("")
    (info_dir / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    for relative, source in (modules or {}).items():
        path = site / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    (info_dir / "RECORD").write_text("", encoding="utf-8")
    importlib.invalidate_caches()
    return info_dir


class PluginSite:
    """A temporary site folder on ``sys.path`` holding throwaway plugin distributions."""

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path = path
        self._monkeypatch = monkeypatch
        self._entry_point_names: list[str] = []
        self._module_roots: set[str] = set()
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.syspath_prepend(str(path))

    def install(
        self,
        name: str,
        *,
        entry_points: Mapping[str, Mapping[str, str]] | None = None,
        modules: Mapping[str, str] | None = None,
        version: str = "0.1.0",
    ) -> Path:
        """Install a distribution (see :func:`write_distribution`); return its dist-info."""
        info_dir = write_distribution(
            self.path, name, version=version, entry_points=entry_points, modules=modules
        )
        self._entry_point_names.extend((entry_points or {}).get("rec", {}))
        self._module_roots.update(Path(p).parts[0].removesuffix(".py") for p in modules or {})
        return info_dir

    def plugin_manager(self, *, only: list[str] | None = None) -> RecPluginManager:
        """Build a fresh manager that loads only the plugins installed here (or ``only``).

        Other installed rec plugins stay out, so the test sees exactly what it set up.
        """
        allowed = only if only is not None else self._entry_point_names
        self._monkeypatch.setenv(LOAD_ENV, ",".join(allowed) or "-")
        return make_plugin_manager()

    def record(self, pm: RecPluginManager, name: str) -> PluginRecord:
        """Return the manager's record of plugin ``name``."""
        return pm.records[name]

    def cleanup(self) -> None:
        """Forget modules imported from this site so the next test imports them afresh."""
        for module in list(sys.modules):
            if module.split(".")[0] in self._module_roots:
                del sys.modules[module]
        importlib.invalidate_caches()


@pytest.fixture
def rec_plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginSite]:
    """Give the test a :class:`PluginSite` for throwaway installed plugin distributions."""
    site = PluginSite(tmp_path / "site-packages", monkeypatch)
    yield site
    site.cleanup()


@pytest.fixture
def rec_plugin_manager(monkeypatch: pytest.MonkeyPatch) -> RecPluginManager:
    """Give the test a fresh plugin manager with rec-core's built-ins only.

    Externally installed plugins are kept out; set ``REC_TEST_EXTERNAL_PLUGINS=1`` to
    include them.
    """
    if os.environ.get("REC_TEST_EXTERNAL_PLUGINS"):
        return make_plugin_manager()
    return make_plugin_manager(entry_points=False)


class ReplayedGraph:
    """A CPU stand-in for :class:`rec_core.trainer._capture.CudaGraph`.

    Like a capture, building it records ``fn`` without running it; ``replay()`` runs it and
    keeps what it returned as ``output``. ``built`` counts the captures since the fixture began.
    """

    built = 0

    def __init__(self, fn: Callable[[], Any]) -> None:
        type(self).built += 1
        self.fn: Callable[[], Any] = fn
        self.output: Any = None

    def replay(self) -> None:
        """Run the recorded step (on whatever its static inputs now hold)."""
        self.output = self.fn()


@pytest.fixture
def rec_capture_on_cpu(monkeypatch: pytest.MonkeyPatch) -> type[ReplayedGraph]:
    """Let ``capture_step=True`` run on the CPU, with :class:`ReplayedGraph` as the graph."""
    from rec_core.trainer import _capture
    from rec_core.trainer import base as trainer_base

    real_blocker = _capture.capture_blocker

    def blocker_off_the_gpu(trainer: Any) -> str | None:
        reason = real_blocker(trainer)
        return None if reason is not None and reason.startswith("needs a CUDA device") else reason

    monkeypatch.setattr(trainer_base, "capture_blocker", blocker_off_the_gpu)
    monkeypatch.setattr(_capture, "CudaGraph", ReplayedGraph)
    monkeypatch.setattr(_capture, "side_stream", lambda device: contextlib.nullcontext())
    monkeypatch.setattr(ReplayedGraph, "built", 0)
    return ReplayedGraph
