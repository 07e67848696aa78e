"""CloudflareClient against scripted answers: envelope, errors, retries, direct upload, manifests."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from blake3 import blake3

from components.cloudflare import upload
from components.cloudflare.client import CloudflareClient
from components.cloudflare.models import EnvVar
from components.cloudflare.upload import buckets, build_manifest, collect_assets, config_hashes, content_type
from core.http import VendorAuthError, VendorError, VendorNotFound, VendorUnavailable

TOKEN = "cf-very-secret-api-token"
ACCOUNT = "acc1"
PROJECTS = f"/client/v4/accounts/{ACCOUNT}/pages/projects"


def ok(result: object, **extra: object) -> httpx.Response:
    return httpx.Response(
        200, json={"success": True, "errors": [], "messages": [], "result": result, **extra}
    )


def failed(status: int, code: int, message: str) -> httpx.Response:
    body = {"success": False, "errors": [{"code": code, "message": message}], "messages": [], "result": None}
    return httpx.Response(status, json=body)


def client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: object) -> CloudflareClient:
    return CloudflareClient(
        TOKEN,
        ACCOUNT,
        base_url="http://cf/client/v4",
        transport=httpx.MockTransport(handler),
        sleep=lambda _: None,
        **kwargs,  # type: ignore[arg-type]
    )


def scripted(answers: list[httpx.Response], seen: list[httpx.Request]) -> CloudflareClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    return client(handler)


PROJECT = {
    "id": "p1",
    "name": "shop",
    "subdomain": "shop.pages.dev",
    "production_branch": "main",
    "domains": ["shop.pages.dev"],
    "deployment_configs": {
        "production": {
            "env_vars": {
                "A": {"type": "plain_text", "value": "1"},
                "S": {"type": "secret_text", "value": ""},
            }
        }
    },
    "canonical_deployment": {"id": "d1", "short_id": "d1", "url": "https://d1.shop.pages.dev"},
}


def test_the_envelope_is_unwrapped_and_secrets_read_back_as_unknown() -> None:
    seen: list[httpx.Request] = []
    project = scripted([ok(PROJECT)], seen).get_project("shop")
    assert seen[0].url.path == f"{PROJECTS}/shop"
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert project.subdomain == "shop.pages.dev"
    assert project.env_vars == {"A": EnvVar.plain("1"), "S": EnvVar("secret_text", None)}
    assert project.canonical_deployment is not None
    assert project.canonical_deployment.id == "d1"
    assert project.latest_deployment is None


def test_error_envelopes_become_vendor_errors_with_the_message_and_never_the_token() -> None:
    seen: list[httpx.Request] = []
    cf = scripted(
        [
            failed(404, 8000007, "Project not found."),
            failed(403, 10000, "Authentication error"),
            httpx.Response(200, json={"success": False, "errors": [{"code": 1004, "message": "bad record"}]}),
        ],
        seen,
    )
    with pytest.raises(VendorNotFound, match="Project not found") as missing:
        cf.get_project("shop")
    with pytest.raises(VendorAuthError, match="Authentication error") as denied:
        cf.list_projects()
    with pytest.raises(VendorError, match=r"bad record \(code 1004\)") as refused:
        cf.get_zone("z1")
    for error in (missing.value, denied.value, refused.value):
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error.args)


def test_5xx_is_retried_then_succeeds_and_gives_up_after_the_retries() -> None:
    seen: list[httpx.Request] = []
    cf = scripted([failed(500, 10001, "boom"), failed(502, 10001, "boom"), ok(PROJECT)], seen)
    assert cf.get_project("shop").name == "shop"
    assert len(seen) == 3

    attempts: list[httpx.Request] = []

    def always_failing(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        return failed(503, 10001, "unavailable")

    with pytest.raises(VendorUnavailable, match="503"):
        client(always_failing, retries=2).get_project("shop")
    assert len(attempts) == 3


def test_lists_follow_result_info_pages() -> None:
    seen: list[httpx.Request] = []
    page = {"per_page": 1, "total_count": 2, "total_pages": 2}
    cf = scripted(
        [ok([{**PROJECT, "name": "a"}], result_info={**page, "page": 1}), ok([PROJECT], result_info=page)],
        seen,
    )
    assert [p.name for p in cf.list_projects()] == ["a", "shop"]
    assert [r.url.params["page"] for r in seen] == ["1", "2"]


def test_removing_an_env_var_patches_it_to_null_in_both_environments() -> None:
    seen: list[httpx.Request] = []
    cf = scripted([ok({}), ok(PROJECT)], seen)
    cf.update_project(
        "shop", env_vars={"A": EnvVar.plain("2"), "S": EnvVar.secret("s3")}, remove_env_vars=["OLD"]
    )
    body = json.loads(seen[0].content)
    assert seen[0].method == "PATCH"
    for environment in ("production", "preview"):
        assert body["deployment_configs"][environment]["env_vars"] == {
            "A": {"type": "plain_text", "value": "2"},
            "S": {"type": "secret_text", "value": "s3"},
            "OLD": None,
        }


def test_find_zone_walks_up_the_labels_but_never_to_the_tld() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        name = request.url.params["name"]
        asked.append(name)
        assert request.url.params["account.id"] == ACCOUNT
        zones = [{"id": "z1", "name": name, "status": "active", "account": {"id": ACCOUNT}}]
        return ok(zones if name == "example.com" else [], result_info={"total_pages": 1})

    cf = client(handler)
    zone = cf.find_zone("a.shop.example.com")
    assert zone is not None
    assert zone.id == "z1"
    assert asked == ["a.shop.example.com", "shop.example.com", "example.com"]
    asked.clear()
    assert cf.find_zone("shop.example.org") is None
    assert asked == ["shop.example.org", "example.org"]


def site(tmp_path: Path) -> Path:
    root = tmp_path / "out"
    (root / "_next" / "static").mkdir(parents=True)
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "about.html").write_text("<h1>about</h1>")
    (root / "_next" / "static" / "app.js").write_text("console.log(1)")
    (root / "copy.html").write_text("<h1>home</h1>")  # same content, different path
    (root / "_headers").write_text("/*\n  X-Frame-Options: DENY\n")
    (root / "_worker.js").write_text("export default {}")
    (root / "node_modules").mkdir()
    (root / "node_modules" / "x.js").write_text("skip me")
    (root / ".DS_Store").write_bytes(b"\0")
    return root


def test_manifest_uses_wranglers_hash_and_skips_config_worker_and_litter(tmp_path: Path) -> None:
    root = site(tmp_path)
    manifest = build_manifest(root)
    assert list(manifest) == sorted(manifest)
    assert set(manifest) == {"/_next/static/app.js", "/about.html", "/copy.html", "/index.html"}
    expected = blake3(base64.b64encode(b"<h1>home</h1>") + b"html").hexdigest()[:32]
    assert manifest["/index.html"] == expected == manifest["/copy.html"]
    assert manifest["/_next/static/app.js"] != manifest["/about.html"]
    assert build_manifest(root) == manifest, "the same tree gives the same manifest"
    assert set(config_hashes(root)) == {"_headers"}
    (root / "about.html").write_text("<h1>about us</h1>")
    changed = build_manifest(root)
    assert {p for p in manifest if manifest[p] != changed[p]} == {"/about.html"}


def test_content_types_do_not_depend_on_the_machine() -> None:
    assert content_type("/index.html") == "text/html"
    assert content_type("/a/b.JS") == "application/javascript"
    assert content_type("/x.woff2") == "font/woff2"
    assert content_type("/data.unknownext") == "application/octet-stream"


def test_buckets_respect_the_file_count_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        (tmp_path / f"f{i}.txt").write_text(str(i))
    monkeypatch.setattr(upload, "MAX_BUCKET_FILES", 2)
    groups = buckets(collect_assets(tmp_path).values())
    assert [len(g) for g in groups] == [2, 2, 1]


def test_a_file_over_the_pages_limit_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "big.bin").write_bytes(b"x" * 100)
    monkeypatch.setattr(upload, "MAX_ASSET_BYTES", 10)
    with pytest.raises(upload.UploadError, match=r"/big\.bin"):
        build_manifest(tmp_path)


def test_direct_upload_sends_only_missing_files_with_the_jwt_then_a_multipart_manifest(
    tmp_path: Path,
) -> None:
    root = site(tmp_path)
    manifest = build_manifest(root)
    seen: list[httpx.Request] = []
    missing = [manifest["/about.html"]]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        if path.endswith("/upload-token"):
            return ok({"jwt": "jwt-1"})
        if path.endswith("/check-missing"):
            return ok(missing)
        if path.endswith("/upload") or path.endswith("/upsert-hashes"):
            return ok(None)
        assert path == f"{PROJECTS}/shop/deployments"
        return ok(
            {"id": "d2", "short_id": "d2", "url": "https://d2.shop.pages.dev", "environment": "production"}
        )

    result = client(handler).deploy_directory("shop", root, branch="main")
    paths = [r.url.path.rsplit("/", 1)[-1] for r in seen]
    assert paths == ["upload-token", "check-missing", "upload", "upsert-hashes", "deployments"]
    for request in seen[1:4]:
        assert request.headers["authorization"] == "Bearer jwt-1", "asset calls use the upload JWT"
    assert seen[0].headers["authorization"] == seen[4].headers["authorization"] == f"Bearer {TOKEN}"
    check = json.loads(seen[1].content)
    assert sorted(check["hashes"]) == sorted(set(manifest.values())), "each distinct content once"
    uploaded = json.loads(seen[2].content)
    assert [u["key"] for u in uploaded] == missing
    assert base64.b64decode(uploaded[0]["value"]) == (root / "about.html").read_bytes()
    assert uploaded[0]["metadata"] == {"contentType": "text/html"}
    assert uploaded[0]["base64"] is True
    form = seen[4]
    assert form.headers["content-type"].startswith("multipart/form-data")
    body = form.content.decode()
    assert json.dumps(manifest, sort_keys=True) in body
    assert 'name="branch"' in body
    assert 'name="_headers"; filename="_headers"' in body
    assert "export default {}" not in json.dumps(uploaded), "the worker is never an asset"
    assert 'name="_worker.bundle"; filename="_worker.bundle"' in body, "it travels as the bundle"
    assert result.worker is not None
    assert result.uploaded == 1
    assert result.deployment.id == "d2"
    assert result.manifest == manifest


def test_an_expired_upload_jwt_is_renewed_once(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    tokens = iter(["old", "new"])
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        seen.append(f"{path.rsplit('/', 1)[-1]} {request.headers['authorization']}")
        if path.endswith("/upload-token"):
            return ok({"jwt": next(tokens)})
        if request.headers["authorization"] == "Bearer old":
            return failed(401, 8000013, "Upload token expired")
        return ok([] if path.endswith("check-missing") else None)

    assert client(handler).upload_directory("shop", tmp_path).uploaded == 0
    assert seen[:4] == [
        f"upload-token Bearer {TOKEN}",
        "check-missing Bearer old",
        f"upload-token Bearer {TOKEN}",
        "check-missing Bearer new",
    ]
