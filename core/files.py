"""Reading the files a spec or an option names: regular files only, never more than a cap.

A path can name anything: a FIFO or a terminal (`/proc/self/fd/2`: an open or read that never
returns), `/dev/zero` (a read that never ends), `/proc/self/environ` (the process's secrets; procfs
reports size 0, so st_size cannot be trusted). Every such file is read here:

- lstat first, so a device, FIFO or socket is refused without being opened (opening one can block
  or have effects of its own);
- opened with O_NONBLOCK and O_NOFOLLOW (a symbolic link as the last component is refused: give
  the file itself), then checked again on the open descriptor, so the file checked is the file read;
- kernel pseudo-files (procfs, sysfs, and any file that reports size 0 but has content) are refused;
- at most cap + 1 bytes are ever read, whatever the file claims its size is.

The caps below are per kind of file: each far above what an app needs, far below what hurts a worker.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

from core.errors import UserError

KIB = 1024
MIB = 1024 * KIB

SPEC_CAP = 4 * MIB  # an app spec (YAML or JSON)
SCHEMA_CAP = 1 * MIB  # a Prisma schema; large real ones are ~100 KiB
MIGRATION_CAP = 10 * MIB  # one migration.sql
MIGRATIONS_TOTAL_CAP = 100 * MIB  # every migration.sql of a folder together
MIGRATION_LOCK_CAP = 64 * KIB  # migration_lock.toml
PREVIEW_CAP = 256 * MIB  # preview data: a .sql dump or a .sqlite file
ICON_CAP = 20 * MIB  # the source image of mobile and desktop icons
PAGES_CONFIG_CAP = 1 * MIB  # _headers, _redirects, _routes.json
# A Pages asset's cap is Pages' own limit (components/cloudflare/upload.py, MAX_ASSET_BYTES).

_CHUNK = 1 * MIB
# Pseudo-filesystems whose files describe the host or this process, never an app's content.
_PSEUDO_ROOTS = ("/proc", "/sys")


class FileRefused(UserError, ValueError):
    """A named file cannot be read safely or is too large; names the field, the problem and the fix.

    The message never holds any of the file's content.
    """

    def __init__(self, field: str, path: Path | str, problem: str, fix: str) -> None:
        self.field = field
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{field}: {shown(path)} {problem}; {fix}")


class FileTooLarge(FileRefused):
    """The file holds more than the cap for its kind; `size` is None when only a read could tell."""

    def __init__(self, field: str, path: Path | str, size: int | None, cap: int) -> None:
        self.size = size
        self.cap = cap
        actual = f" ({size_text(size)})" if size is not None else ""
        problem = f"is larger than {size_text(cap)}{actual}"
        super().__init__(field, path, problem, f"give a file of at most {size_text(cap)}")


def shown(path: Path | str) -> str:
    """The path quoted for a message, control characters (a NUL, a newline) escaped."""
    return repr(str(path))


def size_text(size: int) -> str:
    return f"{size / MIB:.1f} MiB" if size >= MIB else f"{size / KIB:.0f} KiB" if size >= KIB else f"{size} B"


@cache
def _pseudo_devices() -> frozenset[int]:
    devices = set()
    for root in _PSEUDO_ROOTS:
        try:
            devices.add(os.stat(root).st_dev)
        except OSError:
            continue
    return frozenset(devices)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _refuse_special(info: os.stat_result, path: Path | str, field: str) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise FileRefused(field, path, "is a symbolic link", "give the path of the file itself")
    if not stat.S_ISREG(info.st_mode):
        kind = _kind(info.st_mode)
        raise FileRefused(field, path, f"is {kind}, not a regular file", "give the path of a regular file")
    if info.st_dev in _pseudo_devices():
        raise FileRefused(
            field, path, "is a kernel pseudo-file (procfs/sysfs)", "give a file of the app instead"
        )


def check_regular(path: Path | str, field: str, cap: int | None = None) -> os.stat_result:
    """lstat `path` and refuse anything but a regular file (of at most `cap` bytes); opens nothing."""
    try:
        info = os.lstat(path)
    except ValueError:
        raise FileRefused(field, path, "contains a NUL character", "give a plain path") from None
    except FileNotFoundError:
        raise FileRefused(field, path, "does not exist", "check the path") from None
    except OSError as exc:
        raise FileRefused(field, path, f"cannot be read ({exc.strerror})", "check the path") from None
    _refuse_special(info, path, field)
    if cap is not None and info.st_size > cap:
        raise FileTooLarge(field, path, info.st_size, cap)
    return info


def read_capped(path: Path | str, field: str, cap: int) -> bytes:
    """The bytes of the regular file at `path`; FileRefused for anything else or over `cap` bytes."""
    before = check_regular(path, field, cap)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a symbolic link since the lstat
            raise FileRefused(field, path, "is a symbolic link", "give the path of the file itself") from None
        raise FileRefused(field, path, f"cannot be read ({exc.strerror})", "check the path") from None
    try:
        info = os.fstat(fd)
        _refuse_special(info, path, field)
        if (info.st_dev, info.st_ino) != (before.st_dev, before.st_ino):
            raise FileRefused(field, path, "changed while it was opened", "leave it alone and try again")
        chunks: list[bytes] = []
        total = 0
        while total <= cap:
            chunk = os.read(fd, min(_CHUNK, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise FileRefused(field, path, f"cannot be read ({exc.strerror})", "check the file") from None
    finally:
        os.close(fd)
    if total > cap:
        raise FileTooLarge(field, path, None, cap)
    if info.st_size == 0 and total > 0:
        # What procfs, sysfs and their kind do: a file of "size 0" whose reads produce data.
        problem = "is a kernel pseudo-file (it reports size 0 but has content)"
        raise FileRefused(field, path, problem, "give a file of the app")
    return b"".join(chunks)


def read_text_capped(path: Path | str, field: str, cap: int) -> str:
    """read_capped decoded as UTF-8 (a leading BOM is dropped); FileRefused if it is not UTF-8."""
    raw = read_capped(path, field, cap)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise FileRefused(field, path, f"is not UTF-8 text (line {line})", "save it as UTF-8") from None


def regular_files(
    directory: Path, field: str, skip: Callable[[Path], bool] = lambda _: False
) -> Iterator[tuple[Path, os.stat_result]]:
    """Every regular file under `directory` as (relative path, lstat result), in sorted order, without
    following links; `skip(relative)` leaves an entry (and what is under it) out. A symbolic link or a
    special file anywhere else in the tree is refused, naming it: uploading what a link points to
    could publish any file of the host."""
    pending = [Path(".")]
    while pending:
        relative = pending.pop()
        try:
            with os.scandir(directory / relative) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except ValueError:
            raise FileRefused(field, directory, "contains a NUL character", "give a plain path") from None
        except OSError as exc:
            problem = f"cannot be listed ({exc.strerror})"
            raise FileRefused(field, directory / relative, problem, "check the folder") from None
        folders: list[Path] = []
        for entry in entries:
            path = relative / entry.name
            if skip(path):
                continue
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                folders.append(path)
                continue
            _refuse_special(info, directory / path, field)
            yield path, info
        pending.extend(reversed(folders))
