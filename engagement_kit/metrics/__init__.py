"""Pure analysis of engagement data: frames in, frames (or small records) out.

Nothing here fetches, prints or mutates its input. Every function accepts an
:class:`~engagement_kit.tidy.Engagement`, its long ``trend`` frame, or its ``wide()`` frame
(one row per bucket with ``unique``, ``new`` and ``returning`` columns), unless it says otherwise.

What the aggregate numbers can and cannot tell
----------------------------------------------
The User Engagement Trend API gives *counts*: distinct users per bucket (hour or day) and per
period, split into new (first-ever interaction in the bucket) and returning (seen before).
It never says *which* users. So:

* **Can**: how many users came, what share of each day's users had been seen before
  (*returning share*), what share were first-timers (*new-user share*), how concentrated use is
  in time (peak hours, the coverage window), and how often the period's users came back on
  average (*stickiness*: mean daily unique users ÷ period unique users, the DAU-over-period-users
  ratio; 1 means every user came every day, 1/days means each came on one day only).
* **Cannot**: true cohort retention ("of the users new in week 1, how many came back in week
  2?"), churn, or how many distinct users a rolling 7-day window holds. Those need user-level
  data the API does not give. A rising returning share may mean better retention *or* fewer new
  users; read it next to the new-user counts.
* Hourly data counts a user once per hour they were active, so per-day sums of hourly
  ``unique`` are *user-hours*, not users (``new`` does add up: a user is new in one hour only).
  Shares computed from hourly data are user-hour shares; stickiness needs daily data.
* Over a period, new + returning may exceed unique (a user new on Monday and back on Tuesday is
  in both); that is the platform's definition, not an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engagement_kit.metrics.anomaly import anomalies
from engagement_kit.metrics.hours import (
    WEEKDAYS,
    CoverageWindow,
    coverage_window,
    hour_profile,
    peak_hours,
    top_hours,
)
from engagement_kit.metrics.kpi import KPI_LABELS, KPI_NAMES, kpi_dict, kpis
from engagement_kit.metrics.retention import retention_proxies, stickiness, weekly_stickiness
from engagement_kit.metrics.weekly import TREND_THRESHOLD as TREND_THRESHOLD
from engagement_kit.metrics.weekly import (
    WEEKLY_METRICS,
    trend_direction,
    week_over_week,
    weekly_trends,
)

# the tidy frames' names, reachable here as before the split (metrics.SUMMARY_FIELDS)
from engagement_kit.tidy import METRICS as METRICS
from engagement_kit.tidy import SUMMARY_FIELDS as SUMMARY_FIELDS
from engagement_kit.tidy.frames import daily_totals, hour_label

if TYPE_CHECKING:
    import pandas as pd

    from engagement_kit.tidy import Engagement


__all__ = [
    "KPI_LABELS",
    "KPI_NAMES",
    "WEEKDAYS",
    "WEEKLY_METRICS",
    "CoverageWindow",
    "anomalies",
    "channel_mix",
    "check_data",
    "coverage_window",
    "daily_totals",
    "hour_label",
    "hour_profile",
    "kpi_dict",
    "kpis",
    "peak_hours",
    "retention_proxies",
    "stickiness",
    "top_hours",
    "trend_direction",
    "week_over_week",
    "weekly_stickiness",
    "weekly_trends",
]


# -- data checks ---------------------------------------------------------------------------------


def check_data(data: Engagement) -> pd.DataFrame:
    """Sanity checks of one answer that hold on any platform: see :func:`engagement_kit.metrics.checks.check_data`."""
    from engagement_kit.metrics.checks import check_data as run

    return run(data)


from engagement_kit.metrics.channels import NOT_ADDITIVE_NOTE, channel_mix  # noqa: E402

# True retention from user-level sessions (getSessions) lives in its own module; re-exported
# here so ``metrics.cohort_retention`` sits beside the trend-based proxies.
from engagement_kit.metrics.cohorts import cohort_retention, lifecycle, stickiness_histogram  # noqa: E402

__all__ += ["NOT_ADDITIVE_NOTE", "cohort_retention", "lifecycle", "stickiness_histogram"]

# Retention by the outcome of the first session (containment joined with cohorts).
from engagement_kit.metrics.outcomes import (  # noqa: E402
    outcome_mix,
    outcome_transitions,
    retention_by_outcome,
)

__all__ += ["outcome_mix", "outcome_transitions", "retention_by_outcome"]
