"""Starting a deployment from a route: check the owner, record it, queue its job, answer 202."""

from __future__ import annotations

import logging
from typing import Any

from components.byo.policy import check_service_spec
from components.spec import AppSpec
from service import deployments, uploads
from service.api.context import ServiceContext
from service.api.models import DeployAccepted
from service.auth import Caller
from service.deployments import Deployment, Kind
from service.domains import refuse_foreign_dns
from service.errors import ApiError, not_found
from service.jobs import defer_deployment
from service.tiers import load_subscription

log = logging.getLogger("oneclick.service.api")


def accepted(deployment: Deployment) -> DeployAccepted:
    return DeployAccepted(
        deployment_id=deployment.id,
        app_id=deployment.app_id,
        kind=deployment.kind,
        status_url=f"/api/deploy/status/{deployment.id}",
        events_url=f"/api/deploy/status/{deployment.id}/events",
    )


def queue(ctx: ServiceContext, deployment: Deployment) -> DeployAccepted:
    """Defer the recorded deployment's job. Should this fail, the deployment stays queued without a
    job and a worker's janitor defers it later; the caller still gets its id."""
    try:
        job_id = defer_deployment(ctx.queue, deployment.app_id, deployment.id)
    except Exception:
        log.exception("deployment %s: deferring its job failed; a worker will pick it up", deployment.id)
    else:
        with ctx.connection() as conn:
            deployments.set_job(conn, deployment.id, job_id)
    return accepted(deployment)


def submit(ctx: ServiceContext, caller: Caller, spec: AppSpec, kind: Kind) -> DeployAccepted:
    if spec.owner not in ("local", caller.user_id):
        raise ApiError(
            403,
            "forbidden",
            "owner is another user",
            field="owner",
            fix="omit owner (the token's user owns the app) or set it to your own user id",
        )
    check_service_spec(spec)  # 422 on database.url: a BYO host must be public (no SSRF)
    refuse_foreign_dns(spec)  # before anything is recorded: a name with someone else's DNS record
    with ctx.connection() as conn:
        sub = load_subscription(conn, caller.user_id)
        # The subscription decides the tier, whatever the request says.
        spec = spec.model_copy(update={"owner": caller.user_id, "tier": sub.tier})
        uploads.check_references(conn, caller.user_id, spec)
        recorded = deployments.submit(conn, ctx.vault, sub, spec, kind)
    return queue(ctx, recorded)


def latest_spec(ctx: ServiceContext, caller: Caller, app_id: str) -> AppSpec:
    """The spec (with its secrets) of the user's live app as last requested; 404 when there is none."""
    with ctx.connection() as conn:
        deployments.app_row(conn, app_id, caller.user_id)  # 404 unless the live app is the caller's
        found = deployments.latest_request(conn, app_id)
    if found is None:
        raise not_found(f"a deploy of app {app_id!r}", "deploy the app first")
    return found.app_spec(ctx.vault, uploads=True)


def rebuild(spec: AppSpec, changes: dict[str, Any]) -> AppSpec:
    """`spec` with some public fields changed, validated again (paths, names) with its secrets."""
    data = spec.public_dict()
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    return AppSpec.from_public(data, spec.secret_values(), uploads=True)
