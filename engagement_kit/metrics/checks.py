"""Data checks of one answer: only what follows from the platform's definitions.

The API reference and the platform's Users Dashboard define the numbers (``NOTES.md``): *unique*
users interacted in the bucket, *new* users had their first-ever interaction in it, *returning*
users had interacted before and start another session in it. From these alone, on any platform:

* every count is ≥ 0 (``no_negative_counts``);
* per bucket, new ≤ unique (``new_le_unique``) and returning ≤ unique (``returning_le_unique``):
  both are subsets of the bucket's users;
* per bucket, unique ≤ new + returning (``unique_le_new_plus_returning``): each user of the
  bucket is new or had interacted before;
* the buckets' new users add up to the period's (``new_users_sum``): a first-ever interaction
  happens once;
* the period's unique users lie between the busiest bucket's and the sum over the buckets
  (``period_unique_bounds``);
* every requested day (and hour) is present, once (``dates_contiguous``, ``data_points_count``,
  ``hours_per_day``).

What the definitions do **not** promise is the per-bucket identity unique = new + returning: a
user new at 10:00 and back at 15:00 may count as both that day. Where it fails, the check reports
it as ``info`` (``unique_equals_new_plus_returning``), never as a warning.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

from engagement_kit.errors import InvalidQueryError
from engagement_kit.tidy import METRICS
from engagement_kit.tidy.frames import hour_label
from engagement_kit.tidy.frames import is_engagement as _is_engagement
from engagement_kit.tidy.frames import is_hourly as _is_hourly
from engagement_kit.tidy.frames import wide as _wide

if TYPE_CHECKING:
    from engagement_kit.tidy import Engagement

__all__ = ["check_data"]


def check_data(data: Engagement) -> pd.DataFrame:
    """Sanity checks of one answer; each problem is a plain sentence.

    See the module docstring for the checks and why each one holds on any platform.

    Returns
    -------
    pandas.DataFrame
        ``level`` (``"warning"``/``"info"``), ``check``, ``message``: the warnings first, then
        ``info`` rows: ``unique_equals_new_plus_returning`` when that identity fails somewhere
        (allowed by the definitions) and ``all_passed`` when no check warned.
    """
    if not _is_engagement(data):
        raise InvalidQueryError("data: check_data needs an Engagement", field="data")
    wide = _wide(data)
    hourly = data.aggregation == "hourly" or _is_hourly(wide)
    findings: list[tuple[str, str]] = []
    notes: list[tuple[str, str]] = []
    ran: list[str] = []
    skipped: list[str] = []

    def warn(check: str, message: str) -> None:
        findings.append((check, message))

    dates = pd.DatetimeIndex(wide["date"].unique()).sort_values()
    # dates_contiguous
    ran.append("dates_contiguous")
    if len(dates):
        expected = pd.date_range(dates[0], dates[-1], freq="D")
        missing = expected.difference(dates)
        if len(missing):
            warn(
                "dates_contiguous",
                f"{len(missing)} day(s) are missing between {_format_days([dates[0]])} and "
                f"{_format_days([dates[-1]])}: {_format_days(missing)}.",
            )
        per_day = wide.groupby("date").size()
        want = 24 if hourly else 1
        if not hourly and (per_day > want).any():
            warn(
                "dates_contiguous",
                f"some days appear more than once: {_format_days(per_day[per_day > want].index)}.",
            )
    # data_points_count
    count = data.filters.get("dataPointsCount") if isinstance(data.filters, dict) else None
    query = getattr(data, "query", None)
    if count is None and query is None:
        skipped.append("data_points_count (no dataPointsCount or query)")
    else:
        ran.append("data_points_count")
        if count is not None and int(count) != len(dates):
            warn(
                "data_points_count",
                f"the platform says {count} data points (days) but the trend has {len(dates)} days.",
            )
        if query is not None:
            want_days = pd.date_range(query.start, query.end, freq="D")
            if len(dates) != len(want_days) or (len(dates) and not dates.equals(want_days)):
                span = f"{query.start} to {query.end} ({query.days} days)"
                got = (
                    f"{_format_days([dates[0]])} to {_format_days([dates[-1]])} ({len(dates)} days)"
                    if len(dates)
                    else "no days"
                )
                warn("data_points_count", f"the query asked for {span} but the trend has {got}.")
    # hours_per_day
    if hourly:
        ran.append("hours_per_day")
        bad = []
        for day, hours in wide.groupby("date")["hour"]:
            values = sorted(int(h) for h in hours.dropna())
            if values != list(range(24)):
                bad.append(day)
        if bad:
            warn(
                "hours_per_day",
                f"{len(bad)} day(s) do not have exactly the 24 hours 0–23: {_format_days(bad)}.",
            )
    # no_negative_counts
    ran.append("no_negative_counts")
    negative = [m for m in METRICS if (wide[m] < 0).any()]
    negative += [k for k, v in data.summary.items() if pd.notna(v) and v < 0]
    if negative:
        warn("no_negative_counts", f"negative counts in: {', '.join(map(str, negative))}.")
    # per-bucket bounds
    where = "hour bucket(s)" if hourly else "day(s)"
    for check, rows, what in (
        ("new_le_unique", wide["new"] > wide["unique"], "new users exceed unique users"),
        (
            "returning_le_unique",
            wide["returning"] > wide["unique"],
            "returning users exceed unique users",
        ),
        (
            "unique_le_new_plus_returning",
            wide["unique"] > wide["new"] + wide["returning"],
            "unique users exceed new + returning (every user is new or has been seen before)",
        ),
    ):
        ran.append(check)
        over = wide[rows]
        if len(over):
            warn(check, f"in {len(over)} {where} {what}, e.g. on {_bucket_text(over.iloc[0])}.")
    # the identity the definitions do not promise: information only
    overlap = wide[wide["unique"] < wide["new"] + wide["returning"]]
    if len(overlap):
        notes.append(
            (
                "unique_equals_new_plus_returning",
                f"in {len(overlap)} {where} unique users are fewer than new + returning, e.g. on "
                f"{_bucket_text(overlap.iloc[0])}: the platform counts a user who is new and "
                "comes back within the same bucket in both, which its definitions allow.",
            )
        )
    # new_users_sum
    summary_new = data.summary.get("new_users", pd.NA)
    if pd.isna(summary_new):
        skipped.append("new_users_sum (summary new users unknown)")
    else:
        ran.append("new_users_sum")
        total = int(wide["new"].sum())
        if total != summary_new:
            warn(
                "new_users_sum",
                f"the trend's new users add up to {total:,} but the summary says "
                f"{int(summary_new):,}.",
            )
    # period_unique_bounds
    summary_unique = data.summary.get("unique_users", pd.NA)
    if pd.isna(summary_unique) or not len(wide):
        skipped.append("period_unique_bounds (summary unique users unknown)")
    else:
        ran.append("period_unique_bounds")
        low, high = int(wide["unique"].max()), int(wide["unique"].sum())
        bucket = "hour" if hourly else "day"
        if not low <= summary_unique <= high:
            warn(
                "period_unique_bounds",
                f"the summary's {int(summary_unique):,} unique users are not between the busiest "
                f"{bucket}'s {low:,} and the sum over the {bucket}s, {high:,}.",
            )

    rows = [("warning", check, message) for check, message in findings]
    rows += [("info", check, message) for check, message in notes]
    if not findings:
        message = f"All {len(ran)} data checks passed."
        if skipped:
            message += f" Skipped: {'; '.join(skipped)}."
        rows.append(("info", "all_passed", message))
    return pd.DataFrame(rows, columns=["level", "check", "message"])


def _format_days(days: Iterable[pd.Timestamp], limit: int = 3) -> str:
    days = [pd.Timestamp(d).date().isoformat() for d in days]
    shown = ", ".join(days[:limit])
    return shown + (f" and {len(days) - limit} more" if len(days) > limit else "")


def _bucket_text(row: pd.Series) -> str:
    text = pd.Timestamp(row["date"]).date().isoformat()
    if pd.notna(row["hour"]):
        text += f" {hour_label(int(row['hour']))}"
    return f"{text} (unique {row['unique']}, new {row['new']}, returning {row['returning']})"
