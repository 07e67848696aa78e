"""Tenant uploads checked and unpacked safely: tar (plain or gzip) and zip archives, or one file.

An upload comes from a tenant who may be hostile, so every archive is read as a stream with hard
caps and nothing in it is trusted: names must be plain relative paths (no `..`, no absolute names,
no backslashes, no NUL), entries must be regular files or folders (no symlinks, hard links,
devices or FIFOs), and the bytes actually decompressed are counted, not the sizes the headers
claim, so a zip bomb stops at the cap. The same walk checks an upload when it arrives and unpacks
it on a worker, so what was checked is exactly what is written.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Literal

from core.errors import UserError
from core.settings import Service, load_settings, settings

UploadKind = Literal["archive", "file"]
CHUNK = 1 << 16
SAFE_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ArchiveRefused(UserError, ValueError):
    """An upload that breaks a rule; the message says which rule and what to do instead."""


@dataclass(frozen=True)
class UploadLimits:
    """Caps on one upload; the defaults suit a site build, a schema or preview data."""

    max_upload_bytes: int = Service.upload_max_bytes
    max_unpacked_bytes: int = Service.upload_max_unpacked_bytes
    max_files: int = Service.upload_max_files
    max_user_bytes: int = Service.upload_quota_bytes  # all of one user's uploads together
    max_path_length: int = 512
    max_depth: int = 32

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> UploadLimits:
        """The limits this process's settings (or `env`, in tests) set (ONECLICK_UPLOAD_*)."""
        service = (settings() if env is None else load_settings(env)).service
        return UploadLimits(
            max_upload_bytes=service.upload_max_bytes,
            max_unpacked_bytes=service.upload_max_unpacked_bytes,
            max_files=service.upload_max_files,
            max_user_bytes=service.upload_quota_bytes,
        )


@dataclass(frozen=True)
class UploadSummary:
    kind: UploadKind
    files: int
    unpacked_bytes: int


@dataclass(frozen=True)
class _Entry:
    name: str
    is_dir: bool
    open: Callable[[], IO[bytes]]


def archive_format(content: bytes) -> Literal["zip", "tar"] | None:
    """zip or tar (plain or gzip-compressed) by their magic bytes; None for anything else."""
    if content[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if content[:2] == b"\x1f\x8b" or content[257:262] == b"ustar":
        return "tar"
    return None


def safe_file_name(name: str) -> str:
    """A single upload's file name: kept (its suffix tells .sql from .sqlite), but only a plain one."""
    if not SAFE_FILE_NAME.match(name):
        raise ArchiveRefused(
            f"file name {name[:80]!r} is not allowed; use letters, digits, '.', '_' and '-' "
            "(at most 100, e.g. 'preview.sql')"
        )
    return name


def _member_path(name: str, limits: UploadLimits) -> PurePosixPath | None:
    """The entry's relative path, or None for the archive's own root folder."""
    if "\x00" in name or "\\" in name:
        raise ArchiveRefused(f"entry {name[:80]!r} has a NUL or a backslash in its name; use plain '/' paths")
    if len(name) > limits.max_path_length:
        raise ArchiveRefused(f"entry {name[:80]!r}… is longer than {limits.max_path_length} characters")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise ArchiveRefused(
            f"entry {name[:80]!r} is an absolute path; archive the folder's contents relatively"
        )
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveRefused(f"entry {name[:80]!r} climbs out of the folder with '..'; remove it")
    if len(parts) > limits.max_depth:
        raise ArchiveRefused(f"entry {name[:80]!r} is nested deeper than {limits.max_depth} folders")
    return PurePosixPath(*parts) if parts else None


def _gunzip(content: bytes, limits: UploadLimits) -> IO[bytes]:
    """The tar inside a gzip, decompressed with a cap before tarfile sees it: tarfile reads some
    headers (pax, GNU long names) whole into memory, so their size must be bounded first."""
    cap = limits.max_unpacked_bytes + (16 << 20)  # the files plus room for the tar's own headers
    sink = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - returned open
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    written = 0
    try:
        for start in range(0, len(content), CHUNK):
            data = content[start : start + CHUNK]
            while data:
                chunk = inflater.decompress(data, CHUNK)
                written += len(chunk)
                if written > cap:
                    sink.close()
                    raise ArchiveRefused(
                        f"unpacks to more than {limits.max_unpacked_bytes} bytes; upload less, or ask the "
                        "operator for a larger limit"
                    )
                sink.write(chunk)
                data = inflater.unconsumed_tail
            if inflater.eof:
                break
    except zlib.error:
        sink.close()
        raise ArchiveRefused("is a damaged gzip stream; compress it again") from None
    sink.seek(0)
    return sink


def _tar_entries(content: bytes, limits: UploadLimits) -> Iterator[_Entry]:
    stream = _gunzip(content, limits) if content[:2] == b"\x1f\x8b" else io.BytesIO(content)
    try:
        archive = tarfile.open(fileobj=stream, mode="r:")  # noqa: SIM115 - closed below
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveRefused(f"is not a readable tar archive ({type(exc).__name__})") from None
    with archive:
        while True:
            try:
                member = archive.next()
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise ArchiveRefused(f"is a damaged tar archive ({type(exc).__name__})") from None
            if member is None:
                return
            if member.issym() or member.islnk():
                raise ArchiveRefused(f"entry {member.name[:80]!r} is a link; archive the file itself")
            if not (member.isfile() or member.isdir()):
                raise ArchiveRefused(
                    f"entry {member.name[:80]!r} is a device, FIFO or other special file; only files "
                    "and folders are allowed"
                )

            def opener(m: tarfile.TarInfo = member) -> IO[bytes]:
                stream = archive.extractfile(m)
                if stream is None:
                    raise ArchiveRefused(f"entry {m.name[:80]!r} cannot be read")
                return stream

            yield _Entry(member.name, member.isdir(), opener)


def _zip_entries(content: bytes) -> Iterator[_Entry]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ArchiveRefused(f"is not a readable zip archive ({type(exc).__name__})") from None
    with archive:
        for info in archive.infolist():
            mode = info.external_attr >> 16
            if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                kind = "a link" if stat.S_ISLNK(mode) else "a special file"
                raise ArchiveRefused(
                    f"entry {info.filename[:80]!r} is {kind}; only files and folders are allowed"
                )
            if info.flag_bits & 0x1:
                raise ArchiveRefused(f"entry {info.filename[:80]!r} is encrypted; upload it unencrypted")

            def opener(i: zipfile.ZipInfo = info) -> IO[bytes]:
                return archive.open(i)

            yield _Entry(info.filename, info.is_dir(), opener)


def _copy(source: IO[bytes], sink: IO[bytes] | None, budget: int, name: str, limits: UploadLimits) -> int:
    """Stream one entry, counting the bytes really produced; refuses past the unpacked cap."""
    written = 0
    try:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > budget:
                raise ArchiveRefused(
                    f"unpacks to more than {limits.max_unpacked_bytes} bytes (at {name[:80]!r}); "
                    "upload less, or ask the operator for a larger limit"
                )
            if sink is not None:
                sink.write(chunk)
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, ValueError) as exc:
        if isinstance(exc, ArchiveRefused):
            raise
        raise ArchiveRefused(f"entry {name[:80]!r} is damaged ({type(exc).__name__})") from None
    return written


def _walk(content: bytes, limits: UploadLimits, target: Path | None) -> UploadSummary:
    fmt = archive_format(content)
    entries = _zip_entries(content) if fmt == "zip" else _tar_entries(content, limits)
    seen: set[PurePosixPath] = set()
    files = 0
    total = 0
    for entry in entries:
        path = _member_path(entry.name, limits)
        if path is None:
            continue
        if path in seen:
            raise ArchiveRefused(f"entry {entry.name[:80]!r} appears twice; archive each file once")
        seen.add(path)
        if entry.is_dir:
            if target is not None:
                (target / path).mkdir(parents=True, exist_ok=True)
            continue
        files += 1
        if files > limits.max_files:
            raise ArchiveRefused(f"holds more than {limits.max_files} files; upload fewer")
        with entry.open() as source:
            if target is None:
                total += _copy(source, None, limits.max_unpacked_bytes - total, entry.name, limits)
                continue
            destination = target / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL | O_NOFOLLOW: the folder is new and only this walk writes to it.
            fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "wb") as sink:
                total += _copy(source, sink, limits.max_unpacked_bytes - total, entry.name, limits)
    if files == 0:
        raise ArchiveRefused("holds no files; archive the folder's contents")
    return UploadSummary("archive", files, total)


def pack_folder(path: Path) -> bytes:
    """A folder as a gzip tar with fixed times and owners: the same files always give the same
    upload (and so the same paths on the worker, and a no-op redeploy). For clients of the API."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w") as tar,
    ):
        for item in sorted(path.rglob("*")):
            if not (item.is_file() or item.is_dir()) or item.is_symlink():
                continue
            info = tar.gettarinfo(str(item), arcname=item.relative_to(path).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if item.is_file():
                with item.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    return buffer.getvalue()


def check_upload(content: bytes, limits: UploadLimits) -> UploadSummary:
    """Check an upload without writing anything: an archive is walked whole; else it is one file."""
    if len(content) > limits.max_upload_bytes:
        raise ArchiveRefused(f"is larger than {limits.max_upload_bytes} bytes; upload less")
    if archive_format(content) is None:
        if not content:
            raise ArchiveRefused("is empty; upload the file's content")
        return UploadSummary("file", 1, len(content))
    return _walk(content, limits, None)


def unpack(content: bytes, target: Path, limits: UploadLimits) -> UploadSummary:
    """Unpack an archive into `target`, a new folder (made here); the same checks as check_upload."""
    target.mkdir(parents=True, exist_ok=False)
    return _walk(content, limits, target)
