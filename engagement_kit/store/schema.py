"""The store's table: its schema, one row's columns, and the values derived from a query."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zoneinfo
from typing import Any

from engagement_kit.config.query import EngagementQuery

__all__ = [
    "COLUMNS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SELECT_REVISIONS",
    "payload_digest",
    "range_end",
    "revision_row",
]

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS revisions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key        TEXT NOT NULL,
    host       TEXT NOT NULL,
    stream_id  TEXT NOT NULL,
    query      TEXT NOT NULL,
    first_day  TEXT NOT NULL,
    last_day   TEXT NOT NULL,
    range_end  TEXT NOT NULL,
    payload    TEXT NOT NULL,
    digest     TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    seen_at    TEXT NOT NULL,
    ended      INTEGER NOT NULL,
    lossy      INTEGER NOT NULL DEFAULT 0,
    seq        INTEGER NOT NULL DEFAULT 1,
    UNIQUE (key, digest)
);
CREATE INDEX IF NOT EXISTS revisions_key ON revisions (key, seen_at);
CREATE INDEX IF NOT EXISTS revisions_stream ON revisions (stream_id, first_day)
"""
#: Columns of a revision row, in :data:`SCHEMA` order (``id`` aside).
COLUMNS = (
    "key",
    "host",
    "stream_id",
    "query",
    "first_day",
    "last_day",
    "range_end",
    "payload",
    "digest",
    "fetched_at",
    "seen_at",
    "ended",
    "lossy",
    "seq",
)
SELECT_REVISIONS = "SELECT id, " + ", ".join(COLUMNS) + " FROM revisions"
#: Add one revision (the values in :data:`COLUMNS` order).
INSERT_REVISION = (
    "INSERT INTO revisions ("
    + ", ".join(COLUMNS)
    + ") VALUES ("
    + ", ".join("?" * len(COLUMNS))
    + ")"
)


def range_end(query: EngagementQuery) -> dt.datetime:
    """The instant ``query``'s range ends: midnight after its last day, in its zone (as UTC)."""
    midnight = dt.datetime.combine(
        query.end + dt.timedelta(days=1), dt.time(0), tzinfo=zoneinfo.ZoneInfo(query.tz)
    )
    return midnight.astimezone(dt.UTC)


def payload_digest(payload: str) -> str:
    """SHA-256 of the answer text: identical answers are stored once."""
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def revision_row(
    key: str,
    host: str,
    query: EngagementQuery,
    payload: str,
    fetched_at: dt.datetime | str,
    seen_at: dt.datetime | str,
    ended: bool,
    lossy: bool,
    *,
    seq: int = 1,
) -> tuple[Any, ...]:
    """One revision row in :data:`COLUMNS` order."""

    def text(value: dt.datetime | str) -> str:
        return value if isinstance(value, str) else value.isoformat()

    return (
        key,
        host.rstrip("/"),
        query.stream_id,
        json.dumps(query.model_dump(mode="json"), sort_keys=True),
        query.start.isoformat(),
        query.end.isoformat(),
        range_end(query).isoformat(),
        payload,
        payload_digest(payload),
        text(fetched_at),
        text(seen_at),
        int(ended),
        int(lossy),
        seq,
    )
