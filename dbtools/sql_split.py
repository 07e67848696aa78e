"""Split a migration script into single statements.

Each statement must run on its own: libSQL's batch takes one statement per step, and a failure has to
name the statement that failed. The splitter knows string and identifier quotes, `--` and `/* */`
comments, PostgreSQL dollar quoting and SQLite trigger bodies (`BEGIN … END;`).
"""

from __future__ import annotations

import re

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TRIGGER_START = re.compile(r"CREATE\s+(TEMP\s+|TEMPORARY\s+)?TRIGGER\b", re.IGNORECASE)
# The whole migration already runs in one transaction, so its own transaction control must not end it.
_TRANSACTION_CONTROL = re.compile(
    r"^\s*(BEGIN(\s+(DEFERRED|IMMEDIATE|EXCLUSIVE))?(\s+TRANSACTION)?|COMMIT(\s+TRANSACTION)?|END(\s+TRANSACTION)?)\s*$",
    re.IGNORECASE,
)


def _strip_comments_at_start(statement: str) -> str:
    text = statement.strip()
    while True:
        if text.startswith("--"):
            newline = text.find("\n")
            text = "" if newline < 0 else text[newline + 1 :].lstrip()
        elif text.startswith("/*"):
            end = text.find("*/")
            text = "" if end < 0 else text[end + 2 :].lstrip()
        else:
            return text


def split_statements(script: str) -> list[str]:
    """The statements of `script`, each without its trailing `;` and leading comments."""
    return [statement for _, statement in numbered_statements(script)]


def numbered_statements(script: str) -> list[tuple[int, str]]:
    """(line where it starts, statement) for each statement of `script`: errors name the line
    instead of quoting the statement (the script may be any file)."""
    statements: list[tuple[int, str]] = []
    lines = _LineCounter(script)
    start = 0
    i = 0
    n = len(script)
    depth = 0  # BEGIN/CASE … END nesting, counted inside CREATE TRIGGER only
    in_trigger: bool | None = None
    while i < n:
        ch = script[i]
        if ch in ("'", '"', "`"):
            end = i + 1
            while end < n:
                if script[end] == ch:
                    if end + 1 < n and script[end + 1] == ch:  # doubled quote inside the literal
                        end += 2
                        continue
                    break
                end += 1
            i = end + 1
            continue
        if ch == "-" and script.startswith("--", i):
            newline = script.find("\n", i)
            i = n if newline < 0 else newline + 1
            continue
        if ch == "/" and script.startswith("/*", i):
            end = script.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if ch == "$":
            tag = _DOLLAR_TAG.match(script, i)
            if tag is not None:
                close = script.find(tag.group(0), tag.end())
                i = n if close < 0 else close + len(tag.group(0))
                continue
        if ch.isalpha() or ch == "_":
            word = _WORD.match(script, i)
            assert word is not None
            if in_trigger is None:
                in_trigger = bool(_TRIGGER_START.match(script, i))
            if in_trigger:
                upper = word.group(0).upper()
                if upper in ("BEGIN", "CASE"):
                    depth += 1
                elif upper == "END":
                    depth = max(depth - 1, 0)
            i = word.end()
            continue
        if ch == ";" and depth == 0:
            _append(statements, lines, start, i)
            start = i + 1
            in_trigger = None
        i += 1
    _append(statements, lines, start, n)
    return statements


class _LineCounter:
    """Line numbers of increasing offsets, counting each newline once (dumps can be large)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.offset = 0
        self.line = 1

    def at(self, offset: int) -> int:
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line


def _append(statements: list[tuple[int, str]], lines: _LineCounter, start: int, end: int) -> None:
    raw = lines.text[start:end]
    text = _strip_comments_at_start(raw)
    if text and not _TRANSACTION_CONTROL.match(text):
        statements.append((lines.at(start + raw.find(text)), text))
