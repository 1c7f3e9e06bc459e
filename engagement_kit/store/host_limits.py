"""The longest range per request each host accepts, as learned by the client, kept in the
store (its ``host_limits`` table)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from engagement_kit.store.database import Database, utc
from engagement_kit.store.schema import host_limits


class HostLimits(Database):
    """:meth:`max_days` and :meth:`set_max_days` of :class:`~engagement_kit.store.ResponseStore`."""

    def max_days(self, host: str, aggregation: str) -> int | None:
        """The longest range (days) ``host`` accepted per request, as learned, or ``None``."""
        rows = self.read(
            sa.select(host_limits.c.max_days).where(
                host_limits.c.host == host.rstrip("/"), host_limits.c.aggregation == aggregation
            )
        )
        return int(rows[0][0]) if rows else None

    def set_max_days(
        self, host: str, aggregation: str, days: int, *, now: dt.datetime | None = None
    ) -> None:
        """Remember that ``host`` answers at most ``days`` days per ``aggregation`` request."""
        values = {"max_days": int(days), "learned_at": utc(now).isoformat()}
        self.write(
            self.insert(host_limits)
            .values(host=host.rstrip("/"), aggregation=aggregation, **values)
            .on_conflict_do_update(index_elements=["host", "aggregation"], set_=values)
        )
