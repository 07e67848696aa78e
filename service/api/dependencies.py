"""What routes declare in their signatures: the service context (`Ctx`), the caller (`Auth`), a spec body."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from components.spec import AppSpec
from service.api.context import ServiceContext
from service.auth import AuthError, Caller, authenticate
from service.errors import ApiError

bearer = HTTPBearer(auto_error=False, description="A per-user API token (`oneclick service token`).")


def get_context(request: Request) -> ServiceContext:
    ctx = request.app.state.ctx
    assert isinstance(ctx, ServiceContext)
    return ctx


def get_caller(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ctx: Annotated[ServiceContext, Depends(get_context)],
) -> Caller:
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    try:
        with ctx.connection() as conn:
            return authenticate(conn, header)
    except AuthError as exc:
        raise ApiError(401, "unauthorized", exc.message, field="Authorization", fix=exc.fix) from None


Ctx = Annotated[ServiceContext, Depends(get_context)]
Auth = Annotated[Caller, Depends(get_caller)]


def spec_body(
    body: Annotated[
        dict[str, Any],
        Body(
            description="An AppSpec (schemas/appspec.schema.json). Files and folders are given as "
            "`upload:<sha256>` references from POST /api/uploads, never as paths.",
        ),
    ],
) -> AppSpec:
    return AppSpec.parse(body, uploads=True)


SpecBody = Annotated[AppSpec, Depends(spec_body)]
