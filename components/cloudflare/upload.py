"""What a Pages direct upload sends: content hashes, the manifest, and upload buckets.

Hashes are the keys wrangler computes (`pages/hash.ts`): BLAKE3 of the base64 text of the file
followed by its extension without the dot, as hex, first 32 characters. Using the same keys means
a site first uploaded by wrangler and then by oneclick (or the other way round) shares assets.
"""

from __future__ import annotations

import base64
import mimetypes
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from blake3 import blake3

from core.errors import UserError
from core.files import PAGES_CONFIG_CAP, FileRefused, FileTooLarge, read_capped, regular_files, shown

# Wrangler's limits for direct upload (pages/constants.ts).
MAX_ASSET_BYTES = 25 * 1024 * 1024
MAX_ASSET_COUNT = 20_000
MAX_BUCKET_BYTES = 40 * 1024 * 1024
MAX_BUCKET_FILES = 2_000

# Files Pages reads as configuration rather than serving; sent as form fields of the deployment.
CONFIG_FILES = ("_headers", "_redirects", "_routes.json")
# Never uploaded as assets: Pages Functions / worker sources and tool litter, anywhere in the tree.
SKIPPED_ROOT = frozenset({*CONFIG_FILES, "_worker.js", "functions"})
SKIPPED_ANYWHERE = frozenset({".DS_Store", "node_modules", ".git"})

# Content types by extension that do not depend on the machine's mime.types (the standard
# library's table is only a fallback, read without the system files, so results are stable).
CONTENT_TYPES = {
    "html": "text/html",
    "htm": "text/html",
    "css": "text/css",
    "js": "application/javascript",
    "mjs": "application/javascript",
    "json": "application/json",
    "map": "application/json",
    "webmanifest": "application/manifest+json",
    "txt": "text/plain",
    "xml": "application/xml",
    "svg": "image/svg+xml",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "ico": "image/x-icon",
    "woff": "font/woff",
    "woff2": "font/woff2",
    "ttf": "font/ttf",
    "otf": "font/otf",
    "wasm": "application/wasm",
    "pdf": "application/pdf",
    "mp4": "video/mp4",
    "webm": "video/webm",
}
_BUILTIN_TYPES = mimetypes.MimeTypes(filenames=())
FIELD = "web.buildDir"  # the spec field naming the build


class UploadError(UserError, ValueError):
    """The build directory cannot be uploaded as it is; the message names the file and the fix."""


def content_type(path: str) -> str:
    extension = PurePosixPath(path).suffix.lstrip(".").lower()
    if extension in CONTENT_TYPES:
        return CONTENT_TYPES[extension]
    guessed, _ = _BUILTIN_TYPES.guess_type(f"x.{extension}", strict=False)
    return guessed or "application/octet-stream"


def hash_content(content: bytes, path: str) -> str:
    extension = PurePosixPath(path).suffix.lstrip(".")
    text = base64.b64encode(content) + extension.encode()
    return blake3(text).hexdigest()[:32]


@dataclass(frozen=True)
class Asset:
    """One file of the build: where it is served (`/a/b.css`), where it lives, and its hash."""

    path: str
    file: Path
    hash: str
    size: int

    @property
    def content_type(self) -> str:
        return content_type(self.path)

    def payload(self) -> dict[str, object]:
        """The upload record for /pages/assets/upload (reads the file again, as safely as at first)."""
        content = read_build_file(self.file, MAX_ASSET_BYTES)
        if hash_content(content, self.path) != self.hash:
            raise UploadError(f"{self.path} changed while it was uploaded; deploy again")
        return {
            "key": self.hash,
            "value": base64.b64encode(content).decode("ascii"),
            "metadata": {"contentType": self.content_type},
            "base64": True,
        }


def _skipped(relative: Path) -> bool:
    return relative.name in SKIPPED_ANYWHERE or (len(relative.parts) == 1 and relative.name in SKIPPED_ROOT)


def _files(directory: Path) -> Iterator[tuple[str, Path]]:
    """(URL path, file) of every regular file Pages serves; a link or special file is refused."""
    try:
        for relative, _ in regular_files(directory, FIELD, _skipped):
            yield "/" + relative.as_posix(), directory / relative
    except FileRefused as exc:
        raise upload_refused(exc) from None


def upload_refused(exc: FileRefused) -> UploadError:
    """The refusal without the field's name: callers report web.buildDir themselves."""
    return UploadError(f"{shown(exc.path)} {exc.problem}; {exc.fix}")


def read_build_file(file: Path, cap: int) -> bytes:
    try:
        return read_capped(file, FIELD, cap)
    except FileRefused as exc:
        raise upload_refused(exc) from None


def collect_assets(directory: str | Path) -> dict[str, Asset]:
    """Every file Pages would serve from `directory`, by URL path. Reads each file once.

    Only regular files are read (a symbolic link, FIFO or device in the build is refused, naming it),
    each of at most Pages' own limit."""
    root = Path(directory)
    if not root.is_dir():
        raise UploadError(f"{str(root)!r} is not a directory; build the app and point at its output")
    assets: dict[str, Asset] = {}
    for url_path, file in _files(root):
        try:
            content = read_capped(file, FIELD, MAX_ASSET_BYTES)
        except FileTooLarge as exc:
            size = f"is {exc.size / 2**20:.1f} MiB" if exc.size is not None else "is too large"
            raise UploadError(
                f"{url_path} {size}; Pages serves files of at most {MAX_ASSET_BYTES // 2**20} MiB, "
                f"so move it to object storage"
            ) from None
        except FileRefused as exc:
            raise upload_refused(exc) from None
        assets[url_path] = Asset(url_path, file, hash_content(content, url_path), len(content))
    if len(assets) > MAX_ASSET_COUNT:
        raise UploadError(f"{root} holds {len(assets)} files; Pages takes at most {MAX_ASSET_COUNT}")
    return assets


def build_manifest(directory: str | Path) -> dict[str, str]:
    """URL path -> content hash for every servable file, sorted: equal trees give equal manifests."""
    return {path: asset.hash for path, asset in sorted(collect_assets(directory).items())}


def config_files(directory: str | Path) -> dict[str, bytes]:
    """The Pages configuration files present at the top of the build (`_headers`, `_redirects`, ...)."""
    root = Path(directory)
    present = [name for name in CONFIG_FILES if os.path.lexists(root / name)]
    return {name: read_build_file(root / name, PAGES_CONFIG_CAP) for name in present}


def config_hashes(directory: str | Path) -> dict[str, str]:
    return {name: hash_content(content, name) for name, content in config_files(directory).items()}


def buckets(assets: Iterable[Asset]) -> list[list[Asset]]:
    """Group uploads so no request exceeds wrangler's bucket limits (size counted as base64)."""
    groups: list[list[Asset]] = []
    current: list[Asset] = []
    current_bytes = 0
    for asset in sorted(assets, key=lambda a: a.path):
        encoded = 4 * ((asset.size + 2) // 3)
        if current and (current_bytes + encoded > MAX_BUCKET_BYTES or len(current) >= MAX_BUCKET_FILES):
            groups.append(current)
            current, current_bytes = [], 0
        current.append(asset)
        current_bytes += encoded
    if current:
        groups.append(current)
    return groups
