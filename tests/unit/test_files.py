"""The safe file reader: regular files only, capped, never blocking, never echoing content."""

from __future__ import annotations

import os
import resource
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core import files
from core.files import FileRefused, FileTooLarge, read_capped, read_text_capped, regular_files

FIELD = "database.prismaSchema"


def finishes(call: Callable[[], Any], seconds: float = 5) -> BaseException | None:
    """Run `call` in a thread; fail the test if it is still running after `seconds` (it blocked)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still blocked after {seconds}s"
    return outcome[0]


def test_a_regular_file_within_its_cap_is_read(tmp_path: Path) -> None:
    (tmp_path / "schema.prisma").write_bytes(b"model A {}\n")
    assert read_capped(tmp_path / "schema.prisma", FIELD, 100) == b"model A {}\n"
    assert read_text_capped(tmp_path / "schema.prisma", FIELD, 100) == "model A {}\n"


def test_a_fifo_is_refused_at_once_without_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "schema.prisma"
    os.mkfifo(fifo)
    error = finishes(lambda: read_capped(fifo, FIELD, 100))
    assert isinstance(error, FileRefused)
    problem = "is a FIFO (named pipe), not a regular file; give the path of a regular file"
    assert str(error) == f"{FIELD}: {str(fifo)!r} {problem}"


def test_a_terminal_or_pipe_behind_proc_fd_is_refused_at_once() -> None:
    read_end, write_end = os.pipe()
    try:
        error = finishes(lambda: read_capped(f"/proc/self/fd/{read_end}", FIELD, 100))
    finally:
        os.close(read_end)
        os.close(write_end)
    assert isinstance(error, FileRefused)
    assert "symbolic link" in str(error)  # /proc/self/fd/N is a link to the pipe


def test_dev_zero_is_refused_without_reading_or_allocating() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    error = finishes(lambda: read_capped("/dev/zero", FIELD, 1024**3))
    assert isinstance(error, FileRefused)
    assert "is a device" in str(error)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB: under 50 MiB


def test_procfs_files_are_refused_and_their_content_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILES_TEST_MARKER", "marker-9f3c1e")
    with pytest.raises(FileRefused, match="kernel pseudo-file") as refused:
        read_capped("/proc/self/environ", FIELD, files.MIB)
    assert "marker-9f3c1e" not in str(refused.value)
    with pytest.raises(FileRefused, match="kernel pseudo-file"):
        read_capped("/proc/self/status", FIELD, files.MIB)


def test_a_zero_size_file_with_content_is_refused_even_off_procfs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Other pseudo-filesystems are not known by device: "size 0, yet data" gives them away.
    monkeypatch.setattr(files, "_pseudo_devices", lambda: frozenset())
    with pytest.raises(FileRefused, match="reports size 0 but has content"):
        read_capped("/proc/self/environ", FIELD, files.MIB)


def test_a_file_larger_than_it_claims_is_cut_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    # procfs reports size 0, so only the read can tell: it stops at cap + 1 bytes.
    monkeypatch.setattr(files, "_pseudo_devices", lambda: frozenset())
    with pytest.raises(FileTooLarge, match="is larger than 16 B; give a file of at most 16 B") as refused:
        read_capped("/proc/self/environ", FIELD, 16)
    assert refused.value.size is None


def test_an_oversize_file_is_refused_naming_both_sizes(tmp_path: Path) -> None:
    big = tmp_path / "preview.sql"
    big.write_bytes(b"x" * (3 * files.MIB))
    with pytest.raises(
        FileTooLarge, match=r"is larger than 1.0 MiB \(3.0 MiB\); give a file of at most 1.0 MiB"
    ):
        read_capped(big, "database.previewData", files.MIB)


def test_symbolic_links_are_refused_even_to_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "real.prisma").write_text("model A {}")
    (tmp_path / "link.prisma").symlink_to(tmp_path / "real.prisma")
    (tmp_path / "passwd").symlink_to("/etc/passwd")
    for link in ("link.prisma", "passwd"):
        with pytest.raises(FileRefused, match="is a symbolic link; give the path of the file itself"):
            read_capped(tmp_path / link, FIELD, files.MIB)


def test_directories_missing_files_and_nul_paths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FileRefused, match="is a directory, not a regular file"):
        read_capped(tmp_path, FIELD, files.MIB)
    with pytest.raises(FileRefused, match="does not exist; check the path"):
        read_capped(tmp_path / "nope", FIELD, files.MIB)
    with pytest.raises(FileRefused, match=r"'a\\x00b' contains a NUL character"):
        read_capped("a\0b", FIELD, files.MIB)


def test_text_that_is_not_utf8_names_its_line_not_its_bytes(tmp_path: Path) -> None:
    (tmp_path / "schema.prisma").write_bytes(b"model A {\n  id Int @id\n  \xff\xfe secret\n}")
    with pytest.raises(FileRefused, match=r"is not UTF-8 text \(line 3\); save it as UTF-8") as refused:
        read_text_capped(tmp_path / "schema.prisma", FIELD, files.MIB)
    assert "secret" not in str(refused.value)


def test_a_tree_walk_yields_regular_files_and_refuses_links_and_fifos(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.html").write_text("x")
    (tmp_path / "index.html").write_text("i")
    assert [str(p) for p, _ in regular_files(tmp_path, "web.buildDir")] == ["index.html", "a/x.html"]

    (tmp_path / "a" / "leak.txt").symlink_to("/etc/passwd")
    with pytest.raises(FileRefused, match=r"web\.buildDir: '.*/a/leak\.txt' is a symbolic link"):
        list(regular_files(tmp_path, "web.buildDir"))
    (tmp_path / "a" / "leak.txt").unlink()
    (tmp_path / "etc").symlink_to("/etc", target_is_directory=True)
    with pytest.raises(FileRefused, match=r"'.*/etc' is a symbolic link"):
        list(regular_files(tmp_path, "web.buildDir"))
    (tmp_path / "etc").unlink()
    os.mkfifo(tmp_path / "a" / "pipe")
    with pytest.raises(FileRefused, match="is a FIFO"):
        list(regular_files(tmp_path, "web.buildDir"))
    # What the caller skips is neither read nor refused.
    skipped = list(regular_files(tmp_path, "web.buildDir", skip=lambda p: p.name == "pipe"))
    assert [str(p) for p, _ in skipped] == ["index.html", "a/x.html"]
