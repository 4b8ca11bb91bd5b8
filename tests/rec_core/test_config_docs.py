"""``rec settings TASK``: every config key with its default and meaning, read from the config classes."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Union

from typer.testing import CliRunner

from rec_core import TrainingConfig
from rec_core.cli import build_app
from rec_core.config_docs import describe_settings, field_descriptions

from .cli_checks import fails_with
from .test_cli_train_run import TINY_PLUGIN

runner = CliRunner()


@dataclass
class _Mixin:
    """Settings mixed into a config.

    Attributes:
        alpha, beta: Two coefficients, described once,
            over two lines.
        gamma: A third.

    Raises:
        nothing: this section is not read.
    """

    alpha: float = 0.0
    beta: float = 0.0
    gamma: int = 1


@dataclass
class _Config(TrainingConfig, _Mixin):
    """A trainer's config.

    Attributes:
        gamma: The subclass's own word on gamma.
    """

    tags: list[str] = field(default_factory=lambda: ["a"])
    """Tags: ``quoted`` words and a :class:`~rec_core.config.TrainingConfig` reference.

    A second paragraph, left out."""
    window: Union[int, None] = None
    undocumented: int = 3


def test_descriptions_come_from_attribute_docstrings_and_attributes_sections() -> None:
    found = field_descriptions(_Config)
    assert found["alpha"] == found["beta"] == "Two coefficients, described once, over two lines."
    assert found["gamma"] == "The subclass's own word on gamma."  # the subclass wins
    assert found["tags"] == "Tags: quoted words and a TrainingConfig reference."
    assert "nothing" not in found and "undocumented" not in found and "window" not in found
    assert found["max_epochs"] == "Most epochs to train; early stopping may end the run sooner."


def test_settings_list_every_field_with_its_value_and_a_readable_type() -> None:
    docs = {doc.name: doc for doc in describe_settings(_Config(max_epochs=7))}
    assert list(docs) == [f.name for f in dataclasses.fields(_Config)]
    assert docs["max_epochs"].default == 7 and docs["tags"].default == ["a"]
    assert docs["window"].type == "int | None" and docs["gpus"].type == "int | list[int]"
    assert docs["undocumented"].description == ""


def test_every_key_of_rec_cores_config_is_documented() -> None:
    assert [d.name for d in describe_settings(TrainingConfig()) if not d.description] == []


def test_rec_settings_shows_a_trainers_defaults_and_refuses_an_unknown_task(rec_plugin_site) -> None:
    rec_plugin_site.install("rec-tiny", entry_points={"rec": {"tiny": "tiny_plugin"}},
                            modules={"tiny_plugin.py": TINY_PLUGIN})
    app = build_app(rec_plugin_site.plugin_manager())
    result = runner.invoke(app, ["settings", "tiny", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["max_epochs"]["default"] == 3 and rows["batch_size"]["default"] == 16  # TinyTrainer's defaults
    assert rows["capture_step"]["type"] == "bool" and "CUDA graph" in rows["capture_step"]["description"]
    table = runner.invoke(app, ["settings", "tiny"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "learning_rate" in table.output and "0.05" in table.output
    fails_with(app, ["settings", "nope"], "unknown trainer 'nope'")
