"""Registries: name -> registered object, one registry per kind of thing.

A registry is filled by the ``rec_register_*`` hooks (see :mod:`rec_core.hookspecs`) and
answers lookups by name with a helpful error when the name is unknown (the plugin manager
adds hints: which package provides the name, or which plugin is switched off or broken).
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rec_core.errors import PluginLoadError, UnknownNameError

__all__ = ["KINDS", "NAME_PATTERN", "Registration", "Registry", "RegistryKind"]

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class RegistryKind:
    """One kind of registry: its CLI name, the hook that fills it, and how to talk about it."""

    key: str
    hook: str
    singular: str
    by_task: bool = False


KINDS: dict[str, RegistryKind] = {
    kind.key: kind
    for kind in (
        RegistryKind("trainers", "rec_register_trainers", "trainer"),
        RegistryKind("models", "rec_register_models", "model", by_task=True),
        RegistryKind("loggers", "rec_register_loggers", "logger"),
        RegistryKind("weighters", "rec_register_loss_weighters", "loss weighter"),
        RegistryKind("datasets", "rec_register_datasets", "data set"),
        RegistryKind("callbacks", "rec_register_callbacks", "callback"),
        RegistryKind("text-encoders", "rec_register_text_encoders", "text encoder"),
    )
}

@dataclass
class Registration:
    """One registered object.

    ``obj`` may be the object itself or a lazy reference ``"package.module:Attribute"``,
    imported by :meth:`load` only when used, so listing names stays cheap.
    """

    name: str
    obj: Any
    plugin: str
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str | tuple[str, ...] | None:
        """Return the task this entry belongs to, if it declared one."""
        return self.info.get("task")

    @property
    def description(self) -> str:
        """Return the one-line description, falling back to the object's docstring."""
        text = self.info.get("description")
        if text:
            return str(text)
        doc = getattr(self.obj, "__doc__", None) if not isinstance(self.obj, str) else None
        return doc.strip().splitlines()[0] if doc else ""

    def matches_task(self, task: str | None) -> bool:
        """Return whether this entry serves ``task`` (always true for ``None``)."""
        if task is None or self.task is None:
            return True
        tasks = (self.task,) if isinstance(self.task, str) else tuple(self.task)
        return task in tasks

    def load(self) -> Any:
        """Return the registered object, importing it first if it is a lazy reference."""
        if not isinstance(self.obj, str):
            return self.obj
        module_name, _, attr = self.obj.partition(":")
        try:
            target: Any = importlib.import_module(module_name)
            for part in attr.split(".") if attr else []:
                target = getattr(target, part)
        except Exception as exc:
            raise PluginLoadError(
                f"{self.name!r} from plugin '{self.plugin}' could not be loaded "
                f"({self.obj}): {type(exc).__name__}: {exc}"
            ) from exc
        self.obj = target
        return target


class Registry:
    """Name -> :class:`Registration` for one kind; models are keyed by ``(task, name)``."""

    def __init__(self, kind: RegistryKind, *, hints: Callable[[str, str], list[str]] | None = None) -> None:
        self.kind = kind
        self._entries: dict[tuple[str | None, str], Registration] = {}
        self._conflicts: dict[tuple[str | None, str], list[str]] = {}
        self._hints = hints or (lambda kind, name: [])

    def add(self, registration: Registration) -> None:
        """Add an entry; raise :class:`PluginLoadError` on an invalid or duplicate name."""
        name, plugin = registration.name, registration.plugin
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise PluginLoadError(
                f"plugin '{plugin}' registered {self.kind.singular} name {name!r}: "
                "names must be lowercase letters, digits and '-'"
            )
        if self.kind.by_task and not isinstance(registration.task, str):
            raise PluginLoadError(
                f"plugin '{plugin}' registered {self.kind.singular} {name!r} without task=... "
                "(models must say which trainer they are for)"
            )
        key = self._key(name, registration.task if self.kind.by_task else None)
        existing = self._entries.get(key)
        if existing is not None:
            self._conflicts.setdefault(key, [existing.plugin]).append(plugin)
            raise PluginLoadError(
                f"duplicate {self.kind.singular} name {self._label(*key)}: registered by plugin "
                f"'{existing.plugin}' and by plugin '{plugin}'"
            )
        self._entries[key] = registration

    def get(self, name: str, task: str | None = None) -> Registration:
        """Return the entry called ``name`` (within ``task`` for models).

        Raises:
            UnknownNameError: no such name; the message suggests close names, lists the
                available ones and names any plugin that failed to load.
            PluginLoadError: two plugins registered the name.
        """
        key = self._key(name, task if self.kind.by_task else None)
        if key in self._conflicts:
            plugins = " and ".join(f"'{p}'" for p in self._conflicts[key])
            raise PluginLoadError(
                f"{self.kind.singular} {self._label(*key)} is registered by plugins {plugins}; "
                "uninstall one or block it with REC_DISABLE_PLUGINS=<plugin>"
            )
        entry = self._entries.get(key)
        if entry is None:
            raise UnknownNameError(self._unknown_message(name, task))
        return entry

    def names(self, task: str | None = None) -> list[str]:
        """Return the sorted names, only those serving ``task`` when given."""
        return sorted({entry.name for entry in self.entries(task)})

    def entries(self, task: str | None = None) -> list[Registration]:
        """Return the entries sorted by (task, name), only those serving ``task`` when given."""
        found = [e for e in self._entries.values() if e.matches_task(task)]
        return sorted(found, key=lambda e: (str(e.task or ""), e.name))

    def __contains__(self, name: object) -> bool:
        return any(entry.name == name for entry in self._entries.values())

    def __iter__(self) -> Iterator[Registration]:
        return iter(self.entries())

    def __len__(self) -> int:
        return len(self._entries)

    def _key(self, name: str, task: Any) -> tuple[str | None, str]:
        return (task if self.kind.by_task else None, name)

    def _label(self, task: str | None, name: str) -> str:
        return f"'{name}' (task '{task}')" if task else f"'{name}'"

    def _unknown_message(self, name: str, task: str | None) -> str:
        available = self.names(task)
        what = f"{task} {self.kind.singular}" if task and self.kind.by_task else self.kind.singular
        message = f"unknown {what} '{name}'"
        close = difflib.get_close_matches(name, available, n=3, cutoff=0.6)
        if close:
            message += f"; did you mean {', '.join(repr(c) for c in close)}?"
        message += f" (available: {', '.join(available) if available else 'none'})"
        for hint in self._hints(self.kind.key, name):
            message += f"; {hint}"
        return message
