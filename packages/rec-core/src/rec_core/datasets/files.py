"""Find the files of named data sets, check their bytes, and cache what is built from them.

Files of named data sets are never shipped with a package: :func:`find_data_file` looks in
the ``data_dir`` a caller gives, then in ``$REC_DATA_DIR``, then in the cache directory
(``$REC_CACHE_DIR``, default ``~/.cache/rec``). :func:`verified_data_file` also checks the
file's SHA-256, so a damaged or different file is refused with one line.

Arrays built from those files (sampled negatives, encoded columns) can be kept in the cache
with :func:`write_cached_arrays`: an ``.npz`` of arrays plus a ``.json`` of facts, the JSON
written last, so a half-written cache is never read. :func:`read_cached_arrays` returns
``None`` for an absent, damaged or stale cache (the caller rebuilds), and a cache folder
that cannot be written only costs a rebuild next time.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rec_core.errors import DataError

__all__ = [
    "CACHE_DIR_ENV",
    "DATA_DIR_ENV",
    "cache_root",
    "file_sha256",
    "find_data_file",
    "read_cached_arrays",
    "verified_data_file",
    "write_cached_arrays",
]

DATA_DIR_ENV = "REC_DATA_DIR"
CACHE_DIR_ENV = "REC_CACHE_DIR"

PathLike = str | os.PathLike[str]


def cache_root(cache_dir: PathLike | None = None) -> Path:
    """Return the cache directory: ``cache_dir``, else ``$REC_CACHE_DIR``, else ``~/.cache/rec``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env)
    return Path.home() / ".cache" / "rec"


def find_data_file(relative_path: str, *, data_dir: PathLike | None = None, cache_dir: PathLike | None = None) -> Path:
    """Locate a data file by its path relative to the data root.

    Looks in ``data_dir`` (when given), then ``$REC_DATA_DIR``, then the cache directory
    (see :func:`cache_root`).

    Args:
        relative_path: e.g. ``"frappe/raw-baltrunas/frappe.csv.gz"``.
        data_dir: A data root searched first.
        cache_dir: The cache directory to search instead of the default one.

    Returns:
        The path of the first existing file.

    Raises:
        DataError: If no candidate exists; the message lists where it looked and says to set
            ``REC_DATA_DIR``.
    """
    roots: list[Path] = []
    if data_dir is not None:
        roots.append(Path(data_dir))
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        roots.append(Path(env))
    roots.append(cache_root(cache_dir))
    candidates = [root / relative_path for root in roots]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    top = Path(relative_path).parts[0]
    unset = "" if env else f" ({DATA_DIR_ENV} is not set)"
    raise DataError(
        f"data file {relative_path!r} not found (looked in: {looked}){unset}; "
        f"set {DATA_DIR_ENV} to the data root, the folder that contains {top}/"
    )


def verified_data_file(
    relative_path: str,
    sha256: str,
    *,
    data_dir: PathLike | None = None,
    cache_dir: PathLike | None = None,
) -> Path:
    """Locate a data file with :func:`find_data_file` and check its SHA-256.

    Raises:
        DataError: If the file is missing, unreadable, or its bytes are not the expected ones.
    """
    path = find_data_file(relative_path, data_dir=data_dir, cache_dir=cache_dir)
    actual = file_sha256(path)
    if actual != sha256:
        raise DataError(
            f"{path} has SHA-256 {actual[:12]}…, expected {sha256[:12]}…; "
            f"the file is damaged or not the expected {Path(relative_path).name}"
        )
    return path


def file_sha256(path: PathLike) -> str:
    """Return the hex SHA-256 of a file's bytes.

    Raises:
        DataError: If the file cannot be read (names the file and the reason).
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def _sibling(stem: Path, suffix: str) -> Path:
    """Return ``stem`` with ``suffix`` appended (not replacing a dotted part of the name)."""
    return stem.with_name(stem.name + suffix)


def read_cached_arrays(stem: Path, expected: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """Return the arrays and facts cached at ``stem`` (``.npz`` + ``.json``), or ``None``.

    Args:
        stem: Path of the cache entry without suffix.
        expected: Facts the cached ``.json`` must hold with these values (build version,
            seed, source checksum, ...); any difference makes the entry stale.

    Returns:
        ``(arrays, meta)``, or ``None`` when the entry is absent, damaged or stale; the
        caller then rebuilds it.
    """
    try:
        meta = json.loads(_sibling(stem, ".json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or any(meta.get(key) != value for key, value in expected.items()):
            return None
        with open(_sibling(stem, ".npz"), "rb") as handle:  # closed even when np.load fails half-way
            stored = np.load(handle, allow_pickle=False)
            if not isinstance(stored, np.lib.npyio.NpzFile):
                return None
            with stored:
                arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # absent, unreadable, not JSON, not a zip
        return None
    return arrays, meta


def write_cached_arrays(stem: Path, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> bool:
    """Cache ``arrays`` and ``meta`` at ``stem``; return whether the cache could be written.

    Both files are written atomically and the ``.json`` last, so a reader never sees a
    ``.json`` whose ``.npz`` is incomplete. A folder that cannot be written returns ``False``
    (the data is rebuilt next time) rather than failing the load.
    """
    from rec_core.files import atomic_write, write_json_atomically

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle

    try:
        atomic_write(_sibling(stem, ".npz"), save)
        write_json_atomically(_sibling(stem, ".json"), dict(meta))
    except OSError:
        return False
    return True
