"""Dynamic provider for one Turso database and its full-access token.

Credentials reach the provider only through the resource's (secret) inputs, never through the
provider object itself, because Pulumi stores the pickled provider in the stack's state.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import CreateResult, UpdateResult

from components.turso.client import Database, TursoClient
from components.vendor_provider import VendorProvider
from core.http import VendorConflict

# Inputs that identify the database: changing any of them means a different database.
IDENTITY = ("name", "group", "org", "api_url")
INPUTS = (*IDENTITY, "api_token")


def client_for(props: dict[str, Any]) -> TursoClient:
    return TursoClient(str(props["api_token"]), str(props["org"]), base_url=str(props["api_url"]))


def outputs(props: dict[str, Any], db: Database, auth_token: str) -> dict[str, Any]:
    return {
        **{key: props[key] for key in INPUTS},
        "name": db.name,
        "group": db.group,
        "db_id": db.db_id,
        "hostname": db.hostname,
        "primary_region": db.primary_region,
        "url": f"libsql://{db.hostname}",
        "auth_token": auth_token,
    }


class TursoDatabaseProvider(VendorProvider[TursoClient]):
    IDENTITY = IDENTITY
    IN_PLACE = ("api_token",)
    INPUTS = INPUTS
    STABLE = ("db_id", "hostname", "url")

    def client(self, props: dict[str, Any]) -> TursoClient:
        return client_for(props)

    def create(self, props: dict[str, Any]) -> CreateResult:
        name = str(props["name"])
        with self.client(props) as turso:
            try:
                db = turso.create_database(name, str(props["group"]))
            except VendorConflict:
                # Names are global in the org: one that exists may be another app's. Never take it over.
                raise VendorConflict(
                    "Turso",
                    409,
                    f"database.name: a Turso database named {name!r} already exists in this organization "
                    "and was not made by this deploy, so it is left alone; choose another name (or "
                    "delete that database first if it is this app's)",
                ) from None
            token = turso.create_database_token(db.name)
        return CreateResult(id_=db.name, outs=outputs(props, db, token))

    def observe(self, client: TursoClient, id_: str, props: dict[str, Any]) -> dict[str, Any]:
        db = client.get_database(id_)
        # No token recorded (a database adopted after an interrupted create): make one.
        token = str(props.get("auth_token") or "") or client.create_database_token(db.name)
        return outputs(props, db, token)

    def delete_first(self, replaces: list[str]) -> bool:
        # Same name in the same org: the old one must go before the new one can exist.
        return "name" not in replaces

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # Only the API token can change in place: keep the database, record the new token.
        return UpdateResult(outs={**olds, "api_token": news["api_token"]})

    def remove(self, client: TursoClient, id_: str, props: dict[str, Any]) -> None:
        client.delete_database(id_)
