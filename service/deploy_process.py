"""The child process one deploy runs in: `python -m service.deploy_process DEPLOYMENT_ID OUTCOME_FILE`.

Started by the worker (service/isolation.py) with the database URL and vault keys in its
environment. It confines itself first (memory cap, dies with its worker), runs the deployment
(service/runner.py `deploy_recorded`, which records success itself) and writes how it ended.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from core.settings import settings
from service.isolation import DeployLimits, Outcome, confine, write_outcome


def main(argv: list[str]) -> int:
    deployment_id, outcome_file = argv[1], Path(argv[2])
    confine(DeployLimits.from_env().memory_bytes)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    from service import deployments
    from service.runner import WorkerRuntime, classify, deploy_recorded
    from service.store import open_pool
    from service.vault import Vault

    conninfo = settings().service.database_url
    if not conninfo:
        raise SystemExit("ONECLICK_SERVICE_DATABASE_URL is not set: a worker starts this process with it")
    outcome = Outcome("succeeded")
    try:
        pool = open_pool(conninfo, max_size=2, name="oneclick-deploy")
        try:
            runtime = WorkerRuntime(pool, Vault.from_env(), conninfo=conninfo)
            with runtime.connection() as conn:
                found = deployments.get(conn, deployment_id)
                if found is None:
                    raise LookupError(f"deployment {deployment_id} is not recorded")
                deploy_recorded(runtime, conn, found)
        finally:
            pool.close()
    except Exception as exc:  # MemoryError included: the cap was reached
        outcome = classify(exc)
        if outcome.kind == "internal":
            logging.getLogger("oneclick.service.deploy").exception("deployment %s failed", deployment_id)
    write_outcome(outcome_file, outcome)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
