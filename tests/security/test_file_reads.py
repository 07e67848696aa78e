"""Items 3, 7 and 9, and the CLI's bad inputs, where local paths are still taken (the `oneclick` CLI,
`pulumi up`, and the program a worker runs): a spec names /proc/self/environ, a FIFO, a terminal,
/dev/zero, a host file behind a link, or a file that is not what its field says. Each attack runs
through the real CLI or Automation API, engine, program and sandbox, and must fail fast, with an
error naming the field, and leave nothing of the file in the stack's state or in the error."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from automation import operations
from automation.workspace import DeployError, open_stack
from components.errors import SpecError
from components.icons import IconError, load_source
from components.spec import AppSpec
from dbtools.errors import DataError, MigrationError, SchemaError
from dbtools.executors import SqliteExecutor
from dbtools.migrations import migrate
from dbtools.preview_data import open_preview
from dbtools.prisma_schema import load_schema, parse_schema
from sandbox.endpoint import REPO_ROOT, SandboxEndpoint, state_root

ONECLICK = str(REPO_ROOT / ".venv" / "bin" / "oneclick")
SHOP = REPO_ROOT / "examples" / "shop"
STATIC_SITE = REPO_ROOT / "tests" / "fixtures" / "static-site"
SCHEMA = SHOP / "prisma" / "schema.prisma"
# A deploy that is refused at the program stops within this; a blocked read never would.
FAST = 150


@pytest.fixture
def marker(monkeypatch: pytest.MonkeyPatch) -> str:
    """A secret in the environment every engine and program process inherits."""
    value = f"marker-{uuid.uuid4().hex}"
    monkeypatch.setenv("ONECLICK_FILE_READS_SECRET", value)
    return value


@pytest.fixture
def deployed(app_id: str) -> Iterator[str]:
    """`app_id`, destroyed afterwards whatever the deploy managed to create."""
    yield app_id
    with contextlib.suppress(DeployError):
        operations.destroy(app_id)


def stack_state(app_id: str) -> str:
    """Everything the backend keeps of the stack: `pulumi stack export` and every file of the
    backend naming it (state, history, backups)."""
    texts: list[str] = []
    with contextlib.suppress(DeployError):
        texts.append(json.dumps(open_stack(app_id, create=False).export_stack().deployment))
    backend = state_root() / "pulumi" / ".pulumi"
    for path in backend.rglob("*"):
        if path.is_file() and app_id in str(path):
            texts.append(path.read_text(errors="replace"))
    assert texts, "the stack left no state to check"
    return "\n".join(texts)


def run(*args: str, timeout: float = FAST) -> subprocess.CompletedProcess[str]:
    """`oneclick ARGS` as a user runs it; a run that outlives `timeout` fails the test (it blocked)."""
    return subprocess.run([ONECLICK, *args], capture_output=True, text=True, timeout=timeout, check=False)


def write_spec(directory: Path, data: dict[str, Any]) -> Path:
    path = directory / "app.json"
    path.write_text(json.dumps(data))
    return path


# --- item 3: the worker's environment never reaches the state ---------------------------------------


@pytest.mark.engine
def test_proc_self_environ_as_the_schema_is_refused_and_nothing_of_it_is_stored(
    sandbox: SandboxEndpoint, deployed: str, marker: str
) -> None:
    spec = {"id": deployed, "database": {"provider": "turso", "prismaSchema": "/proc/self/environ"}}
    with pytest.raises(DeployError) as failed:
        operations.deploy(AppSpec.parse(spec))
    message = str(failed.value)
    assert "database.prismaSchema: '/proc/self/environ' is a kernel pseudo-file" in message
    assert marker not in message
    state = stack_state(deployed)
    assert marker not in state
    assert "ONECLICK_FILE_READS_SECRET" not in state
    assert "schema_text" not in state


@pytest.mark.engine
def test_a_valid_schema_reaches_its_resource_as_a_checksum_not_as_text(
    sandbox: SandboxEndpoint, deployed: str
) -> None:
    operations.deploy(AppSpec.parse({"id": deployed, "database": {"prismaSchema": str(SCHEMA)}}))
    exported = open_stack(deployed, create=False).export_stack().deployment
    assert exported is not None
    resources = exported["resources"]
    schema = next(r for r in resources if r["urn"].endswith(f"::{deployed}-schema") and "inputs" in r)
    assert len(schema["inputs"]["schema_sha256"]) == 64
    assert "schema_text" not in schema["inputs"]
    assert "schema_text" not in schema.get("outputs", {})


# --- item 7: nothing blocks, nothing grows without bound ---------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "schema.prisma"
    os.mkfifo(path)
    return path


@pytest.mark.engine
@pytest.mark.parametrize("target", ["fifo", "/proc/self/fd/2", "/proc/self/fd/0", "/dev/zero"])
def test_blocking_and_endless_files_fail_fast_through_the_cli(
    sandbox: SandboxEndpoint, deployed: str, fifo: Path, tmp_path: Path, target: str
) -> None:
    path = str(fifo) if target == "fifo" else target
    spec = write_spec(tmp_path, {"id": deployed, "database": {"provider": "turso", "prismaSchema": path}})
    result = run("deploy", str(spec))  # TimeoutExpired, and a failed test, if a read blocks
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"database.prismaSchema: {path!r} is " in result.stderr
    assert any(kind in result.stderr for kind in ("FIFO", "symbolic link", "a device")), result.stderr


@pytest.mark.engine
@pytest.mark.parametrize("field", ["previewData", "migrations"])
def test_a_fifo_as_preview_data_or_migration_fails_fast(
    sandbox: SandboxEndpoint, deployed: str, tmp_path: Path, field: str
) -> None:
    if field == "migrations":
        folder = tmp_path / "migrations" / "20250101000000_init"
        folder.mkdir(parents=True)
        os.mkfifo(folder / "migration.sql")
        value = str(tmp_path / "migrations")
    else:
        value = str(tmp_path / "preview.sql")
        os.mkfifo(value)
    database = {"provider": "turso", "prismaSchema": str(SCHEMA), field: value}
    result = run("deploy", str(write_spec(tmp_path, {"id": deployed, "database": database})))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"database.{field}: " in result.stderr
    assert "is a FIFO (named pipe), not a regular file" in result.stderr


@pytest.mark.engine
def test_dev_zero_and_oversize_files_are_refused_by_the_program_in_bounded_memory(
    sandbox: SandboxEndpoint, deployed: str, tmp_path: Path
) -> None:
    huge = tmp_path / "schema.prisma"
    with huge.open("wb") as sparse:  # 2 GiB that takes no disk: read whole, it would exhaust memory
        sparse.truncate(2 * 1024**3)
    for path, problem in ((huge, "is larger than 1.0 MiB (2048.0 MiB)"), (Path("/dev/zero"), "is a device")):
        spec = {"id": deployed, "database": {"provider": "turso", "prismaSchema": str(path)}}
        with pytest.raises(DeployError, match=re.escape(f"database.prismaSchema: '{path}' {problem}")):
            operations.deploy(AppSpec.parse(spec))


# --- item 9 and the build walk: host files are neither published nor echoed ---------------------------


@pytest.mark.engine
def test_preview_data_that_is_not_sql_is_refused_without_echoing_it(
    sandbox: SandboxEndpoint, deployed: str, tmp_path: Path, marker: str
) -> None:
    leaked = tmp_path / "token.sql"
    leaked.write_text(f"root:x:0:0:root:/root:/bin/bash\nAPI_TOKEN={marker}\n")
    spec = {
        "id": deployed,
        "database": {"provider": "turso", "prismaSchema": str(SCHEMA), "previewData": str(leaked)},
    }
    with pytest.raises(DeployError) as failed:
        operations.deploy(AppSpec.parse(spec))
    message = str(failed.value)
    assert f"database.previewData: {str(leaked)!r} statement 1 (line 1) cannot be loaded" in message
    assert "syntax error" in message
    for secret in (marker, "root:x", "API_TOKEN", "/bin/bash"):
        assert secret not in message
    assert marker not in stack_state(deployed)


@pytest.mark.engine
def test_a_link_in_the_build_to_a_host_file_is_refused_not_published(
    sandbox: SandboxEndpoint, deployed: str, tmp_path: Path, marker: str
) -> None:
    secret = tmp_path / "host-secret.txt"
    secret.write_text(marker)
    site = Path(shutil.copytree(STATIC_SITE, tmp_path / "out"))
    (site / "leak.txt").symlink_to(secret)
    spec = {"id": deployed, "web": {"buildDir": str(site)}}
    with pytest.raises(DeployError, match=r"web\.build_dir: '.*/out/leak\.txt' is a symbolic link") as failed:
        operations.deploy(AppSpec.parse(spec))
    assert marker not in str(failed.value)
    with contextlib.suppress(AssertionError):  # the refusal may come before any state exists
        assert marker not in stack_state(deployed)


def test_errors_of_files_that_are_not_what_their_field_says_never_quote_them(tmp_path: Path) -> None:
    secret = f"sk_live_{uuid.uuid4().hex}"
    # A token file as the schema: the parser names line, column and the kind of token.
    (tmp_path / "token.prisma").write_text(f"{secret}\n")
    with pytest.raises(SchemaError, match=r"line 1, column 1: unknown block") as schema_error:
        load_schema(tmp_path / "token.prisma")
    assert secret not in str(schema_error.value)
    with pytest.raises(SchemaError) as stray:
        parse_schema(f'model A {{\n  id Int @id @default("{secret}\n}}')
    assert secret not in str(stray.value)
    # A dump that is not SQL, and one that is SQL but fails: numbered, never quoted.
    (tmp_path / "passwd.sql").write_text(f"root:x:0:0:root:/root:/bin/bash\n{secret}\n")
    with pytest.raises(DataError, match=r"statement 1 \(line 1\)") as dump_error:
        open_preview(tmp_path / "passwd.sql", parse_schema(SCHEMA.read_text()))
    assert secret not in str(dump_error.value)
    assert "root:x" not in str(dump_error.value)
    # A migration with a host file's text: its statement is named by number and line.
    migration = tmp_path / "migrations" / "20250101000000_init"
    migration.mkdir(parents=True)
    (migration / "migration.sql").write_text(f"CREATE TABLE a (x INTEGER);\n\n{secret} = 1;\n")
    executor = SqliteExecutor(tmp_path / "app.db")
    try:
        with pytest.raises(MigrationError, match=r"statement 2 \(migration.sql line 3\)") as migration_error:
            migrate(executor, parse_schema(SCHEMA.read_text()), tmp_path / "migrations")
    finally:
        executor.close()
    assert secret not in str(migration_error.value)


def test_a_dump_cannot_attach_another_sqlite_file(tmp_path: Path) -> None:
    """Item 2's variant through a dump: `ATTACH` would read any SQLite file of the host (another
    tenant's database) into the preview, and ATTACH or VACUUM INTO would write files."""
    victim = tmp_path / "victim.sqlite"
    with contextlib.closing(sqlite3.connect(victim)) as connection:
        connection.execute("CREATE TABLE secrets (value TEXT)")
    for statement in (f"ATTACH '{victim}' AS v", f"VACUUM INTO '{tmp_path / 'copy.sqlite'}'"):
        (tmp_path / "dump.sql").write_text(f'CREATE TABLE "User" (id INTEGER);\n{statement};\n')
        with pytest.raises(DataError, match=r"statement 2 \(line 2\) cannot be loaded: too many attached"):
            open_preview(tmp_path / "dump.sql")
    assert not (tmp_path / "copy.sqlite").exists()


@pytest.mark.parametrize("target", ["fifo", "/dev/zero", "/proc/self/environ"])
def test_an_icon_is_read_only_as_a_capped_regular_file(fifo: Path, target: str) -> None:
    path = fifo if target == "fifo" else Path(target)
    with pytest.raises(IconError, match=r"mobile\.icon: '.*' is "):
        load_source(path, field="mobile.icon")


# --- the CLI's own input: no traceback, whatever the spec file holds --------------------------------


def _deep_yaml(path: Path) -> None:
    path.write_text("id: x\nweb: " + "[" * 100_000 + "]" * 100_000 + "\n")


def _deep_json(path: Path) -> None:
    path.write_text('{"id": "x", "web": ' + "[" * 100_000 + "]" * 100_000 + "}")


def _not_utf8(path: Path) -> None:
    path.write_bytes(b"id: caf\xe9\n")


def _nul_in_path(path: Path) -> None:
    path.write_text('id: x\ndatabase:\n  prismaSchema: "schema\\0.prisma"\n')


def _alias_bomb(path: Path) -> None:
    lines = ["id: x", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path.write_text("\n".join(lines) + "\nweb: *a9\n")


def _fifo(path: Path) -> None:
    os.mkfifo(path)


CLI_INPUTS = {
    "deep.yaml": (_deep_yaml, "nests deeper than"),
    "deep.json": (_deep_json, "nests deeper than"),
    "latin1.yaml": (_not_utf8, "is not UTF-8 text (line 1); save it as UTF-8"),
    "nul.yaml": (_nul_in_path, "database.prismaSchema: contains a NUL character; remove it"),
    "bomb.yaml": (_alias_bomb, "holds more than 100000 values"),
    "fifo.yaml": (_fifo, "is a FIFO (named pipe), not a regular file"),
}


@pytest.mark.parametrize("name", list(CLI_INPUTS))
@pytest.mark.parametrize("command", ["deploy", "preview", "stack init"])
def test_hostile_spec_files_get_one_error_line_and_no_traceback(
    tmp_path: Path, name: str, command: str
) -> None:
    make, problem = CLI_INPUTS[name]
    spec = tmp_path / name
    make(spec)
    result = run(*command.split(), str(spec), timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode in (1, 2), output
    assert "Traceback" not in output
    assert result.stderr.startswith("error: "), output
    assert problem in result.stderr, output


def test_dev_zero_as_the_spec_file_is_refused() -> None:
    result = run("preview", "/dev/zero", timeout=60)
    assert result.returncode in (1, 2)
    assert "Traceback" not in result.stdout + result.stderr
    assert "error: /dev/zero: is a device, not a regular file" in result.stderr


def test_a_hundred_thousand_levels_of_nesting_are_a_spec_error_not_a_recursion_error() -> None:
    deep: Any = "x"
    for _ in range(100_000):
        deep = {"a": [deep]}
    with pytest.raises(SpecError):
        AppSpec.parse({"id": "deep", "web": deep})
    with pytest.raises(SpecError):
        AppSpec.parse({"id": "deep", "database": deep})
    with pytest.raises(SpecError):
        AppSpec.parse(deep)
