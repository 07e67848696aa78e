"""Routes under /api/domains: whether a custom domain can be used, and putting one on an app's site."""

from __future__ import annotations

from fastapi import APIRouter

from components.targets import TargetError
from service import deployments
from service.api.checks import check_app_id, checked_domain, vendor_unavailable
from service.api.dependencies import Auth, Ctx
from service.api.models import ERRORS, DeployAccepted, DomainCheck, DomainCheckRequest, DomainConfigureRequest
from service.api.submit import latest_spec, rebuild, submit
from service.domains import blocking, records_at, taken_reason
from service.errors import ApiError
from service.tiers import load_subscription

router = APIRouter(tags=["domains"])


@router.post("/api/domains/check", responses=ERRORS)
def check_domain(body: DomainCheckRequest, ctx: Ctx, who: Auth) -> DomainCheck:
    """Whether a custom domain can be used: free on this platform, its DNS zone in the account,
    no DNS record at the name that oneclick did not make, and custom domains in the user's plan."""
    domain = checked_domain(body.domain)
    with ctx.connection() as conn:
        sub = load_subscription(conn, who.user_id)
        owner = deployments.domain_owner(conn, domain)
    allowed = sub.limits.max_custom_domains != 0
    if owner is not None:
        reason = "already used by one of your apps" if owner == who.user_id else "already used by another app"
        return DomainCheck(domain=domain, available=False, reason=reason, zone=None, allowed_by_tier=allowed)
    try:
        zone, records = records_at(domain)  # a 502 when Cloudflare answers with an error
    except TargetError as exc:
        raise vendor_unavailable("Cloudflare", exc) from None
    if zone is None:
        return DomainCheck(
            domain=domain,
            available=False,
            reason="no DNS zone for it in the Cloudflare account; add the domain's zone first",
            zone=None,
            allowed_by_tier=allowed,
        )
    if (record := blocking(records, None)) is not None:
        return DomainCheck(
            domain=domain,
            available=False,
            reason=taken_reason(record),
            zone=zone.name,
            allowed_by_tier=allowed,
        )
    reason = "available" if allowed else "available, but custom domains need the Pro tier or above"
    return DomainCheck(domain=domain, available=True, reason=reason, zone=zone.name, allowed_by_tier=allowed)


@router.post("/api/domains/configure", status_code=202, responses=ERRORS)
def configure_domain(body: DomainConfigureRequest, ctx: Ctx, who: Auth) -> DeployAccepted:
    """Point a custom domain at the app's site (a deploy that adds DNS and the Pages domain)."""
    check_app_id(body.app_id)
    domain = checked_domain(body.domain)
    spec = latest_spec(ctx, who, body.app_id)
    if spec.web is None:
        raise ApiError(
            409,
            "conflict",
            f"app {body.app_id!r} has no site to put a domain on",
            field="appId",
            fix="deploy the app with POST /api/deploy/web first",
        )
    return submit(ctx, who, rebuild(spec, {"customDomain": domain}), "domain")
