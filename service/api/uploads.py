"""Routes under /api/uploads: keep build output, schemas and data for a later deploy's `upload:` fields."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from service import uploads
from service.api.dependencies import Auth, Ctx
from service.api.models import ERRORS, ErrorBody, UploadInfo
from service.errors import not_found

router = APIRouter(tags=["uploads"])


@router.post(
    "/api/uploads",
    status_code=201,
    responses={**ERRORS, 413: {"model": ErrorBody}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload(
    request: Request,
    ctx: Ctx,
    who: Auth,
    name: Annotated[
        str, Query(max_length=100, description="File name, e.g. out.tar.gz or preview.sql")
    ] = "upload",
) -> UploadInfo:
    """Upload build output, a Prisma schema, migrations or preview data for a later deploy.

    A folder is sent as a tar (plain or gzip) or zip archive, a single file as itself. The answer's
    `upload` reference goes into the spec's field (`web.buildDir`, `database.prismaSchema`, …). Links,
    devices, `..` and absolute names, and archives that unpack past the limits are refused.
    """
    content = await request.body()

    def keep() -> uploads.Upload:
        with ctx.connection() as conn:
            return uploads.store(conn, who.user_id, name, content, ctx.upload_limits)

    return UploadInfo.model_validate((await run_in_threadpool(keep)).as_dict())


@router.get("/api/uploads/{sha256}", responses=ERRORS)
def upload_info(sha256: str, ctx: Ctx, who: Auth) -> UploadInfo:
    """One of your uploads (its content is never served back)."""
    with ctx.connection() as conn:
        found = uploads.find(conn, who.user_id, sha256.removeprefix("upload:")[:64])
    if found is None:
        raise not_found(f"upload {sha256[:80]!r}", "upload it with POST /api/uploads")
    return UploadInfo.model_validate(found.as_dict())


@router.delete("/api/uploads/{sha256}", status_code=204, responses=ERRORS)
def delete_upload(sha256: str, ctx: Ctx, who: Auth) -> None:
    """Forget one of your uploads (deploys already made keep their files)."""
    with ctx.connection() as conn:
        if not uploads.delete(conn, who.user_id, sha256.removeprefix("upload:")[:64]):
            raise not_found(f"upload {sha256[:80]!r}", "list your deploys' uploads in their specs")
