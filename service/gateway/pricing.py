"""What each managed API costs us and costs the user, per unit, in cents (Decimal, never float).

The defaults start from the plan's table ("Managed API Services" → "Your Cost vs User Price"): GPT-4
$0.03 → $0.04 and GPT-3.5 $0.002 → $0.003 per 1K tokens, email, SMS, voice, storage. Language
models are priced by family (longest matching model-name prefix), not all as GPT-4: an embedding
costs the vendor about a thousandth of a GPT-4 token. A family's cost is the vendor's list price
per token, blended 3 input : 1 output (a call is metered as one count of tokens), its price that
cost plus the plan's one-third markup. A model no prefix names is priced as its vendor's first
family, the dearest but OpenAI's premium one (GPT-4 class; Claude Opus): an unknown name is never
billed below what it may cost. A JSON file can replace the table (`ONECLICK_GATEWAY_PRICING`): a
list of objects with the fields of `Price`, where `price_cents_per_unit` may be left out if
`markup_percent` is given.

Costs are rounded up to the micro-cent (six decimal places): the user is never charged less than
the table says, and sums of many calls stay exact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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


def _tokens(key: str, service: str, cost: str, price: str, models: tuple[str, ...], what: str) -> Price:
    return Price(key, service, "tokens", _d(cost), _d(price), models, what)


# Per-unit prices in cents: $0.04 / 1K tokens = 0.004 cents per token; $0.02 / GB = 2e-9 cents per byte.
# Token families: (3 * input + output) / 4 of the vendor's $ per 1M tokens, times 1e-4 for cents per token.
DEFAULT_PRICES: tuple[Price, ...] = (
    # First of its service: also the price of an OpenAI model no prefix below names.
    _tokens("openai_gpt_4_tokens", "openai", "0.003", "0.004", ("gpt-4", "o1"), "OpenAI GPT-4 class"),
    _tokens("openai_gpt_35_tokens", "openai", "0.0002", "0.0003", ("gpt-3.5",), "OpenAI GPT-3.5"),
    _tokens(
        "openai_premium_tokens",
        "openai",
        "0.02625",
        "0.035",
        (
            *("o1-pro", "o3-pro", "gpt-4.5", "gpt-5-pro", "gpt-5.2-pro"),
            # Audio tokens cost several times text ones ($40 in / $80 out per 1M).
            *("gpt-4o-audio", "gpt-4o-mini-audio", "gpt-audio", "gpt-realtime", "gpt-4o-realtime"),
        ),
        "OpenAI premium reasoning and audio (o1-pro: $150 in / $600 out per 1M)",
    ),
    _tokens(
        "openai_gpt_4o_tokens",
        "openai",
        "0.0004375",
        "0.000584",
        ("gpt-4o", "chatgpt-4o", "gpt-4.1", "o3"),
        "OpenAI GPT-4o / GPT-4.1 / o3 ($2.50 in / $10 out per 1M)",
    ),
    # GPT-5 and its point releases, at the dearest known (5.2: $1.75 in / $14 out per 1M).
    _tokens(
        "openai_gpt_5_tokens", "openai", "0.00048125", "0.000642", ("gpt-5",), "OpenAI GPT-5.x ($1.75 / $14)"
    ),
    _tokens(
        "openai_mini_tokens",
        "openai",
        "0.00007",
        "0.0000934",
        ("gpt-4o-mini", "gpt-4.1-mini", "gpt-5-mini"),
        "OpenAI mini models ($0.40 in / $1.60 out per 1M)",
    ),
    _tokens(
        "openai_reasoning_mini_tokens",
        "openai",
        "0.0001925",
        "0.000257",
        ("o1-mini", "o3-mini", "o4-mini"),
        "OpenAI o-series mini ($1.10 in / $4.40 out per 1M)",
    ),
    _tokens(
        "openai_nano_tokens",
        "openai",
        "0.0000175",
        "0.0000234",
        ("gpt-4.1-nano", "gpt-5-nano"),
        "OpenAI nano models ($0.10 in / $0.40 out per 1M)",
    ),
    _tokens(
        "openai_embedding_small_tokens",
        "openai",
        "0.000002",
        "0.00000267",
        ("text-embedding-3-small",),
        "OpenAI small embeddings ($0.02 per 1M)",
    ),
    _tokens(
        "openai_embedding_large_tokens",
        "openai",
        "0.000013",
        "0.0000174",
        ("text-embedding-3-large", "text-embedding-ada"),
        "OpenAI large embeddings ($0.13 per 1M)",
    ),
    # First of its service: also the price of a Claude model no prefix below names.
    _tokens(
        "anthropic_tokens",
        "anthropic",
        "0.003",
        "0.004",
        ("claude-opus", "claude-3-opus"),
        "Anthropic Claude Opus ($15 in / $75 out per 1M) and other Claude models",
    ),
    _tokens(
        "anthropic_opus_45_tokens",
        "anthropic",
        "0.001",
        "0.00134",
        ("claude-opus-4-5",),
        "Anthropic Claude Opus 4.5 ($5 in / $25 out per 1M)",
    ),
    _tokens(
        "anthropic_sonnet_tokens",
        "anthropic",
        "0.0006",
        "0.0008",
        ("claude-sonnet", "claude-3-5-sonnet", "claude-3-7-sonnet"),
        "Anthropic Claude Sonnet ($3 in / $15 out per 1M)",
    ),
    _tokens(
        "anthropic_haiku_tokens",
        "anthropic",
        "0.0002",
        "0.000267",
        ("claude-haiku", "claude-3-5-haiku"),
        "Anthropic Claude Haiku ($1 in / $5 out per 1M)",
    ),
    _tokens(
        "anthropic_haiku_3_tokens",
        "anthropic",
        "0.00005",
        "0.0000667",
        ("claude-3-haiku",),
        "Anthropic Claude 3 Haiku ($0.25 in / $1.25 out per 1M)",
    ),
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
    # Every call looks its price up: each (service, model) is searched for once.
    _found: dict[tuple[str, str | None], Price] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

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
        key = (service, model)
        price = self._found.get(key)
        if price is None:
            price = self._find(service, model)
            if len(self._found) < 4096:  # model names come from callers: remember a bounded few
                self._found[key] = price
        return price

    def _find(self, service: str, model: str | None) -> Price:
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
