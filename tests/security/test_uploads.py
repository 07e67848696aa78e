"""The upload route's own bad inputs: every archive trick a hostile tenant might send is refused
with a 422 (or 413 for size) naming the rule, and nothing of it is stored."""

from __future__ import annotations

import gzip
import io
import socket
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from service.archives import ArchiveRefused, UploadLimits, check_upload, unpack
from service.vault import Vault
from tests.databases import query
from tests.service.conftest import ApiServer, client, make_user


def tar_of(*members: tuple[tarfile.TarInfo, bytes | None], compress: bool = True) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return gzip.compress(raw.getvalue(), mtime=0) if compress else raw.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def zip_of(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return raw.getvalue()


def symlink_zip() -> bytes:
    info = zipfile.ZipInfo("link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return zip_of([("index.html", b"<p>hi</p>"), (info, b"/etc/passwd")])


def zip_bomb() -> bytes:
    # 300 MB of zeros deflates to about 300 KB: the headers may say anything, the bytes are counted.
    raw = io.BytesIO()
    with (
        zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("zeros.bin", "w", force_zip64=True) as sink,
    ):
        block = bytes(1 << 20)
        for _ in range(300):
            sink.write(block)
    return raw.getvalue()


def tar_bomb() -> bytes:
    zeros = bytes(300 << 20)
    return tar_of((member("zeros.bin"), zeros))


CASES: dict[str, Callable[[], bytes]] = {
    "traversal": lambda: tar_of((member("../../etc/cron.d/evil"), b"x")),
    "traversal inside": lambda: tar_of((member("site/../../evil"), b"x")),
    "absolute name": lambda: tar_of((member("/etc/passwd"), b"x")),
    "symlink": lambda: tar_of(
        (member("index.html"), b"hi"), (member("key", tarfile.SYMTYPE, "/etc/shadow"), None)
    ),
    "hard link": lambda: tar_of(
        (member("index.html"), b"hi"), (member("state", tarfile.LNKTYPE, "/work/.state/pulumi"), None)
    ),
    "device": lambda: tar_of((member("index.html"), b"hi"), (member("zero", tarfile.CHRTYPE), None)),
    "fifo": lambda: tar_of((member("index.html"), b"hi"), (member("pipe", tarfile.FIFOTYPE), None)),
    "zip symlink": symlink_zip,
    "zip traversal": lambda: zip_of([("../evil.html", b"x")]),
    "zip backslash": lambda: zip_of([("..\\evil.html", b"x")]),
    "zip bomb": zip_bomb,
    "tar.gz bomb": tar_bomb,
    "duplicate names": lambda: tar_of((member("a.html"), b"1"), (member("a.html"), b"2")),
    "damaged": lambda: gzip.compress(b"not a tar at all" * 100)[:200],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_archives_are_refused_and_not_stored(case: str, api: ApiServer, service_db: str) -> None:
    user, token = make_user(service_db, "pro")
    with client(api, token) as http:
        response = http.post("/api/uploads", params={"name": "site.tar.gz"}, content=CASES[case]())
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_upload"
    assert error["fix"]
    assert query(service_db, "SELECT count(*) FROM uploads WHERE user_id = %s", [user]) == [(0,)]


def test_an_oversized_upload_is_refused_before_it_is_read(api: ApiServer, service_db: str) -> None:
    _, token = make_user(service_db, "pro")
    limit = UploadLimits.from_env().max_upload_bytes
    # A declared length over the limit is answered at once, without the body being sent.
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
        sock.sendall(
            f"POST /api/uploads?name=a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Length: {limit + 1}\r\nConnection: close\r\n\r\n".encode()
        )
        head = sock.recv(65536).decode()
    assert head.startswith("HTTP/1.1 413"), head
    assert '"too_large"' in head
    # No Content-Length (chunked): counted as it streams.
    with client(api, token) as http:
        streamed = http.post("/api/uploads", params={"name": "a.sql"}, content=iter([b"x" * (1 << 20)] * 65))
    assert streamed.status_code == 413, streamed.text
    assert streamed.json()["error"]["code"] == "too_large"


def test_a_single_file_name_cannot_climb_out(api: ApiServer, service_db: str) -> None:
    _, token = make_user(service_db, "pro")
    with client(api, token) as http:
        response = http.post(
            "/api/uploads", params={"name": "../../preview.sql"}, content=b"CREATE TABLE t(x);"
        )
    assert response.status_code == 422
    assert "file name" in response.json()["error"]["message"]


def test_a_good_archive_unpacks_exactly_and_uploads_are_idempotent(
    api: ApiServer, service_db: str, tmp_path: Path
) -> None:
    content = tar_of(
        (member("site", tarfile.DIRTYPE), None),
        (member("site/index.html"), b"<h1>ok</h1>"),
        (member("a.css"), b"p{}"),
    )
    _, token = make_user(service_db, "pro")
    with client(api, token) as http:
        first = http.post("/api/uploads", params={"name": "out.tar.gz"}, content=content)
        again = http.post("/api/uploads", params={"name": "out.tar.gz"}, content=content)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert first.json()["kind"] == "archive"
    assert first.json()["files"] == 2
    unpack(content, tmp_path / "out", UploadLimits())
    assert (tmp_path / "out" / "site" / "index.html").read_bytes() == b"<h1>ok</h1>"


def test_unpack_never_writes_outside_its_folder(tmp_path: Path) -> None:
    """The worker unpacks with the same checks: a bad archive stops before anything escapes."""
    for case in ("traversal", "absolute name", "symlink", "hard link"):
        target = tmp_path / case.replace(" ", "-")
        with pytest.raises(ArchiveRefused):
            unpack(CASES[case](), target, UploadLimits())
    assert not (tmp_path.parent / "evil").exists()
    with pytest.raises(ArchiveRefused, match="more than"):
        check_upload(tar_bomb(), UploadLimits(max_unpacked_bytes=10 << 20))


def test_a_users_uploads_stop_at_the_quota_and_deleting_makes_room(
    service_db: str, vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONECLICK_UPLOAD_QUOTA_BYTES", "1000")
    server = ApiServer(service_db, vault).start()
    try:
        user, token = make_user(service_db, "pro")
        _, other = make_user(service_db, "pro")
        with client(server, token) as http, client(server, other) as neighbour:
            first = http.post("/api/uploads", params={"name": "a.sql"}, content=b"a" * 600)
            over = http.post("/api/uploads", params={"name": "b.sql"}, content=b"b" * 600)
            # The quota is each user's own: a neighbour's uploads neither count nor can be deleted.
            theirs = neighbour.post("/api/uploads", params={"name": "b.sql"}, content=b"b" * 600)
            not_theirs = neighbour.delete(f"/api/uploads/{first.json()['sha256']}")
            deleted = http.delete(f"/api/uploads/{first.json()['sha256']}")
            after = http.post("/api/uploads", params={"name": "b.sql"}, content=b"b" * 600)
    finally:
        server.stop()
    assert first.status_code == 201
    assert over.status_code == 413
    assert over.json()["error"]["code"] == "quota"
    assert theirs.status_code == 201
    assert not_theirs.status_code == 404
    assert deleted.status_code == 204
    assert after.status_code == 201
    assert query(service_db, "SELECT count(*) FROM uploads WHERE user_id = %s", [user]) == [(1,)]
