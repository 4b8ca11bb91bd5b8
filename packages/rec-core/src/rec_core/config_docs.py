"""What each config key means, read from the config classes' own documentation (``rec settings``).

A field is documented either by a string right under it (an attribute docstring, as in
:class:`~rec_core.config.TrainingConfig`) or by an ``Attributes:`` section of its class's
docstring (``name: text``, or ``a, b: text`` for several). Subclasses add or override keys,
so a trainer's config class documents its own keys next to the inherited ones. Importing
this module does not import torch.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap
from dataclasses import dataclass
from typing import Any

__all__ = ["SettingDoc", "describe_settings", "field_descriptions"]


@dataclass(frozen=True)
class SettingDoc:
    """One config key: its name, type, value (the trainer's default) and description."""

    name: str
    type: str
    default: Any
    description: str

    def to_json(self) -> dict[str, Any]:
        """Return the key as a JSON-ready dict."""
        return {"name": self.name, "type": self.type, "default": self.default, "description": self.description}


def describe_settings(config: Any) -> list[SettingDoc]:
    """Return every field of ``config`` (a config dataclass instance), in declaration order."""
    descriptions = field_descriptions(type(config))
    return [
        SettingDoc(f.name, _type_text(f.type), getattr(config, f.name), descriptions.get(f.name, ""))
        for f in dataclasses.fields(config)
    ]


def field_descriptions(cls: type) -> dict[str, str]:
    """Return ``field name -> one-paragraph description`` for ``cls`` and its bases (subclasses win)."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        node = _class_node(klass)
        if node is None:
            continue
        found.update(_attributes_section(ast.get_docstring(node) or ""))
        for field, after in zip(node.body, node.body[1:], strict=False):
            if (isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                found[field.target.id] = _plain_text(after.value.value)
    return found


def _class_node(klass: type) -> ast.ClassDef | None:
    if klass is object:
        return None
    try:
        source = textwrap.dedent(inspect.getsource(klass))
    except (OSError, TypeError):  # built in, or no source shipped
        return None
    node = ast.parse(source).body[0]
    return node if isinstance(node, ast.ClassDef) else None


_ENTRY = re.compile(r"^(?P<names>\w+(?:\s*,\s*\w+)*)\s*:\s*(?P<text>.*)$")


def _attributes_section(docstring: str) -> dict[str, str]:
    """Return the entries of a Google-style ``Attributes:`` section."""
    lines = docstring.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Attributes:")
    except StopIteration:
        return {}
    base = len(lines[start]) - len(lines[start].lstrip())
    entries: list[tuple[list[str], list[str]]] = []
    entry_indent = None
    for line in lines[start + 1:]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent <= base:
            break  # the next section
        if entry_indent is None:
            entry_indent = indent
        match = _ENTRY.match(line.strip()) if indent == entry_indent else None
        if match:
            entries.append(([name.strip() for name in match["names"].split(",")], [match["text"]]))
        elif entries:
            entries[-1][1].append(line.strip())
    return {name: _plain_text(" ".join(text)) for names, text in entries for name in names}


def _plain_text(text: str) -> str:
    """Return the first paragraph of ``text`` on one line, reST markup reduced to plain words."""
    paragraph = textwrap.dedent(text).strip().split("\n\n")[0]
    paragraph = re.sub(r":\w+:`~?(?:[\w.]+\.)?([\w]+)`", r"\1", paragraph)  # :class:`~a.b.C` -> C
    paragraph = re.sub(r"``(.+?)``", r"\1", paragraph)
    return " ".join(paragraph.split())


def _type_text(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    union = re.fullmatch(r"Union\[(.*)\]", text)
    if union:
        text = " | ".join(part.strip() for part in _split_top_level(union[1]))
    return text.replace("NoneType", "None")


def _split_top_level(text: str) -> list[str]:
    """Split ``text`` at the commas outside brackets (``int, list[int]`` -> two parts)."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    return [*parts, current]
