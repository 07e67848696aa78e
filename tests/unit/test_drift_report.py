"""Drift diffs, reports and the fleet view, without the engine."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from automation import drift, drift_report, fleet
from automation.parallel import run_bounded
from automation.pulumi_state import SECRET_SIG, SIG_KEY
from automation.urns import CUSTOM_DOMAIN, PAGES_PROJECT
from automation.workspace import DeployError
from cli.render.fleet import FleetRenderer, summary

MASKED = {SIG_KEY: SECRET_SIG, "ciphertext": "[secret]"}
TYPED = "urn:pulumi:a::oneclick::oneclick:app:App${}::{}"
SITE = TYPED.format(PAGES_PROJECT, "a-site")
# As a stack not yet upgraded names it: reported under the type it has now.
DOMAIN = TYPED.format("oneclick:cloudflare:CustomDomain$pulumi-python:dynamic:Resource", "a-dom")


def paths(changes: list[drift.PropertyChange]) -> dict[str, tuple[Any, Any]]:
    return {c.path: (c.old, c.new) for c in changes}


def test_nested_changes_are_named_by_path_and_unrecorded_properties_are_not_compared() -> None:
    old = {"env_vars": {"A": "1", "B": "2"}, "api_url": "u", "__provider": "p1"}
    new = {"env_vars": {"A": "1", "C": "3"}, "api_url": "u", "__provider": "p2", "learned_later": 1}
    assert paths(drift.property_changes(PAGES_PROJECT, old, new)) == {
        "env_vars.B": ("2", None),
        "env_vars.C": (None, "3"),
    }


def test_vendor_status_is_not_drift_but_the_record_is() -> None:
    old = {"status": "pending", "ssl_status": "pending", "dns_record_content": "a.pages.dev"}
    new = {"status": "active", "ssl_status": "active", "dns_record_content": "evil.example.net"}
    assert paths(drift.property_changes(CUSTOM_DOMAIN, old, new)) == {
        "dns_record_content": ("a.pages.dev", "evil.example.net")
    }
    # The same names on another type are compared.
    assert "status" in paths(drift.property_changes("oneclick:other:Thing", old, new))


def test_secrets_are_masked_and_never_compared() -> None:
    old = {"token": MASKED, "secret_env_vars": MASKED, "url": "x"}
    new = {"token": MASKED, "secret_env_vars": MASKED, "url": {"nested": MASKED}}
    assert paths(drift.property_changes("t", old, new)) == {"url": ("x", {"nested": "[secret]"})}
    assert drift.masked([{"a": MASKED}]) == [{"a": "[secret]"}]


def results() -> list[drift.StackDrift]:
    changed = drift.ResourceDrift(SITE, "changed", (drift.PropertyChange("env_vars.MODE", "one", "two"),))
    deleted = drift.ResourceDrift(DOMAIN, "deleted")
    return [
        drift.StackDrift("a", "drift", [changed, deleted], seconds=1.5),
        drift.StackDrift("b", "clean", seconds=0.5),
        drift.StackDrift("c", "error", error="drift check of 'c' failed:\nbroken <state> & more"),
    ]


@pytest.mark.parametrize(
    ("statuses", "code"),
    [((), 0), (("clean",), 0), (("clean", "drift"), 1), (("drift", "error"), 2), (("error",), 2)],
)
def test_exit_codes(statuses: tuple[drift.CheckStatus, ...], code: int) -> None:
    assert drift.exit_code([drift.StackDrift(str(i), s) for i, s in enumerate(statuses)]) == code


def test_junit_is_valid_xml_with_one_testcase_per_stack() -> None:
    root = ET.fromstring(drift_report.junit(results()))  # noqa: S314 (our own report)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")
    [suite] = root.findall("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["a", "b", "c"]
    failure = cases["a"].find("failure")
    assert failure is not None
    assert failure.text == (
        'cloudflare:PagesProject a-site: env_vars.MODE: "one" -> "two"\n'
        "cloudflare:CustomDomain a-dom: deleted outside the stack"
    )
    assert list(cases["b"]) == []
    error = cases["c"].find("error")
    assert error is not None
    assert error.text is not None
    assert "broken <state> & more" in error.text


def test_table_has_a_row_per_property_and_lists_errors_below() -> None:
    text = drift_report.table(results())
    lines = text.splitlines()
    assert lines[0].split() == ["APP", "STATUS", "RESOURCE", "PROPERTY", "IN", "STACK", "IN", "CLOUD"]
    assert lines[1].split() == [
        "a",
        "drift",
        "cloudflare:PagesProject",
        "a-site",
        "env_vars.MODE",
        "one",
        "two",
    ]
    assert lines[2].split()[-3:] == ["(resource)", "exists", "deleted"]
    assert "c: drift check of 'c' failed:" in text
    assert lines[-1] == "3 stacks: 1 clean, 1 drifted, 1 could not be checked"


def test_select_apps_refuses_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(fleet.NoApps, match="name them"):
        fleet.select_apps([], every=False)
    with pytest.raises(fleet.NoApps, match="not both"):
        fleet.select_apps(["a"], every=True)
    assert fleet.select_apps(["app-1", "app-2", "app-1"], every=False) == ["app-1", "app-2"]
    monkeypatch.setattr(fleet, "all_app_ids", list)
    with pytest.raises(fleet.NoApps, match="no apps deployed"):
        fleet.select_apps([], every=True)


def test_describe_failure_keeps_the_engine_error_lines() -> None:
    text = "code: 255\n stdout: lots\n stderr: warning: x\nerror: the real reason\n"
    assert fleet.describe_failure(RuntimeError(text)) == "error: the real reason"
    assert fleet.describe_failure(DeployError("plain")) == "plain"


def test_run_bounded_keeps_order_and_bounds_concurrency() -> None:
    import threading
    import time

    running, peak, lock = 0, 0, threading.Lock()

    def work(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        return n * 2

    assert run_bounded(list(range(12)), work, 3) == [n * 2 for n in range(12)]
    assert peak <= 3


def test_fleet_view_redraws_on_a_tty_and_prints_lines_elsewhere() -> None:
    runs = [fleet.StackRun("a", "up"), fleet.StackRun("bb", "up")]
    written: list[str] = []
    plain = FleetRenderer(written.append, tty=False)
    runs[0].state, runs[0].started = "running", 1.0
    plain(runs)
    plain(runs)  # nothing new
    runs[0].state, runs[0].finished, runs[0].changes = "succeeded", 2.0, {"update": 1, "same": 3}
    runs[1].state, runs[1].started, runs[1].finished = "failed", 1.0, 1.5
    runs[1].error, runs[1].locked = "app 'bb' is locked by another update", True
    plain(runs)
    assert [line.split()[0:2] for line in written] == [["◐", "a"], ["✓", "a"], ["✗", "bb"]]
    assert written[0].rstrip().endswith("started")
    assert written[1].rstrip().endswith("1 update")
    assert written[2].rstrip().endswith("locked by another update")

    drawn: list[str] = []
    tty = FleetRenderer(drawn.append, tty=True)
    tty(runs)
    tty(runs)
    assert drawn[1] == "\x1b[3F\x1b[J"  # two stacks and the bar, redrawn in place
    assert "2/2 stacks" in drawn[2]

    text = summary(fleet.FleetResult("up", runs, 2.0))
    assert "2 stacks in 2.0s: 1 succeeded (1 changed), 1 failed" in text
    assert "failed: bb: app 'bb' is locked by another update" in text
