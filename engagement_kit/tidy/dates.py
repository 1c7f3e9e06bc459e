"""The platform's dates, ``"Dec 01 2025"``: parsed with an English month table (never the
machine's locale) and refused outside what a ``datetime64[ns]`` frame can hold; and formatted back.
"""

from __future__ import annotations

import datetime as dt
import re

from engagement_kit.config.weeks import MONTHS
from engagement_kit.errors import ResponseFormatError

__all__ = ["format_api_date", "parse_api_date"]

#: The days a ``datetime64[ns]`` frame can hold, with room for hours and zone offsets.
_FIRST_DAY, _LAST_DAY = dt.date(1678, 1, 1), dt.date(2261, 12, 31)

_MONTH_NUMBER = {name: i for i, name in enumerate(MONTHS, start=1)}
_API_DATE = re.compile(r"([A-Z][a-z]{2}) ([0-9]{1,2}) ([0-9]{4})")  # ASCII digits only


def short_text(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_date_cache: dict[str, dt.date] = {}


def parse_api_date(text: object, *, field: str = "date") -> dt.date:
    """Parse the platform's ``MMM DD YYYY`` date (``"Dec 01 2025"``), independent of locale."""
    if isinstance(text, str):
        cached = _date_cache.get(text)
        if cached is not None:
            return cached
        m = _API_DATE.fullmatch(text)
        if m and m.group(1) in _MONTH_NUMBER:
            try:
                value = dt.date(int(m.group(3)), _MONTH_NUMBER[m.group(1)], int(m.group(2)))
            except ValueError:
                pass
            else:
                if not _FIRST_DAY <= value <= _LAST_DAY:
                    raise ResponseFormatError(
                        f"{short_text(text)} is outside the dates a frame can hold "
                        f"({_FIRST_DAY} to {_LAST_DAY})",
                        field=field,
                    )
                if len(_date_cache) < 20_000:
                    _date_cache[text] = value
                return value
    raise ResponseFormatError(
        f"expected a date like 'Dec 01 2025' (English month, day, year), got {short_text(text)}",
        field=field,
    )


def format_api_date(day: dt.date) -> str:
    """Format a date the platform's way: ``Dec 01 2025``."""
    return f"{MONTHS[day.month - 1]} {day.day:02d} {day.year:04d}"
