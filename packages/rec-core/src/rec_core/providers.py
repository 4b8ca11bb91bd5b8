"""Which rec package provides which name, for install hints when that package is missing.

``rec train seq`` without rec-trainers installed cannot ask rec-trainers what it
registers, so rec-core ships ``providers.json``: every name each of the rec packages
registers, **generated from their registrations** (the one place each name is declared)
by :func:`write_providers_file` (``nox -s providers``). A test in the all-packages
environment fails when the file and the registrations disagree.
Nothing here imports torch.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rec_core.plugins import RecPluginManager

__all__ = ["PROVIDER_PACKAGES", "collect_providers", "known_providers", "provider_of", "write_providers_file"]

PROVIDER_PACKAGES = ("rec-trainers", "rec-tracking", "rec-genrec")
"""The rec distributions whose names rec-core can point users to."""

_FILE = "providers.json"


@functools.cache
def known_providers() -> dict[str, dict[str, list[str]]]:
    """Return ``{package: {kind: [names]}}`` from the shipped ``providers.json``."""
    text = resources.files("rec_core").joinpath(_FILE).read_text(encoding="utf-8")
    data: dict[str, dict[str, list[str]]] = json.loads(text)
    return data


def provider_of(kind: str, name: str) -> str | None:
    """Return the rec package that registers ``name`` in registry ``kind``, or ``None``."""
    for package, kinds in known_providers().items():
        if name in kinds.get(kind, ()):
            return package
    return None


def collect_providers(pm: RecPluginManager) -> dict[str, dict[str, list[str]]]:
    """Return ``{package: {kind: [names]}}`` of what the installed rec packages register."""
    from rec_core.registry import KINDS

    found: dict[str, dict[str, list[str]]] = {}
    for kind in KINDS:
        for entry in pm.registry(kind):
            record = pm.records.get(entry.plugin)
            package = record.distribution if record else None
            if package in PROVIDER_PACKAGES:
                names = found.setdefault(package, {}).setdefault(kind, [])
                if entry.name not in names:
                    names.append(entry.name)
    return {package: {kind: sorted(names) for kind, names in sorted(kinds.items())}
            for package, kinds in sorted(found.items())}


def write_providers_file(pm: RecPluginManager, path: str | Path | None = None) -> Path:
    """Write ``providers.json`` (next to this module by default) from what ``pm``'s rec packages register."""
    target = Path(path) if path is not None else Path(__file__).with_name(_FILE)
    target.write_text(json.dumps(collect_providers(pm), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target
