"""rec-core's install hints (providers.json) are derived from the packages' own registrations."""

from __future__ import annotations

import pytest

from rec_core.plugins import make_plugin_manager
from rec_core.providers import PROVIDER_PACKAGES, collect_providers, known_providers

from ..rec_core.cli_checks import installed


def test_providers_json_matches_what_the_installed_rec_packages_register(monkeypatch):
    monkeypatch.delenv("REC_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("REC_LOAD_PLUGINS", raising=False)
    present = [p for p in PROVIDER_PACKAGES if installed(p)]
    if "rec-trainers" not in present:
        pytest.skip("needs the rec packages installed together (tox env 'all')")
    live = collect_providers(make_plugin_manager())
    shipped = known_providers()
    for package in present:
        assert shipped.get(package) == live.get(package), (
            f"rec_core/providers.json is stale for {package}: regenerate it with `nox -s providers`"
        )
    assert set(shipped) <= set(PROVIDER_PACKAGES)
