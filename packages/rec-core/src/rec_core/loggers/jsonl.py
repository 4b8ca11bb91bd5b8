"""A dependency-free logger that appends one JSON object per line to ``metrics.jsonl``.

Record types, one per line::

    {"type": "hparams", "params": {...}}
    {"type": "metrics", "step": 12, "time": 1700000000.0, "metrics": {"train/loss": 0.4}}
    {"type": "finish", "status": "success"}

Each line is written in one piece and flushed, so a crash leaves only complete lines
(at worst a torn last one, which :func:`read_metrics_jsonl` skips and a resumed logger
removes). The file is appended to, so a resumed run continues the same file.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import IO, Any, ClassVar

from rec_core.errors import DataError
from rec_core.loggers.base import FINISH_STATUSES, BaseLogger, plain_params, to_number

__all__ = ["METRICS_FILENAME", "JsonlLogger", "read_metrics_jsonl"]

#: File name used when a logger or reader is given a directory.
METRICS_FILENAME = "metrics.jsonl"

_TAIL_CHUNK = 64 * 1024


class JsonlLogger(BaseLogger):
    """Append hyperparameters, metrics and the final status to a JSON-lines file.

    Args:
        path: The file to write, or a directory to write ``metrics.jsonl`` into. A path
            counts as a file when it ends in ``.jsonl`` or is an existing file; missing
            parent directories are created on the first write.

    Example:
        >>> logger = JsonlLogger(tmp_path / "runs" / "exp1")  # doctest: +SKIP
        >>> logger.log_metrics({"train/loss": 0.5}, step=10)  # doctest: +SKIP
        >>> logger.finish()  # doctest: +SKIP
    """

    name: ClassVar[str] = "jsonl"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path: Path = _resolve_metrics_path(path)
        self._file: IO[str] | None = None

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        """Append a ``hparams`` record; non-JSON values are stored as strings."""
        self._write({"type": "hparams", "params": plain_params(params)})

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Append a ``metrics`` record stamped with ``step`` and the Unix time."""
        self._write(
            {
                "type": "metrics",
                "step": None if step is None else int(step),
                "time": time.time(),
                "metrics": {str(key): _metric_value(value) for key, value in metrics.items()},
            }
        )

    def finish(self, status: str = "success") -> None:
        """Append a ``finish`` record and close the file.

        Logging after ``finish`` reopens the file and appends again.

        Raises:
            ValueError: ``status`` is not one of ``success``, ``failed``, ``interrupted``.
        """
        if status not in FINISH_STATUSES:
            raise ValueError(f"finish status must be one of {FINISH_STATUSES}, got {status!r}")
        try:
            self._write({"type": "finish", "status": status})
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def _write(self, record: dict[str, Any]) -> None:
        # Serialise before touching the file: a value json cannot encode must not leave
        # half a line behind.
        line = json.dumps(record, ensure_ascii=False) + "\n"
        if self._file is None:
            self._file = self._open()
        self._file.write(line)
        self._file.flush()

    def _open(self) -> IO[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _repair_tail(self.path)
        return self.path.open("a", encoding="utf-8", newline="\n")


def read_metrics_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read every record of a file written by :class:`JsonlLogger`.

    Args:
        path: The file, or the directory holding ``metrics.jsonl``.

    Returns:
        The records in file order. A torn last line (a crash mid-write) is skipped.

    Raises:
        DataError: The file is missing or unreadable, or a line other than the last is
            not a JSON object; the message names the file and the line number.
    """
    file = _resolve_metrics_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"metrics file {file} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read metrics file {file}: {exc}") from None

    lines = text.split("\n")
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    records: list[dict[str, Any]] = []
    for index, (number, line) in enumerate(numbered):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if index == len(numbered) - 1:
                break  # the run died while writing its last line
            raise DataError(
                f"{file}, line {number}: corrupt record, not valid JSON ({exc.msg})"
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"{file}, line {number}: expected a JSON object, got {type(record).__name__}"
            )
        records.append(record)
    return records


def _resolve_metrics_path(path: str | os.PathLike[str]) -> Path:
    candidate = Path(path)
    if candidate.suffix == ".jsonl" or candidate.is_file():
        return candidate
    return candidate / METRICS_FILENAME


def _repair_tail(path: Path) -> None:
    """Make ``path`` end in a newline before appending, dropping a torn last record."""
    try:
        file = path.open("r+b")
    except FileNotFoundError:
        return
    with file:
        size = file.seek(0, os.SEEK_END)
        if size == 0:
            return
        file.seek(size - 1)
        if file.read(1) == b"\n":
            return
        end = size
        while end > 0:
            start = max(0, end - _TAIL_CHUNK)
            file.seek(start)
            newline = file.read(end - start).rfind(b"\n")
            if newline >= 0:
                start += newline + 1
                break
            end = start
        else:
            start = 0
        file.seek(start)
        tail = file.read()
        try:
            json.loads(tail)
        except ValueError:  # torn by a crash: drop it so the file stays valid
            file.truncate(start)
        else:  # a complete record that only lacks its newline
            file.seek(size)
            file.write(b"\n")


def _metric_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    number = to_number(value)
    if number is None:
        return plain_params(value)
    return number if isinstance(number, bool) else float(number)
