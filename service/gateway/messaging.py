"""Email (SendGrid or Resend) and SMS (Twilio) requests: validation, units, and the vendor's request.

Apps send one provider-neutral body to `/api/proxy/email/send`:
`{"from"?, "to", "cc"?, "bcc"?, "reply_to"?, "subject", "text"? , "html"?}` (addresses as
"a@b.c" or "Name <a@b.c>", `to`/`cc`/`bcc` a string or a list); an email is billed per recipient.
`/api/proxy/sms/send` takes `{"to", "body", "from"?}` in E.164 and is billed per segment, counted
the way carriers count them (GSM-7: 160 characters, 153 per part; otherwise UCS-2: 70, 67 per part).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from service.gateway.errors import BadRequest

MAX_RECIPIENTS = 1000
MAX_SMS_SEGMENTS = 10
_ADDRESS = re.compile(
    r"^\s*(?:(?P<name>[^<>]*?)\s*<(?P<angle>[^<>\s]+@[^<>\s]+)>|(?P<bare>[^<>\s]+@[^<>\s]+))\s*$"
)
_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class Address:
    email: str
    name: str | None = None

    def text(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email

    def sendgrid(self) -> dict[str, str]:
        return {"email": self.email, "name": self.name} if self.name else {"email": self.email}


def _address(value: Any, field: str) -> Address:
    match = _ADDRESS.match(value) if isinstance(value, str) else None
    if match is None:
        raise BadRequest(
            f"{field}: {value!r} is not an email address (write a@b.c or Name <a@b.c>)", field=field
        )
    if match["bare"]:
        return Address(match["bare"])
    return Address(match["angle"], match["name"] or None)


def parse_address(value: str) -> Address:
    """One address, written a@b.c or Name <a@b.c> (BadRequest otherwise)."""
    return _address(value, "from")


def _addresses(body: dict[str, Any], field: str) -> list[Address]:
    value = body.get(field)
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [_address(v, f"{field}[{i}]" if isinstance(value, list) else field) for i, v in enumerate(values)]


@dataclass(frozen=True)
class Email:
    sender: Address
    to: list[Address]
    cc: list[Address]
    bcc: list[Address]
    reply_to: Address | None
    subject: str
    text: str | None
    html: str | None

    @property
    def recipients(self) -> int:
        return len(self.to) + len(self.cc) + len(self.bcc)

    def sendgrid_body(self) -> dict[str, Any]:
        personalization: dict[str, Any] = {"to": [a.sendgrid() for a in self.to]}
        if self.cc:
            personalization["cc"] = [a.sendgrid() for a in self.cc]
        if self.bcc:
            personalization["bcc"] = [a.sendgrid() for a in self.bcc]
        content = []
        if self.text is not None:
            content.append({"type": "text/plain", "value": self.text})
        if self.html is not None:
            content.append({"type": "text/html", "value": self.html})
        body: dict[str, Any] = {
            "personalizations": [personalization],
            "from": self.sender.sendgrid(),
            "subject": self.subject,
            "content": content,
        }
        if self.reply_to:
            body["reply_to"] = self.reply_to.sendgrid()
        return body

    def resend_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "from": self.sender.text(),
            "to": [a.text() for a in self.to],
            "subject": self.subject,
        }
        for name, addresses in (("cc", self.cc), ("bcc", self.bcc)):
            if addresses:
                body[name] = [a.text() for a in addresses]
        if self.reply_to:
            body["reply_to"] = self.reply_to.text()
        if self.text is not None:
            body["text"] = self.text
        if self.html is not None:
            body["html"] = self.html
        return body


def parse_email(body: Any, default_sender: str | None) -> Email:
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    sender_value = body.get("from", default_sender)
    if sender_value is None:
        raise BadRequest("from: required (no default sender is configured)", field="from")
    to = _addresses(body, "to")
    if not to:
        raise BadRequest("to: at least one recipient is required", field="to")
    email = Email(
        sender=_address(sender_value, "from"),
        to=to,
        cc=_addresses(body, "cc"),
        bcc=_addresses(body, "bcc"),
        reply_to=_address(body["reply_to"], "reply_to") if body.get("reply_to") is not None else None,
        subject=body.get("subject"),  # type: ignore[arg-type]  # checked just below
        text=body.get("text"),
        html=body.get("html"),
    )
    if not isinstance(email.subject, str) or not email.subject:
        raise BadRequest("subject: required (a non-empty string)", field="subject")
    for name in ("text", "html"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise BadRequest(f"{name}: must be a string", field=name)
    if email.text is None and email.html is None:
        raise BadRequest("text or html: give the message content", field="text")
    if email.recipients > MAX_RECIPIENTS:
        raise BadRequest(f"to/cc/bcc: at most {MAX_RECIPIENTS} recipients per email, got {email.recipients}")
    return email


@dataclass(frozen=True)
class Sms:
    to: str
    body: str
    sender: str | None

    @property
    def segments(self) -> int:
        return sms_segments(self.body)


def sms_segments(text: str) -> int:
    if all(c in _GSM7 or c in _GSM7_EXTENDED for c in text):
        length = sum(2 if c in _GSM7_EXTENDED else 1 for c in text)
        return 1 if length <= 160 else math.ceil(length / 153)
    length = len(text.encode("utf-16-le")) // 2
    return 1 if length <= 70 else math.ceil(length / 67)


def parse_sms(body: Any, default_sender: str | None) -> Sms:
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    to = body.get("to")
    if not isinstance(to, str) or not _PHONE.match(to):
        raise BadRequest(f"to: {to!r} is not a phone number in E.164 form, e.g. +14155550123", field="to")
    text = body.get("body")
    if not isinstance(text, str) or not text:
        raise BadRequest("body: required (the message text)", field="body")
    sender = body.get("from", default_sender)
    if sender is not None and (not isinstance(sender, str) or not _PHONE.match(sender)):
        raise BadRequest(f"from: {sender!r} is not a phone number in E.164 form", field="from")
    sms = Sms(to, text, sender)
    if sms.segments > MAX_SMS_SEGMENTS:
        raise BadRequest(
            f"body: too long ({sms.segments} segments; at most {MAX_SMS_SEGMENTS})", field="body"
        )
    return sms
