"""The deploy's "Built" step: a source app is built before the engine starts; a failed build stops the
deploy with the build's own lines before any stack is touched; a cached build is reported as reused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from automation import operations
from automation.steps import DeployStatus
from components import site_build
from components.spec import AppSpec


def source_spec(tmp_path: Path) -> AppSpec:
    source = tmp_path / "shop"
    source.mkdir()
    (source / "package.json").write_text("{}")
    return AppSpec.parse({"id": "shop", "web": {"source": str(source), "framework": "nextjs"}})


def test_a_source_app_reports_the_build_step_first(tmp_path: Path) -> None:
    spec = source_spec(tmp_path)
    assert operations.step_keys(spec) == ["build", "database", "site", "health"]
    static = AppSpec.parse({"id": "shop", "web": {"buildDir": str(tmp_path / "shop")}})
    assert "build" not in operations.step_keys(static)


def test_a_failed_build_stops_the_deploy_before_any_stack_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines: list[str] = []

    def build_web(spec: Any, on_line: Any = None) -> site_build.BuiltSite:
        on_line("> next build")
        raise site_build.BuildFailed(
            "next build failed (exit 1):\nFailed to compile.\n./app/page.tsx:3:1\n"
            "Type error: 'x' is not a number"
        )

    def no_stack(*_: Any, **__: Any) -> Any:
        raise AssertionError("the stack was opened after a failed build")

    monkeypatch.setattr(site_build, "build_web", build_web)
    monkeypatch.setattr(operations, "init_stack", no_stack)
    seen: list[dict[str, Any]] = []
    with pytest.raises(operations.DeployError) as failed:
        operations.deploy(
            source_spec(tmp_path), on_status=lambda s: seen.append(s.as_dict()), on_build_line=lines.append
        )
    message = str(failed.value)
    assert "building web.source failed, nothing was deployed" in message
    assert "./app/page.tsx:3:1" in message, "the build's own error lines"
    assert lines == ["> next build"]
    states = {step["key"]: step["state"] for step in seen[-1]["steps"]}
    assert states == {"build": "failed", "database": "skipped", "site": "skipped", "health": "pending"}
    assert seen[-1]["steps"][0]["detail"] == "next build failed (exit 1) — Type error: 'x' is not a number"


@pytest.mark.parametrize(
    ("cached", "detail"),
    [(True, "source unchanged: build abcdef012345 reused"), (False, "build abcdef012345 made in 41.5s")],
)
def test_the_built_step_says_whether_the_build_was_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool, detail: str
) -> None:
    built = site_build.BuiltSite(tmp_path, "abcdef0123456789" * 4, cached=cached, seconds=41.5)
    monkeypatch.setattr(site_build, "build_web", lambda spec, on_line=None: built)
    spec = source_spec(tmp_path)
    status = DeployStatus.for_keys(spec.id, operations.step_keys(spec))
    operations._build(spec, status, None)
    step = status.steps["build"]
    assert (step.state, step.detail) == ("done", detail)
    assert step.title == "Built"
