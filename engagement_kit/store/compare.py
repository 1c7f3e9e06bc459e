"""What changed between two answers for the same query: lost data, and revised numbers."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engagement_kit.config.query import EngagementQuery

__all__ = ["Digest", "changes", "digest_of", "lost_buckets"]

#: summary column -> words used in messages ("unique users 710 → 702").
_LABELS = {
    "unique_users": "unique users",
    "new_users": "new users",
    "returning_users": "returning users",
}


class Digest:
    """The numbers of one answer: its summary counts and its buckets' users."""

    def __init__(self, summary: dict[str, float | None], buckets: dict[tuple[str, int], tuple]):
        self.summary = summary
        self.buckets = buckets  # (day 'YYYY-MM-DD', hour or -1) -> (unique, new, returning)

    def has_users(self, bucket: tuple[str, int]) -> bool:
        return any(v > 0 for v in self.buckets.get(bucket, (0, 0, 0)))


@functools.lru_cache(maxsize=32)
def digest_of(payload: str, query: EngagementQuery) -> Digest | None:
    """The numbers in ``payload``, or ``None`` when it does not parse."""
    import pandas as pd

    from engagement_kit.errors import ResponseFormatError
    from engagement_kit.tidy import parse_response

    try:
        data = parse_response(payload, query=query)
    except ResponseFormatError:
        return None
    summary: dict[str, float | None] = {
        name: None if pd.isna(value) else float(value) for name, value in data.summary.items()
    }
    wide = data.wide()
    buckets = {
        (f"{date:%Y-%m-%d}", -1 if pd.isna(hour) else int(hour)): (int(u), int(n), int(r))
        for date, hour, u, n, r in zip(
            wide["date"], wide["hour"], wide["unique"], wide["new"], wide["returning"], strict=True
        )
    }
    return Digest(summary, buckets)


def _label(bucket: tuple[str, int]) -> str:
    day, hour = bucket
    return day if hour < 0 else f"{day} {hour:02d}:00"


def lost_buckets(old: str, new: str, query: EngagementQuery) -> list[str]:
    """Buckets that had users in ``old`` and have none (or are missing) in ``new``.

    A non-empty list means ``new`` would lose data the store already had: typically the
    platform answering zeros for days it no longer keeps.
    """
    before, after = digest_of(old, query), digest_of(new, query)
    if before is None or after is None:
        return []
    lost: list[Any] = [b for b in before.buckets if before.has_users(b) and not after.has_users(b)]
    if not lost:
        users_before = before.summary.get("unique_users") or 0
        users_after = after.summary.get("unique_users") or 0
        if users_before > 0 and users_after == 0 and not after.buckets:
            lost = list(before.buckets) or ["summary"]
    return [_label(b) if b != "summary" else b for b in lost]


def _count(value: float | None) -> str:
    if value is None:
        return "NA"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def changes(old: str, new: str, query: EngagementQuery) -> list[str]:
    """What differs from ``old`` to ``new``, in words.

    Returns
    -------
    list of str
        ``"unique users 710 → 702"`` per changed summary count, then ``"3 days changed"``
        (or hours) when buckets differ; empty when the numbers are the same.
    """
    before, after = digest_of(old, query), digest_of(new, query)
    if before is None or after is None:
        return ["the answer does not parse"] if before is not after else []
    out = [
        f"{label} {_count(before.summary.get(name))} → {_count(after.summary.get(name))}"
        for name, label in _LABELS.items()
        if before.summary.get(name) != after.summary.get(name)
    ]
    differ = sum(
        1
        for b in set(before.buckets) | set(after.buckets)
        if before.buckets.get(b) != after.buckets.get(b)
    )
    if differ:
        unit = "hour" if query.aggregation == "hourly" else "day"
        out.append(f"{differ} {unit}{'s' if differ != 1 else ''} changed")
    return out
