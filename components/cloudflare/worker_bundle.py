"""A Pages build's server half as wrangler sends it: the `_worker.bundle` part of a deployment.

`_worker.js` is either one file (the entry module itself) or a folder whose every file is a module
and whose `index.js` is the entry. The bundle is a multipart/form-data body of its own, its boundary
on its first line: a `metadata` part (`{"main_module": ...}`; compatibility settings come from the
project's `deployment_configs`) and one part per module, named by its path, typed by its kind.

`_routes.json` is checked here too, before anything is uploaded, against the rules Pages applies
(version 1, at least one include rule, at most 100 rules of at most 100 characters, each a path).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from components.cloudflare.upload import UploadError, read_build_file, upload_refused
from core.files import FileRefused, regular_files

WORKER_ENTRY = "_worker.js"
FUNCTIONS_DIR = "functions"
FOLDER_ENTRY = "index.js"
ROUTES_FILE = "_routes.json"
# Workers' limits: a paid script is at most 10 MiB compressed; uncompressed we allow a little more.
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
MAX_MODULE_BYTES = 25 * 1024 * 1024
MAX_MODULES = 2_000
MAX_ROUTE_RULES = 100
MAX_ROUTE_CHARS = 100

# Content type by extension, as wrangler's module rules type them; others travel as data.
MODULE_TYPES = {
    ".js": "application/javascript+module",
    ".mjs": "application/javascript+module",
    ".cjs": "application/javascript",
    ".wasm": "application/wasm",
    ".txt": "text/plain",
    ".html": "text/plain",
    ".sql": "text/plain",
    ".map": "application/source-map",
}
DATA_TYPE = "application/octet-stream"


def module_type(path: str) -> str:
    return MODULE_TYPES.get(PurePosixPath(path).suffix.lower(), DATA_TYPE)


@dataclass(frozen=True)
class WorkerBundle:
    """The server half: its entry module and every module by path (posix, relative to `_worker.js/`)."""

    main_module: str
    modules: dict[str, bytes]

    @property
    def digest(self) -> str:
        """A hash of the entry, every module's path, type and content: equal bundles, equal digests."""
        h = hashlib.sha256(json.dumps({"main_module": self.main_module}).encode())
        for path in sorted(self.modules):
            content = self.modules[path]
            h.update(f"\0{path}\0{module_type(path)}\0{len(content)}\0".encode())
            h.update(content)
        return h.hexdigest()[:32]

    def body(self) -> bytes:
        """The multipart/form-data body wrangler sends as `_worker.bundle` (boundary on line one)."""
        boundary = f"----oneclick-worker-bundle-{self.digest}"
        marker = f"--{boundary}".encode()
        # A module that happened to hold the boundary would cut the body; never with this digest,
        # but check, since the body is the contract.
        if any(marker in content for content in self.modules.values()):
            raise UploadError(f"{WORKER_ENTRY} holds the bundle's boundary {marker.decode()!r}; change it")
        parts = [_part(marker, "metadata", None, "application/json", self._metadata())]
        parts += [
            _part(marker, path, path, module_type(path), self.modules[path]) for path in sorted(self.modules)
        ]
        return b"".join(parts) + marker + b"--\r\n"

    def _metadata(self) -> bytes:
        return json.dumps({"main_module": self.main_module}).encode()


def _part(marker: bytes, name: str, filename: str | None, content_type: str, content: bytes) -> bytes:
    disposition = f'form-data; name="{_quoted(name)}"'
    if filename is not None:
        disposition += f'; filename="{_quoted(filename)}"'
    head = f"Content-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n\r\n".encode()
    return marker + b"\r\n" + head + content + b"\r\n"


def _quoted(text: str) -> str:
    # As browsers and undici encode form names: a quote, CR and LF become percent escapes.
    return text.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def read_worker(build_dir: str | Path) -> WorkerBundle | None:
    """The build's server half, or None when it has no `_worker.js`; an UploadError names the problem."""
    root = Path(build_dir)
    entry = root / WORKER_ENTRY
    if entry.is_symlink():
        raise UploadError(f"{WORKER_ENTRY} is a symbolic link; put the worker itself in the build")
    if entry.is_file():
        return _checked(WorkerBundle(WORKER_ENTRY, {WORKER_ENTRY: read_build_file(entry, MAX_MODULE_BYTES)}))
    if not entry.is_dir():
        if (root / FUNCTIONS_DIR).is_dir():
            raise UploadError(
                f"{FUNCTIONS_DIR}/ is not compiled by oneclick's upload; compile it into {WORKER_ENTRY} "
                f"(`wrangler pages functions build --outdir <buildDir>/{WORKER_ENTRY}`), deploy it with "
                "`wrangler pages deploy`, or give the app's project folder as web.source"
            )
        return None
    modules: dict[str, bytes] = {}
    try:
        for relative, _ in regular_files(entry, "web.buildDir"):
            modules[relative.as_posix()] = read_build_file(entry / relative, MAX_MODULE_BYTES)
            if len(modules) > MAX_MODULES:
                raise UploadError(f"{WORKER_ENTRY}/ holds more than {MAX_MODULES} modules; bundle the worker")
    except FileRefused as exc:
        raise upload_refused(exc) from None
    if FOLDER_ENTRY not in modules:
        raise UploadError(
            f"{WORKER_ENTRY}/ has no {FOLDER_ENTRY}, the entry module a worker folder starts from; "
            "rebuild the app (its build writes the entry) or rename the entry to index.js"
        )
    return _checked(WorkerBundle(FOLDER_ENTRY, modules))


def _checked(bundle: WorkerBundle) -> WorkerBundle:
    size = sum(len(content) for content in bundle.modules.values())
    if size > MAX_BUNDLE_BYTES:
        raise UploadError(
            f"{WORKER_ENTRY} is {size / 2**20:.1f} MiB; a worker is at most {MAX_BUNDLE_BYTES // 2**20} MiB, "
            "so move large files to the static assets"
        )
    return bundle


def check_routes(content: bytes) -> None:
    """Refuse a `_routes.json` Pages would refuse (error 8000057), naming the rule that breaks."""
    try:
        routes: Any = json.loads(content)
    except ValueError as exc:
        raise UploadError(f"{ROUTES_FILE} is not valid JSON ({exc}); fix the file") from None
    if not isinstance(routes, dict):
        raise UploadError(f'{ROUTES_FILE} must be an object like {{"version": 1, "include": ["/*"]}}')
    if routes.get("version") != 1:
        raise UploadError(f'{ROUTES_FILE} needs "version": 1, the only version Pages knows')
    include, exclude = _rules(routes, "include"), _rules(routes, "exclude")
    if not include:
        raise UploadError(f'{ROUTES_FILE} needs at least one include rule (e.g. "/*")')
    if len(include) + len(exclude) > MAX_ROUTE_RULES:
        raise UploadError(
            f"{ROUTES_FILE} has {len(include) + len(exclude)} rules; Pages takes at most {MAX_ROUTE_RULES}"
        )
    for rule in [*include, *exclude]:
        if not rule.startswith("/"):
            raise UploadError(f"{ROUTES_FILE}: rule {rule[:60]!r} must start with /")
        if len(rule) > MAX_ROUTE_CHARS:
            raise UploadError(
                f"{ROUTES_FILE}: rule {rule[:40]!r}… is longer than {MAX_ROUTE_CHARS} characters"
            )


def _rules(routes: dict[str, Any], name: str) -> list[str]:
    rules = routes.get(name, [])
    if not isinstance(rules, list) or not all(isinstance(rule, str) for rule in rules):
        raise UploadError(f'{ROUTES_FILE}: {name} must be a list of paths such as ["/api/*"]')
    return [str(rule) for rule in rules]
