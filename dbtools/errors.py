"""Errors of the database layer a user can cause; each message names what is wrong and the fix.

None of them ever carries a password or token: URLs are shown through `redact_url` only.
"""

from __future__ import annotations

import re

from core.errors import UserError


class DatabaseError(UserError):
    """Base of every database error a user can cause (the CLI prints these as `error: ...`)."""


class SchemaError(DatabaseError):
    """The Prisma schema cannot be read or uses something this program cannot deploy."""


class DataError(DatabaseError):
    """The preview data cannot be read or a value cannot be converted for the target."""


class MigrationError(DatabaseError):
    """A migration failed; the database was left as it was before that migration.

    `where` names the statement by number and line, never by its text: errors must not echo a file.
    """

    def __init__(self, migration: str, where: str, message: str) -> None:
        self.migration = migration
        self.where = where
        self.message = without_tokens(message)
        super().__init__(
            f"migration {migration} failed and was rolled back: {where}: {self.message}\n"
            f"  fix: correct prisma/migrations/{migration}/migration.sql (or the schema) and deploy again"
        )


class ImportRefused(DatabaseError):
    """The target already holds data and the caller did not allow importing into it."""


class ConnectionFailed(DatabaseError):
    """The database could not be reached or refused the credentials."""


# What SQLite, libSQL and PostgreSQL quote from the text when it does not parse: `near "x": syntax
# error`, `syntax error at or near "x"`, `unrecognized token: "x"`. The text may be any file.
_QUOTED_TOKEN = re.compile(
    r"""\b(near|unrecognized token:?)\s*("(?:[^"]|"")*"|'(?:[^']|'')*'|\S+)""", re.IGNORECASE
)
# The libSQL client's note of the statement it ran (`… (in: INSERT INTO …) [CODE]`).
_STATEMENT_NOTE = re.compile(r" \(in: .*\)(?= \[[A-Za-z0-9_]+\]$|$)", re.DOTALL)
MAX_MESSAGE = 300


def without_tokens(message: str) -> str:
    """A database's error message without the SQL text it quotes (the token of a syntax error, the
    statement a libSQL error notes), at most MAX_MESSAGE characters: what is left is the problem."""
    message = _STATEMENT_NOTE.sub("", message)
    message = _QUOTED_TOKEN.sub(
        lambda m: "near a token (not shown)" if m.group(1).lower() == "near" else "unrecognized token",
        message,
    )
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + " …"


_PASSWORD_IN_URL = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:@/]*):(?P<pw>[^@/]*)@")
_SECRET_PARAMS = re.compile(r"(?i)([?&](?:password|authToken|auth_token|token)=)[^&]*")


def redact_url(url: str) -> str:
    """The URL with any password and token query parameter replaced by `***`."""
    url = _PASSWORD_IN_URL.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)
    return _SECRET_PARAMS.sub(r"\1***", url)


def redact(text: str, *secrets: str | None) -> str:
    """`text` with every given secret (and anything URL-shaped holding one) masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return redact_url(text)
