"""Closed getSessions windows kept in the response store (its ``session_windows`` table,
declared with the others in :mod:`engagement_kit.store.schema`).

Its own module so that :func:`engagement_kit.client.sessions.fetch_sessions` can keep windows without
importing the backfill, which imports it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from engagement_kit.store.database import Database
from engagement_kit.store.schema import session_windows

__all__ = ["SessionCache"]

_W = session_windows.c


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class SessionCache(Database):
    """Closed getSessions windows, kept for good (see the module docstring)."""

    def get_windows(
        self, host: str, stream_id: str, windows: Iterable[Any], window_days: float
    ) -> dict[Any, list[list[Any]]]:
        """The stored rows of those of ``windows`` that are stored."""
        wanted = {w.start.isoformat(): w for w in windows}
        if not wanted:
            return {}
        found = {}
        for start, rows in self.read(
            sa.select(_W.window_start, _W.rows).where(
                _W.host == host,
                _W.stream_id == stream_id,
                _W.window_days == float(window_days),
                _W.window_start.between(min(wanted), max(wanted)),
            )
        ):
            if start in wanted:
                found[wanted[start]] = json.loads(rows)
        return found

    def put_window(
        self, host: str, stream_id: str, window: Any, window_days: float, rows: list[list[Any]]
    ) -> None:
        """Keep one closed window's sessions."""
        values = {
            "rows": json.dumps(rows, separators=(",", ":")),
            "fetched_at": _now(),
        }
        self.write(
            self.insert(session_windows)
            .values(
                host=host,
                stream_id=stream_id,
                window_days=float(window_days),
                window_start=window.start.isoformat(),
                **values,
            )
            .on_conflict_do_update(
                index_elements=["host", "stream_id", "window_days", "window_start"], set_=values
            )
        )

    def count(self, host: str, stream_id: str) -> int:
        """How many windows of the stream are stored."""
        return int(
            self.read(sa.select(sa.func.count()).where(_W.host == host, _W.stream_id == stream_id))[
                0
            ][0]
        )
