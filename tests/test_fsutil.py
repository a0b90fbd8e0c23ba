"""fedchain.fsutil.atomic_output: all-or-nothing writes, permissions, and no clobbering even
against a concurrent writer (with and without hard links)."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedchain.fsutil import TMP_PREFIX, atomic_output


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(TMP_PREFIX)]


def test_writes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_output(target) as fh:
        fh.write(b"first")
        assert not target.exists()  # nothing appears before the block ends
        fh.seek(0)
        assert fh.read() == b"first"  # the block may read back what it wrote
    assert target.read_bytes() == b"first"
    with atomic_output(target) as fh:
        fh.write(b"second")
    assert target.read_bytes() == b"second"
    assert _leftovers(tmp_path) == []


def test_a_failing_block_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_output(target) as fh:
        fh.write(b"half")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


@pytest.mark.usefixtures("umask_022")
def test_mode_is_applied_through_the_umask(tmp_path: Path) -> None:
    for mode, expected in ((0o600, 0o600), (0o644, 0o644), (0o666, 0o644)):
        target = tmp_path / f"{mode:o}.txt"
        with atomic_output(target, mode=mode) as fh:
            fh.write(b"x")
        assert _mode(target) == expected, oct(mode)
    default = tmp_path / "default.txt"
    with atomic_output(default) as fh:
        fh.write(b"x")
    assert _mode(default) == 0o600


def test_no_overwrite_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"theirs")
    with pytest.raises(FileExistsError), atomic_output(target, overwrite=False) as fh:
        fh.write(b"mine")
    assert target.read_bytes() == b"theirs"
    assert _leftovers(tmp_path) == []


def _race(target: Path, *, exists_error: type[Exception] = FileExistsError) -> None:
    """Writer A starts, writer B creates the file meanwhile, then A tries to commit."""
    with pytest.raises(exists_error), atomic_output(target, overwrite=False) as a:
        a.write(b"A")
        with atomic_output(target, overwrite=False) as b:
            b.write(b"B")


def test_no_overwrite_holds_against_a_concurrent_writer(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    _race(target)
    assert target.read_bytes() == b"B"  # the first writer's file survives
    assert _leftovers(tmp_path) == []


def test_no_overwrite_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "hard links not supported here")

    monkeypatch.setattr(os, "link", no_links)
    target = tmp_path / "out.bin"
    with atomic_output(target, overwrite=False) as fh:
        fh.write(b"new")
    assert target.read_bytes() == b"new"
    _race(tmp_path / "raced.bin")
    assert (tmp_path / "raced.bin").read_bytes() == b"B"
    assert _leftovers(tmp_path) == []


def test_exists_error_builds_the_exception(tmp_path: Path) -> None:
    class Taken(Exception):
        pass

    target = tmp_path / "out.bin"
    target.write_bytes(b"theirs")
    with (
        pytest.raises(Taken, match=r"out\.bin is taken"),
        atomic_output(
            target, overwrite=False, exists_error=lambda p: Taken(f"{p.name} is taken")
        ) as fh,
    ):
        fh.write(b"mine")
    assert target.read_bytes() == b"theirs"


def test_tmp_dir_holds_the_temporary_file(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    target = tmp_path / "out.bin"
    with atomic_output(target, tmp_dir=scratch, fsync=False) as fh:
        fh.write(b"x")
        assert len(_leftovers(scratch)) == 1 and _leftovers(tmp_path) == []
    assert target.read_bytes() == b"x" and _leftovers(scratch) == []


def test_a_missing_directory_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_output(tmp_path / "no" / "such" / "file"):
        pass


def test_storage_raises_output_exists(tmp_path: Path) -> None:
    from fedchain.storage.errors import OutputExistsError
    from fedchain.storage.fsutil import atomic_output as storage_output

    target = tmp_path / "out.bin"
    target.write_bytes(b"theirs")
    with pytest.raises(OutputExistsError), storage_output(target, overwrite=False) as fh:
        fh.write(b"mine")
    assert target.read_bytes() == b"theirs"
