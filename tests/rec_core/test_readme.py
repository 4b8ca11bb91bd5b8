"""The README shows the third-party trainer plugin exactly as the tested fixture has it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "rec-toy-trainer"
BLOCK = re.compile(r"```(?:python|toml)\n# rec-toy-trainer/([^\n]*)\n(.*?)```", re.DOTALL)


def test_your_own_trainer_section_is_the_fixture_plugin():
    readme = ROOT / "README.md"
    if not readme.is_file():
        pytest.skip("README.md is not next to the tests (installed test tree)")
    blocks = dict(BLOCK.findall(readme.read_text(encoding="utf-8")))
    files = {str(p.relative_to(FIXTURE)) for p in FIXTURE.rglob("*") if p.is_file() and p.suffix in (".py", ".toml")}
    files.discard("src/rec_toy/__init__.py")
    assert set(blocks) == files
    for relative, text in blocks.items():
        assert text == (FIXTURE / relative).read_text(encoding="utf-8"), f"README block for {relative} is stale"
