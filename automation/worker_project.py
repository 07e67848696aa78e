"""A worker's own Pulumi project directory, so that a service worker writes nothing into the repository.

Pulumi writes where its project is: each stack's config file (`stackConfigDir`), its logs (under
PULUMI_HOME), and, for an update's metadata, `git status` in the project's repository (which takes
`.git/index.lock`). A worker of the deploy service keeps all of that in its own work directory:

    <dir>/Pulumi.yaml   the repository's project (same name, so the same stacks), `main: program`
    <dir>/program       a link to the repository: Pulumi runs the one program from there (`main`
                        must lie inside the project directory)
    <dir>/stacks/       the stack config files, restored from the PostgreSQL backend when opened
    <dir>/.pulumi/      PULUMI_HOME (logs), unless the environment names one

The worker exports ONECLICK_PROJECT_DIR (and PULUMI_HOME) so that its deploy processes use it too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from components.paths import REPO_ROOT
from core.errors import UserError
from core.settings import export, settings

PROGRAM_LINK = "program"


def project_file(repository: Path = REPO_ROOT) -> str:
    """The repository's Pulumi.yaml, rewritten to run from a project directory elsewhere."""
    project: dict[str, Any] = yaml.safe_load((repository / "Pulumi.yaml").read_text())
    runtime = project.get("runtime")
    if isinstance(runtime, dict):
        options = dict(runtime.get("options") or {})
        if options.get("virtualenv"):  # relative to the repository, which is no longer the project
            options["virtualenv"] = str(repository / str(options["virtualenv"]))
        project["runtime"] = {**runtime, "options": options}
    project.update(main=PROGRAM_LINK, stackConfigDir="stacks")
    return yaml.safe_dump(project, sort_keys=False)


def _replace_file(path: Path, text: str) -> None:
    """Written whole or not at all: another worker process sharing the directory may read it."""
    if path.exists() and path.read_text() == text:
        return
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    partial.replace(path)


def _replace_link(path: Path, target: Path) -> None:
    if path.is_symlink() and path.readlink() == target:
        return
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.unlink(missing_ok=True)
    partial.symlink_to(target, target_is_directory=True)
    partial.replace(path)


def prepare(directory: Path, repository: Path = REPO_ROOT) -> Path:
    """Make (or bring up to date) the project directory `directory`; returns it, resolved."""
    directory = directory.resolve()
    if directory == repository.resolve():
        raise UserError(
            f"{directory} is the repository: a worker's project directory would overwrite its Pulumi.yaml",
            field="ONECLICK_PROJECT_DIR",
            fix="unset it (the worker then uses <ONECLICK_WORK_DIR>/pulumi) or name another folder",
        )
    (directory / "stacks").mkdir(parents=True, exist_ok=True)
    _replace_link(directory / PROGRAM_LINK, repository)
    _replace_file(directory / "Pulumi.yaml", project_file(repository))
    return directory


def use_own_project(directory: Path) -> Path:
    """Run every Pulumi command of this process and its children in `directory` (made here), with
    PULUMI_HOME inside it unless the environment names one. ONECLICK_PROJECT_DIR, when set, wins."""
    project = prepare(settings().paths.project_dir or directory)
    export({"ONECLICK_PROJECT_DIR": str(project)})
    os.environ.setdefault("PULUMI_HOME", str(project / ".pulumi"))
    return project
