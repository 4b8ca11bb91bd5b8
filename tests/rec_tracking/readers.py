"""Read back what wandb, SwanLab and tensorboardX wrote to disk, with no network and no server.

None of the three ships a local reader we can rely on, so these parse the files directly:

* wandb (offline) and SwanLab (offline) both write LevelDB-log framed protobuf records
  (``run-<id>.wandb`` / ``run-<id>.swanlab``): a 7-byte file header, then 32 KiB blocks of
  records with a ``<IHB`` header (crc32, length, type FULL/FIRST/MIDDLE/LAST).
* tensorboardX writes TFRecord framed ``Event`` protos: ``<Q`` length, masked crc32c of the
  length, data, masked crc32c of the data.

The protobuf classes come from the SDKs themselves, so each reader imports its SDK lazily.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "IncompleteLogError",
    "SwanLabRun",
    "TensorBoardRun",
    "WandbRun",
    "find_wandb_file",
    "iter_leveldb_log",
    "iter_tfrecords",
    "read_swanlab",
    "read_tensorboardx",
    "read_wandb",
]

_BLOCK = 32768
_HEADER = 7  # both the file header and each record header are 7 bytes
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_WANDB_HEADER = struct.pack("<4sHB", b":W&B", 0xBEE1, 0)
_SWANLAB_HEADER = struct.pack("<4sHB", b":SWL", 0xE1D6, 2)


class IncompleteLogError(ValueError):
    """The file ends inside a record (the writer has not flushed everything yet)."""


def iter_leveldb_log(data: bytes, header: bytes) -> Iterator[bytes]:
    """Yield the payloads of a LevelDB-log framed file, checking every crc.

    Raises:
        ValueError: the file header is not ``header`` or a crc does not match.
        IncompleteLogError: the data ends in the middle of a record.
    """
    if data[:_HEADER] != header:
        raise ValueError(f"unexpected file header {data[:_HEADER]!r}, expected {header!r}")
    pos = _HEADER
    pending: list[bytes] | None = None
    while pos < len(data):
        left_in_block = _BLOCK - pos % _BLOCK
        if left_in_block < _HEADER:  # zero padding at the end of a block
            pos += left_in_block
            continue
        if pos + _HEADER > len(data):
            raise IncompleteLogError(f"record header cut at offset {pos}")
        crc, length, kind = struct.unpack_from("<IHB", data, pos)
        if crc == 0 and length == 0 and kind == 0:  # preallocated / padded tail
            break
        chunk = data[pos + _HEADER : pos + _HEADER + length]
        if len(chunk) < length:
            raise IncompleteLogError(f"record at offset {pos} cut after {len(chunk)} of {length} bytes")
        if zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != crc:
            raise ValueError(f"crc mismatch in record at offset {pos}")
        pos += _HEADER + length
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            pending = [chunk]
        elif kind == _MIDDLE and pending is not None:
            pending.append(chunk)
        elif kind == _LAST and pending is not None:
            pending.append(chunk)
            yield b"".join(pending)
            pending = None
        else:
            raise ValueError(f"unexpected record type {kind} at offset {pos}")
    if pending is not None:
        raise IncompleteLogError("file ends inside a multi-part record")


# -- wandb ------------------------------------------------------------------------------------
@dataclass
class WandbRun:
    """What an offline wandb run holds: config, history rows, summary, exit code."""

    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    run_info: dict[str, Any] = field(default_factory=dict)

    def rows_at(self, step: int) -> list[dict[str, Any]]:
        """Return the history rows logged at ``step``."""
        return [row for row in self.history if row.get("_step") == step]

    def metric_names(self) -> set[str]:
        """Return every logged metric name (wandb's own ``_step`` etc. left out)."""
        return {key for row in self.history for key in row if not key.startswith("_")}


def find_wandb_file(root: str | Path) -> Path:
    """Return the single ``run-*.wandb`` file below ``root``."""
    found = sorted(Path(root).rglob("run-*.wandb"))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one run-*.wandb below {root}, found {[str(p) for p in found]}")
    return found[0]


def read_wandb(root: str | Path, *, timeout: float = 10.0) -> WandbRun:
    """Read the offline run below ``root``, polling until its ``exit`` record is on disk.

    ``run.finish()`` returns before wandb-core has flushed the file (see
    ``shared/notes/tracking-offline.md``), so this re-reads until the exit record, always the
    last one, appears or ``timeout`` seconds pass.
    """
    from wandb.proto import wandb_internal_pb2

    deadline = time.monotonic() + timeout
    path: Path | None = None
    while True:
        try:
            path = path or find_wandb_file(root)
            run = _parse_wandb(path, wandb_internal_pb2)
        except (FileNotFoundError, IncompleteLogError):
            run = None
        if run is not None and run.exit_code is not None:
            return run
        if time.monotonic() > deadline:
            raise TimeoutError(f"no exit record in the wandb run below {root} after {timeout} s")
        time.sleep(0.02)


def _parse_wandb(path: Path, pb: Any) -> WandbRun:
    run = WandbRun(path=path)
    for payload in iter_leveldb_log(path.read_bytes(), _WANDB_HEADER):
        record = pb.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.run_info = {"project": record.run.project, "name": record.run.display_name,
                            "tags": list(record.run.tags), "notes": record.run.notes}
            _apply_items(run.config, record.run.config.update)
        elif kind == "config":
            _apply_items(run.config, record.config.update)
        elif kind == "history":
            row: dict[str, Any] = {}
            _apply_items(row, record.history.item)
            run.history.append(row)
        elif kind == "summary":
            _apply_items(run.summary, record.summary.update)
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
    run.config.pop("_wandb", None)
    return run


def _apply_items(target: dict[str, Any], items: Any) -> None:
    for item in items:
        keys = list(item.nested_key) or [item.key]
        node = target
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = json.loads(item.value_json)


# -- SwanLab ----------------------------------------------------------------------------------
@dataclass
class SwanLabRun:
    """What an offline SwanLab run holds: config.yaml, scalars, the finish state."""

    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    scalars: dict[str, dict[int, float]] = field(default_factory=dict)
    state: str | None = None
    error: str = ""
    start: dict[str, Any] = field(default_factory=dict)


def read_swanlab(root: str | Path) -> SwanLabRun:
    """Read the single SwanLab run below ``root`` (its ``.swanlab`` file and ``config.yaml``).

    ``state`` is ``"FINISHED"``, ``"CRASHED"`` or ``"ABORTED"`` (``None`` without a finish
    record); SwanLab writes the file synchronously in ``finish()``.
    """
    import yaml
    from swanlab.proto.swanlab.record.v1 import record_pb2
    from swanlab.proto.swanlab.run.v1 import run_pb2

    found = sorted(Path(root).rglob("run-*.swanlab"))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one run-*.swanlab below {root}, found {[str(p) for p in found]}")
    path = found[0]
    run = SwanLabRun(path=path)
    for payload in iter_leveldb_log(path.read_bytes(), _SWANLAB_HEADER):
        record = record_pb2.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "scalar":
            run.scalars.setdefault(record.scalar.key, {})[record.scalar.step] = record.scalar.value.number
        elif kind == "finish":
            run.state = run_pb2.RunState.Name(record.finish.state).removeprefix("RUN_STATE_")
            run.error = record.finish.error
        elif kind == "start":
            run.start = {"project": record.start.project, "name": record.start.name,
                         "description": record.start.description, "tags": list(record.start.tags)}
    config_file = path.parent / "files" / "config.yaml"
    if config_file.is_file():
        raw = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        run.config = {key: value["value"] if isinstance(value, dict) and "value" in value else value
                      for key, value in raw.items()}
    return run


# -- tensorboardX -----------------------------------------------------------------------------
@dataclass
class TensorBoardRun:
    """What tensorboardX event files below a folder hold."""

    scalars: dict[str, dict[int, float]] = field(default_factory=dict)
    texts: dict[str, dict[int, str]] = field(default_factory=dict)
    hparams: dict[str, Any] = field(default_factory=dict)
    session_status: str | None = None
    hparams_runs: set[str] = field(default_factory=set)
    files: list[Path] = field(default_factory=list)


def iter_tfrecords(data: bytes) -> Iterator[bytes]:
    """Yield the payloads of a TFRecord file, checking both masked crc32c values."""
    from tensorboardX.record_writer import masked_crc32c

    pos = 0
    while pos < len(data):
        if pos + 12 > len(data):
            raise IncompleteLogError(f"record header cut at offset {pos}")
        header = data[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack_from("<I", data, pos + 8)
        if masked_crc32c(header) != length_crc:
            raise ValueError(f"length crc mismatch at offset {pos}")
        payload = data[pos + 12 : pos + 12 + length]
        if len(payload) < length or pos + 16 + length > len(data):
            raise IncompleteLogError(f"record at offset {pos} is cut")
        (data_crc,) = struct.unpack_from("<I", data, pos + 12 + length)
        if masked_crc32c(payload) != data_crc:
            raise ValueError(f"data crc mismatch at offset {pos}")
        yield payload
        pos += 16 + length


def read_tensorboardx(root: str | Path) -> TensorBoardRun:
    """Read every ``events.out.tfevents.*`` file below ``root`` (sub-runs included)."""
    from google.protobuf.json_format import MessageToDict
    from tensorboardX.proto import api_pb2, event_pb2, plugin_hparams_pb2

    result = TensorBoardRun()
    result.files = sorted(Path(root).rglob("events.out.tfevents.*"))
    for file in result.files:
        for payload in iter_tfrecords(file.read_bytes()):
            event = event_pb2.Event()
            event.ParseFromString(payload)
            if not event.HasField("summary"):
                continue
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                if plugin == "hparams":
                    data = plugin_hparams_pb2.HParamsPluginData()
                    data.ParseFromString(value.metadata.plugin_data.content)
                    result.hparams_runs.add(str(file.parent))
                    if data.HasField("session_start_info"):
                        # MessageToDict turns each protobuf Value into its number, string or bool.
                        result.hparams.update(MessageToDict(data.session_start_info).get("hparams", {}))
                    elif data.HasField("session_end_info"):
                        result.session_status = api_pb2.Status.Name(data.session_end_info.status)
                elif plugin == "text":
                    text = value.tensor.string_val[0].decode("utf-8") if value.tensor.string_val else ""
                    result.texts.setdefault(value.tag, {})[event.step] = text
                elif value.HasField("simple_value"):
                    result.scalars.setdefault(value.tag, {})[event.step] = value.simple_value
    return result
