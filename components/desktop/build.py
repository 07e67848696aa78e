"""DesktopBuild: the Tauri 2 project of one app and, on a Linux machine, its .deb and .rpm.

DesktopBuild (oneclick:desktop:DesktopBuild)
├── ProjectFiles          src-tauri/ (Cargo project, tauri.conf.json, icons), dist/ (frontend: static)
└── LocalCommand  build   tauri build --bundles deb,rpm  (platforms has linux and this is Linux)

The build's trigger is the hash of every generated file, so an unchanged app is not rebuilt (the
command does not run at all), while a new version, URL, icon or web build (frontend: static) makes
new packages. Windows and macOS packages cannot be made here: the CI template
(templates/ci/desktop-release.yml) builds them from the same generated project.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import pulumi

from components.commands import LocalCommand
from components.desktop.project import DesktopProjectParams
from components.desktop.tauri_build import parse_result
from components.paths import REPO_ROOT
from components.project_files import ProjectFiles

CI_WORKFLOW = "templates/ci/desktop-release.yml"
# Only fixed words and "$VARIABLES" (values come through the environment, never the command text).
BUILD_COMMAND = (
    '"$ONECLICK_PYTHON" -m components.desktop.tauri_build --project "$PROJECT_DIR" --out "$OUT_DIR"'
    ' --features "$CARGO_FEATURES"'
)


def builds_here(platforms: list[str]) -> bool:
    return "linux" in platforms and sys.platform.startswith("linux")


def status_text(platforms: list[str], built_here: bool) -> str:
    elsewhere = [p for p in platforms if p != "linux"]
    parts = ["linux: .deb and .rpm built here"] if built_here else []
    if "linux" in platforms and not built_here:
        parts.append("linux: built in CI (this machine is not Linux)")
    if elsewhere:
        parts.append(f"{', '.join(elsewhere)}: built in CI ({CI_WORKFLOW})")
    return "; ".join(parts)


@dataclass
class DesktopBuildArgs:
    params: DesktopProjectParams
    project_dir: str
    artifacts_dir: str


class DesktopBuild(pulumi.ComponentResource):
    project_dir: pulumi.Output[str]
    status: pulumi.Output[str]
    artifacts: pulumi.Output[list[dict[str, Any]]]

    def __init__(self, name: str, args: DesktopBuildArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("oneclick:desktop:DesktopBuild", name, None, opts)
        p = args.params
        self.files = ProjectFiles(
            f"{name}-project", "desktop", p.to_dict(), args.project_dir, pulumi.ResourceOptions(parent=self)
        )
        self.project_dir = self.files.out_dir
        self.build: LocalCommand | None = None
        artifacts: pulumi.Input[list[dict[str, Any]]] = []
        if builds_here(p.platforms):
            self.build = LocalCommand(
                f"{name}-linux",
                create=BUILD_COMMAND,
                environment={
                    "ONECLICK_PYTHON": sys.executable,
                    "PYTHONPATH": str(REPO_ROOT),
                    "PROJECT_DIR": self.files.out_dir,
                    "OUT_DIR": args.artifacts_dir,
                    "CARGO_FEATURES": "updater" if p.updater else "",
                },
                dir=str(REPO_ROOT),
                triggers=[self.files.hashes],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.files]),
            )
            artifacts = self.build.stdout.apply(parse_result)
        self.status = pulumi.Output.from_input(status_text(p.platforms, self.build is not None))
        self.artifacts = pulumi.Output.from_input(artifacts)
        self.register_outputs(
            {"project_dir": self.project_dir, "status": self.status, "artifacts": self.artifacts}
        )
