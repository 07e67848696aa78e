"""Which DNS records oneclick made, and for which app.

Every record oneclick creates carries a mark in its `comment` ("managed by oneclick: app <id>").
The comment, not a tag, holds it because every Cloudflare plan keeps comments (tags need a paid
plan). A record without this app's mark is someone else's: oneclick refuses the name rather than
changing or removing that record (a custom domain must never take over another site's DNS).
"""

from __future__ import annotations

from collections.abc import Iterable

from components.cloudflare.models import DnsRecord

MARK_PREFIX = "managed by oneclick: app "
# What earlier releases wrote: it names the Pages subdomain the record was made for, not the app.
LEGACY_PREFIX = "oneclick: Pages custom domain of "


def record_mark(app_id: str) -> str:
    """The comment of a record oneclick makes for app `app_id` (at most 88 characters: Free plans
    allow 100)."""
    return f"{MARK_PREFIX}{app_id}"


def made_by_oneclick(record: DnsRecord) -> bool:
    comment = record.comment or ""
    return comment.startswith((MARK_PREFIX, LEGACY_PREFIX))


def made_for(record: DnsRecord, app_id: str, target: str | None = None) -> bool:
    """Whether oneclick made `record` for this app: its mark, or the earlier mark naming `target`
    (the app's own Pages subdomain)."""
    comment = (record.comment or "").strip()
    if comment == record_mark(app_id):
        return True
    return target is not None and comment == f"{LEGACY_PREFIX}{target}"


def foreign(records: Iterable[DnsRecord], app_id: str, target: str | None = None) -> list[DnsRecord]:
    """The records that are not this app's."""
    return [record for record in records if not made_for(record, app_id, target)]


def kind_of(record: DnsRecord) -> str:
    """'an A record', 'a CNAME record': letters read by name take 'an' when they sound a vowel."""
    article = "an" if record.type[:1] in "AEFHILMNORSX" else "a"
    return f"{article} {record.type} record"


def whose(record: DnsRecord) -> str:
    """Who made a record, as an error message says it (never its content: a proxied record's
    origin address is not public)."""
    return "another oneclick app made" if made_by_oneclick(record) else "oneclick did not make"
