"""The query filters of `GET /zones/{zone_id}/dns_records`, as Cloudflare applies them.

Parameter names follow ../shared/contracts/cloudflare-pages-dns.json plus the `name.*` and
`content.*` operators of today's API (what the official SDKs send for `name={"exact": ...}`):

- `name`, `content`, `comment` (plain: exact), each with `.exact|.contains|.startswith|.endswith`;
  `comment.present` / `comment.absent`;
- `tag` (`name` means `tag.present`, `name:value` means `tag.exact`), `tag.present|absent|exact|
  contains|startswith|endswith`, combined with each other by `tag_match` (all|any);
- `type`, `proxied`;
- `match` (all|any) combines the conditions above (tags count as one condition);
- `search`: a case-insensitive substring of name, content, comment or a tag, always ANDed;
- `order` (type|name|content|ttl|proxied) and `direction` (asc|desc); `page`, `per_page`.

Text comparisons are case-insensitive, as Cloudflare documents for every filter. A parameter the
list does not know is refused with 400, so a typo never silently returns every record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.datastructures import QueryParams

from sandbox.cloudflare.state import CloudflareApiError

Record = dict[str, Any]
Condition = Callable[[Record], bool]

TEXT_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "exact": lambda value, wanted: value == wanted,
    "contains": lambda value, wanted: wanted in value,
    "startswith": lambda value, wanted: value.startswith(wanted),
    "endswith": lambda value, wanted: value.endswith(wanted),
}
TEXT_FIELDS = ("name", "content", "comment")
TAG_OPERATORS = ("present", "absent", *TEXT_OPERATORS)
ORDERS = ("type", "name", "content", "ttl", "proxied")
PAGING = ("page", "per_page")
# Accepted and without effect: the sandbox has no shadowed records to describe.
NO_EFFECT = ("include_shadow_metadata",)
KNOWN = frozenset(
    [*TEXT_FIELDS, "type", "proxied", "match", "tag_match", "search", "order", "direction", "tag"]
    + [f"{field}.{op}" for field in TEXT_FIELDS for op in TEXT_OPERATORS]
    + ["comment.present", "comment.absent"]
    + [f"tag.{op}" for op in TAG_OPERATORS]
    + list(PAGING)
    + list(NO_EFFECT)
)


def filter_error(message: str) -> CloudflareApiError:
    return CloudflareApiError(400, 9106, message)


def choice(query: QueryParams, key: str, allowed: tuple[str, ...], default: str) -> str:
    value = query.get(key, default)
    if value not in allowed:
        raise filter_error(f"{key} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def text_condition(field: str, operator: str, wanted: str, normalize: Callable[[str], str]) -> Condition:
    compare = TEXT_OPERATORS[operator]
    target = normalize(wanted)

    def condition(record: Record) -> bool:
        value = record.get(field)
        return value is not None and compare(normalize(str(value)), target)

    return condition


def equals(field: str, wanted: object) -> Condition:
    return lambda record: bool(record[field] == wanted)


def tag_pairs(record: Record) -> list[tuple[str, str]]:
    pairs = []
    for tag in record.get("tags") or []:
        name, _, value = str(tag).partition(":")
        pairs.append((name.lower(), value.lower()))
    return pairs


def tag_condition(operator: str, argument: str) -> Condition:
    if operator in ("present", "absent"):
        wanted_name = argument.lower()

        def has_tag(record: Record) -> bool:
            present = any(name == wanted_name for name, _ in tag_pairs(record))
            return present if operator == "present" else not present

        return has_tag
    if ":" not in argument:
        raise filter_error(f"tag.{operator} takes '<tag-name>:<tag-value>', not {argument!r}")
    wanted_name, _, wanted_value = argument.lower().partition(":")
    compare = TEXT_OPERATORS[operator]
    return lambda record: any(
        name == wanted_name and compare(value, wanted_value) for name, value in tag_pairs(record)
    )


def record_filter(query: QueryParams, normalize_name: Callable[[str], str]) -> Condition:
    """One predicate for every filter in `query`; raises 400 for an unknown or malformed one.

    `normalize_name` turns a name filter into the form records are kept in (lowercase, `@` and
    relative names expanded for exact matches).
    """
    unknown = sorted(key for key in query if key not in KNOWN)
    if unknown:
        raise filter_error(
            f"unknown DNS record filter {unknown[0]!r}; use name, content, comment (with .exact, "
            ".contains, .startswith, .endswith), comment.present/absent, tag, tag.present/absent/"
            "exact/contains/startswith/endswith, type, proxied, search, match, tag_match, order, "
            "direction, page or per_page"
        )
    match_any = choice(query, "match", ("all", "any"), "all") == "any"
    tags_any = choice(query, "tag_match", ("all", "any"), "all") == "any"

    conditions: list[Condition] = []
    for field in TEXT_FIELDS:
        for key, operator in ((field, "exact"), *((f"{field}.{op}", op) for op in TEXT_OPERATORS)):
            for wanted in query.getlist(key):
                if field == "name" and operator == "exact":
                    conditions.append(text_condition("name", "exact", normalize_name(wanted), str.lower))
                elif field == "name":
                    conditions.append(text_condition("name", operator, wanted.rstrip("."), str.lower))
                else:
                    conditions.append(text_condition(field, operator, wanted, str.lower))
    if "comment.present" in query:
        conditions.append(lambda r: bool(r.get("comment")))
    if "comment.absent" in query:
        conditions.append(lambda r: not r.get("comment"))
    for kind in query.getlist("type"):
        conditions.append(equals("type", kind.upper()))
    for proxied in query.getlist("proxied"):
        if proxied not in ("true", "false"):
            raise filter_error(f"proxied must be true or false, not {proxied!r}")
        conditions.append(equals("proxied", proxied == "true"))

    tag_conditions: list[Condition] = []
    for argument in query.getlist("tag"):
        tag_conditions.append(tag_condition("exact" if ":" in argument else "present", argument))
    for operator in TAG_OPERATORS:
        for argument in query.getlist(f"tag.{operator}"):
            tag_conditions.append(tag_condition(operator, argument))
    if tag_conditions:
        combine_tags = any if tags_any else all
        conditions.append(lambda r: combine_tags(c(r) for c in tag_conditions))

    searches = [term.lower() for term in query.getlist("search") if term]

    def matches(record: Record) -> bool:
        if conditions and not (any if match_any else all)(c(record) for c in conditions):
            return False
        haystack = [record["name"], record["content"], record.get("comment") or "", *record.get("tags", [])]
        return all(any(term in str(text).lower() for text in haystack) for term in searches)

    return matches


def record_order(query: QueryParams) -> tuple[Callable[[Record], Any], bool] | None:
    """The sort key and whether it is descending, or None when `order` is not given."""
    if "order" not in query:
        if "direction" in query:
            choice(query, "direction", ("asc", "desc"), "asc")
        return None
    field = choice(query, "order", ORDERS, "type")
    descending = choice(query, "direction", ("asc", "desc"), "asc") == "desc"
    return (lambda r: (r[field], r["name"], r["created_on"])), descending
