"""Every table of the store, declared once (SQLAlchemy Core), with the store's versioning.

The same declarations serve both backends (a SQLite file, the default, or a PostgreSQL
database: see :mod:`engagement_kit.store.database`):

``revisions``
    Every distinct answer the platform gave (see :mod:`engagement_kit.store.responses`).
``host_limits``
    The longest range per request each host accepts (:mod:`engagement_kit.store.host_limits`).
``session_windows``, ``first_seen``, ``first_seen_meta``
    Closed getSessions windows and each user's first session
    (:mod:`engagement_kit.store.session_windows`, :mod:`engagement_kit.metrics.first_seen`).
``deliveries``, ``alert_firings``, ``claims``
    What was sent, which alerts fired, and the messages being sent right now
    (:mod:`engagement_kit.delivery.ledger`).
``rate_sends``, ``rate_cooldowns``
    The per-bot request budget, only used in a PostgreSQL store (a SQLite store's budget
    stays in its own file, see :mod:`engagement_kit.client.ratelimit`).
``store_meta``
    The schema version and the engagement-kit release that wrote it.

Versioning (one mechanism for both backends): ``store_meta`` holds ``schema`` (the number
below) and ``written_by``. A store of a higher number is refused with "written by
engagement-kit X or later: upgrade", never touched. A store of a lower number is migrated in
place, in one transaction, by :func:`migrate`. SQLite files written before ``store_meta``
existed carry their version in ``PRAGMA user_version`` (1: one answer per key; 2: revisions);
SQLite files keep ``user_version`` in step so older releases refuse newer files too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zoneinfo
from typing import Any

import sqlalchemy as sa

from engagement_kit.config.query import EngagementQuery

__all__ = [
    "COLUMNS",
    "SCHEMA_VERSION",
    "metadata",
    "payload_digest",
    "range_end",
    "revision_row",
]

#: 3: every table declared here, ``store_meta``, ``claims`` and the shared rate budget.
SCHEMA_VERSION = 3

metadata = sa.MetaData()

revisions = sa.Table(
    "revisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("stream_id", sa.Text, nullable=False),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("first_day", sa.Text, nullable=False),
    sa.Column("last_day", sa.Text, nullable=False),
    sa.Column("range_end", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("digest", sa.Text, nullable=False),
    sa.Column("fetched_at", sa.Text, nullable=False),
    sa.Column("seen_at", sa.Text, nullable=False),
    sa.Column("ended", sa.Integer, nullable=False),
    sa.Column("lossy", sa.Integer, nullable=False, server_default="0"),
    sa.Column("seq", sa.Integer, nullable=False, server_default="1"),
    sa.UniqueConstraint("key", "digest"),
    sa.Index("revisions_key", "key", "seen_at"),
    sa.Index("revisions_stream", "stream_id", "first_day"),
    sqlite_autoincrement=True,
)

host_limits = sa.Table(
    "host_limits",
    metadata,
    sa.Column("host", sa.Text, primary_key=True),
    sa.Column("aggregation", sa.Text, primary_key=True),
    sa.Column("max_days", sa.Integer, nullable=False),
    sa.Column("learned_at", sa.Text, nullable=False),
)

session_windows = sa.Table(
    "session_windows",
    metadata,
    sa.Column("host", sa.Text, primary_key=True),
    sa.Column("stream_id", sa.Text, primary_key=True),
    sa.Column("window_days", sa.Float, primary_key=True),
    sa.Column("window_start", sa.Text, primary_key=True),
    sa.Column("rows", sa.Text, nullable=False),
    sa.Column("fetched_at", sa.Text, nullable=False),
)

first_seen = sa.Table(
    "first_seen",
    metadata,
    sa.Column("host", sa.Text, primary_key=True),
    sa.Column("stream_id", sa.Text, primary_key=True),
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("first_start", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
)

first_seen_meta = sa.Table(
    "first_seen_meta",
    metadata,
    sa.Column("host", sa.Text, primary_key=True),
    sa.Column("stream_id", sa.Text, primary_key=True),
    sa.Column("tz", sa.Text, nullable=False),
    sa.Column("horizon", sa.Text, nullable=False),
    sa.Column("through", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("stream_id", sa.Text, primary_key=True),
    sa.Column("week", sa.Text, primary_key=True),
    sa.Column("destination", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("content_hash", sa.Text, nullable=False),
    sa.Column("sent_at", sa.Text, nullable=False),
)

alert_firings = sa.Table(
    "alert_firings",
    metadata,
    sa.Column("stream_id", sa.Text, primary_key=True),
    sa.Column("rule", sa.Text, primary_key=True),
    sa.Column("week", sa.Text, primary_key=True),
    sa.Column("fired_at", sa.Text, nullable=False),
)

#: A message being sent: one row per stream, week, destination and kind (the primary key makes
#: a second claim fail). ``status`` is ``claimed`` while its owner sends, ``failed`` after a
#: failed attempt (anyone may claim it again); a sent message moves to ``deliveries``.
claims = sa.Table(
    "claims",
    metadata,
    sa.Column("stream_id", sa.Text, primary_key=True),
    sa.Column("week", sa.Text, primary_key=True),
    sa.Column("destination", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("claimed_at", sa.Float, nullable=False),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
)

#: One row per request sent for a bot (PostgreSQL stores: the budget shared across machines).
rate_sends = sa.Table(
    "rate_sends",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("sent_at", sa.Float, nullable=False),
    sa.Index("rate_sends_key", "key", "sent_at"),
)

rate_cooldowns = sa.Table(
    "rate_cooldowns",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("until", sa.Float, nullable=False),
)

store_meta = sa.Table(
    "store_meta",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: The tables that hold records (copied by ``store copy``); claims and the rate budget are
#: moment-to-moment state, not history.
RECORD_TABLES = (
    host_limits,
    session_windows,
    first_seen,
    first_seen_meta,
    deliveries,
    alert_firings,
)

#: Columns of a revision row, in table order (``id`` aside).
COLUMNS = tuple(c.name for c in revisions.columns if c.name != "id")
#: ``SELECT id, <COLUMNS>`` of :data:`revisions`.
REVISION_COLUMNS = (revisions.c.id, *(revisions.c[name] for name in COLUMNS))


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
) -> dict[str, Any]:
    """One revision row (column name → value)."""

    def text(value: dt.datetime | str) -> str:
        return value if isinstance(value, str) else value.isoformat()

    return dict(
        zip(
            COLUMNS,
            (
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
            ),
            strict=True,
        )
    )


# -- migrations -------------------------------------------------------------------------------
def migrate(conn: sa.Connection, found: int) -> None:
    """Bring a store of schema ``found`` (0: empty) to :data:`SCHEMA_VERSION`, in ``conn``'s
    transaction: create what is missing, then move old data."""
    legacy_responses = found == 1 and sa.inspect(conn).has_table("responses")
    metadata.create_all(conn, checkfirst=True)
    if legacy_responses:
        _migrate_v1(conn)


def _migrate_v1(conn: sa.Connection) -> None:
    """Schema 1 (one replaceable answer per key) → revisions."""
    rows = conn.exec_driver_sql(
        "SELECT key, host, query, payload, fetched_at, final FROM responses"
    ).fetchall()
    for key, host, query_text, payload, fetched_at, final in rows:
        query = EngagementQuery(**json.loads(query_text))
        row = revision_row(key, host, query, payload, fetched_at, fetched_at, bool(final), False)
        conn.execute(dialect_insert(conn, revisions).values(**row).on_conflict_do_nothing())
    conn.exec_driver_sql("DROP TABLE responses")


def dialect_insert(conn: sa.Connection, table: sa.Table) -> Any:
    """The backend's ``INSERT`` with ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    from sqlalchemy.dialects import postgresql, sqlite

    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
