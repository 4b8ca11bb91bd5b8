"""rec_core.files: atomic writes keep the old file on failure; JSON reads name the file."""

from __future__ import annotations

import os
import stat

import pytest

from rec_core.errors import RecError
from rec_core.files import atomic_write, read_json, write_json_atomically


def test_failed_write_leaves_the_previous_file_and_no_temp_file(tmp_path):
    target = tmp_path / "summary.json"
    write_json_atomically(target, {"auc": 0.8})

    def crash(tmp):
        tmp.write_text('{"auc": 0.')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, crash)
    assert read_json(target, missing="-") == {"auc": 0.8}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_written_files_get_ordinary_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = write_json_atomically(tmp_path / "a" / "b.json", [1, 2])
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_read_json_errors_name_the_file(tmp_path):
    with pytest.raises(RecError, match="no such run"):
        read_json(tmp_path / "missing.json", missing="no such run")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(RecError, match=f"{bad} is corrupt"):
        read_json(bad, missing="-")
