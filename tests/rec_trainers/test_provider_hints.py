"""rec-core's install hints (providers.json) are derived from the packages' own registrations."""

from __future__ import annotations

import importlib.metadata

import pytest

from rec_core.plugins import make_plugin_manager
from rec_core.providers import PROVIDER_PACKAGES, collect_providers, known_providers


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def test_providers_json_matches_what_the_installed_rec_packages_register(monkeypatch):
    monkeypatch.delenv("REC_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("REC_LOAD_PLUGINS", raising=False)
    installed = [p for p in PROVIDER_PACKAGES if _installed(p)]
    if "rec-trainers" not in installed:
        pytest.skip("needs the rec packages installed together (tox env 'all')")
    live = collect_providers(make_plugin_manager())
    shipped = known_providers()
    for package in installed:
        assert shipped.get(package) == live.get(package), (
            f"rec_core/providers.json is stale for {package}: regenerate it with `nox -s providers`"
        )
    assert set(shipped) <= set(PROVIDER_PACKAGES)
