"""A native build (desktop, ios, android) on a worker: the deployment's three steps, then its outcome.

Runs in the deploy's confined child process like a web deploy (service/runner.py hands it over by
kind). The app's site is not touched: the build wraps the URL its last deploy recorded. Store
credentials come out of the deployment's encrypted secrets and reach the build's commands only
through their environment.
"""

from __future__ import annotations

import time
from typing import Any, cast

import psycopg

from automation.workspace import DeployError
from components.native_run import STEP_TITLES, Target, run_native
from components.spec import AppSpec
from service import deployments
from service.deployments import NATIVE_SECRET, Deployment
from service.vault import Vault

NATIVE_STEPS: list[tuple[str, str]] = list(STEP_TITLES.items())


class NativeSteps:
    """Every step of the build, recorded whole on each change (states, elapsed seconds, details)."""

    def __init__(self, conn: psycopg.Connection, deployment_id: str) -> None:
        self.conn = conn
        self.deployment_id = deployment_id
        self.steps: dict[str, dict[str, Any]] = {
            key: {"key": key, "title": title, "state": "pending", "elapsedSeconds": 0.0, "detail": ""}
            for key, title in NATIVE_STEPS
        }
        self.started: dict[str, float] = {}

    def __call__(self, key: str, title: str, state: str, detail: str) -> None:
        step = self.steps[key]
        now = time.monotonic()
        if state == "running":
            self.started[key] = now
        elif key in self.started:
            step["elapsedSeconds"] = round(now - self.started[key], 1)
        step.update(title=title, state=state, detail=detail[:1000])
        deployments.record_steps(self.conn, self.deployment_id, list(self.steps.values()))

    def fail_running(self) -> None:
        for key, step in self.steps.items():
            if step["state"] == "running":
                self(key, step["title"], "failed", step["detail"])


def credentials_of(deployment: Deployment, vault: Vault) -> dict[str, str]:
    return {
        name.removeprefix(NATIVE_SECRET): value
        for name, value in deployment.secrets(vault).items()
        if name.startswith(NATIVE_SECRET)
    }


def run_native_build(conn: psycopg.Connection, vault: Vault, deployment: Deployment, spec: AppSpec) -> None:
    url = deployments.deployed_url(conn, deployment.app_id)
    if url is None:
        raise DeployError(
            f"app {deployment.app_id!r} has no deployed site any more: deploy it with "
            "POST /api/deploy/web, then build again"
        )
    steps = NativeSteps(conn, deployment.id)
    try:
        result = run_native(
            spec, cast(Target, deployment.kind), url, env=credentials_of(deployment, vault), on_step=steps
        )
    except Exception:
        steps.fail_running()
        raise
    deployments.finish(conn, deployment, ok=True, outputs=result.outputs())
