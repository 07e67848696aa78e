"""The API's request and answer bodies (camelCase on the wire) and the error body every route documents."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="forbid")


class DeployAccepted(CamelModel):
    deployment_id: str
    app_id: str
    kind: str
    status: str = "queued"
    status_url: str
    events_url: str


class StepState(CamelModel):
    key: str
    title: str
    state: Literal["pending", "running", "done", "failed", "skipped"]
    elapsed_seconds: float
    detail: str


class DeploymentStatus(CamelModel):
    deployment_id: str
    app_id: str
    kind: str
    status: Literal["queued", "running", "succeeded", "failed"]
    app_status: str | None
    attempts: int
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    error: str | None
    url: str | None
    outputs: dict[str, Any]
    steps: list[StepState]


class HistoryEntry(CamelModel):
    deployment_id: str
    app_id: str
    kind: str
    status: str
    attempts: int
    error: str | None
    created_at: str | None
    finished_at: str | None
    url: str | None


class History(CamelModel):
    deployments: list[HistoryEntry]


class AppEntry(CamelModel):
    app_id: str
    platform: str
    status: str
    url: str | None
    custom_domain: str | None
    database_provider: str | None


class Apps(CamelModel):
    apps: list[AppEntry]


class MigrateDataRequest(CamelModel):
    app_id: str = Field(description="The app whose production database receives the data.")
    preview_data: str = Field(
        max_length=80,
        description="The browser's SQLite export (a .sql dump or a .sqlite file) as an upload reference, "
        "`upload:<sha256>` from POST /api/uploads.",
    )


class NativeBuildRequest(CamelModel):
    app_id: str = Field(
        description="The deployed web app whose native app is built (its spec as last deployed)."
    )
    credentials: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Store and cloud-build credentials by variable name: EXPO_TOKEN, ASC_KEY_ID, "
        "ASC_ISSUER_ID, ASC_KEY_P8 (the .p8 text), PLAY_SERVICE_ACCOUNT_JSON. Checked for shape, kept "
        "encrypted with the deployment, given to the build only through its environment.",
    )


class UploadInfo(CamelModel):
    upload: str = Field(description="The reference to put in a spec's file field: upload:<sha256>.")
    sha256: str
    kind: Literal["archive", "file"]
    name: str
    size: int
    files: int
    unpacked_bytes: int


class DomainCheckRequest(CamelModel):
    domain: str = Field(description="e.g. shop.example.com")


class DomainCheck(CamelModel):
    domain: str
    available: bool
    reason: str
    zone: str | None
    allowed_by_tier: bool


class DomainConfigureRequest(CamelModel):
    app_id: str
    domain: str


class TursoDatabase(CamelModel):
    id: str
    app_id: str
    hostname: str | None
    group: str | None
    region: str | None
    status: Literal["active", "missing"]


class TursoDatabases(CamelModel):
    databases: list[TursoDatabase]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None
    fix: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (401, 402, 403, 404, 409, 422, 502, 503)
}
