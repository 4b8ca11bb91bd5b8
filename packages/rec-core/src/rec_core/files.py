"""Small file helpers: atomic writes (temp file + ``os.replace``) and checked JSON reads."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rec_core.errors import RecError

__all__ = ["atomic_write", "read_json", "write_json_atomically"]


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Create ``path`` through ``write(temp_path)`` and move it into place.

    Readers see the old file or the complete new one, never half a file; the temp file is
    removed when ``write`` fails. Missing parent folders are created.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Not mkstemp: its 0600 mode would stick to the final file.
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def write_json_atomically(path: str | os.PathLike[str], payload: Any) -> Path:
    """Write ``payload`` as indented, key-sorted JSON to ``path`` atomically."""
    text = json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_json(path: str | os.PathLike[str], *, missing: str) -> Any:
    """Return the JSON in ``path``.

    Args:
        path: the file.
        missing: the message of the :class:`RecError` raised when the file does not exist.

    Raises:
        RecError: the file is missing (``missing``) or is not valid JSON (names the file).
    """
    file = Path(path)
    if not file.is_file():
        raise RecError(missing)
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecError(f"{file} is corrupt: {exc}") from None
