"""Pages routing in the sandbox: `_routes.json` matching and its limits, `_redirects`, `_headers`."""

from __future__ import annotations

import json

import pytest

from sandbox.cloudflare.routing import (
    ROUTES_ERROR,
    Routes,
    find_redirect,
    headers_for,
    parse_headers,
    parse_redirects,
    parse_routes,
    route_pattern,
)
from sandbox.cloudflare.state import CloudflareApiError


def routes(include: list[str], exclude: list[str] | None = None) -> Routes:
    return parse_routes(json.dumps({"version": 1, "include": include, "exclude": exclude or []}))


@pytest.mark.parametrize(
    ("rule", "path", "matches"),
    [
        ("/*", "/", True),
        ("/*", "/a/b/c.js", True),
        ("/api/*", "/api", True),  # `/foo/*` also matches `/foo`
        ("/api/*", "/api/", True),
        ("/api/*", "/api/users/1", True),
        ("/api/*", "/apix", False),
        ("/api/*", "/other/api/x", False),
        ("/api", "/api", True),
        ("/api", "/api/", True),  # `/foo` also matches `/foo/`
        ("/api", "/api/x", False),
        ("/a*z", "/a/b/z", True),  # `*` crosses `/`
        ("/a*z", "/a/b/y", False),
        ("/file.js", "/fileXjs", False),  # dots are literal
        ("/docs/", "/docs/", True),
        ("/docs/", "/docs", False),
    ],
)
def test_route_rules_match_like_pages(rule: str, path: str, matches: bool) -> None:
    assert bool(route_pattern(rule).fullmatch(path)) is matches


def test_exclude_wins_over_include_and_unmatched_paths_go_to_assets() -> None:
    table = routes(["/api/*", "/login"], ["/api/static/*"])
    assert table.to_worker("/api/users")
    assert table.to_worker("/login/")
    assert not table.to_worker("/api/static/logo.png")
    assert not table.to_worker("/index.html")
    assert table.as_json() == {"version": 1, "include": ["/api/*", "/login"], "exclude": ["/api/static/*"]}


def test_exclude_may_be_left_out() -> None:
    assert parse_routes('{"version": 1, "include": ["/*"]}').exclude == ()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1]", "JSON object"),
        ({"version": 2, "include": ["/*"], "exclude": []}, "version must be 1, not 2"),
        ({"version": True, "include": ["/*"]}, "version must be 1"),
        ({"include": ["/*"]}, "version must be 1, not null"),
        ({"version": 1, "include": [], "exclude": []}, "at least one rule"),
        ({"version": 1, "include": "/*"}, "include must be a list"),
        ({"version": 1, "include": ["/*"], "exclude": [3]}, "exclude must be a list of strings"),
        (
            {
                "version": 1,
                "include": [f"/r{i}" for i in range(60)],
                "exclude": [f"/x{i}" for i in range(41)],
            },
            "it has 101 rules",
        ),
        ({"version": 1, "include": ["/" + "a" * 100]}, "longer than 100 characters"),
        ({"version": 1, "include": ["api/*"]}, "must start with /"),
        ({"version": 1, "include": ["/api/*", "/api/users"]}, "'/api/users' and '/api/*' overlap"),
        ({"version": 1, "include": ["/api", "/api/*"]}, "'/api' and '/api/*' overlap"),
        ({"version": 1, "include": ["/*", "/x"]}, "overlap"),
        ({"version": 1, "include": ["/a", "/a"]}, "overlap"),
        ({"version": 1, "include": ["/*"], "exclude": ["/s/*", "/s/x/*"]}, "exclude rules"),
    ],
)
def test_routes_breaking_the_rules_are_error_8000057(body: object, problem: str) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(CloudflareApiError) as caught:
        parse_routes(text)
    assert caught.value.code == ROUTES_ERROR == 8000057
    assert caught.value.status == 400
    assert caught.value.message.startswith("Invalid _routes.json file: ")
    assert problem in caught.value.message


def test_limits_are_inclusive() -> None:
    table = routes([f"/r{i}/*" for i in range(50)], [f"/x{i}/*" for i in range(50)])
    assert len(table.include) + len(table.exclude) == 100
    assert routes(["/" + "a" * 99]).include == ("/" + "a" * 99,)


def test_include_and_exclude_may_cover_each_other() -> None:
    table = routes(["/*"], ["/*.css", "/static/*"])  # excludes carve out of includes
    assert table.to_worker("/api")
    assert not table.to_worker("/static/a.js")
    assert not table.to_worker("/x.css")


# -- _redirects --------------------------------------------------------------------------------

REDIRECTS = """
# comments and blank lines are skipped

/old            /new            301
/temp           /elsewhere
/blog/*         /posts/:splat   308
/users/:id/x    /people/:id     302
/app/*          /index.html     200
/external       https://example.com/landing 307
/bad-status     /x              404
/too many       fields here     301 extra
https://example.com/a /b
/rewrite-out    https://example.com/ 200
"""


def test_redirects_parse_statuses_splats_and_placeholders() -> None:
    rules = parse_redirects(REDIRECTS)
    assert [(r.source, r.status) for r in rules] == [
        ("/old", 301),
        ("/temp", 302),
        ("/blog/*", 308),
        ("/users/:id/x", 302),
        ("/app/*", 200),
        ("/external", 307),
    ], "invalid statuses, extra fields, domain-level rules and off-site rewrites are skipped"
    assert find_redirect(rules, "/old", "") == (301, "/new")
    assert find_redirect(rules, "/old", "a=1") == (301, "/new?a=1"), "the query string is kept"
    assert find_redirect(rules, "/blog/2024/hello", "") == (308, "/posts/2024/hello")
    assert find_redirect(rules, "/users/42/x", "") == (302, "/people/42")
    assert find_redirect(rules, "/users/4/2/x", "") is None, "a placeholder is one path segment"
    assert find_redirect(rules, "/app/deep/link", "") == (200, "/index.html")
    assert find_redirect(rules, "/external", "") == (307, "https://example.com/landing")
    assert find_redirect(rules, "/nothing", "") is None


def test_first_matching_redirect_wins_and_limits_hold() -> None:
    rules = parse_redirects("/a /first\n/a /second\n")
    assert find_redirect(rules, "/a", "") == (302, "/first")
    many = "\n".join(f"/s{i} /t" for i in range(2100)) + "\n" + "\n".join(f"/d{i}/* /t" for i in range(150))
    parsed = parse_redirects(many)
    assert sum("*" not in r.source for r in parsed) == 2000
    assert sum("*" in r.source for r in parsed) == 100


# -- _headers ----------------------------------------------------------------------------------

HEADERS = """
/*
  X-Frame-Options: DENY
  X-Robots-Tag: noindex
  Link: </style.css>; rel=preload

/assets/*
  Cache-Control: public, max-age=31536000, immutable
  ! X-Robots-Tag
  Link: </font.woff2>; rel=preload

/users/:id
  X-User: :id

https://:project.pages.localhost/*
  X-Project: :project
"""


def test_headers_apply_every_matching_block_in_order() -> None:
    rules = parse_headers(HEADERS)
    added, removed = headers_for(rules, "shop.pages.localhost", "/index.html")
    assert added == {
        "x-frame-options": "DENY",
        "x-robots-tag": "noindex",
        "link": "</style.css>; rel=preload",
        "x-project": "shop",
    }
    assert removed == set()
    added, removed = headers_for(rules, "shop.pages.localhost", "/assets/app.js")
    assert added["cache-control"] == "public, max-age=31536000, immutable"
    assert "x-robots-tag" not in added, "`! Name` detaches it"
    assert removed == {"x-robots-tag"}
    assert added["link"] == "</style.css>; rel=preload, </font.woff2>; rel=preload", "set twice: joined"
    added, _ = headers_for(rules, "example.com", "/users/7")
    assert added["x-user"] == "7"
    assert "x-project" not in added


def test_headers_ignore_lines_without_a_pattern_and_cap_blocks() -> None:
    assert parse_headers("  X-Orphan: 1\n") == []
    text = "".join(f"/p{i}\n  X-N: {i}\n" for i in range(120))
    assert len(parse_headers(text)) == 100
