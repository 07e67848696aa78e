"""The `/api/proxy/*` routes: authenticate, admit the maximum cost, forward, settle the real cost.

A platform-key call's maximum cost is admitted against the process's budget lease in memory
(leases.py): no database round trip before the call is forwarded. Every path from an admission
ends in exactly one settlement (`CallMeter.finish`): the real units on success, nothing on a
failure the vendor does not bill, an estimate for a stream cut short or a caller who left before
the answer, the admitted maximum when the usage is missing or not believable. No settlement is
negative or above the call's admitted maximum.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from collections.abc import Awaitable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from starlette.requests import Request
from starlette.responses import Response

from service.gateway import llm, messaging, senders, storage
from service.gateway.connections import UpstreamResponse
from service.gateway.errors import (
    BadRequest,
    CallerLeft,
    GatewayError,
    SenderNotVerified,
    ServiceNotOffered,
    Style,
    Unauthorized,
    UpstreamFailed,
)
from service.gateway.keys import GatewayKey
from service.gateway.metering import Settlement
from service.gateway.pricing import Price
from service.gateway.requests import JSON, authenticate, parse_json, read_body
from service.gateway.spend import Reservation
from service.gateway.state import Gateway, gateway_of
from service.gateway.upstreams import (
    FORWARD_HEADERS,
    RelayResponse,
    rejected_credentials,
    response_headers,
)
from service.gateway.vendor_auth import llm_credentials, own_bearer

log = logging.getLogger("oneclick.gateway.proxy")
T = TypeVar("T")


def _response_json(content: bytes) -> Any:
    """An upstream's JSON answer, None if it cannot be read (treated as usage missing)."""
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None


async def _caller_gone(request: Request, task: asyncio.Task[Any], left: list[bool]) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
    left.append(True)
    task.cancel()


async def unless_caller_leaves(request: Request, call: Awaitable[T]) -> T:
    """Await `call` (an upstream request), abandoning it if the caller disconnects first.

    Raises CallerLeft then, so the call is settled at once instead of holding its reservation
    until the upstream's own time-out."""
    task = asyncio.current_task()
    assert task is not None
    left: list[bool] = []
    watcher = asyncio.create_task(_caller_gone(request, task, left))
    try:
        return await call
    except asyncio.CancelledError:
        if left and task.uncancel() == 0:  # our cancellation only, not the server's
            raise CallerLeft("the caller disconnected before the upstream answered") from None
        raise
    finally:
        watcher.cancel()


def _current_period() -> date:
    return datetime.now(UTC).date().replace(day=1)


class CallMeter:
    """Settles one call exactly once, billed (platform key) or not (BYO key)."""

    def __init__(
        self,
        gateway: Gateway,
        key: GatewayKey,
        service: str,
        endpoint: str,
        price: Price,
        reservation: Reservation | None,
        max_units: int,
    ) -> None:
        self.gateway = gateway
        self.key = key
        self.service = service
        self.endpoint = endpoint
        self.price = price
        self.reservation = reservation
        self.max_units = max_units
        self.done = False

    def finish(self, units: int, **metadata: Any) -> None:
        if self.done:
            return
        self.done = True
        if not 0 <= units <= self.max_units:
            # The limit was checked against the maximum: never bill past it, never below nothing.
            metadata["reported_units"] = str(units)[:40]
            units = self.max_units
        reservation = self.reservation
        billable = reservation is not None
        if not billable:
            metadata["byo"] = True
        self.gateway.writer.settle(
            Settlement(
                id=reservation.id if reservation else uuid.uuid4(),
                user_id=self.key.user_id,
                app_id=self.key.app_id,
                service=self.service,
                endpoint=self.endpoint,
                price_key=self.price.key,
                unit_type=self.price.unit_type,
                units=units,
                cost_cents=self.price.cost(units) if billable else Decimal(0),
                billable=billable,
                period=reservation.period if reservation else _current_period(),
                metadata=metadata,
                lease=self.gateway.instance_id if reservation else None,
                max_units=self.max_units,
                max_cost_cents=reservation.max_cost_cents if reservation else Decimal(0),
            )
        )


async def _meter(
    gateway: Gateway, key: GatewayKey, service: str, endpoint: str, price: Price, max_units: int
) -> CallMeter:
    reservation = None
    if not key.byo:
        max_cost = price.cost(max_units)
        period = await gateway.leases.admit(key.user_id, max_cost)
        reservation = Reservation(uuid.uuid4(), period, max_cost)
        admission = Settlement(
            id=reservation.id,
            user_id=key.user_id,
            app_id=key.app_id,
            service=service,
            endpoint=endpoint,
            price_key=price.key,
            unit_type=price.unit_type,
            units=max_units,
            cost_cents=max_cost,
            billable=True,
            period=period,
            metadata={"settled_from": "admission"},
            lease=gateway.instance_id,
            max_units=max_units,
            max_cost_cents=max_cost,
        )
        try:
            gateway.writer.admit(admission)
        except BaseException:
            gateway.leases.withdraw(key.user_id, period, max_cost)
            raise
    return CallMeter(gateway, key, service, endpoint, price, reservation, max_units)


def _usage_missing(meter: CallMeter, call: llm.LlmCall, why: str = "missing", **metadata: Any) -> None:
    meter.finish(
        call.max_tokens, model=call.model, usage=f"{why}: billed at the reserved maximum", **metadata
    )


def _caller_left(meter: CallMeter, call: llm.LlmCall) -> None:
    # The upstream may have read the prompt: billed as much as a stream cut before its first event.
    estimate = min(call.max_input_tokens // 4, call.max_tokens)
    meter.finish(estimate, model=call.model, usage="estimated: the caller left before the answer")


async def llm_proxy(request: Request) -> Response | RelayResponse:
    service = request.url.path.split("/")[3]  # /api/proxy/<service>/...
    gateway = gateway_of(request)
    key = await authenticate(request)
    endpoint = request.path_params["path"]
    raw = await read_body(request, gateway.settings.max_body_bytes)
    call = llm.inspect_call(
        service, endpoint, raw, parse_json(raw), gateway.settings.default_max_output_tokens
    )
    price = gateway.settings.prices.for_service(service, call.model)
    base_url, auth = llm_credentials(gateway, key, service, request)
    headers = {name: request.headers[name] for name in FORWARD_HEADERS if name in request.headers}
    if service == "anthropic":
        headers.setdefault("anthropic-version", "2023-06-01")
    headers.update(auth)
    headers["content-type"] = JSON
    meter = await _meter(gateway, key, service, endpoint, price, call.max_tokens)
    relayed = False
    try:
        try:
            upstream = await unless_caller_leaves(
                request,
                gateway.upstream(service).send(
                    "POST", f"{base_url}/{endpoint}", headers, call.body, stream=call.stream
                ),
            )
        except CallerLeft:
            _caller_left(meter, call)
            raise
        if call.stream and upstream.status == 200:
            stream_meter = llm.StreamMeter(service, hide_usage_chunk=call.hide_usage_chunk)

            def on_end(complete: bool) -> None:
                if stream_meter.invalid:
                    _usage_missing(meter, call, "not a count of tokens", stream=True)
                elif complete:
                    if stream_meter.total is None:
                        _usage_missing(meter, call, stream=True)
                    else:
                        meter.finish(stream_meter.total, model=call.model, stream=True)
                else:
                    estimate = min(stream_meter.estimate(call.max_input_tokens // 4), call.max_tokens)
                    meter.finish(estimate, model=call.model, stream=True, usage="estimated: stream cut short")

            relayed = True  # from here the relay settles the call
            return RelayResponse(upstream, stream_meter.feed, stream_meter.end, on_end, gateway.scrub)
        if call.stream:  # an error answer to a stream request: read it whole
            try:
                await upstream.aread()
            finally:
                await upstream.aclose()
        content = upstream.body
        status = upstream.status
        if status in (401, 403) and not key.byo:
            meter.finish(0, model=call.model, status=status)
            raise rejected_credentials(service, status)
        if 200 <= status < 300:
            try:
                tokens = llm.usage_tokens(service, _response_json(content))
            except llm.InvalidUsage:
                _usage_missing(meter, call, "not a count of tokens")
            else:
                if tokens is None:
                    _usage_missing(meter, call)
                else:
                    meter.finish(tokens, model=call.model)
        else:
            meter.finish(0, model=call.model, status=status)  # vendors do not bill refused calls
        return Response(gateway.scrub(content), status, headers=relayed_headers(upstream))
    finally:
        if not relayed:
            meter.finish(0, model=call.model, error="gateway or upstream failure")


def relayed_headers(upstream: UpstreamResponse) -> dict[str, str]:
    return {name.decode(): value.decode() for name, value in response_headers(upstream.headers)}


async def email_send(request: Request) -> Response:
    gateway = gateway_of(request)
    key = await authenticate(request)
    up = gateway.settings.upstreams
    email = messaging.parse_email(
        parse_json(await read_body(request, gateway.settings.max_body_bytes)), up.email_from
    )
    provider = up.email_provider
    headers = {"content-type": JSON}
    if key.byo:
        headers["authorization"] = f"Bearer {own_bearer(request, provider)}"
    else:
        secret = up.sendgrid_key if provider == "sendgrid" else up.resend_key
        if not secret:
            raise ServiceNotOffered(
                f"email is not offered by this gateway (no platform {provider} key configured)"
            )
        await _check_sender(gateway, key, email.sender.email)
        headers["authorization"] = f"Bearer {secret.reveal()}"
        subuser = await gateway.subaccount(key.user_id, "sendgrid") if provider == "sendgrid" else None
        if subuser:
            headers["on-behalf-of"] = subuser
    if provider == "sendgrid":
        url, payload = f"{up.sendgrid_url}/v3/mail/send", email.sendgrid_body()
    else:
        url, payload = f"{up.resend_url}/emails", email.resend_body()
    price = gateway.settings.prices.for_service("email")
    meter = await _meter(gateway, key, "email", provider, price, email.recipients)
    try:
        try:
            upstream = await unless_caller_leaves(
                request, gateway.upstream("email").send("POST", url, headers, json.dumps(payload).encode())
            )
        except CallerLeft:  # the vendor may have sent it
            meter.finish(email.recipients, provider=provider, usage="the caller left: billed as sent")
            raise
        if upstream.status in (401, 403) and not key.byo:
            raise rejected_credentials(provider, upstream.status)
        if not 200 <= upstream.status < 300:
            meter.finish(0, provider=provider, status=upstream.status)
            return Response(gateway.scrub(upstream.body), upstream.status, headers=relayed_headers(upstream))
        if provider == "sendgrid":
            message_id = upstream.header("x-message-id")
        else:
            answer = _response_json(upstream.body)
            message_id = answer.get("id") if isinstance(answer, dict) else None
        meter.finish(email.recipients, provider=provider)
        result = {"id": message_id, "provider": provider, "recipients": email.recipients}
        return Response(json.dumps(result), 200, media_type=JSON)
    finally:
        meter.finish(0, provider=provider, error="not sent")


async def sms_send(request: Request) -> Response:
    gateway = gateway_of(request)
    key = await authenticate(request)
    up = gateway.settings.upstreams
    sms = messaging.parse_sms(
        parse_json(await read_body(request, gateway.settings.max_body_bytes)), up.twilio_from
    )
    if sms.sender is None:
        raise BadRequest("from: required (no default sending number is configured)", field="from")
    if key.byo:
        authorization = request.headers.get("authorization", "")
        try:
            account_sid = base64.b64decode(authorization[6:]).decode().split(":", 1)[0]
        except ValueError:
            account_sid = ""
        if authorization[:6].lower() != "basic " or not account_sid:
            raise Unauthorized(
                "this gateway key is bring-your-own-key: send your Twilio credentials as "
                "`Authorization: Basic base64(AccountSid:AuthToken)` and the gateway key as `X-Oneclick-Key`"
            )
    else:
        if not (up.twilio_account_sid and up.twilio_auth_token):
            raise ServiceNotOffered(
                "SMS is not offered by this gateway (no platform Twilio account configured)"
            )
        token = f"{up.twilio_account_sid}:{up.twilio_auth_token.reveal()}"
        authorization = "Basic " + base64.b64encode(token.encode()).decode()
        # A user's subaccount keeps their messages apart; the parent's credentials act on it.
        account_sid = await gateway.subaccount(key.user_id, "twilio") or up.twilio_account_sid
    price = gateway.settings.prices.for_service("sms")
    meter = await _meter(gateway, key, "sms", "twilio", price, sms.segments)
    try:
        try:
            upstream = await unless_caller_leaves(
                request,
                gateway.upstream("sms").send(
                    "POST",
                    f"{up.twilio_url}/2010-04-01/Accounts/{account_sid}/Messages.json",
                    {"authorization": authorization, "content-type": "application/x-www-form-urlencoded"},
                    urlencode({"To": sms.to, "From": sms.sender, "Body": sms.body}).encode(),
                ),
            )
        except CallerLeft:  # the vendor may have sent it
            meter.finish(sms.segments, usage="the caller left: billed as sent")
            raise
        if upstream.status in (401, 403) and not key.byo:
            raise rejected_credentials("twilio", upstream.status)
        if not 200 <= upstream.status < 300:
            meter.finish(0, status=upstream.status)
            return Response(gateway.scrub(upstream.body), upstream.status, headers=relayed_headers(upstream))
        answer = _response_json(upstream.body)
        message = answer if isinstance(answer, dict) else {}
        reported = str(message.get("num_segments") or "")
        # Fewer segments than counted if Twilio says so (a reported count that is unreadable, zero or
        # larger is not believed); never more.
        segments = sms.segments
        if reported.isascii() and reported.isdigit() and len(reported) <= 3 and int(reported) > 0:
            segments = min(int(reported), sms.segments)
        meter.finish(segments, sid=message.get("sid"))
        result = {"sid": message.get("sid"), "status": message.get("status"), "segments": segments}
        return Response(json.dumps(result), 200, media_type=JSON)
    finally:
        meter.finish(0, error="not sent")


async def storage_upload(request: Request) -> Response:
    gateway = gateway_of(request)
    key = await authenticate(request)
    up = gateway.settings.upstreams
    if key.byo:
        raise BadRequest("storage has no bring-your-own-key mode: upload to your own bucket directly")
    if not (
        up.storage_url and up.storage_bucket and up.storage_access_key_id and up.storage_secret_access_key
    ):
        raise ServiceNotOffered("storage is not offered by this gateway (no platform bucket configured)")
    name = storage.object_key(key.user_id, key.app_id, request.query_params.get("key"))
    content = await read_body(request, gateway.settings.max_upload_bytes)
    if not content:
        raise BadRequest("the request body is empty: send the file's bytes as the body")
    target = httpx.URL(f"{up.storage_url.rstrip('/')}/")
    path = f"{target.path.rstrip('/')}/{up.storage_bucket}/{name}"
    headers = storage.sign_v4(
        "PUT",
        target.netloc.decode(),
        path,
        content,
        access_key_id=up.storage_access_key_id,
        secret_access_key=up.storage_secret_access_key.reveal(),
        region=up.storage_region,
    )
    headers["content-type"] = request.headers.get("content-type", "application/octet-stream")
    price = gateway.settings.prices.for_service("storage")
    meter = await _meter(gateway, key, "storage", "upload", price, len(content))
    try:
        url = str(target.copy_with(raw_path=storage.quote_path(path).encode()))
        try:
            upstream = await unless_caller_leaves(
                request, gateway.upstream("storage").send("PUT", url, headers, content)
            )
        except CallerLeft:  # the bucket may have stored it
            meter.finish(len(content), key=name, usage="the caller left: billed as stored")
            raise
        if upstream.status in (401, 403):
            raise rejected_credentials("storage", upstream.status)
        if not 200 <= upstream.status < 300:
            meter.finish(0, status=upstream.status)
            raise UpstreamFailed(f"the bucket refused the upload (status {upstream.status})")
        meter.finish(len(content), key=name)
        result = {"key": name, "bytes": len(content), "etag": upstream.header("etag")}
        return Response(json.dumps(result), 200, media_type=JSON)
    finally:
        meter.finish(0, error="not stored")


async def _check_sender(gateway: Gateway, key: GatewayKey, address: str) -> None:
    """A platform-key email goes out as the platform's default sender or one the user verified."""
    default = gateway.default_sender
    if default is not None and address.lower() == default:
        return
    if senders.allowed(address, await gateway.verified_senders(key.user_id)):
        return
    raise SenderNotVerified(
        f"from: {address[:200]!r} is not a verified sender of this account; leave `from` out to send as "
        "the platform's sender, or verify the address or its domain first (oneclick gateway sender add)",
        field="from",
    )


def error_response(exc: GatewayError, style: Style = "gateway") -> Response:
    """`exc` in the shape the route's callers expect (see errors.py)."""
    return Response(exc.body(style), exc.status_for(style), media_type=JSON, headers=exc.headers(style))
