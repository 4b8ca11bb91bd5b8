"""The plugin manager: discovers plugins, calls their hooks, fills the registries.

``make_plugin_manager()`` loads the ``rec`` entry points (honouring
``REC_DISABLE_PLUGINS`` and ``REC_LOAD_PLUGINS``), then rec-core's own plugin, then checks
that every hook implementation matches a specification. A plugin that fails at any stage is
recorded with its error and left out; the rest keep working.
"""

from __future__ import annotations

import importlib.metadata as importlib_metadata
import os
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from rec_core import hookspecs
from rec_core.errors import PluginLoadError
from rec_core.registry import KINDS, Registration, Registry

__all__ = [
    "BUILTIN_PLUGIN",
    "DISABLE_ENV",
    "LOAD_ENV",
    "PluginRecord",
    "RecPluginManager",
    "make_plugin_manager",
]

DISABLE_ENV = "REC_DISABLE_PLUGINS"
LOAD_ENV = "REC_LOAD_PLUGINS"
BUILTIN_PLUGIN = "core"


@dataclass
class PluginRecord:
    """What rec knows about one plugin: where it comes from, what it did, what went wrong."""

    name: str
    distribution: str | None = None
    version: str | None = None
    module: str | None = None
    registered: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    blocked: str | None = None

    @property
    def ok(self) -> bool:
        """Return whether the plugin loaded and every hook call succeeded."""
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-serialisable summary."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "registered": {k: sorted(v) for k, v in self.registered.items() if v},
            "errors": list(self.errors),
            "blocked": self.blocked,
        }


def _env_names(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


class RecPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers every plugin's fate and builds the registries."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self._registries: dict[str, Registry] = {}

    # -- loading --------------------------------------------------------------------
    def load_entry_points(self, group: str = hookspecs.PROJECT_NAME) -> None:
        """Import and register every plugin of the entry-point ``group`` that is allowed."""
        disabled = _env_names(DISABLE_ENV) or set()
        allowed = _env_names(LOAD_ENV)
        seen: set[tuple[str, str]] = set()
        for ep in sorted(importlib_metadata.entry_points(group=group), key=lambda e: e.name):
            if (ep.name, ep.value) in seen:
                continue  # the same distribution found twice on sys.path
            seen.add((ep.name, ep.value))
            dist = getattr(ep, "dist", None)
            record = PluginRecord(
                name=ep.name,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
                module=ep.value,
            )
            if ep.name in self.records:
                self.records[ep.name].errors.append(
                    f"plugin name '{ep.name}' is also used by {record.distribution} ({ep.value}); "
                    "that one was not loaded"
                )
                continue
            self.records[ep.name] = record
            if ep.name in disabled:
                record.blocked = f"blocked by {DISABLE_ENV}"
                continue
            if allowed is not None and ep.name not in allowed:
                record.blocked = f"not in {LOAD_ENV}"
                continue
            try:
                module = ep.load()
                self.register(module, name=ep.name)
            except Exception as exc:
                record.errors.append(_describe_exception(exc, f"import of {ep.value}"))

    def load_builtin(self) -> None:
        """Register rec-core's own plugin (through the same hooks as third parties)."""
        from rec_core import plugin as builtin

        self.records[BUILTIN_PLUGIN] = PluginRecord(
            name=BUILTIN_PLUGIN,
            distribution="rec-core",
            version=_dist_version("rec-core"),
            module=builtin.__name__,
        )
        self.register(builtin, name=BUILTIN_PLUGIN)

    def check_hooks(self) -> None:
        """Run pluggy's ``check_pending``; unregister and record any invalid plugin."""
        while True:
            try:
                self.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                name = self.get_name(exc.plugin) or str(exc.plugin)
                self.unregister(exc.plugin)
                self._record(name).errors.append(f"invalid hook implementation: {exc}")

    # -- registries -----------------------------------------------------------------
    def registry(self, kind: str) -> Registry:
        """Return the registry of ``kind`` ("trainers", "models", ...), filling it on first use."""
        if kind not in self._registries:
            spec = KINDS[kind]
            registry = Registry(spec, hints=self._unknown_name_hints)
            caller = getattr(self.hook, spec.hook)
            # Built-ins first, so a third-party plugin cannot take over a built-in name.
            impls = sorted(caller.get_hookimpls(), key=lambda i: i.plugin_name != BUILTIN_PLUGIN)
            for impl in impls:
                self._call_register_hook(impl, registry)
            self._registries[kind] = registry
        return self._registries[kind]

    def _call_register_hook(self, impl: Any, registry: Registry) -> None:
        record = self._record(impl.plugin_name)
        names = record.registered.setdefault(registry.kind.key, [])

        def register(name: str, obj: Any, /, **info: Any) -> None:
            try:
                registry.add(Registration(name=name, obj=obj, plugin=impl.plugin_name, info=info))
            except PluginLoadError as exc:  # keep the plugin's other registrations
                record.errors.append(str(exc))
            else:
                names.append(name)

        try:
            impl.function(**{arg: register for arg in impl.argnames})
        except Exception as exc:
            record.errors.append(_describe_exception(exc, f"hook {registry.kind.hook}"))

    def call_command_hooks(self, app: Any) -> None:
        """Call every ``rec_register_commands`` implementation, recording failures."""
        for impl in self.hook.rec_register_commands.get_hookimpls():
            try:
                impl.function(**{arg: app for arg in impl.argnames})
            except Exception as exc:
                self._record(impl.plugin_name).errors.append(
                    _describe_exception(exc, "hook rec_register_commands")
                )

    def load_all_registries(self) -> None:
        """Fill every registry (so ``rec plugins`` can show what each plugin registered)."""
        for kind in KINDS:
            self.registry(kind)

    def broken_plugins(self) -> list[PluginRecord]:
        """Return the plugins that failed to import or raised in a hook."""
        return [r for r in self.records.values() if r.errors]

    def _record(self, name: str) -> PluginRecord:
        return self.records.setdefault(name, PluginRecord(name=name))

    def _unknown_name_hints(self, kind: str, name: str) -> list[str]:
        """Say where an unknown name would come from: a package to install, a switched-off or broken plugin."""
        from rec_core.providers import provider_of

        hints = []
        provider = provider_of(kind, name)
        if provider is not None:
            switched_off = [r for r in self.records.values() if r.distribution == provider and r.blocked]
            if switched_off:
                record = switched_off[0]
                hints.append(f"'{name}' is provided by {provider}, which is installed but switched off: "
                             f"plugin '{record.name}' is {record.blocked}")
            elif not any(r.distribution == provider for r in self.records.values()):
                hints.append(f"'{name}' is provided by {provider}: pip install {provider}")
        for record in self.broken_plugins():
            origin = f" ({record.distribution} {record.version})" if record.distribution else ""
            hints.append(
                f"plugin '{record.name}'{origin} failed to load and may provide '{name}': "
                f"{record.errors[0]}"
            )
        return hints


def make_plugin_manager(*, entry_points: bool = True) -> RecPluginManager:
    """Build a plugin manager: entry points -> built-in plugin -> ``check_pending``.

    Args:
        entry_points: load installed third-party plugins (tests may switch this off).
    """
    pm = RecPluginManager()
    if entry_points:
        pm.load_entry_points()
    pm.load_builtin()
    pm.check_hooks()
    return pm


def register_module(pm: RecPluginManager, module: ModuleType, name: str) -> None:
    """Register an in-process plugin module (for tests and embedding applications)."""
    pm.records.setdefault(name, PluginRecord(name=name, module=module.__name__))
    pm.register(module, name=name)
    pm.check_hooks()


def _dist_version(name: str) -> str | None:
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return None


def _describe_exception(exc: BaseException, where: str) -> str:
    if isinstance(exc, PluginLoadError):
        return str(exc)
    return f"{type(exc).__name__} in {where}: {exc}"
