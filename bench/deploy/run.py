"""bench/deploy: a full one-click deploy of the example app against the same work done by hand.

In one run, on this machine, into a private sandbox:
  full    `automation.deploy(spec)` of the example app (database, schema, preview data, site with
          48 files, env vars, health check) through the real Pulumi engine, into a new stack;
  noop    the same deploy again with nothing changed;
  direct  the same provisioning by calling the clients directly (Turso database + token,
          migrations, preview import, Pages project with env vars, upload, health check).
Each is repeated (--runs, default 3) and the medians are reported. The last line is:
  deploy: full_s=<median> noop_s=<median> direct_s=<median> overhead_ratio=<full/direct>
Run: .venv/bin/python bench/deploy/run.py [--runs N]
"""

from __future__ import annotations

import functools
import secrets
import shutil
import statistics
import sys
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.private import REPO, arguments, forget_stacks, private_state, timed, tools_on_path

STATE = private_state("deploy")

from automation import operations  # noqa: E402
from automation.health import check_health  # noqa: E402
from components.cloudflare.client import CloudflareClient  # noqa: E402
from components.cloudflare.models import EnvVar  # noqa: E402
from components.spec import AppSpec  # noqa: E402
from components.turso.client import TursoClient  # noqa: E402
from dbtools.connection import connect  # noqa: E402
from dbtools.importer import import_preview  # noqa: E402
from dbtools.migrations import migrate  # noqa: E402
from dbtools.prisma_schema import load_schema  # noqa: E402
from sandbox import server  # noqa: E402
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID, TURSO_ORG, SandboxEndpoint, sandbox_dir  # noqa: E402

SPEC = REPO / "stacks" / "static-example.yaml"  # the static site: no build in the measured deploy


def direct(sandbox: SandboxEndpoint, spec: AppSpec, name: str) -> None:
    """What the stack makes, done with the clients alone."""
    database = spec.database
    assert database.prisma_schema is not None
    assert database.preview_data is not None
    assert spec.web is not None
    assert spec.web.build_dir is not None  # the static example: a built site, no source
    with TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url) as turso:
        db = turso.create_database(name, "default")
        token = turso.create_database_token(name)
    url = f"libsql://{db.hostname}"
    schema = load_schema(database.prisma_schema)
    executor = connect(url, token)
    try:
        migrate(executor, schema, database.migrations)
        import_preview(executor, schema, database.preview_data)
    finally:
        executor.close()
    env = {
        **{k: EnvVar.plain(v) for k, v in spec.web.env.items()},
        "TURSO_DATABASE_URL": EnvVar.secret(url),
        "TURSO_AUTH_TOKEN": EnvVar.secret(token),
        "NEXTAUTH_SECRET": EnvVar.secret(secrets.token_urlsafe(32)),
    }
    with CloudflareClient(
        sandbox.api_token, CLOUDFLARE_ACCOUNT_ID, base_url=f"{sandbox.url}/client/v4"
    ) as cf:
        project = cf.create_project(name, env_vars=env)
        cf.deploy_directory(name, spec.web.build_dir)
    report = check_health(
        site_url=f"http://{project.subdomain}:{urlsplit(sandbox.url).port}",
        database_provider="turso",
        database_url=url,
        database_auth_token=token,
    )
    assert report.healthy, report.summary


def cleanup_direct(sandbox: SandboxEndpoint, name: str) -> None:
    with TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url) as turso:
        turso.delete_database(name)
    with CloudflareClient(
        sandbox.api_token, CLOUDFLARE_ACCOUNT_ID, base_url=f"{sandbox.url}/client/v4"
    ) as cf:
        cf.delete_project(name)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each measurement")
    args = parser.parse_args()
    tools_on_path()
    sandbox = server.start(sandbox_dir(), port=0)
    template = AppSpec.load(SPEC)
    full: list[float] = []
    noop: list[float] = []
    manual: list[float] = []
    try:
        for run in range(args.runs):
            app = f"bench-{run}-{secrets.token_hex(3)}"
            spec = template.model_copy(update={"id": app})
            full.append(timed(functools.partial(operations.deploy, spec)))
            noop.append(timed(functools.partial(operations.deploy, spec)))
            operations.destroy(app)
            forget_stacks([app])
            name = f"direct-{run}-{secrets.token_hex(3)}"
            manual.append(timed(functools.partial(direct, sandbox, template, name)))
            cleanup_direct(sandbox, name)
            print(
                f"run {run + 1}: full {full[-1]:.2f}s  noop {noop[-1]:.2f}s  direct {manual[-1]:.2f}s",
                flush=True,
            )
    finally:
        server.stop(sandbox_dir())
        shutil.rmtree(STATE, ignore_errors=True)
    full_s, noop_s, direct_s = (statistics.median(v) for v in (full, noop, manual))
    print(
        f"deploy: full_s={full_s:.2f} noop_s={noop_s:.2f} direct_s={direct_s:.2f} "
        f"overhead_ratio={full_s / direct_s:.2f}"
    )


if __name__ == "__main__":
    main()
