"""Typed client for the Turso Platform API (contract: ../shared/contracts/turso-platform-api.json)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import httpx

from components.http import send

DEFAULT_API_URL = "https://api.turso.tech"
VENDOR = "Turso"


@dataclass(frozen=True)
class Database:
    name: str
    db_id: str
    hostname: str
    group: str
    primary_region: str

    @staticmethod
    def from_api(data: dict[str, Any]) -> Database:
        return Database(
            name=str(data["Name"]),
            db_id=str(data["DbId"]),
            hostname=str(data["Hostname"]),
            group=str(data.get("group", "")),
            primary_region=str(data.get("primaryRegion", "")),
        )


class TursoClient:
    """Platform API calls for one organization. The token is only ever sent as a header."""

    def __init__(
        self,
        api_token: str,
        org: str,
        *,
        base_url: str = DEFAULT_API_URL,
        timeout: float = 30.0,
        retries: int = 4,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.org = org
        self.retries = retries
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_token}", "User-Agent": "oneclick"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> TursoClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = send(
            self._http, VENDOR, method, f"/v1/organizations/{self.org}{path}", retries=self.retries, **kwargs
        )
        return response.json()

    def create_database(self, name: str, group: str) -> Database:
        body = self._call("POST", "/databases", json={"name": name, "group": group})["database"]
        # The create response carries only DbId/Hostname/Name; read back the rest.
        return self.get_database(str(body["Name"]))

    def get_database(self, name: str) -> Database:
        return Database.from_api(self._call("GET", f"/databases/{name}")["database"])

    def list_databases(self) -> list[Database]:
        return [Database.from_api(item) for item in self._call("GET", "/databases")["databases"]]

    def delete_database(self, name: str) -> None:
        self._call("DELETE", f"/databases/{name}")

    def create_database_token(
        self,
        name: str,
        *,
        authorization: Literal["full-access", "read-only"] = "full-access",
        expiration: str = "never",
    ) -> str:
        params = {"authorization": authorization, "expiration": expiration}
        return str(self._call("POST", f"/databases/{name}/auth/tokens", params=params)["jwt"])
