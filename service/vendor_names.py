"""Vendor names in the deploy service: an app's Turso database and Pages project are named after its id.

Names in a vendor account are global: any name a tenant could choose freely, another tenant could
take first, or take once its owner destroyed the app, and recovery after a killed deploy would then
find someone else's resource under it. The service gives an app id to one user forever (a
`deployed_apps` row is never deleted nor handed to another user), so the names derived from it
(`owned_vendor_name`) are that user's alone, and `automation.recover` adopts nothing else. A spec
asking for another name is refused before anything is recorded.
"""

from __future__ import annotations

from components.errors import SpecError
from components.spec import AppSpec, TursoDatabaseSpec, owned_vendor_name
from service.errors import ApiError


def foreign_names(spec: AppSpec) -> list[tuple[str, str]]:
    """(field, name) for each vendor name the spec asks for that is not derived from its app id."""
    owned = owned_vendor_name(spec.id)
    found: list[tuple[str, str]] = []
    if isinstance(spec.database, TursoDatabaseSpec) and spec.database.name not in (None, owned):
        found.append(("database.name", spec.database.name))
    if spec.web is not None and spec.web.project_name not in (None, owned):
        found.append(("web.projectName", spec.web.project_name))
    return found


def _problem(spec: AppSpec, field: str, name: str) -> tuple[str, str]:
    return field, (
        f"{name!r} is not app {spec.id!r}'s own name: the service names an app's vendor resources "
        f"after its id, so that no app can take another's"
    )


def _fix(spec: AppSpec, field: str) -> str:
    return (
        f"omit {field} (the name is {owned_vendor_name(spec.id)!r}), or deploy under the app id "
        "you want the name to be"
    )


def check_vendor_names(spec: AppSpec) -> None:
    """Refuse (422, naming the field and the fix) a spec that names its vendor resources itself."""
    found = foreign_names(spec)
    if not found:
        return
    problems = [_problem(spec, field, name) for field, name in found]
    field, message = problems[0]
    raise ApiError(
        422, "invalid", f"{field}: {message}", field=field, fix=_fix(spec, field), problems=problems
    )


def spec_error(spec: AppSpec) -> SpecError | None:
    """The same refusal for a worker, about a deployment recorded before the rule existed."""
    found = foreign_names(spec)
    if not found:
        return None
    return SpecError(
        (field, f"{message}; {_fix(spec, field)}")
        for field, message in (_problem(spec, field, name) for field, name in found)
    )
