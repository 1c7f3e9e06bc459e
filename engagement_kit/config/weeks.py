"""ISO-week helpers: ``'YYYY-Www'`` labels, their Monday..Sunday bounds, the last complete week.

Weekly reports and :meth:`EngagementClient.fetch_weeks` work in ISO weeks (Monday to Sunday,
week 1 holds the year's first Thursday), always in a stream's own time zone: "today", and so
which week is complete, depends on the zone.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from engagement_kit.errors import InvalidQueryError

__all__ = [
    "MONTHS",
    "ended_week",
    "iso_week_label",
    "last_complete_week",
    "parse_iso_week",
    "today_in",
    "week_bounds",
    "week_labels",
]

#: English month abbreviations, January first (locale-independent dates in texts and charts).
MONTHS: tuple[str, ...] = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
_WEEK = re.compile(r"(\d{4})-W(\d{2})")


def parse_iso_week(text: object, *, field: str = "week") -> tuple[int, int]:
    """Parse a strict ``'YYYY-Www'`` label (``'2025-W49'``) into ``(year, week)``.

    Raises
    ------
    InvalidQueryError
        For anything else, or a week the year does not have (``'2025-W53'``), naming ``field``.
    """
    m = _WEEK.fullmatch(text) if isinstance(text, str) else None
    if m is not None:
        year, week = int(m.group(1)), int(m.group(2))
        try:
            dt.date.fromisocalendar(year, week, 1)
        except ValueError:
            pass
        else:
            return year, week
    raise InvalidQueryError(
        f"{field}: {text!r} is not an ISO week; use 'YYYY-Www' such as '2025-W49' "
        "(weeks 01-52, or 53 in long years)",
        field=field,
    )


def iso_week_label(day: dt.date) -> str:
    """The ISO week a day falls in: ``date(2025, 12, 3)`` → ``'2025-W49'``."""
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def week_bounds(week: str | tuple[int, int]) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of an ISO week given as ``'YYYY-Www'`` or ``(year, week)``."""
    year, number = parse_iso_week(week) if isinstance(week, str) else week
    try:
        monday = dt.date.fromisocalendar(year, number, 1)
    except ValueError as exc:
        raise InvalidQueryError(f"week: {year}-W{number:02d} does not exist", field="week") from exc
    return monday, monday + dt.timedelta(days=6)


def today_in(tz: str | dt.tzinfo, *, now: dt.datetime | None = None) -> dt.date:
    """Today's date in ``tz`` (an IANA name or tzinfo); ``now`` must be timezone-aware."""
    zone = zoneinfo.ZoneInfo(tz) if isinstance(tz, str) else tz
    if now is None:
        now = dt.datetime.now(dt.UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware (e.g. datetime.now(datetime.UTC))")
    return now.astimezone(zone).date()


def last_complete_week(tz: str | dt.tzinfo = "UTC", today: dt.date | None = None) -> str:
    """The latest ISO week whose Sunday is before ``today`` (default: today in ``tz``).

    On a Monday this is the week that ended yesterday; on a Sunday, the week before.
    """
    if today is None:
        today = today_in(tz)
    return iso_week_label(today - dt.timedelta(days=today.isoweekday()))


def ended_week(
    week: str | None, tz: str, *, today: dt.date | None = None, field: str = "week"
) -> str:
    """``week`` after checking it has ended in ``tz``; ``None`` gives the last complete week.

    Parameters
    ----------
    week : str or None
        ``'YYYY-Www'``.
    tz : str
        IANA zone whose calendar decides whether the week is over.
    today : date, optional
        "Today" in ``tz`` (default: the clock).
    field : str
        The argument's name in error messages.

    Raises
    ------
    InvalidQueryError
        A malformed week, or one whose Sunday is today or later in ``tz``.
    """
    now = today if today is not None else today_in(tz)
    last = last_complete_week(tz, today=now)
    if week is None:
        return last
    parse_iso_week(week, field=field)
    sunday = week_bounds(week)[1]
    if sunday >= now:
        raise InvalidQueryError(
            f"{field}: {week} has not ended yet in {tz} (its Sunday is {sunday}); the last "
            f"complete week there is {last}",
            field=field,
        )
    return week


def week_labels(end_week: str, weeks: int) -> list[str]:
    """``weeks`` consecutive ISO-week labels ending with ``end_week``, oldest first."""
    if not isinstance(weeks, int) or isinstance(weeks, bool) or weeks < 1:
        raise InvalidQueryError(
            f"weeks: {weeks!r} is not a positive whole number of weeks", field="weeks"
        )
    monday, _ = week_bounds(end_week)
    return [iso_week_label(monday - dt.timedelta(weeks=i)) for i in range(weeks - 1, -1, -1)]
