"""Pages request routing, in one place: `_routes.json` (which paths reach the worker), `_redirects`
(applied before assets) and `_headers` (added to static responses).

Matching follows Pages (https://developers.cloudflare.com/pages/):

- `_routes.json` rules: `*` matches anything, `/` included; `/foo/*` also matches `/foo`; `/foo` also
  matches `/foo/`. An excluded path goes to assets; else an included one to the worker; else assets.
  Limits (error 8000057): `version` 1, at least one `include`, at most 100 rules of at most 100
  characters, each starting with `/`, and no rule overlapping another of the same list.
- `_redirects` lines `from to [status]`: `*` in `from` is `:splat` in `to`, `:name` matches one path
  segment; status 301, 302 (default), 303, 307, 308, or 200 (serve `to` without redirecting). At most
  2,000 static and 100 dynamic rules; invalid lines are skipped, as Pages skips them.
- `_headers` blocks: an unindented URL pattern (path, or `https://host/path`), then indented
  `Name: value` lines, or `! Name` to detach a header an earlier block set. Every matching block
  applies, in file order; a header set twice is joined with `, `. At most 100 blocks.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sandbox.cloudflare.state import CloudflareApiError

ROUTES_ERROR = 8000057
MAX_ROUTE_RULES = 100
MAX_ROUTE_CHARS = 100
MAX_STATIC_REDIRECTS = 2000
MAX_DYNAMIC_REDIRECTS = 100
MAX_HEADER_RULES = 100
MAX_LINE_CHARS = 2000
REDIRECT_STATUSES = (200, 301, 302, 303, 307, 308)
PLACEHOLDER = re.compile(r":([A-Za-z]\w*)")


# -- _routes.json ------------------------------------------------------------------------------


@lru_cache(maxsize=1024)  # every worker-routed request asks; a deployment's rules are few and fixed
def route_pattern(rule: str) -> re.Pattern[str]:
    """The regex a `_routes.json` rule stands for, with Pages' two trailing-slash allowances."""
    if rule.endswith("/*"):
        return re.compile(_wildcards(rule[:-2]) + r"(?:/.*)?", re.DOTALL)
    if rule.endswith("*") or rule.endswith("/"):
        return re.compile(_wildcards(rule), re.DOTALL)
    return re.compile(_wildcards(rule) + "/?", re.DOTALL)


def _wildcards(text: str) -> str:
    return ".*".join(re.escape(part) for part in text.split("*"))


@dataclass(frozen=True)
class Routes:
    """A valid `_routes.json`: which request paths the worker gets."""

    include: tuple[str, ...]
    exclude: tuple[str, ...]

    def to_worker(self, path: str) -> bool:
        if any(route_pattern(rule).fullmatch(path) for rule in self.exclude):
            return False
        return any(route_pattern(rule).fullmatch(path) for rule in self.include)

    def as_json(self) -> dict[str, Any]:
        return {"version": 1, "include": list(self.include), "exclude": list(self.exclude)}


def _routes_error(problem: str) -> CloudflareApiError:
    return CloudflareApiError(400, ROUTES_ERROR, f"Invalid _routes.json file: {problem}")


def parse_routes(text: str) -> Routes:
    """Validate `_routes.json` as Pages does; raises error 8000057 naming the broken rule."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _routes_error(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(body, dict):
        raise _routes_error("it must be a JSON object with version, include and exclude")
    if body.get("version") != 1 or isinstance(body.get("version"), bool):
        raise _routes_error(f"version must be 1, not {json.dumps(body.get('version'))}")
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("include", "exclude"):
        value = body.get(key, [])
        if not isinstance(value, list) or not all(isinstance(rule, str) for rule in value):
            raise _routes_error(f"{key} must be a list of strings")
        lists[key] = tuple(value)
    include, exclude = lists["include"], lists["exclude"]
    if not include:
        raise _routes_error('include must have at least one rule (e.g. "/*")')
    if len(include) + len(exclude) > MAX_ROUTE_RULES:
        raise _routes_error(
            f"it has {len(include) + len(exclude)} rules; include and exclude together may hold at most "
            f'{MAX_ROUTE_RULES}. Merge rules with wildcards (e.g. "/api/*")'
        )
    for key, rules in lists.items():
        for rule in rules:
            if len(rule) > MAX_ROUTE_CHARS:
                raise _routes_error(
                    f"{key} rule {rule[:40]!r}... is longer than {MAX_ROUTE_CHARS} characters"
                )
            if not rule.startswith("/"):
                raise _routes_error(f"{key} rule {rule!r} must start with /")
        overlap = _first_overlap(rules)
        if overlap:
            raise _routes_error(
                f"{key} rules {overlap[0]!r} and {overlap[1]!r} overlap; keep only the wider one"
            )
    return Routes(include, exclude)


def _first_overlap(rules: tuple[str, ...]) -> tuple[str, str] | None:
    """Two rules of one list where one covers the other (or they are equal)."""
    for i, first in enumerate(rules):
        for second in rules[i + 1 :]:
            if first == second:
                return first, second
            for narrow, wide in ((first, second), (second, first)):
                if route_pattern(wide).fullmatch(narrow.replace("*", "")):
                    return narrow, wide
    return None


# -- _redirects --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Redirect:
    source: str
    target: str
    status: int
    pattern: re.Pattern[str]


def _path_pattern(source: str) -> re.Pattern[str]:
    """`*` becomes the `splat` group (once), `:name` one path segment; everything else literal."""
    out: list[str] = []
    position = 0
    splat = False
    for match in re.finditer(r"\*|:[A-Za-z]\w*", source):
        out.append(re.escape(source[position : match.start()]))
        piece = match.group(0)
        if piece == "*":
            out.append("(?P<splat>.*)" if not splat else ".*")
            splat = True
        else:
            out.append(f"(?P<{piece[1:]}>[^/]+)")
        position = match.end()
    out.append(re.escape(source[position:]))
    return re.compile("".join(out), re.DOTALL)


def _substitute(template: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def parse_redirects(text: str) -> list[Redirect]:
    rules: list[Redirect] = []
    static = dynamic = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or len(line) > MAX_LINE_CHARS:
            continue
        parts = line.split()
        if len(parts) not in (2, 3) or not parts[0].startswith("/"):
            continue  # domain-level redirects are not supported by Pages either
        status = 302
        if len(parts) == 3:
            if not parts[2].isdigit() or int(parts[2]) not in REDIRECT_STATUSES:
                continue
            status = int(parts[2])
        source, target = parts[0], parts[1]
        if status == 200 and not target.startswith("/"):
            continue  # a rewrite serves a path of the same site, never another origin
        is_dynamic = "*" in source or ":" in source
        if is_dynamic:
            if dynamic >= MAX_DYNAMIC_REDIRECTS:
                continue
            dynamic += 1
        else:
            if static >= MAX_STATIC_REDIRECTS:
                continue
            static += 1
        try:
            pattern = _path_pattern(source)
        except re.error:
            continue  # e.g. the same placeholder twice
        rules.append(Redirect(source, target, status, pattern))
    return rules


def find_redirect(rules: list[Redirect], path: str, query: str) -> tuple[int, str] | None:
    """The first rule matching `path`: (status, location). The query is kept unless `to` has one."""
    for rule in rules:
        match = rule.pattern.fullmatch(path)
        if match is None:
            continue
        values = {name: value for name, value in match.groupdict().items() if value is not None}
        location = _substitute(rule.target, values)
        if query and "?" not in location:
            location += "?" + query
        return rule.status, location
    return None


# -- _headers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeaderRule:
    pattern: re.Pattern[str]
    absolute: bool  # matched against `host + path` instead of the path
    set: tuple[tuple[str, str], ...]
    detach: tuple[str, ...]


def parse_headers(text: str) -> list[HeaderRule]:
    blocks: list[tuple[str, list[tuple[str, str]], list[str]]] = []
    for raw in text.splitlines():
        if not raw.strip() or raw.strip().startswith("#") or len(raw) > MAX_LINE_CHARS:
            continue
        if not raw[0].isspace():
            blocks.append((raw.strip(), [], []))
            continue
        if not blocks:
            continue  # a header before any URL pattern applies to nothing
        line = raw.strip()
        if line.startswith("!"):
            blocks[-1][2].append(line[1:].strip().lower())
        elif ":" in line:
            name, value = line.split(":", 1)
            if name.strip():
                blocks[-1][1].append((name.strip(), value.strip()))
    rules: list[HeaderRule] = []
    for source, values, detach in blocks[:MAX_HEADER_RULES]:
        absolute = re.match(r"^https?://", source) is not None
        target = re.sub(r"^https?://", "", source) if absolute else source
        if not absolute and not target.startswith("/"):
            continue
        try:
            pattern = _path_pattern(target)
        except re.error:
            continue
        rules.append(HeaderRule(pattern, absolute, tuple(values), tuple(detach)))
    return rules


def headers_for(rules: list[HeaderRule], host: str, path: str) -> tuple[dict[str, str], set[str]]:
    """The headers to add (name -> value, names lowercased) and the ones to remove, for one response."""
    added: dict[str, str] = {}
    removed: set[str] = set()
    for rule in rules:
        match = rule.pattern.fullmatch(host + path if rule.absolute else path)
        if match is None:
            continue
        values = {name: value for name, value in match.groupdict().items() if value is not None}
        for name in rule.detach:
            added.pop(name, None)
            removed.add(name)
        for name, template in rule.set:
            key = name.lower()
            value = _substitute(template, values)
            added[key] = f"{added[key]}, {value}" if key in added else value
            removed.discard(key)
    return added, removed
