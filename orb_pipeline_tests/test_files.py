"""Atomic replacement: the old file or the new one, never a part; nothing left on failure."""

import pytest

from orb_pipeline.core.files import replacing, write_atomically


def test_write_creates_folders_and_replaces(tmp_path):
    target = tmp_path / "a" / "b" / "file.bin"
    write_atomically(target, b"first")
    write_atomically(target, b"second")
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "file.bin"
    write_atomically(target, b"old")
    with pytest.raises(RuntimeError, match="disk on fire"), replacing(target) as temporary:
        temporary.write_bytes(b"half of the new")
        raise RuntimeError("disk on fire")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]
