"""webbuild without npm: what is hashed and cached, the Pages layout, the step runner, the errors
a bad source gets before anything is installed, and the package cache (with a stand-in npm)."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from tests.helpers import wait_for
from webbuild import BuildFailed, build_site
from webbuild.build import _prisma_schema, build_env, discard
from webbuild.deps import installed
from webbuild.fingerprint import build_key, lockfile_hash, read_source
from webbuild.nextjs import build as build_nextjs
from webbuild.pages import assemble, routes
from webbuild.process import error_lines, run_step

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop"


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def app(root: Path) -> Path:
    return write(
        root,
        {
            "package.json": '{"name": "a"}',
            "package-lock.json": '{"lockfileVersion": 3}',
            "app/page.tsx": "export default () => null;",
            "prisma/schema.prisma": (SHOP / "prisma" / "schema.prisma").read_text(),
        },
    )


# --- what a build depends on ---


def test_installed_packages_build_output_and_the_generated_client_are_not_source(tmp_path: Path) -> None:
    root = app(tmp_path / "a")
    before = read_source(root, frozenset({"generated/prisma"}))
    write(
        root,
        {
            "node_modules/x/index.js": "1",
            ".next/cache/a": "1",
            ".open-next/worker.js": "1",
            "out/index.html": "1",
            "generated/prisma/client.ts": "1",
            "next-env.d.ts": "1",
            "lib/out/kept.ts": "a nested out/ is the app's own code",
        },
    )
    after = read_source(root, frozenset({"generated/prisma"}))
    assert set(after.files) - set(before.files) == {"lib/out/kept.ts"}
    assert read_source(root, frozenset({"generated/prisma"})) == after  # the same order every time


def test_the_key_follows_content_framework_and_database(tmp_path: Path) -> None:
    root = app(tmp_path / "a")
    key = build_key(read_source(root), "nextjs", "turso")
    assert build_key(read_source(root), "nextjs", "turso") == key
    assert build_key(read_source(root), "nextjs", "postgresql") != key
    assert build_key(read_source(root), "nextjs", None) != key
    (root / "app" / "page.tsx").write_text("export default () => 1;")
    assert build_key(read_source(root), "nextjs", "turso") != key


def test_the_package_cache_key_is_the_lockfile(tmp_path: Path) -> None:
    root = app(tmp_path / "a")
    first = lockfile_hash(root)
    (root / "app" / "page.tsx").write_text("changed")
    assert lockfile_hash(root) == first
    (root / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": {}}')
    assert lockfile_hash(root) != first
    (root / "package-lock.json").unlink()
    with pytest.raises(BuildFailed, match=r"package-lock\.json is missing") as caught:
        lockfile_hash(root)
    assert caught.value.field == "web.source"


def test_a_symbolic_link_in_the_source_is_refused(tmp_path: Path) -> None:
    root = app(tmp_path / "a")
    (root / "app" / "secrets").symlink_to("/etc")
    with pytest.raises(BuildFailed, match=r"app/secrets is a symbolic link") as caught:
        read_source(root)
    assert caught.value.fix == "replace the link with the file or folder it points at"


def test_the_schema_is_written_for_prisma_7_and_its_client_folder_is_left_out(tmp_path: Path) -> None:
    root = app(tmp_path / "a")
    text, generated = _prisma_schema(root, "postgresql")
    assert text is not None
    assert 'provider = "postgresql"' in text
    assert "url" not in text.split("datasource db")[1].split("}")[0]
    assert generated == frozenset({"generated/prisma"})
    assert _prisma_schema(root, None) == (None, frozenset())


def test_a_client_generated_outside_the_project_is_refused(tmp_path: Path) -> None:
    root = app(tmp_path / "a")
    schema = root / "prisma" / "schema.prisma"
    schema.write_text(
        schema.read_text().replace(
            'provider = "prisma-client-js"', 'provider = "prisma-client-js"\n  output = "../../x"'
        )
    )
    with pytest.raises(BuildFailed, match=r"output '\.\./\.\./x' is outside the project folder"):
        _prisma_schema(root, "turso")


# --- errors before anything is installed ---


def test_bad_sources_are_refused_with_the_field_and_a_fix(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(BuildFailed, match=r"has no package\.json") as caught:
        build_site(tmp_path, framework="nextjs", database_provider=None, cache_root=cache)
    assert caught.value.field == "web.source"
    root = app(tmp_path / "a")
    (root / "prisma" / "schema.prisma").unlink()
    with pytest.raises(BuildFailed, match=r"prisma/schema.prisma is missing") as caught:
        build_site(root, framework="nextjs", database_provider="turso", cache_root=cache)
    assert caught.value.fix == "put the app's Prisma schema at prisma/schema.prisma"
    with pytest.raises(BuildFailed, match="unknown framework 'vite'"):
        build_site(root, framework="vite", database_provider=None, cache_root=cache)  # type: ignore[arg-type]
    assert not (cache / "deps").exists(), "nothing was installed"


def test_an_unchanged_source_is_served_from_the_cache_without_npm(tmp_path: Path) -> None:
    root = app(tmp_path / "a")
    cache = tmp_path / "cache"
    key = build_key(read_source(root, frozenset({"generated/prisma"})), "nextjs", "turso")
    write(cache / "sites" / key, {"index.html": "built"})
    started = time.monotonic()
    # turso and sqlite are the same build (libSQL); neon and byo share PostgreSQL's.
    for provider in ("sqlite", "turso"):
        built = build_site(root, framework="nextjs", database_provider=provider, cache_root=cache)
        assert (built.out_dir, built.key, built.cached) == (cache / "sites" / key, key, True)
    assert time.monotonic() - started < 1


def test_the_build_sees_none_of_the_callers_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "TURSO_API_TOKEN": "t",
        "PULUMI_CONFIG_PASSPHRASE": "p",
        "CREDENTIALS_ENCRYPTION_KEY": "k",
        "npm_config_cache": "/tmp/npm-cache",
        "NEXT_TELEMETRY_DISABLED": "0",
    }.items():
        monkeypatch.setenv(name, value)
    env = build_env()
    assert set(env) <= {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "npm_config_cache"} | {
        "PRISMA_SCHEMA_ENGINE_BINARY",
        "CI",
        "NEXT_TELEMETRY_DISABLED",
        "CHECKPOINT_DISABLE",
        "WRANGLER_SEND_METRICS",
        "NO_COLOR",
        "FORCE_COLOR",
    }
    assert env["npm_config_cache"] == "/tmp/npm-cache"
    assert env["NEXT_TELEMETRY_DISABLED"] == "1"
    assert Path(env["PRISMA_SCHEMA_ENGINE_BINARY"]).is_file()


def test_a_used_work_copy_is_gone_at_once_and_deleted_in_the_background(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    work = write(cache / "work" / "k-1", {f"node_modules/p{i}/index.js": "1" for i in range(200)})
    leftover = write(cache / "trash" / "k-0-interrupted", {"a": "1"})
    started = time.monotonic()
    discard(work, cache)
    assert time.monotonic() - started < 1
    assert not work.exists()
    wait_for(lambda: not any((cache / "trash").iterdir()), timeout=10)
    assert not leftover.exists(), "what an interrupted build left is swept too"


def test_an_app_without_the_build_tools_is_told_which_to_add(tmp_path: Path) -> None:
    work = app(tmp_path / "work")
    deadline = time.monotonic() + 5
    with pytest.raises(BuildFailed, match="@opennextjs/cloudflare is not among the app's") as caught:
        build_nextjs(work, tmp_path / "out", prisma_schema=None, env={}, deadline=deadline, on_line=None)
    assert caught.value.fix == (
        "add @opennextjs/cloudflare@1.20.2 to devDependencies (npm install --save-dev --save-exact)"
    )
    assert not (tmp_path / "out").exists()


# --- the Pages output ---


def bundle(tmp_path: Path) -> Path:
    return write(
        tmp_path / "bundle",
        {
            "worker.js": "export default {}",
            "abc-query_compiler.wasm": "\0asm",
            "worker.js.map": "{}",
            "README.md": "x",
        },
    )


def test_the_worker_becomes_the_underscore_worker_folder_and_static_paths_skip_it(tmp_path: Path) -> None:
    assets = write(
        tmp_path / "assets",
        {
            "BUILD_ID": "x",
            "_next/static/chunks/a.js": "1",
            "favicon.ico": "1",
            "images/a.png": "1",
            "_headers": "/a\n  X: y",
        },
    )
    out = tmp_path / "out"
    assemble(assets, bundle(tmp_path), "worker.js", out)
    assert sorted(p.name for p in (out / "_worker.js").iterdir()) == ["abc-query_compiler.wasm", "index.js"]
    assert (out / "_worker.js" / "index.js").read_text() == "export default {}"
    assert (out / "_next" / "static" / "chunks" / "a.js").is_file()
    rules = json.loads((out / "_routes.json").read_text())
    assert rules["version"] == 1
    assert rules["include"] == ["/*"]
    assert rules["exclude"] == ["/BUILD_ID", "/_next/static/*", "/favicon.ico", "/images/*"]
    assert (
        out / "_headers"
    ).read_text() == "/a\n  X: y\n/_next/static/*\n  Cache-Control: public, max-age=31536000, immutable\n"


def test_more_public_entries_than_pages_routes_allow_are_refused(tmp_path: Path) -> None:
    assets = write(tmp_path / "assets", {f"file{i}.txt": "1" for i in range(99)})
    assert len(routes(assets)["exclude"]) == 99  # type: ignore[arg-type]
    (assets / "one-more.txt").write_text("1")
    with pytest.raises(BuildFailed, match="100 top-level public files") as caught:
        routes(assets)
    assert caught.value.fix == "move public files into a few folders (e.g. public/images/)"


def test_a_bundle_without_its_entry_module_is_refused(tmp_path: Path) -> None:
    assets = write(tmp_path / "assets", {"BUILD_ID": "x"})
    with pytest.raises(BuildFailed, match=r"no entry module worker\.js"):
        assemble(assets, write(tmp_path / "b", {"other.js": "1"}), "worker.js", tmp_path / "out")


# --- running a step ---


def test_a_step_streams_its_lines_without_colours(tmp_path: Path) -> None:
    seen: list[str] = []
    run_step(
        "say",
        ["sh", "-c", "printf 'one\\n\\033[32mtwo\\033[0m\\n'"],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        deadline=time.monotonic() + 30,
        on_line=seen.append,
    )
    assert seen[:3] == ["> say", "one", "two"]
    assert seen[3].startswith("> say: done in ")


def test_a_failing_step_shows_its_error_lines_not_a_traceback(tmp_path: Path) -> None:
    script = (
        "for i in $(seq 1 80); do echo progress $i; done;"
        " echo 'Error: Turbopack build failed'; echo './app/x.ts:3:1'; exit 2"
    )
    with pytest.raises(BuildFailed) as caught:
        run_step(
            "next build",
            ["sh", "-c", script],
            cwd=tmp_path,
            env={"PATH": os.environ["PATH"]},
            deadline=time.monotonic() + 30,
            on_line=None,
        )
    assert str(caught.value) == "next build failed (exit 2):\nError: Turbopack build failed\n./app/x.ts:3:1"
    assert "Traceback" not in str(caught.value)


def test_a_step_past_its_deadline_is_killed_with_its_children(tmp_path: Path) -> None:
    marker = tmp_path / "child-finished"
    started = time.monotonic()
    with pytest.raises(BuildFailed, match=r"slow did not finish in 1 s; its last lines:\nstarted") as caught:
        run_step(
            "slow",
            ["sh", "-c", f"echo started; (sleep 3; touch {marker}) & sleep 30"],
            cwd=tmp_path,
            env={"PATH": os.environ["PATH"]},
            deadline=time.monotonic() + 1,
            on_line=None,
        )
    assert time.monotonic() - started < 5
    assert caught.value.fix == "make the build faster or raise the build timeout"
    time.sleep(3)
    assert not marker.exists(), "the grandchild was killed too"


# What `opennextjs-cloudflare build` printed for a syntax error in a route (paths shortened).
OPENNEXT_FAILURE = """Creating an optimized production build ...
> Build error occurred
Error: Turbopack build failed with 1 errors:
./app/api/health/route.ts:9:7
Expected ',', got 'ident'
>  9 |   let database = "unconfigured";
     |       ^^^^^^^^
Parsing ecmascript source code failed
    at <unknown> (./app/api/health/route.ts:9:7)
node:internal/errors:984
  const err = new Error(message);
Error: Command failed: npm run build
    at genericNodeError (node:internal/errors:984:15)
    at buildNextjsApp (file:///w/node_modules/@opennextjs/aws/dist/build/buildNextApp.js:15:8)
  status: 1,
  stderr: null"""


def test_the_apps_error_is_shown_and_the_tools_own_crash_report_is_not() -> None:
    shown = error_lines(["noise"] * 100 + OPENNEXT_FAILURE.splitlines())
    assert shown[0] == "> Build error occurred"
    assert shown[-1] == "    at <unknown> (./app/api/health/route.ts:9:7)"
    assert "Expected ',', got 'ident'" in shown
    assert not any("node_modules" in line or "npm run build" in line for line in shown)


def test_a_tools_crash_alone_is_still_shown() -> None:
    crash = ["node:internal/errors:984", "Error: Cannot find module 'x'", "    at f (node:internal/x:1:1)"]
    assert error_lines(crash) == crash[:2]


def test_error_lines_fall_back_to_the_last_lines() -> None:
    assert error_lines([f"line {i}" for i in range(100)]) == [f"line {i}" for i in range(70, 100)]


# --- the package cache, with a stand-in npm ---


def fake_npm(tmp_path: Path, exit_code: int = 0) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    npm = bin_dir / "npm"
    npm.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {tmp_path}/npm-calls\n'
        "test -f package-lock.json || exit 9\n"
        "test -f .npmrc && exit 8\n"
        "mkdir -p node_modules/.bin && echo installed > node_modules/marker\n"
        f"echo 'npm error code E{exit_code}'; exit {exit_code}\n"
    )
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def test_packages_are_installed_once_per_lockfile_without_scripts_or_the_projects_npmrc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{fake_npm(tmp_path)}:{os.environ['PATH']}")
    root = app(tmp_path / "a")
    (root / ".npmrc").write_text("registry=http://elsewhere.invalid/\n")
    env = {"PATH": os.environ["PATH"]}
    first = installed(root, "h1", tmp_path / "cache", env=env, deadline=time.monotonic() + 30, on_line=None)
    assert (first / "marker").read_text() == "installed\n"
    again = installed(root, "h1", tmp_path / "cache", env=env, deadline=time.monotonic() + 30, on_line=None)
    assert again == first
    calls = (tmp_path / "npm-calls").read_text().splitlines()
    assert calls == ["ci --ignore-scripts --no-audit --no-fund --prefer-offline"]


def test_a_failed_install_leaves_nothing_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{fake_npm(tmp_path, exit_code=1)}:{os.environ['PATH']}")
    root = app(tmp_path / "a")
    with pytest.raises(BuildFailed, match=r"npm ci failed \(exit 1\):\nnpm error code E1"):
        installed(
            root,
            "h2",
            tmp_path / "cache",
            env={"PATH": os.environ["PATH"]},
            deadline=time.monotonic() + 30,
            on_line=None,
        )
    assert [p.name for p in (tmp_path / "cache" / "deps").iterdir()] == ["h2.lock"]
