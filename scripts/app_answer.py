"""After ./scripts/run deploys a spec: its URL, and its API answering from the database.

Usage: python scripts/app_answer.py SPEC [PATH]   (PATH defaults to /api/products)
Prints the deployed URL, then one line such as `GET /api/products → 8 rows (from the app's Turso
database)`; a static site gets the URL only. Exits non-zero when the app does not answer.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from automation import operations  # noqa: E402
from components.spec import AppSpec  # noqa: E402
from core.localhost import LoopbackTransport  # noqa: E402


def rows(body: Any) -> int | None:
    """How many rows a list route answered: a JSON list, or the first list in a JSON object."""
    if isinstance(body, list):
        return len(body)
    if isinstance(body, dict):
        lists = [value for value in body.values() if isinstance(value, list)]
        return len(lists[0]) if lists else None
    return None


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    spec = AppSpec.load(Path(sys.argv[1]))
    path = sys.argv[2] if len(sys.argv) == 3 else "/api/products"
    values = operations.outputs(spec.id)
    url = str(values.get("url", ""))
    print(f"URL: {url}")
    if "healthPath" not in values:
        return 0  # a static site: nothing answers from the database but oneclick's own check
    with httpx.Client(transport=LoopbackTransport(), timeout=30) as http:
        response = http.get(url + path)
    count = (
        rows(response.json())
        if response.headers.get("content-type", "").startswith("application/json")
        else None
    )
    if response.status_code != 200 or count is None:
        print(f"GET {path} → {response.status_code}: {response.text[:300]}", file=sys.stderr)
        return 1
    provider = values.get("databaseProvider", "")
    print(f"GET {path} → {count} rows (served by the app's server half from its {provider} database)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
