"""Tests for rec_core.datasets.files: data-file lookup, checksums and the array cache."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from rec_core.datasets import files as files_module
from rec_core.datasets.files import (
    cache_root,
    file_sha256,
    find_data_file,
    read_cached_arrays,
    verified_data_file,
    write_cached_arrays,
)
from rec_core.errors import DataError


def real_data_file(relative: str) -> Path:
    """Return ``$REC_DATA_DIR/relative``, or skip the test saying why it cannot run."""
    root = os.environ.get("REC_DATA_DIR")
    if not root:
        pytest.skip("REC_DATA_DIR is not set (point it at ../shared/data to run real-data tests)")
    path = Path(root) / relative
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


# ------------------------------------------------------------------ lookup


def test_find_data_file_searches_data_dir_env_then_cache(
    no_data_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    relative = "set/file.csv"
    cached = no_data_env / relative
    cached.parent.mkdir(parents=True)
    cached.write_text("x")
    assert find_data_file(relative) == cached

    env_root = tmp_path / "env"
    (env_root / "set").mkdir(parents=True)
    (env_root / relative).write_text("x")
    monkeypatch.setenv("REC_DATA_DIR", str(env_root))
    assert find_data_file(relative) == env_root / relative

    given = tmp_path / "given"
    (given / "set").mkdir(parents=True)
    (given / relative).write_text("x")
    assert find_data_file(relative, data_dir=given) == given / relative


def test_find_data_file_says_where_it_looked_and_what_to_set(no_data_env: Path) -> None:
    with pytest.raises(DataError) as info:
        find_data_file("frappe/raw-baltrunas/frappe.csv.gz")
    assert str(info.value) == (
        "data file 'frappe/raw-baltrunas/frappe.csv.gz' not found "
        f"(looked in: {no_data_env}/frappe/raw-baltrunas/frappe.csv.gz) (REC_DATA_DIR is not set); "
        "set REC_DATA_DIR to the data root, the folder that contains frappe/"
    )


def test_find_data_file_lists_every_place(no_data_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REC_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DataError, match=r"looked in: .*/given/a/b\.csv, .*/env/a/b\.csv, .*/cache/a/b\.csv\); set"):
        find_data_file("a/b.csv", data_dir=tmp_path / "given")


def test_a_folder_is_not_a_data_file(no_data_env: Path) -> None:
    (no_data_env / "set" / "file.csv").mkdir(parents=True)
    with pytest.raises(DataError, match=r"data file 'set/file\.csv' not found"):
        find_data_file("set/file.csv")


def test_cache_root_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REC_CACHE_DIR", raising=False)
    assert cache_root() == Path.home() / ".cache" / "rec"
    monkeypatch.setenv("REC_CACHE_DIR", str(tmp_path))
    assert cache_root() == tmp_path
    assert cache_root(tmp_path / "x") == tmp_path / "x"


# ------------------------------------------------------------------ checksums


def test_verified_data_file_checks_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "set" / "data.csv"
    path.parent.mkdir()
    path.write_bytes(b"a,b\n1,2\n")
    digest = hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert file_sha256(path) == digest
    assert verified_data_file("set/data.csv", digest, data_dir=tmp_path) == path
    with pytest.raises(DataError) as info:
        verified_data_file("set/data.csv", "0" * 64, data_dir=tmp_path)
    assert str(info.value) == (
        f"{path} has SHA-256 {digest[:12]}…, expected 000000000000…; the file is damaged or not the expected data.csv"
    )


def test_an_unreadable_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.csv"
    path.write_text("x")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(files_module, "open", refuse, raising=False)
    with pytest.raises(DataError) as info:
        file_sha256(path)
    assert str(info.value) == f"cannot read {path}: Permission denied"


# ------------------------------------------------------------------ array cache


def test_cache_round_trip_and_meta_written_last(tmp_path: Path) -> None:
    stem = tmp_path / "set" / "build-v1-seed3"
    arrays = {"ids": np.arange(5, dtype=np.int32), "label": np.array([0, 1, 0, 1, 1], dtype=np.float32)}
    assert write_cached_arrays(stem, arrays, {"seed": 3, "version": 1, "rows": 5})
    assert sorted(p.name for p in stem.parent.iterdir()) == ["build-v1-seed3.json", "build-v1-seed3.npz"]
    cached = read_cached_arrays(stem, {"seed": 3, "version": 1})
    assert cached is not None
    loaded, meta = cached
    assert meta["rows"] == 5
    assert set(loaded) == {"ids", "label"}
    assert np.array_equal(loaded["ids"], arrays["ids"]) and loaded["label"].dtype == np.float32


def test_dotted_stems_keep_their_name(tmp_path: Path) -> None:
    stem = tmp_path / "build-0.7-0.2"
    assert write_cached_arrays(stem, {"a": np.ones(2)}, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build-0.7-0.2.json", "build-0.7-0.2.npz"]
    assert read_cached_arrays(stem, {}) is not None


@pytest.mark.parametrize("damage", ["stale", "no-json", "bad-json", "not-a-dict", "bad-npz", "truncated-zip", "no-npz"])
def test_absent_stale_or_damaged_cache_reads_as_none(tmp_path: Path, damage: str) -> None:
    stem = tmp_path / "entry"
    write_cached_arrays(stem, {"a": np.arange(1000)}, {"seed": 1})
    json_path, npz_path = tmp_path / "entry.json", tmp_path / "entry.npz"
    expected = {"seed": 1}
    if damage == "stale":
        expected = {"seed": 2}
    elif damage == "no-json":
        json_path.unlink()
    elif damage == "bad-json":
        json_path.write_text("{not json")
    elif damage == "not-a-dict":
        json_path.write_text(json.dumps([1, 2]))
    elif damage == "bad-npz":
        npz_path.write_bytes(b"not a zip")
    elif damage == "truncated-zip":
        npz_path.write_bytes(npz_path.read_bytes()[:200])
    else:
        npz_path.unlink()
    assert read_cached_arrays(stem, expected) is None


def test_a_read_only_cache_only_costs_a_rebuild(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rec_core.files

    def read_only(path: object, write: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(rec_core.files, "atomic_write", read_only)
    assert write_cached_arrays(tmp_path / "entry", {"a": np.ones(3)}, {"seed": 1}) is False
    assert read_cached_arrays(tmp_path / "entry", {"seed": 1}) is None
