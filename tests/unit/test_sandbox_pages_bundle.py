"""Parsing the `_worker.bundle` part of a Pages deployment, as `wrangler pages deploy` 4.86 makes it."""

from __future__ import annotations

import asyncio
import json

import pytest

from sandbox.cloudflare.bundle import Bundle, parse_bundle
from sandbox.cloudflare.state import CloudflareApiError

BOUNDARY = "----formdata-undici-002861452462"
WASM = b"\x00asm\x01\x00\x00\x00" + bytes(range(256))  # binary, with CR/LF bytes inside


def part(name: str, content: bytes, content_type: str | None) -> bytes:
    """One part the way undici's FormData writes it (files carry a filename and a type)."""
    if content_type is None:
        head = f'Content-Disposition: form-data; name="{name}"\r\n\r\n'
    else:
        head = (
            f'Content-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
    return f"--{BOUNDARY}\r\n".encode() + head.encode() + content + b"\r\n"


def body(metadata: object, *modules: tuple[str, bytes, str | None]) -> bytes:
    parts = [part("metadata", json.dumps(metadata).encode(), None)]
    parts += [part(name, content, kind) for name, content, kind in modules]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def parse(raw: bytes) -> Bundle:
    return asyncio.run(parse_bundle(raw))


def failure(raw: bytes) -> CloudflareApiError:
    with pytest.raises(CloudflareApiError) as caught:
        parse(raw)
    return caught.value


def test_every_module_type_wrangler_sends() -> None:
    bundle = parse(
        body(
            {
                "main_module": "index.js",
                "compatibility_date": "2025-01-01",
                "compatibility_flags": ["nodejs_compat"],
            },
            ("chunks/util.js", b"export const x = 1;", "application/javascript+module"),
            (
                "index.js",
                b'import { x } from "./chunks/util.js"; export default {};',
                "application/javascript+module",
            ),
            ("legacy.cjs", b"module.exports = 1;", "application/javascript"),
            ("query_compiler_bg.wasm", WASM, "application/wasm"),
            ("schema.txt", "é".encode(), "text/plain"),
            ("blob.bin", b"\r\n\r\n--", "application/octet-stream"),
            ("data.json", b'{"a": 1}', "application/json"),
            ("index.js.map", b"{}", "application/source-map"),
        )
    )
    assert bundle.main_module == "index.js"
    assert next(m.name for m in bundle.modules) == "index.js", "the entry comes first (workerd's main module)"
    kinds = {m.name: m.kind for m in bundle.modules}
    assert kinds == {
        "index.js": "esModule",
        "chunks/util.js": "esModule",
        "legacy.cjs": "commonJsModule",
        "query_compiler_bg.wasm": "wasm",
        "schema.txt": "text",
        "blob.bin": "data",
        "data.json": "json",
    }, "source maps are not modules"
    contents = {m.name: m.content for m in bundle.modules}
    assert contents["query_compiler_bg.wasm"] == WASM, "bytes exact"
    assert contents["blob.bin"] == b"\r\n\r\n--"
    assert contents["schema.txt"].decode() == "é"
    assert bundle.compatibility_date == "2025-01-01"
    assert bundle.compatibility_flags == ("nodejs_compat",)
    assert bundle.bindings == ()


def test_without_a_wrangler_config_compatibility_comes_later() -> None:
    bundle = parse(
        body({"main_module": "w.js"}, ("w.js", b"export default {}", "application/javascript+module"))
    )
    assert bundle.compatibility_date is None
    assert bundle.compatibility_flags is None


def test_bindings_from_a_wrangler_config() -> None:
    metadata = {
        "main_module": "w.js",
        "bindings": [
            {"name": "GREETING", "type": "plain_text", "text": "hi"},
            {"name": "LIMITS", "type": "json", "json": {"max": 3}},
            {"name": "TOKEN", "type": "secret_text", "text": "s3"},
            {"name": "OLD", "type": "inherit"},
        ],
    }
    bundle = parse(body(metadata, ("w.js", b"export default {}", "application/javascript+module")))
    assert [(b.name, b.type, b.value) for b in bundle.bindings] == [
        ("GREETING", "plain_text", "hi"),
        ("LIMITS", "json", '{"max": 3}'),
        ("TOKEN", "secret_text", "s3"),
    ]
    kv = {"main_module": "w.js", "bindings": [{"name": "CACHE", "type": "kv_namespace", "namespace_id": "x"}]}
    error = failure(body(kv, ("w.js", b"", "application/javascript+module")))
    assert "binding 'CACHE' has type 'kv_namespace'" in error.message
    assert "plain_text" in error.message


def test_missing_entry_module_is_cloudflares_10021() -> None:
    error = failure(body({"main_module": "index.js"}, ("other.js", b"", "application/javascript+module")))
    assert (error.status, error.code) == (400, 10021)
    assert "Main module name is not present in bundle" in error.message
    assert '"index.js"' in error.message, "names what is missing"
    assert "other.js" in error.message, "and what is there"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"not multipart at all", "starts with its boundary line"),
        (body({"main_module": ""}), "metadata.main_module must name the entry module"),
        (body({"main_module": 3}), "metadata.main_module"),
        (body(["x"]), "must be a JSON object"),
        (
            body(
                {"main_module": "w.js"},
                ("w.js", b"", "application/javascript+module"),
                ("p.py", b"", "text/x-python"),
            ),
            "content type 'text/x-python'",
        ),
        (body({"main_module": "w.js"}, ("w.js", b"", None)), "has no content type"),
        (body({"main_module": "../w.js"}, ("../w.js", b"", "application/javascript+module")), "without '..'"),
        (body({"main_module": "/w.js"}, ("/w.js", b"", "application/javascript+module")), "relative path"),
        (
            body(
                {"main_module": "w.js", "compatibility_date": "soon"},
                ("w.js", b"", "application/javascript+module"),
            ),
            "compatibility_date must be YYYY-MM-DD",
        ),
        (
            body(
                {"main_module": "w.js", "compatibility_flags": "nodejs_compat"},
                ("w.js", b"", "application/javascript+module"),
            ),
            "compatibility_flags must be a list",
        ),
        (
            body({"main_module": "w.wasm"}, ("w.wasm", WASM, "application/wasm")),
            "is wasm; Pages runs an ES module",
        ),
        (
            body({"main_module": "w.js"}, ("w.js", b"", "application/javascript")),
            "is commonJsModule; Pages runs",
        ),
    ],
)
def test_bad_bundles_are_refused_with_the_reason(raw: bytes, problem: str) -> None:
    error = failure(raw)
    assert error.status == 400
    assert problem in error.message


def test_no_metadata_part() -> None:
    raw = part("w.js", b"", "application/javascript+module") + f"--{BOUNDARY}--\r\n".encode()
    assert 'no "metadata" part' in failure(raw).message


def test_service_worker_format_is_refused_for_pages() -> None:
    error = failure(
        body(
            {"body_part": "w.js"}, ("w.js", b"addEventListener('fetch', () => {})", "application/javascript")
        )
    )
    assert error.code == 10021
    assert "ES modules" in error.message
