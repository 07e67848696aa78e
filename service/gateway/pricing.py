"""What each managed API costs us and costs the user, per unit, in cents (Decimal, never float).

The defaults are the plan's table ("Managed API Services" → "Your Cost vs User Price"); Anthropic is
not in that table and gets the same per-token price as GPT-4 (a 33% markup on $0.015/1K tokens).
A JSON file can replace the table (`ONECLICK_GATEWAY_PRICING`): a list of objects with the fields of
`Price`, where `price_cents_per_unit` may be left out if `markup_percent` is given.

Costs are rounded up to the micro-cent (six decimal places): the user is never charged less than
the table says, and sums of many calls stay exact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from core.errors import UserError

MICRO_CENT = Decimal("0.000001")


class PricingError(UserError, ValueError):
    """The pricing file is malformed; the message names the entry and field."""


def round_cost(cents: Decimal) -> Decimal:
    return cents.quantize(MICRO_CENT, rounding=ROUND_CEILING)


@dataclass(frozen=True, slots=True)
class Price:
    key: str  # also the Stripe meter's event name (prefixed), e.g. "openai_gpt_4_tokens"
    service: str  # "openai" | "anthropic" | "email" | "sms" | "storage"
    unit_type: str  # "tokens" | "emails" | "sms" | "bytes" | "minutes"
    provider_cents_per_unit: Decimal
    price_cents_per_unit: Decimal
    # Model-name prefixes this price applies to; the first price of a service with none is its default.
    models: tuple[str, ...] = ()
    description: str = ""

    @property
    def markup_percent(self) -> Decimal:
        if not self.provider_cents_per_unit:
            return Decimal(0)
        return ((self.price_cents_per_unit / self.provider_cents_per_unit - 1) * 100).quantize(Decimal("0.1"))

    def cost(self, units: int) -> Decimal:
        return round_cost(self.price_cents_per_unit * units)

    @property
    def meter_event_name(self) -> str:
        return f"oneclick_{self.key}"


def _d(text: str) -> Decimal:
    return Decimal(text)


# Per-unit prices in cents: $0.04 / 1K tokens = 0.004 cents per token; $0.02 / GB = 2e-9 cents per byte.
DEFAULT_PRICES: tuple[Price, ...] = (
    Price(
        "openai_gpt_4_tokens",
        "openai",
        "tokens",
        _d("0.003"),
        _d("0.004"),
        ("gpt-4", "gpt-5", "o"),
        "OpenAI GPT-4 class",
    ),
    Price(
        "openai_gpt_35_tokens", "openai", "tokens", _d("0.0002"), _d("0.0003"), ("gpt-3.5",), "OpenAI GPT-3.5"
    ),
    Price("anthropic_tokens", "anthropic", "tokens", _d("0.0015"), _d("0.002"), (), "Anthropic Claude"),
    Price("email_sends", "email", "emails", _d("0.08"), _d("0.1"), (), "Email (SendGrid / Resend)"),
    Price("twilio_sms", "sms", "sms", _d("0.79"), _d("1"), (), "Twilio SMS segments"),
    Price("twilio_voice_minutes", "voice", "minutes", _d("1.4"), _d("2"), (), "Twilio voice"),
    Price(
        "storage_upload_bytes", "storage", "bytes", _d("0.0000000015"), _d("0.000000002"), (), "S3/R2 storage"
    ),
    Price(
        "storage_bandwidth_bytes",
        "bandwidth",
        "bytes",
        _d("0.000000009"),
        _d("0.000000012"),
        (),
        "S3/R2 bandwidth",
    ),
)


@dataclass(frozen=True)
class PriceTable:
    prices: tuple[Price, ...] = DEFAULT_PRICES

    def __post_init__(self) -> None:
        keys = [p.key for p in self.prices]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise PricingError(f"price keys must be unique; repeated: {', '.join(duplicates)}")

    def by_key(self, key: str) -> Price:
        for price in self.prices:
            if price.key == key:
                return price
        raise KeyError(key)

    def for_service(self, service: str, model: str | None = None) -> Price:
        """The price of `model` on `service`: longest matching model prefix, else the service's default."""
        candidates = [p for p in self.prices if p.service == service]
        if not candidates:
            raise PricingError(f"no price for service {service!r}; add one to the pricing file")
        if model:
            matches = [
                (len(prefix), p) for p in candidates for prefix in p.models if model.startswith(prefix)
            ]
            if matches:
                return max(matches, key=lambda match: match[0])[1]
        defaults = [p for p in candidates if not p.models]
        return defaults[0] if defaults else candidates[0]

    @staticmethod
    def load(path: Path) -> PriceTable:
        try:
            entries = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise PricingError(f"{path}: cannot read the pricing file ({exc})") from exc
        if not isinstance(entries, list) or not entries:
            raise PricingError(f"{path}: expected a non-empty JSON list of prices")
        return PriceTable(tuple(_price_from(entry, index, path) for index, entry in enumerate(entries)))


def _decimal_field(entry: dict[str, Any], name: str, where: str) -> Decimal:
    value = entry.get(name)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise PricingError(
            f'{where}.{name}: {value!r} is not a number; write it as a string, e.g. "0.004"'
        ) from None
    if not number.is_finite() or number < 0:
        raise PricingError(f"{where}.{name}: must be a non-negative number of cents, got {value!r}")
    return number


def _price_from(entry: Any, index: int, path: Path) -> Price:
    where = f"{path.name}[{index}]"
    if not isinstance(entry, dict):
        raise PricingError(f"{where}: expected an object")
    for name in ("key", "service", "unit_type"):
        if not isinstance(entry.get(name), str) or not entry[name]:
            raise PricingError(f"{where}.{name}: required string")
    provider = _decimal_field(entry, "provider_cents_per_unit", where)
    if "price_cents_per_unit" in entry:
        price = _decimal_field(entry, "price_cents_per_unit", where)
    elif "markup_percent" in entry:
        price = provider * (1 + _decimal_field(entry, "markup_percent", where) / 100)
    else:
        raise PricingError(f"{where}: give price_cents_per_unit or markup_percent")
    models = entry.get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise PricingError(f"{where}.models: expected a list of model-name prefixes")
    return Price(
        entry["key"],
        entry["service"],
        entry["unit_type"],
        provider,
        price,
        tuple(models),
        entry.get("description", ""),
    )
