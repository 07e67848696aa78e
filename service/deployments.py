"""Deployments in PostgreSQL: requested, queued, attempted, their steps and events, and the apps.

Every deploy, success or failure, leaves a `deployments` row (the history), its steps as last
reported, an ordered event log (what the progress stream replays), and the app's `deployed_apps`
row with its status and encrypted database URL. Nothing here runs a deploy: see service/runner.py.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from automation.operations import step_keys
from automation.steps import STEP_TITLES
from components.spec import AppSpec
from service.domains import domain_race
from service.errors import ApiError, not_found
from service.tiers import Subscription, check_spec
from service.vault import Binding, Vault
from service.vendor_names import check_vendor_names

Kind = Literal["web", "database", "migrate-data", "domain", "destroy", "desktop", "ios", "android"]
# Builds of the native wrappers of a live web app: they change neither the site nor the app's status.
NATIVE_KINDS = frozenset({"desktop", "ios", "android"})
NATIVE_SECRET = "native:"  # noqa: S105 - a prefix, not a secret: of a native build's store credentials among its secrets
AppStatus = Literal["provisioning", "deploying", "active", "failed", "suspended"]
TERMINAL = frozenset({"succeeded", "failed"})
# Outputs too long for a status answer; the stack keeps them (`oneclick outputs APP --json`).
BULKY_OUTPUTS = frozenset({"prismaSchema", "domainDnsInstructions"})


@dataclass(frozen=True)
class Deployment:
    id: str
    app_id: str
    user_id: str
    kind: str
    status: str
    spec: dict[str, Any]
    secrets_encrypted: bytes | None
    job_id: int | None
    attempts: int
    worker: str | None
    worker_host: str | None
    attempt_started_at: datetime | None
    outputs: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def from_row(row: dict[str, Any]) -> Deployment:
        return Deployment(
            id=str(row["id"]),
            app_id=row["app_id"],
            user_id=row["user_id"],
            kind=row["kind"],
            status=row["status"],
            spec=row["spec"],
            secrets_encrypted=None if row["secrets_encrypted"] is None else bytes(row["secrets_encrypted"]),
            job_id=row["job_id"],
            attempts=row["attempts"],
            worker=row["worker"],
            worker_host=row["worker_host"],
            attempt_started_at=row["attempt_started_at"],
            outputs=row["outputs"],
            error=row["error"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
        )

    def secrets(self, vault: Vault) -> dict[str, str]:
        if self.secrets_encrypted is None:
            return {}
        plain = vault.decrypt(self.secrets_encrypted, Binding("deployments", self.id, "secrets_encrypted"))
        values: dict[str, str] = json.loads(plain)
        return values

    def app_spec(self, vault: Vault, *, uploads: bool) -> AppSpec:
        """The requested spec with its secrets; with `uploads`, file fields must be upload references."""
        return AppSpec.from_public(self.spec, self.secrets(vault), uploads=uploads)


_COLUMNS = (
    "id, app_id, user_id, kind, status, spec, secrets_encrypted, job_id, attempts, worker, worker_host, "
    "attempt_started_at, outputs, error, created_at, started_at, finished_at"
)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# -- submitting --------------------------------------------------------------------------------


def _owned_app(
    conn: psycopg.Connection, app_id: str, user_id: str, *, existing: bool = False
) -> dict[str, Any] | None:
    """The user's app row (locked), None when the id is free; another user's id is refused.

    Acting on an `existing` app, another user's answers exactly like an unknown one (404), so the
    answer does not tell whether an app id is in use; claiming an id that is taken cannot hide it.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT app_id, user_id, status, destroyed_at, config, platform FROM deployed_apps "
            "WHERE app_id = %s FOR UPDATE",
            [app_id],
        ).fetchone()
    if row is not None and row["user_id"] != user_id and existing:
        raise not_found(f"app {app_id!r}", "check the app id; it may be destroyed already")
    if row is not None and row["user_id"] != user_id:
        raise ApiError(
            403,
            "forbidden",
            f"app {app_id!r} belongs to another user",
            field="id",
            fix="choose another app id",
        )
    return row


def _insert_deployment(
    conn: psycopg.Connection, vault: Vault, user_id: str, spec: AppSpec, kind: Kind, secrets: dict[str, str]
) -> str:
    """Record a deployment of `spec` (its public part; `secrets` sealed to the new row): its id."""
    deployment_id = str(uuid.uuid4())
    envelope = _sealed(vault, deployment_id, secrets)
    conn.execute(
        "INSERT INTO deployments (id, app_id, user_id, kind, spec, secrets_encrypted) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        [deployment_id, spec.id, user_id, kind, Jsonb(spec.public_dict()), envelope],
    )
    return deployment_id


def submit(
    conn: psycopg.Connection, vault: Vault, sub: Subscription, spec: AppSpec, kind: Kind
) -> Deployment:
    """Check the plan's limits and record a queued deployment of `spec` (the caller defers its job).

    One transaction per user at a time (an advisory lock), so two requests cannot both take the
    last free app slot.
    """
    with domain_race(spec.custom_domain), conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('oneclick-deploy-user:' || %s))", [sub.user_id])
        app = _owned_app(conn, spec.id, sub.user_id)
        if app is not None and app["status"] == "suspended" and app["destroyed_at"] is None:
            raise ApiError(
                403,
                "suspended",
                f"app {spec.id!r} is suspended",
                field="id",
                fix="settle the account's open invoices or contact support to lift the suspension",
            )
        check_vendor_names(spec)  # names derived from the app id only: no squatting
        check_spec(conn, sub, spec)
        if spec.custom_domain:
            taken = conn.execute(
                "SELECT 1 FROM deployed_apps WHERE custom_domain = %s AND app_id <> %s "
                "AND destroyed_at IS NULL",
                [spec.custom_domain, spec.id],
            ).fetchone()
            if taken:
                raise ApiError(
                    409,
                    "conflict",
                    f"{spec.custom_domain} is already the custom domain of another app",
                    field="customDomain",
                    fix="choose another domain, or remove it from the other app first",
                )
        deployment_id = _insert_deployment(conn, vault, sub.user_id, spec, kind, spec.secret_values())
        platform = "web" if spec.web is not None else "database"
        conn.execute(
            "INSERT INTO deployed_apps (app_id, user_id, name, platform, status, custom_domain, "
            "database_provider, hosting_provider, tier, config) "
            "VALUES (%(app)s, %(user)s, %(name)s, %(platform)s, 'provisioning', %(domain)s, %(db)s, "
            "%(hosting)s, %(tier)s, %(config)s) "
            "ON CONFLICT (app_id) DO UPDATE SET status = 'provisioning', name = EXCLUDED.name, "
            "platform = EXCLUDED.platform, custom_domain = EXCLUDED.custom_domain, "
            "database_provider = EXCLUDED.database_provider, hosting_provider = EXCLUDED.hosting_provider, "
            "tier = EXCLUDED.tier, config = EXCLUDED.config, destroyed_at = NULL, updated_at = now()",
            {
                "app": spec.id,
                "user": sub.user_id,
                "name": spec.name or spec.id,
                "platform": platform,
                "domain": spec.custom_domain,
                "db": spec.database.provider,
                "hosting": "cloudflare" if spec.web is not None else None,
                "tier": sub.tier,
                "config": Jsonb(spec.public_dict()),
            },
        )
        steps = [(key, STEP_TITLES[key]) for key in STEP_TITLES if key in step_keys(spec)]
        _queue_steps(conn, deployment_id, kind, spec.id, steps)
    return _recorded(conn, deployment_id)


def submit_destroy(conn: psycopg.Connection, user_id: str, app_id: str) -> Deployment:
    """Record a queued destroy of the user's app (its stack, every resource)."""
    with conn.transaction():
        app = _owned_app(conn, app_id, user_id, existing=True)
        if app is None or app["destroyed_at"] is not None:
            raise not_found(f"app {app_id!r}", "check the app id; it may be destroyed already")
        deployment_id = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO deployments (id, app_id, user_id, kind, spec) VALUES (%s, %s, %s, 'destroy', %s)",
            [deployment_id, app_id, user_id, Jsonb({"id": app_id})],
        )
        _queue_steps(conn, deployment_id, "destroy", app_id, [("destroy", "Resources deleted")])
    return _recorded(conn, deployment_id)


def submit_native(
    conn: psycopg.Connection,
    vault: Vault,
    user_id: str,
    spec: AppSpec,
    kind: Kind,
    steps: list[tuple[str, str]],
    credentials: dict[str, str],
) -> Deployment:
    """Record a queued native build (desktop, ios, android) of the user's live web app.

    The app must be deployed with a site already: the native apps wrap its URL."""
    with conn.transaction():
        app = _owned_app(conn, spec.id, user_id, existing=True)
        if app is None or app["destroyed_at"] is not None:
            raise not_found(f"app {spec.id!r}", "deploy it with POST /api/deploy/web first")
        if app["platform"] != "web" or deployed_url(conn, spec.id) is None:
            raise ApiError(
                409,
                "conflict",
                f"app {spec.id!r} has no deployed site for a {kind} build to wrap",
                field="id",
                fix="deploy the site with POST /api/deploy/web and wait for it to succeed",
            )
        # The store credentials ride with the spec's secrets, under names no spec reference uses.
        secrets = {**spec.secret_values(), **{NATIVE_SECRET + k: v for k, v in credentials.items()}}
        deployment_id = _insert_deployment(conn, vault, user_id, spec, kind, secrets)
        _queue_steps(conn, deployment_id, kind, spec.id, steps)
    return _recorded(conn, deployment_id)


def deployed_url(conn: psycopg.Connection, app_id: str) -> str | None:
    """The live app's site URL as its last successful deploy recorded it."""
    row = conn.execute(
        "SELECT deployment_url FROM deployed_apps WHERE app_id = %s AND destroyed_at IS NULL", [app_id]
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def set_job(conn: psycopg.Connection, deployment_id: str, job_id: int) -> None:
    conn.execute("UPDATE deployments SET job_id = %s WHERE id = %s", [job_id, deployment_id])


def unqueued(conn: psycopg.Connection, older_than_seconds: float) -> list[Deployment]:
    """Queued deployments whose job was never deferred (the API stopped in between)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT {_COLUMNS} FROM deployments WHERE status = 'queued' AND job_id IS NULL "  # noqa: S608
            "AND created_at < now() - make_interval(secs => %s) ORDER BY created_at LIMIT 100",
            [older_than_seconds],
        ).fetchall()
    return [Deployment.from_row(row) for row in rows]


# -- running -----------------------------------------------------------------------------------


def add_event(conn: psycopg.Connection, deployment_id: str, kind: str, payload: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO deployment_events (deployment_id, kind, payload) VALUES (%s, %s, %s)",
        [deployment_id, kind, Jsonb(payload)],
    )


def start_attempt(conn: psycopg.Connection, deployment_id: str, worker: str, host: str) -> Deployment:
    """Mark an attempt started by `worker`; returns the deployment as it was before (the previous
    attempt's worker and start time tell a retry what its predecessor may have left behind)."""
    before = get(conn, deployment_id)
    if before is None:
        raise LookupError(f"deployment {deployment_id} is not recorded")
    with conn.transaction():
        conn.execute(
            "UPDATE deployments SET status = 'running', attempts = attempts + 1, worker = %s, "
            "worker_host = %s, attempt_started_at = now(), started_at = coalesce(started_at, now()), "
            "error = NULL WHERE id = %s",
            [worker, host, deployment_id],
        )
        if before.kind != "destroy" and before.kind not in NATIVE_KINDS:  # a native build leaves the site be
            set_app_status(conn, before.app_id, "provisioning")
        add_event(
            conn,
            deployment_id,
            "started",
            {"status": "running", "attempt": before.attempts + 1, "worker": worker},
        )
    return before


def set_app_status(conn: psycopg.Connection, app_id: str, status: AppStatus) -> None:
    conn.execute(
        "UPDATE deployed_apps SET status = %s, updated_at = now() "
        "WHERE app_id = %s AND status <> 'suspended'",
        [status, app_id],
    )


def record_steps(conn: psycopg.Connection, deployment_id: str, steps: list[dict[str, Any]]) -> None:
    """The latest step states (DeployStatus.as_dict()["steps"]) and one `steps` event."""
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO deployment_steps (deployment_id, position, key, title, state, "
                "elapsed_seconds, detail) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (deployment_id, key) DO UPDATE SET state = EXCLUDED.state, "
                "elapsed_seconds = EXCLUDED.elapsed_seconds, detail = EXCLUDED.detail, "
                "position = EXCLUDED.position, updated_at = now()",
                [
                    (deployment_id, n, s["key"], s["title"], s["state"], s["elapsedSeconds"], s["detail"])
                    for n, s in enumerate(steps)
                ],
            )
        add_event(conn, deployment_id, "steps", {"steps": steps})


def finish(
    conn: psycopg.Connection,
    deployment: Deployment,
    *,
    ok: bool,
    outputs: dict[str, Any] | None = None,
    changes: dict[str, int] | None = None,
    error: str | None = None,
) -> None:
    outputs = {k: v for k, v in (outputs or {}).items() if k not in BULKY_OUTPUTS}
    status = "succeeded" if ok else "failed"
    with conn.transaction():
        conn.execute(
            "UPDATE deployments SET status = %s, outputs = %s, changes = %s, error = %s, finished_at = now() "
            "WHERE id = %s",
            [status, Jsonb(outputs), Jsonb(changes or {}), error, deployment.id],
        )
        if not ok and deployment.kind != "destroy" and deployment.kind not in NATIVE_KINDS:
            set_app_status(conn, deployment.app_id, "failed")
        add_event(conn, deployment.id, "finished", {"status": status, "error": error, "outputs": outputs})


def requeue(conn: psycopg.Connection, deployment_id: str, error: str) -> None:
    """An attempt failed in a way worth retrying: back to queued, saying why."""
    with conn.transaction():
        conn.execute(
            "UPDATE deployments SET status = 'queued', error = %s WHERE id = %s", [error, deployment_id]
        )
        add_event(conn, deployment_id, "queued", {"status": "queued", "retrying": True, "error": error})


def app_deployed(
    conn: psycopg.Connection, vault: Vault, deployment: Deployment, outputs: dict[str, Any], database_url: str
) -> None:
    """A successful deploy: the app is active, with its URL and its (encrypted) database URL."""
    with conn.transaction():
        row = conn.execute(
            "SELECT id::text FROM deployed_apps WHERE app_id = %s", [deployment.app_id]
        ).fetchone()
        if row is None:
            return
        envelope = vault.encrypt(database_url, Binding("deployed_apps", row[0], "database_url_encrypted"))
        conn.execute(
            "UPDATE deployed_apps SET status = CASE WHEN status = 'suspended' THEN status ELSE 'active' END, "
            "deployment_url = %s, custom_domain = %s, database_provider = %s, database_id = %s, "
            "database_url_encrypted = %s, hosting_project_id = %s, last_deployed_at = now(), "
            "updated_at = now() WHERE id = %s",
            [
                outputs.get("url"),
                outputs.get("customDomain"),
                outputs.get("databaseProvider"),
                outputs.get("databaseName"),
                envelope,
                outputs.get("pagesProject"),
                row[0],
            ],
        )


def app_destroyed(conn: psycopg.Connection, app_id: str) -> None:
    conn.execute(
        "UPDATE deployed_apps SET destroyed_at = now(), deployment_url = NULL, custom_domain = NULL, "
        "database_url_encrypted = NULL, database_id = NULL, updated_at = now() WHERE app_id = %s",
        [app_id],
    )


# -- reading -----------------------------------------------------------------------------------


def get(conn: psycopg.Connection, deployment_id: str) -> Deployment | None:
    try:
        uuid.UUID(deployment_id)
    except ValueError:
        return None
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM deployments WHERE id = %s", [deployment_id]).fetchone()  # noqa: S608
    return None if row is None else Deployment.from_row(row)


def latest_for_app(conn: psycopg.Connection, app_id: str) -> Deployment | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {_COLUMNS} FROM deployments WHERE app_id = %s ORDER BY created_at DESC LIMIT 1",  # noqa: S608
            [app_id],
        ).fetchone()
    return None if row is None else Deployment.from_row(row)


def latest_request(conn: psycopg.Connection, app_id: str) -> Deployment | None:
    """The app's latest deployment that is not a destroy: the spec it was last asked to run."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {_COLUMNS} FROM deployments WHERE app_id = %s AND kind <> 'destroy' "  # noqa: S608
            "ORDER BY created_at DESC LIMIT 1",
            [app_id],
        ).fetchone()
    return None if row is None else Deployment.from_row(row)


def find_for_user(conn: psycopg.Connection, ref: str, user_id: str) -> Deployment:
    """A deployment by id, or an app id's latest deployment; 404 unless it is the user's own."""
    found = get(conn, ref) or latest_for_app(conn, ref)
    if found is None or found.user_id != user_id:
        raise not_found(f"deployment {ref!r}", "use the deploymentId a deploy request returned, or an app id")
    return found


def steps(conn: psycopg.Connection, deployment_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT key, title, state, elapsed_seconds, detail FROM deployment_steps WHERE deployment_id = %s "
        "ORDER BY position",
        [deployment_id],
    ).fetchall()
    return [
        {"key": k, "title": t, "state": s, "elapsedSeconds": float(e), "detail": d} for k, t, s, e, d in rows
    ]


def app_status(conn: psycopg.Connection, app_id: str) -> str | None:
    row = conn.execute("SELECT status FROM deployed_apps WHERE app_id = %s", [app_id]).fetchone()
    return None if row is None else str(row[0])


def describe(conn: psycopg.Connection, deployment: Deployment) -> dict[str, Any]:
    """The status answer: the plan's Deployment Status screen as JSON."""
    return {
        "deploymentId": deployment.id,
        "appId": deployment.app_id,
        "kind": deployment.kind,
        "status": deployment.status,
        "appStatus": app_status(conn, deployment.app_id),
        "attempts": deployment.attempts,
        "createdAt": _iso(deployment.created_at),
        "startedAt": _iso(deployment.started_at),
        "finishedAt": _iso(deployment.finished_at),
        "error": deployment.error,
        "url": (deployment.outputs or {}).get("url"),
        "outputs": deployment.outputs or {},
        "steps": steps(conn, deployment.id),
    }


def history(conn: psycopg.Connection, user_id: str, app_id: str | None, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id::text, app_id, kind, status, attempts, error, created_at, finished_at, "
        "outputs->>'url' FROM deployments WHERE user_id = %s AND (%s::text IS NULL OR app_id = %s) "
        "ORDER BY created_at DESC, id LIMIT %s",
        [user_id, app_id, app_id, limit],
    ).fetchall()
    return [
        {
            "deploymentId": r[0],
            "appId": r[1],
            "kind": r[2],
            "status": r[3],
            "attempts": r[4],
            "error": r[5],
            "createdAt": _iso(r[6]),
            "finishedAt": _iso(r[7]),
            "url": r[8],
        }
        for r in rows
    ]


def events_after(
    conn: psycopg.Connection, deployment_id: str, after: int, limit: int = 200
) -> list[tuple[int, str, dict[str, Any]]]:
    rows = conn.execute(
        "SELECT id, kind, payload FROM deployment_events WHERE deployment_id = %s AND id > %s "
        "ORDER BY id LIMIT %s",
        [deployment_id, after, limit],
    ).fetchall()
    return [(int(i), str(k), p) for i, k, p in rows]


def user_apps(conn: psycopg.Connection, user_id: str, provider: str | None = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT id::text, app_id, platform, status, deployment_url, custom_domain, database_provider, "
            "database_id, hosting_project_id, config FROM deployed_apps WHERE user_id = %s "
            "AND destroyed_at IS NULL AND (%s::text IS NULL OR database_provider = %s) ORDER BY app_id",
            [user_id, provider, provider],
        ).fetchall()


def live_platform(conn: psycopg.Connection, app_id: str) -> str | None:
    """The platform (web, database) of the live app with this id, whoever owns it; None when none."""
    row = conn.execute(
        "SELECT platform FROM deployed_apps WHERE app_id = %s AND destroyed_at IS NULL", [app_id]
    ).fetchone()
    return None if row is None else str(row[0])


def domain_owner(conn: psycopg.Connection, domain: str) -> str | None:
    """The user whose live app has `domain` as its custom domain; None when it is free."""
    row = conn.execute(
        "SELECT user_id FROM deployed_apps WHERE custom_domain = %s AND destroyed_at IS NULL", [domain]
    ).fetchone()
    return None if row is None else str(row[0])


def app_row(conn: psycopg.Connection, app_id: str, user_id: str) -> dict[str, Any]:
    """The user's live app, or 404."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT id::text, app_id, user_id, platform, status, config, custom_domain, database_provider, "
            "database_id FROM deployed_apps WHERE app_id = %s AND destroyed_at IS NULL",
            [app_id],
        ).fetchone()
    if row is None or row["user_id"] != user_id:
        raise not_found(f"app {app_id!r}", "deploy it first, or check the app id")
    return row


def _sealed(vault: Vault, deployment_id: str, secrets: dict[str, str]) -> bytes | None:
    """A deployment's secret values encrypted for its row (None when it has none)."""
    if not secrets:
        return None
    return vault.encrypt(json.dumps(secrets), Binding("deployments", deployment_id, "secrets_encrypted"))


def _queue_steps(
    conn: psycopg.Connection, deployment_id: str, kind: str, app_id: str, steps: list[tuple[str, str]]
) -> None:
    """The deployment's steps, all pending, and its `queued` event."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO deployment_steps (deployment_id, position, key, title, state) "
            "VALUES (%s, %s, %s, %s, 'pending')",
            [(deployment_id, n, key, title) for n, (key, title) in enumerate(steps)],
        )
    add_event(conn, deployment_id, "queued", {"status": "queued", "kind": kind, "app": app_id})


def _recorded(conn: psycopg.Connection, deployment_id: str) -> Deployment:
    found = get(conn, deployment_id)
    assert found is not None  # just written in a committed transaction
    return found
