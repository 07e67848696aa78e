"""ProjectFiles: a generated project (Capacitor or Tauri) written to a folder on the deploying machine.

Its inputs are the generator's parameters and the SHA-256 of every file it makes, so the diff is
exact: a changed file (new version, new icon, new URL) updates the folder and whatever depends on
`hashes` rebuilds; identical files change nothing. The program computes the hashes in memory;
only `create`/`update` write, so a preview touches no disk. `read` re-hashes the folder, so
`pulumi refresh` notices hand edits.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from components.typed_resource import TypedResource

# Marks a folder as ours: delete removes only folders that carry it.
MARKER = ".oneclick-generated"

Generator = Callable[[dict[str, Any]], dict[str, bytes]]


def generator(kind: str) -> Generator:
    # Imported here: the provider is serialised into state and must not drag the generators along.
    if kind == "mobile":
        from components.mobile.project import MobileProjectParams, mobile_project

        return lambda params: mobile_project(MobileProjectParams(**_ints(params, "build_number")))
    if kind == "desktop":
        from components.desktop.project import DesktopProjectParams, desktop_project

        return lambda params: desktop_project(DesktopProjectParams(**_ints(params, "width", "height")))
    raise ValueError(f"unknown project kind {kind!r}")


def _ints(params: dict[str, Any], *keys: str) -> dict[str, Any]:
    """Integers as the program gave them: inputs reach a dynamic provider as JSON numbers (floats),
    and 800.0 would render differently from 800."""
    return {k: int(v) if k in keys and isinstance(v, float) else v for k, v in params.items()}


def hashes(files: dict[str, bytes]) -> dict[str, str]:
    return {path: hashlib.sha256(data).hexdigest() for path, data in sorted(files.items())}


def write(out_dir: Path, files: dict[str, bytes], stale: set[str] | None = None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).write_text("files here are generated; edits are overwritten on deploy\n")
    for rel in (stale or set()) - set(files):
        (out_dir / rel).unlink(missing_ok=True)
    for rel, data in files.items():
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _generate(props: dict[str, Any]) -> dict[str, bytes]:
    files = generator(str(props["kind"]))(dict(props["params"]))
    if hashes(files) != props["hashes"]:
        # The program and the provider disagree (a source image changed in between): say which.
        raise RuntimeError("generated files differ from the planned ones; run the deploy again")
    return files


class ProjectFilesProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        write(Path(props["out_dir"]), _generate(props))
        return CreateResult(id_=str(props["out_dir"]), outs=props)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        out_dir = Path(props.get("out_dir") or id_)
        on_disk = {
            rel: hashlib.sha256((out_dir / rel).read_bytes()).hexdigest()
            for rel in props.get("hashes", {})
            if (out_dir / rel).is_file()
        }
        return ReadResult(id_, {**props, "hashes": on_disk})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = ["out_dir"] if olds.get("out_dir") != news.get("out_dir") else []
        changed = any(olds.get(key) != news.get(key) for key in ("kind", "params", "hashes"))
        return DiffResult(changes=bool(replaces) or changed, replaces=replaces, stables=[])

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        write(Path(news["out_dir"]), _generate(news), stale=set(olds.get("hashes", {})))
        return UpdateResult(outs=news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        out_dir = Path(props["out_dir"])
        if (out_dir / MARKER).is_file():
            shutil.rmtree(out_dir)


class ProjectFiles(TypedResource, module="app", name="ProjectFiles"):
    """The files of `kind`'s generator for `params`, kept in `out_dir`."""

    out_dir: pulumi.Output[str]
    hashes: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        name: str,
        kind: str,
        params: pulumi.Input[dict[str, Any]],
        out_dir: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        planned = pulumi.Output.from_input(params).apply(lambda p: hashes(generator(kind)(dict(p))))
        props = {"kind": kind, "params": params, "out_dir": out_dir, "hashes": planned}
        super().__init__(ProjectFilesProvider(), name, props, opts)
