"""Pure functions: the platform's JSON answer → :class:`Engagement` (tidy pandas frames).

No I/O happens here. Every answer is checked against the documented shape; anything missing,
mistyped or negative raises :class:`~engagement_kit.errors.ResponseFormatError` naming the field
(e.g. ``newUsersTrend.dataPoints[3]["17 - 18"]``). An unknown key inside a data point (such as
``"25 - 26"``) is an error too, since its users would be silently lost; unknown keys elsewhere
(a new top-level field, a new field of ``summary`` or ``filters``) are tolerated.

Dates (``"Dec 01 2025"``) are parsed with an English month table, never the machine's locale.

Daylight-saving days
--------------------
Hourly answers always carry 24 wall-clock buckets per day, ``"0 - 1"`` … ``"23 - 0"``, in the
query's zone. The ``start`` column is the bucket's first real instant in that zone:

* a wall-clock hour that does not exist (spring forward, e.g. 02:00 on 2025-03-09 in
  America/New_York) has ``start = NaT``; the platform reports it, normally with 0 users;
* a wall-clock hour that happens twice (fall back, e.g. 01:00 on 2025-11-02 in New York) gets the
  *first* occurrence as ``start``; its counts cover both real hours, as the platform's do;
* a daily bucket starts at the day's first instant (midnight, or the first instant after a
  midnight that does not exist).
"""

from __future__ import annotations

from engagement_kit.tidy.dates import format_api_date, parse_api_date
from engagement_kit.tidy.engagement import METRICS, SUMMARY_FIELDS, Engagement, merge_engagements
from engagement_kit.tidy.engagement import NOT_ADDITIVE as NOT_ADDITIVE
from engagement_kit.tidy.parse import HOUR_KEYS, parse_response

__all__ = [
    "HOUR_KEYS",
    "METRICS",
    "SUMMARY_FIELDS",
    "Engagement",
    "format_api_date",
    "merge_engagements",
    "parse_api_date",
    "parse_response",
]
