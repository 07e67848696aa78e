"""The `_worker.bundle` part of a Pages deployment: what `wrangler pages deploy` uploads as the server half.

The part is itself a multipart/form-data body whose boundary is its own first line (undici's
`------formdata-undici-…`). It holds a `metadata` part, `{"main_module": "<entry>"}` (plus
`compatibility_date`, `compatibility_flags` and `bindings` when the project has a wrangler config),
and one file part per module, named by its module path and typed by what it is:

| content type | module kind (workerd) |
|---|---|
| application/javascript+module | esModule |
| application/javascript | commonJsModule |
| application/wasm | wasm |
| text/plain | text |
| application/octet-stream | data |
| application/json | json |
| application/source-map | (kept out: not a module) |
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from sandbox.cloudflare.state import CloudflareApiError

# Cloudflare's code for a Worker that does not validate (missing main module, start-up exception).
SCRIPT_ERROR = 10021
BAD_REQUEST = 8000000
MAX_BUNDLE_BYTES = 64 * 1024 * 1024  # uncompressed; well over the paid plan's 10 MiB compressed
MAX_MODULES = 10_000
MAX_NAME_CHARS = 512
MODULE_KINDS = {
    "application/javascript+module": "esModule",
    "application/javascript": "commonJsModule",
    "application/wasm": "wasm",
    "text/plain": "text",
    "application/octet-stream": "data",
    "application/json": "json",
}
SOURCE_MAP = "application/source-map"
BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,./:=?-]{1,70}$")  # RFC 2046 bchars, minus the space
BINDING_TYPES = ("plain_text", "secret_text", "json")


@dataclass(frozen=True)
class Module:
    name: str
    kind: str
    content: bytes


@dataclass(frozen=True)
class Binding:
    """A binding from the bundle's metadata (wrangler config `vars`): text, or JSON text."""

    name: str
    type: str  # one of BINDING_TYPES
    value: str


@dataclass(frozen=True)
class Bundle:
    main_module: str
    modules: tuple[Module, ...]
    compatibility_date: str | None
    compatibility_flags: tuple[str, ...] | None
    bindings: tuple[Binding, ...]


def _invalid(problem: str) -> CloudflareApiError:
    return CloudflareApiError(400, BAD_REQUEST, f"Invalid _worker.bundle: {problem}")


def check_module_name(name: str) -> None:
    if not name or len(name) > MAX_NAME_CHARS:
        raise _invalid(f"module names must be 1-{MAX_NAME_CHARS} characters, got {len(name)}")
    if any(ord(c) < 0x20 or c == "\x7f" for c in name):
        raise _invalid(f"module name {name!r} contains control characters")
    if name.startswith("/") or ".." in name.split("/"):
        raise _invalid(f"module name {name!r} must be a relative path without '..'")


async def parse_bundle(raw: bytes) -> Bundle:
    """Parse and check a `_worker.bundle`; every problem is a Cloudflare-shaped 400."""
    if len(raw) > MAX_BUNDLE_BYTES:
        raise CloudflareApiError(
            400,
            10027,
            f"Your Functions bundle is {len(raw)} bytes; the sandbox accepts at most {MAX_BUNDLE_BYTES}",
        )
    first = raw.split(b"\r\n", 1)[0].decode("latin-1")
    boundary = first[2:] if first.startswith("--") else ""
    if not BOUNDARY.match(boundary):
        raise _invalid("it must be a multipart/form-data body that starts with its boundary line")

    async def body() -> AsyncGenerator[bytes]:
        yield raw

    headers = Headers({"content-type": f'multipart/form-data; boundary="{boundary}"'})
    parser = MultiPartParser(
        headers, body(), max_files=MAX_MODULES, max_fields=MAX_MODULES, max_part_size=MAX_BUNDLE_BYTES
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise _invalid(exc.message) from None
    try:
        metadata_text: str | None = None
        modules: list[Module] = []
        for name, value in form.multi_items():
            if name == "metadata":
                metadata_text = value if isinstance(value, str) else (await value.read()).decode()
                continue
            if not isinstance(value, UploadFile):
                raise _invalid(f"part {name!r} has no content type; each module is a typed file part")
            content_type = (value.content_type or "").split(";")[0].strip().lower()
            if content_type == SOURCE_MAP:
                continue
            kind = MODULE_KINDS.get(content_type)
            if kind is None:
                raise _invalid(
                    f"module {name!r} has content type {content_type or 'none'!r}; the sandbox runs "
                    f"{', '.join(MODULE_KINDS)}"
                )
            check_module_name(name)
            modules.append(Module(name, kind, await value.read()))
    finally:
        await form.close()
    return _assemble(metadata_text, modules)


def _assemble(metadata_text: str | None, modules: list[Module]) -> Bundle:
    if metadata_text is None:
        raise _invalid('it has no "metadata" part ({"main_module": "<entry module>"})')
    try:
        metadata = json.loads(metadata_text)
    except ValueError:
        raise _invalid("the metadata part is not valid JSON") from None
    if not isinstance(metadata, dict):
        raise _invalid("the metadata part must be a JSON object")
    if "body_part" in metadata and "main_module" not in metadata:
        raise CloudflareApiError(
            400,
            SCRIPT_ERROR,
            "Pages Functions must be ES modules (metadata.main_module), not a service worker",
        )
    main = metadata.get("main_module")
    if not isinstance(main, str) or not main:
        raise _invalid('metadata.main_module must name the entry module, e.g. {"main_module": "index.js"}')
    names = [m.name for m in modules]
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise _invalid(f"module {duplicate!r} appears twice")
    entry = next((m for m in modules if m.name == main), None)
    if entry is None:
        held = ", ".join(names[:10]) or "no modules"
        raise CloudflareApiError(
            400,
            SCRIPT_ERROR,
            f'Uncaught TypeError: Main module name is not present in bundle: main_module is "{main}", '
            f"the bundle holds {held}",
        )
    if entry.kind != "esModule":
        raise CloudflareApiError(
            400,
            SCRIPT_ERROR,
            f'main module "{main}" is {entry.kind}; Pages runs an ES module entry '
            "(application/javascript+module)",
        )
    # workerd treats the first module as the main one.
    ordered = (entry, *(m for m in modules if m is not entry))
    date = metadata.get("compatibility_date")
    if date is not None and (not isinstance(date, str) or not re.match(r"^\d{4}-\d{2}-\d{2}$", date)):
        raise _invalid(f"metadata.compatibility_date must be YYYY-MM-DD, not {json.dumps(date)}")
    flags = metadata.get("compatibility_flags")
    if flags is not None and (not isinstance(flags, list) or not all(isinstance(f, str) for f in flags)):
        raise _invalid("metadata.compatibility_flags must be a list of strings")
    return Bundle(
        main_module=main,
        modules=ordered,
        compatibility_date=date,
        compatibility_flags=tuple(flags) if flags is not None else None,
        bindings=_bindings(metadata.get("bindings")),
    )


def _bindings(raw: object) -> tuple[Binding, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _invalid("metadata.bindings must be a list")
    out: list[Binding] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _invalid("each metadata binding needs a name and a type")
        name, kind = item["name"], item.get("type")
        if kind == "inherit":
            continue  # "keep what the previous version had": Pages deployments start from the project's
        if kind not in BINDING_TYPES:
            raise CloudflareApiError(
                400,
                BAD_REQUEST,
                f"binding {name!r} has type {kind!r}, which the sandbox does not emulate; "
                f"it runs {', '.join(BINDING_TYPES)} bindings; leave it out of the config deployed here",
            )
        if kind == "json":
            out.append(Binding(name, kind, json.dumps(item.get("json"))))
        elif isinstance(item.get("text"), str):
            out.append(Binding(name, kind, item["text"]))
        else:
            raise _invalid(f"binding {name!r} of type {kind} needs a string `text`")
    return tuple(out)
