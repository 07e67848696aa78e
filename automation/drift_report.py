"""Drift reports: a table for people, JSON for programs, JUnit XML for CI systems' test views."""

from __future__ import annotations

import json
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from automation.drift import exit_code
from automation.drift_result import ResourceDrift, StackDrift
from automation.urns import short_type

VALUE_WIDTH = 40


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def _resource(drift: ResourceDrift) -> str:
    return f"{short_type(drift.type)} {drift.name}"


def summary(results: Sequence[StackDrift]) -> dict[str, int]:
    return {
        "stacks": len(results),
        "clean": sum(r.status == "clean" for r in results),
        "drifted": sum(r.status == "drift" for r in results),
        "failed": sum(r.status == "error" for r in results),
    }


def rows(results: Sequence[StackDrift]) -> list[tuple[str, ...]]:
    """One row per drifted property (or deleted resource, or failed check, or clean stack)."""
    table: list[tuple[str, ...]] = []
    for result in results:
        if result.status == "error":
            table.append((result.app_id, "error", "(could not be checked: see below)", "", "", ""))
        elif result.status == "clean":
            table.append((result.app_id, "clean", "", "", "", ""))
        for drift in result.resources:
            if drift.change == "deleted":
                table.append((result.app_id, "drift", _resource(drift), "(resource)", "exists", "deleted"))
            for change in drift.properties:
                table.append(
                    (
                        result.app_id,
                        "drift",
                        _resource(drift),
                        change.path,
                        _value(change.old),
                        _value(change.new),
                    )
                )
    return table


def table(results: Sequence[StackDrift]) -> str:
    header = ("APP", "STATUS", "RESOURCE", "PROPERTY", "IN STACK", "IN CLOUD")
    body = rows(results)
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in [header, *body]
    ]
    for result in results:
        if result.status == "error":
            lines.append(f"{result.app_id}: " + (result.error or "").strip().replace("\n", "\n  "))
    counts = summary(results)
    lines.append(
        f"{counts['stacks']} stacks: {counts['clean']} clean, {counts['drifted']} drifted, "
        f"{counts['failed']} could not be checked"
    )
    return "\n".join(line.rstrip() for line in lines) + "\n"


def as_json(results: Sequence[StackDrift], fixed: Sequence[Any] | None = None) -> str:
    document: dict[str, Any] = {
        "summary": summary(results),
        "exitCode": exit_code(results),
        "stacks": [r.as_dict() for r in results],
    }
    if fixed is not None:
        document["fixed"] = list(fixed)
    return json.dumps(document, indent=2, default=str) + "\n"


def _details(result: StackDrift) -> str:
    lines = []
    for drift in result.resources:
        if drift.change == "deleted":
            lines.append(f"{_resource(drift)}: deleted outside the stack")
        for change in drift.properties:
            old, new = json.dumps(change.old, default=str), json.dumps(change.new, default=str)
            lines.append(f"{_resource(drift)}: {change.path}: {old} -> {new}")
    return "\n".join(lines)


def junit(results: Sequence[StackDrift], suite: str = "oneclick drift") -> str:
    """JUnit XML: one testcase per stack; drift is a failure, a check that could not run an error."""
    counts = summary(results)
    seconds = f"{sum(r.seconds for r in results):.3f}"
    root = ET.Element(
        "testsuites",
        name=suite,
        tests=str(counts["stacks"]),
        failures=str(counts["drifted"]),
        errors=str(counts["failed"]),
        time=seconds,
    )
    testsuite = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(counts["stacks"]),
        failures=str(counts["drifted"]),
        errors=str(counts["failed"]),
        skipped="0",
        time=seconds,
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"),
        hostname=socket.gethostname(),
    )
    for result in results:
        case = ET.SubElement(
            testsuite,
            "testcase",
            classname="oneclick.drift",
            name=result.app_id,
            time=f"{result.seconds:.3f}",
        )
        if result.status == "drift":
            failure = ET.SubElement(
                case, "failure", type="drift", message=f"{len(result.resources)} resource(s) drifted"
            )
            failure.text = _details(result)
        elif result.status == "error":
            error = ET.SubElement(case, "error", type="check-failed", message="the drift check could not run")
            error.text = result.error or ""
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
