"""Exact numbers whenever the platform allows them: how a date range becomes requests.

The longest range one request may cover is unknown (``NOTES.md``). So the client

1. asks for the whole range in one request: its summary (unique and returning users over the
   period) is then the platform's own, exact;
2. when the platform refuses it as too long (HTTP 400 whose message speaks of the range, its
   days, a maximum or a limit: :func:`is_range_refusal`), splits it into calendar-aligned chunks:
   months for daily data, ISO weeks (Monday to Sunday) for hourly data, and days if those are
   still too long. Aligned chunks are the same for overlapping ranges, so the response store
   reuses them;
3. remembers the learned maximum per host and aggregation (the number of days the platform's
   message names, else one day less than the refused range) in the response store, so later
   calls split at once instead of being refused again.

A range fetched in chunks has a trend that is exact day by day (hour by hour) and a summary in
which only new users add up (a first-ever interaction falls in one chunk). Unique and returning
users would count a user active in two chunks twice, so they are ``<NA>`` and
:attr:`~engagement_kit.tidy.Engagement.summary_notes` says why.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engagement_kit.config.query import EngagementQuery

__all__ = [
    "CHUNK_UNITS",
    "calendar_chunks",
    "is_range_refusal",
    "limit_from_message",
    "split_note",
]

#: The calendar units a too-long range is cut into, coarsest first, per aggregation.
CHUNK_UNITS: dict[str, tuple[str, ...]] = {
    "daily": ("month", "week", "day"),
    "hourly": ("week", "day"),
}
_LIMIT = re.compile(
    r"(?:at most|maximum(?: of)?|max\.?|up to|no more than|limit(?: is| of)?)\s*:?\s*(\d{1,5})\s*days?",
    re.IGNORECASE,
)


def _unit_end(day: dt.date, unit: str) -> dt.date:
    if unit == "month":
        following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return following - dt.timedelta(days=1)
    if unit == "week":
        return day + dt.timedelta(days=6 - day.weekday())
    return day


def calendar_chunks(query: EngagementQuery, unit: str) -> list[EngagementQuery]:
    """``query`` cut at calendar boundaries: whole months, ISO weeks or days (the first and last
    chunk clipped to the range)."""
    if unit not in ("month", "week", "day"):
        raise ValueError(f"unit must be 'month', 'week' or 'day', got {unit!r}")
    parts = []
    first = query.start
    while first <= query.end:
        last = min(query.end, _unit_end(first, unit))
        parts.append(query.replace(start=first, end=last))
        first = last + dt.timedelta(days=1)
    return parts


_RANGE_WORDS = re.compile(
    r"\b(range|days|period|interval|duration|too (?:long|large|many|wide)|exceed\w*|maximum|"
    r"at most|max|limit\w*)\b",
    re.IGNORECASE,
)


def is_range_refusal(message: str) -> bool:
    """Whether a 400's message reads like "the range is too long" (and not, say, a bad date)."""
    return bool(_RANGE_WORDS.search(message or ""))


def limit_from_message(message: str) -> int | None:
    """The longest allowed range, in days, when the platform's message names it."""
    match = _LIMIT.search(message or "")
    if match is None:
        return None
    days = int(match.group(1))
    return days if days >= 1 else None


def split_note(query: EngagementQuery, n_parts: int, limit: int | None) -> str:
    """Why a chunked summary has no unique or returning users, for people and code alike."""
    why = (
        f"the platform answers at most {limit} days per request"
        if limit is not None
        else "the platform refused the range as one request"
    )
    return (
        f"Not available for this {query.days}-day range: {why}, so it was fetched in "
        f"{n_parts} parts, and a user active in several parts cannot be counted once. "
        "New users and every day's numbers are exact."
    )
