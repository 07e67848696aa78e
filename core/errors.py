"""The root of every error oneclick raises on purpose, and pydantic's complaints as `field: problem`.

An exception outside this tree is a bug (the CLI shows its traceback); one inside it is rendered once
per surface: the CLI prints `error: …` (cli/main.py), the deploy API answers JSON with `code`,
`field` and `fix` (service/api/app.py), the gateway answers in the vendor's own error shape.

    OneclickError
    ├── UserError                  the caller can fix it; `field` and `fix` say where and how
    │   ├── SpecError              the app spec (components/errors.py), one or more problems
    │   ├── FileRefused            a file a spec names (core/files.py); UploadError, ArchiveRefused
    │   ├── DatabaseError          dbtools: SchemaError, DataError, MigrationError, ImportRefused,
    │   │                          ConnectionFailed; ConversionError
    │   ├── TargetError            vendor credentials and targets (components/targets.py)
    │   ├── BuildFailed            web.source did not build (webbuild/errors.py): the step's lines
    │   ├── DnsConflictError, BuildChangedError, IconError, CredentialError
    │   └── MissingExtraError, ServiceCommandError, GatewayCommandError, GatewayConfigError,
    │       PricingError, BillingError, VaultConfigError
    ├── VendorError                a vendor API refused or failed (core/http.py): VendorAuthError,
    │                              VendorNotFound, VendorConflict, VendorUnavailable, NeonOperationError
    ├── DeployError                the engine failed (automation/workspace.py): StackNotFound,
    │                              StackLocked, UpdateStillRunning, NoApps
    ├── PostgresError, SandboxError, StoreError, ServiceMigrationError, JournalBusy,
    │   DecryptionError, CommandError, StatementFailed, LibsqlError
    ├── ApiError                   a deploy-API answer other than success (service/errors.py)
    ├── GatewayError               a gateway answer other than success (service/gateway/errors.py)
    └── signals between parts of the service: RetryLater, DeploymentFailed, AuthError,
        TierRefusal, BodyTooLarge, InvalidUsage, UpstreamConnectionError; Unfaithful (a drift check
        the engine must answer, automation/drift_direct.py)

Classes that were builtin errors keep that base too (`class SpecError(UserError, ValueError)`), so a
pydantic validator or an older `except ValueError` still sees them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Where FastAPI puts a request's parts in an error location; the user knows fields, not these.
_REQUEST_PARTS = frozenset({"body", "query", "path", "header"})


class OneclickError(Exception):
    """Raised on purpose by oneclick: its message is for the person who caused it."""


class UserError(OneclickError):
    """Something the caller can fix; `field` names the input and `fix` what to do, when known."""

    field: str | None = None
    fix: str | None = None

    def __init__(self, *args: object, field: str | None = None, fix: str | None = None) -> None:
        super().__init__(*args)
        if field is not None:
            self.field = field
        if fix is not None:
            self.fix = fix


def validation_problems(
    errors: Iterable[Mapping[str, Any]],
    *,
    noun: str,
    whole: str | None = None,
    drop: frozenset[str] = frozenset(),
    prefix: str = "",
) -> list[tuple[str, str]]:
    """pydantic's error items as (field, message with its fix). `noun` is what the user sent
    ("spec", "request"), `whole` the field named for the input as a whole (default `(noun)`);
    `drop` removes location parts the user never wrote (tagged-union branches)."""
    whole = whole or f"({noun})"
    problems = []
    for item in errors:
        loc = [str(part) for part in item.get("loc", ()) if str(part) not in drop]
        if loc and loc[0] in _REQUEST_PARTS:
            loc = loc[1:]
        field = ".".join(loc) or whole
        kind = str(item.get("type", ""))
        message = str(item.get("msg", "is invalid")).removeprefix("Value error, ")
        if kind == "missing":
            message = f"is required; add it to the {noun}"
        elif kind == "extra_forbidden":
            message = "is not a known field; remove it or check its spelling"
        elif kind == "json_invalid":
            field = whole  # its location is a character offset, not a field
            message = "is not valid JSON; send a JSON object (Content-Type: application/json)"
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            ctx = item.get("ctx") or {}
            field += ".provider"
            message = f"must be one of {ctx.get('expected_tags', '')} (got {ctx.get('tag', 'nothing')!r})"
        problems.append((prefix + field, message))
    return problems
