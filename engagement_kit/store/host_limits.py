"""The longest range per request each host accepts, as learned by the client, kept in the
store's file (its own ``host_limits`` table)."""

from __future__ import annotations

import datetime as dt

from engagement_kit.store.core import Database, _utc


class HostLimits(Database):
    """:meth:`max_days` and :meth:`set_max_days` of :class:`~engagement_kit.store.ResponseStore`."""

    _LIMITS_TABLE = (
        "CREATE TABLE IF NOT EXISTS host_limits ("
        "host TEXT NOT NULL, aggregation TEXT NOT NULL, max_days INTEGER NOT NULL, "
        "learned_at TEXT NOT NULL, PRIMARY KEY (host, aggregation))"
    )

    def max_days(self, host: str, aggregation: str) -> int | None:
        """The longest range (days) ``host`` accepted per request, as learned, or ``None``."""
        self._write(self._LIMITS_TABLE)
        rows = self._read(
            "SELECT max_days FROM host_limits WHERE host = ? AND aggregation = ?",
            (host.rstrip("/"), aggregation),
        )
        return int(rows[0][0]) if rows else None

    def set_max_days(
        self, host: str, aggregation: str, days: int, *, now: dt.datetime | None = None
    ) -> None:
        """Remember that ``host`` answers at most ``days`` days per ``aggregation`` request."""
        self._write(self._LIMITS_TABLE)
        self._write(
            "INSERT OR REPLACE INTO host_limits (host, aggregation, max_days, learned_at) "
            "VALUES (?, ?, ?, ?)",
            (host.rstrip("/"), aggregation, int(days), _utc(now).isoformat()),
        )
