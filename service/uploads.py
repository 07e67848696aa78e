"""Tenant uploads in PostgreSQL, and their unpacking on a worker.

The deploy service never reads a host path a request names. A platform uploads build output, a
Prisma schema, migrations or preview data (`POST /api/uploads`), gets `upload:<sha256>` back and
puts that reference in the spec. Uploads are checked whole on arrival (service/archives.py), kept
per user and content-addressed, and unpacked by the worker that runs the deploy into a folder it
makes under its work directory: `<work>/<hash of the user>/<sha256>`. The folder is named by the
content so that a redeploy of the same upload finds the same paths (a redeploy with nothing new
stays a no-op); it is written once, to a temporary name first, and renamed into place whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from automation.environment import work_dir
from components.spec import UPLOAD_ROUTE_FIX, AppSpec
from service.archives import ArchiveRefused, UploadKind, UploadLimits, check_upload, safe_file_name, unpack
from service.errors import ApiError

# What each file field of a spec must be: a folder (an archive) or one file.
FIELD_KINDS: dict[str, UploadKind] = {
    "web.buildDir": "archive",
    "web.source": "archive",  # accepted only where the operator allows builds (ONECLICK_SERVICE_BUILDS)
    "database.migrations": "archive",
    "database.prismaSchema": "file",
    "database.previewData": "file",
    "mobile.icon": "file",
    "desktop.icon": "file",
}


@dataclass(frozen=True)
class Upload:
    sha256: str
    kind: UploadKind
    name: str
    size: int
    files: int
    unpacked_bytes: int

    @property
    def reference(self) -> str:
        return f"upload:{self.sha256}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "upload": self.reference,
            "sha256": self.sha256,
            "kind": self.kind,
            "name": self.name,
            "size": self.size,
            "files": self.files,
            "unpackedBytes": self.unpacked_bytes,
        }


def store(conn: psycopg.Connection, user_id: str, name: str, content: bytes, limits: UploadLimits) -> Upload:
    """Check `content` and keep it for `user_id`; the same content again returns the same upload
    (found by its hash, without walking the archive again)."""
    sha = hashlib.sha256(content).hexdigest()
    known = find(conn, user_id, sha)
    if known is not None:
        return known
    try:
        summary = check_upload(content, limits)
        if summary.kind == "file":
            safe_file_name(name)
    except ArchiveRefused as exc:
        raise ApiError(
            422, "invalid_upload", f"the upload {exc}", field="body", fix="see the message; upload again"
        ) from None
    upload = Upload(sha, summary.kind, name, len(content), summary.files, summary.unpacked_bytes)
    with conn.transaction():
        # One user's uploads at a time, so two cannot both take the last of the quota.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('oneclick-uploads:' || %s))", [user_id])
        used = conn.execute(
            "SELECT coalesce(sum(size), 0) FROM uploads WHERE user_id = %s", [user_id]
        ).fetchone()
        if used is not None and int(used[0]) + len(content) > limits.max_user_bytes:
            raise ApiError(
                413,
                "quota",
                f"your uploads would exceed {limits.max_user_bytes} bytes",
                field="body",
                fix="delete uploads you no longer deploy (DELETE /api/uploads/{sha256}) or ask for more room",
            )
        conn.execute(
            "INSERT INTO uploads (user_id, sha256, kind, name, size, files, unpacked_bytes, content) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (user_id, sha256) DO NOTHING",
            [user_id, sha, upload.kind, name, upload.size, upload.files, upload.unpacked_bytes, content],
        )
    return upload


def find(conn: psycopg.Connection, user_id: str, sha: str) -> Upload | None:
    row = conn.execute(
        "SELECT sha256, kind, name, size, files, unpacked_bytes FROM uploads "
        "WHERE user_id = %s AND sha256 = %s",
        [user_id, sha],
    ).fetchone()
    return None if row is None else Upload(row[0], row[1], row[2], int(row[3]), int(row[4]), int(row[5]))


def delete(conn: psycopg.Connection, user_id: str, sha: str) -> bool:
    return conn.execute("DELETE FROM uploads WHERE user_id = %s AND sha256 = %s", [user_id, sha]).rowcount > 0


def check_references(conn: psycopg.Connection, user_id: str, spec: AppSpec) -> None:
    """Every upload the spec names is the user's own and of the kind its field needs (else 422)."""
    for field, sha in spec.upload_refs().items():
        found = find(conn, user_id, sha)
        if found is None:
            raise ApiError(
                422,
                "invalid",
                f"{field}: upload:{sha[:12]}… is not one of your uploads",
                field=field,
                fix=UPLOAD_ROUTE_FIX,
            )
        wanted = FIELD_KINDS[field]
        if found.kind != wanted:
            what = (
                "a folder: upload a tar or zip archive" if wanted == "archive" else "one file, not an archive"
            )
            raise ApiError(422, "invalid", f"{field}: must be {what}", field=field, fix=UPLOAD_ROUTE_FIX)


def _user_dir(root: Path, user_id: str) -> Path:
    # User ids are the platform's strings: hashed, so none can name a path of its own ('..').
    return root / hashlib.sha256(user_id.encode()).hexdigest()[:24]


def materialize(conn: psycopg.Connection, user_id: str, sha: str, root: Path | None = None) -> Path:
    """The upload unpacked on this machine: an archive's folder, or the path of the single file."""
    base = _user_dir(root or work_dir() / "uploads", user_id)
    folder = base / sha
    row = conn.execute(
        "SELECT kind, name FROM uploads WHERE user_id = %s AND sha256 = %s", [user_id, sha]
    ).fetchone()
    if row is None:
        raise LookupError(f"upload:{sha[:12]}… is not one of the deploying user's uploads")
    kind, name = str(row[0]), safe_file_name(str(row[1]))
    result = folder if kind == "archive" else folder / name
    if folder.is_dir():
        return result
    content_row = conn.execute(
        "SELECT content FROM uploads WHERE user_id = %s AND sha256 = %s", [user_id, sha]
    ).fetchone()
    assert content_row is not None
    content = bytes(content_row[0])
    base.mkdir(parents=True, exist_ok=True)
    staging = base / f".{sha}.{uuid.uuid4().hex}"
    try:
        if kind == "archive":
            unpack(content, staging, UploadLimits.from_env())
        else:
            staging.mkdir()
            fd = os.open(staging / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "wb") as sink:
                sink.write(content)
        try:
            staging.rename(folder)
        except OSError:
            if not folder.is_dir():  # not another worker's identical copy: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def materialize_spec(conn: psycopg.Connection, user_id: str, spec: AppSpec) -> AppSpec:
    """`spec` (validated with upload references) with each reference replaced by its local path."""
    data = spec.public_dict()
    for dotted, sha in spec.upload_refs().items():
        node = data
        *parents, last = dotted.split(".")
        for key in parents:
            node = node[key]
        node[last] = str(materialize(conn, user_id, sha))
    return AppSpec.from_public(data, spec.secret_values())
