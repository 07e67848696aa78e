"""A worker's own Pulumi project directory: the repository's project, run from elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from automation import environment, worker_project
from core.errors import UserError


def repository(root: Path) -> Path:
    root.mkdir()
    (root / "Pulumi.yaml").write_text(
        "name: oneclick\nruntime:\n  name: python\n  options:\n    virtualenv: .venv\n"
        "stackConfigDir: stacks\n"
    )
    return root


def test_the_project_runs_the_repository_program_from_its_own_directory(tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo")
    own = worker_project.prepare(tmp_path / "work" / "pulumi", repo)
    project = yaml.safe_load((own / "Pulumi.yaml").read_text())
    assert project["name"] == "oneclick"  # the same project: the same stacks in the backend
    assert project["main"] == "program"
    assert (own / "program").readlink() == repo
    assert project["runtime"]["options"]["virtualenv"] == str(repo / ".venv")
    assert project["stackConfigDir"] == "stacks"
    assert (own / "stacks").is_dir()
    assert sorted(p.name for p in repo.iterdir()) == ["Pulumi.yaml"]  # nothing written beside it


def test_preparing_again_keeps_what_is_there_and_follows_a_moved_repository(tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo")
    own = worker_project.prepare(tmp_path / "own", repo)
    (own / "stacks" / "Pulumi.app-1.yaml").write_text("encryptionsalt: x\n")
    before = (own / "Pulumi.yaml").stat().st_mtime_ns
    worker_project.prepare(own, repo)
    assert (own / "Pulumi.yaml").stat().st_mtime_ns == before  # unchanged: not rewritten
    moved = repository(tmp_path / "moved")
    worker_project.prepare(own, moved)
    assert (own / "program").readlink() == moved
    assert (own / "stacks" / "Pulumi.app-1.yaml").exists()
    assert sorted(p.name for p in own.iterdir()) == ["Pulumi.yaml", "program", "stacks"]  # no partials


def test_the_repository_itself_is_refused(tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo")
    with pytest.raises(UserError, match="is the repository") as refused:
        worker_project.prepare(repo, repo)
    assert refused.value.field == "ONECLICK_PROJECT_DIR"


def test_a_worker_process_and_its_children_use_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONECLICK_PROJECT_DIR", raising=False)
    monkeypatch.delenv("PULUMI_HOME", raising=False)
    assert environment.stack_config_path("app-1").parent == environment.REPO_ROOT / "stacks"
    own = worker_project.use_own_project(tmp_path / "work" / "pulumi")
    assert environment.project_dir() == own
    assert environment.stack_config_path("app-1") == own / "stacks" / "Pulumi.app-1.yaml"
    assert Path(os.environ["PULUMI_HOME"]) == own / ".pulumi"  # Pulumi's logs too


def test_an_operator_named_project_directory_and_pulumi_home_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONECLICK_PROJECT_DIR", str(tmp_path / "named"))
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "home"))
    own = worker_project.use_own_project(tmp_path / "default")
    assert own == (tmp_path / "named").resolve()
    assert (own / "Pulumi.yaml").exists()
    assert not (tmp_path / "default").exists()
    assert os.environ["PULUMI_HOME"] == str(tmp_path / "home")
