"""Typed client for the Turso Platform API (contract: ../shared/contracts/turso-platform-api.json)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import httpx

from core.http import VendorClient

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


@dataclass(frozen=True)
class Group:
    """A group: databases placed together in one primary location, sharing token keys."""

    name: str
    uuid: str
    primary: str
    locations: tuple[str, ...]

    @staticmethod
    def from_api(data: dict[str, Any]) -> Group:
        return Group(
            name=str(data["name"]),
            uuid=str(data.get("uuid", "")),
            primary=str(data.get("primary", "")),
            locations=tuple(str(location) for location in data.get("locations", [])),
        )


Authorization = Literal["full-access", "read-only"]


class TursoClient(VendorClient):
    """Platform API calls for one organization. The token is only ever sent as a header."""

    VENDOR = VENDOR

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
        super().__init__(api_token, base_url=base_url, timeout=timeout, retries=retries, transport=transport)
        self.org = org

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """An organization-scoped call; returns the decoded JSON body."""
        return self._send(method, f"/v1/organizations/{self.org}{path}", **kwargs).json()

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
        self, name: str, *, authorization: Authorization = "full-access", expiration: str = "never"
    ) -> str:
        """A database token (`expiration`: "never" or a duration such as "2w1d30m")."""
        params = {"authorization": authorization, "expiration": expiration}
        return str(self._call("POST", f"/databases/{name}/auth/tokens", params=params)["jwt"])

    def rotate_database_tokens(self, name: str) -> None:
        """Invalidate every token of the database; issue new ones afterwards."""
        self._send("POST", f"/v1/organizations/{self.org}/databases/{name}/auth/rotate")

    def list_groups(self) -> list[Group]:
        return [Group.from_api(item) for item in self._call("GET", "/groups")["groups"]]

    def create_group(self, name: str, location: str) -> Group:
        """A new group whose primary location is `location` (a code from `list_locations`)."""
        return Group.from_api(
            self._call("POST", "/groups", json={"name": name, "location": location})["group"]
        )

    def get_group(self, name: str) -> Group:
        return Group.from_api(self._call("GET", f"/groups/{name}")["group"])

    def delete_group(self, name: str) -> None:
        """Delete the group together with every database in it."""
        self._call("DELETE", f"/groups/{name}")

    def create_group_token(
        self, name: str, *, authorization: Authorization = "full-access", expiration: str = "never"
    ) -> str:
        """A token valid for every database in the group."""
        params = {"authorization": authorization, "expiration": expiration}
        return str(self._call("POST", f"/groups/{name}/auth/tokens", params=params)["jwt"])

    def rotate_group_tokens(self, name: str) -> None:
        """Invalidate the group's tokens and those of its databases."""
        self._send("POST", f"/v1/organizations/{self.org}/groups/{name}/auth/rotate")

    def list_locations(self) -> dict[str, str]:
        """Location codes (e.g. "aws-us-east-1") and their names."""
        locations = self._send("GET", "/v1/locations").json()["locations"]
        return {str(code): str(label) for code, label in locations.items()}
