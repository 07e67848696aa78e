"""Which credentials go to an LLM vendor: the platform's key, or the caller's own for BYO keys.

A bring-your-own-key caller sends the gateway key as `X-Oneclick-Key` and their own vendor key the
way the vendor's SDK sends it: OpenAI's as `Authorization: Bearer`; Anthropic's as `x-api-key` or,
as its current SDK does (and its `auth_token` always), `Authorization: Bearer`. The own key is
forwarded in the header it came in. A gateway key is never forwarded: a value shaped like one is
refused as an own key, so a misplaced gateway key cannot reach a vendor.
"""

from __future__ import annotations

from starlette.requests import Request

from service.gateway.errors import ServiceNotOffered, Unauthorized
from service.gateway.keys import KEY_PREFIX, GatewayKey
from service.gateway.state import Gateway


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer …` header, None if there is none."""
    value = request.headers.get("authorization", "")
    if value[:7].lower() != "bearer ":
        return None
    return value[7:].strip() or None


def own_bearer(request: Request, what: str) -> str:
    """A BYO caller's own `what` key from `Authorization: Bearer`; Unauthorized if absent."""
    token = bearer_token(request)
    if token is None or token.startswith(KEY_PREFIX):
        raise Unauthorized(
            f"this gateway key is bring-your-own-key: send your own {what} key as `Authorization: Bearer …` "
            "and the gateway key as `X-Oneclick-Key`"
        )
    return token


def _own_anthropic(request: Request) -> dict[str, str]:
    api_key = request.headers.get("x-api-key", "").strip()
    if api_key and not api_key.startswith(KEY_PREFIX):
        return {"x-api-key": api_key}
    token = bearer_token(request)
    if token and not token.startswith(KEY_PREFIX):
        return {"authorization": f"Bearer {token}"}
    raise Unauthorized(
        "this gateway key is bring-your-own-key: send your own Anthropic key as `x-api-key` or "
        "`Authorization: Bearer …` (the SDK's api_key), and the gateway key as `X-Oneclick-Key`"
    )


def llm_credentials(
    gateway: Gateway, key: GatewayKey, service: str, request: Request
) -> tuple[str, dict[str, str]]:
    """The upstream base URL and auth headers for `service` ("openai" or "anthropic")."""
    up = gateway.settings.upstreams
    if service == "openai":
        if key.byo:
            return up.openai_url, {"authorization": f"Bearer {own_bearer(request, 'OpenAI')}"}
        if not up.openai_key:
            raise ServiceNotOffered("OpenAI is not offered by this gateway (no platform key configured)")
        return up.openai_url, {"authorization": f"Bearer {up.openai_key.reveal()}"}
    if key.byo:
        return up.anthropic_url, _own_anthropic(request)
    if not up.anthropic_key:
        raise ServiceNotOffered("Anthropic is not offered by this gateway (no platform key configured)")
    return up.anthropic_url, {"x-api-key": up.anthropic_key.reveal()}
