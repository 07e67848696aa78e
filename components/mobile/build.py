"""MobileBuild: the Capacitor project of one app and, when enabled, its native projects and cloud build.

MobileBuild (oneclick:mobile:MobileBuild)
├── ProjectFiles          capacitor.config.json, package.json, eas.json, fastlane/, icons, splash
├── LocalCommand  sync    npm install, cap add <platform>, icons copied in, cap sync  (build: true)
├── LocalCommand  build   eas build --non-interactive --no-wait --json              (eas + EXPO_TOKEN)
└── LocalCommand  submit  eas submit --latest --no-wait                               (store credentials)

Commands run through `LocalCommand`, our stand-in for `pulumi_command.local.Command` (same arguments;
see components/commands.py). Every spec value reaches them through `environment`, never the command
text. Builds are off by default: without network, a vendor token or an explicit `build: true` the
component only generates the project and says in `status` what it skipped, instead of failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi

from components.commands import LocalCommand
from components.mobile.credentials import AppStoreConnectKey, PlayServiceAccount
from components.mobile.project import MobileProjectParams
from components.project_files import ProjectFiles

EAS_CLI = "eas-cli@16"

SYNC = (
    'npm install --no-audit --no-fund && for p in $PLATFORMS; do [ -d "$p" ] || npx cap add "$p"; done'
    ' && for p in $PLATFORMS; do [ ! -d "resources/$p" ] || cp -R "resources/$p/." "$p/"; done'
    " && npx cap sync"
)


def eas_build_command(platforms: list[str]) -> str:
    """The exact EAS command line (the platform is the only variable, and it is one of three words)."""
    platform = "all" if len(platforms) > 1 else platforms[0]
    assert platform in ("all", "ios", "android")
    return (
        f"npx --yes {EAS_CLI} build --platform {platform} --profile production"
        " --non-interactive --no-wait --json"
    )


def eas_submit_command(platforms: list[str]) -> str:
    platform = "all" if len(platforms) > 1 else platforms[0]
    assert platform in ("all", "ios", "android")
    # Key files exist only while the command runs; eas.json names the Play key's path.
    return (
        "umask 077 && trap 'rm -f asc-api-key.p8 play-service-account.json' EXIT"
        ' && { [ -z "$ASC_KEY_P8" ] || printf %s "$ASC_KEY_P8" > asc-api-key.p8; }'
        ' && { [ -z "$PLAY_SERVICE_ACCOUNT_JSON" ]'
        ' || printf %s "$PLAY_SERVICE_ACCOUNT_JSON" > play-service-account.json; }'
        f" && npx --yes {EAS_CLI} submit --platform {platform} --profile production --latest"
        " --non-interactive --no-wait"
    )


def submit_environment(
    expo_token: pulumi.Input[str], asc: AppStoreConnectKey | None, play: PlayServiceAccount | None
) -> dict[str, pulumi.Input[str]]:
    env: dict[str, pulumi.Input[str]] = {"EXPO_TOKEN": pulumi.Output.secret(expo_token)}
    if asc is not None:
        env.update(
            EXPO_ASC_KEY_ID=asc.key_id,
            EXPO_ASC_ISSUER_ID=asc.issuer_id,
            EXPO_ASC_API_KEY_PATH="asc-api-key.p8",
            ASC_KEY_P8=pulumi.Output.secret(asc.private_key),
        )
    if play is not None:
        env["PLAY_SERVICE_ACCOUNT_JSON"] = pulumi.Output.secret(play.json_key)
    return env


def build_ids(stdout: str) -> list[str]:
    """Build ids from `eas build --json` output (a JSON list of builds); [] when it is not that."""
    try:
        builds = json.loads(stdout)
    except ValueError:
        return []
    return (
        [str(b["id"]) for b in builds if isinstance(b, dict) and "id" in b]
        if isinstance(builds, list)
        else []
    )


@dataclass
class MobileBuildArgs:
    params: MobileProjectParams
    out_dir: str
    run_builds: bool = False  # the spec's `mobile.build`
    expo_token: pulumi.Input[str] | None = None
    app_store_key: AppStoreConnectKey | None = None  # validated by components.mobile.credentials
    play_account: PlayServiceAccount | None = None


class MobileBuild(pulumi.ComponentResource):
    project_dir: pulumi.Output[str]
    status: pulumi.Output[str]
    build_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: MobileBuildArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("oneclick:mobile:MobileBuild", name, None, opts)
        p = args.params
        self.files = ProjectFiles(
            f"{name}-project", "mobile", p.to_dict(), args.out_dir, pulumi.ResourceOptions(parent=self)
        )
        self.project_dir = self.files.out_dir
        self.sync: LocalCommand | None = None
        self.build: LocalCommand | None = None
        self.submit: LocalCommand | None = None
        status: pulumi.Input[str] = "generated; native builds off (set mobile.build: true)"
        ids: pulumi.Input[list[str]] = []
        if args.run_builds:
            self.sync = LocalCommand(
                f"{name}-sync",
                create=SYNC,
                environment={"PLATFORMS": " ".join(p.platforms)},
                dir=self.files.out_dir,
                triggers=[self.files.hashes],
                opts=pulumi.ResourceOptions(parent=self),
            )
            status = "synced; fastlane lanes run in CI (templates/ci/mobile-fastlane.yml)"
            if p.builder == "eas":
                status = "synced; skipped eas build: no EXPO_TOKEN"
            if p.builder == "eas" and args.expo_token is not None:
                after = pulumi.ResourceOptions(parent=self, depends_on=[self.sync])
                self.build = LocalCommand(
                    f"{name}-eas-build",
                    create=eas_build_command(p.platforms),
                    environment={"EXPO_TOKEN": pulumi.Output.secret(args.expo_token)},
                    dir=self.files.out_dir,
                    triggers=[p.version, p.build_number, self.files.hashes],
                    opts=after,
                )
                ids = self.build.stdout.apply(build_ids)
                status = "eas build queued"
                if args.app_store_key is not None or args.play_account is not None:
                    self.submit = LocalCommand(
                        f"{name}-eas-submit",
                        create=eas_submit_command(p.platforms),
                        environment=submit_environment(
                            args.expo_token, args.app_store_key, args.play_account
                        ),
                        dir=self.files.out_dir,
                        triggers=[p.version, p.build_number],
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[self.build]),
                    )
                    status = "eas build and submission queued"
        self.status = pulumi.Output.from_input(status)
        self.build_ids = pulumi.Output.from_input(ids)
        outputs: dict[str, Any] = {
            "project_dir": self.project_dir,
            "status": self.status,
            "build_ids": self.build_ids,
        }
        self.register_outputs(outputs)
