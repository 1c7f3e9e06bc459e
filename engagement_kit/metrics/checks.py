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
  happens once. With a conversation type, status or channel filter the buckets may count
  fewer: a user whose first-ever session did not pass the filter is new in the period but in
  no bucket; that is reported as ``info`` with the reason, never as a warning;
* the period's unique users lie between the busiest bucket's and the sum over the buckets
  (``period_unique_bounds``);
* every requested day (and hour) is present, once (``dates_contiguous``, ``data_points_count``,
  ``hours_per_day``).

What the definitions do **not** promise is the per-bucket identity unique = new + returning: a
user new at 10:00 and back at 15:00 may count as both that day. Where it fails, the check reports
it as ``info`` (``unique_equals_new_plus_returning``), never as a warning.

Each check is one small function in the registry :data:`CHECKS` (as papermill keeps its
engines), run in the order registered by :func:`check_data`. A new check is a function of the
:class:`Answer` that yields ``("warning" | "info", message)`` pairs, registered with
:func:`data_check`; it raises :class:`SkipCheck` when the answer lacks what it needs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
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

__all__ = [
    "CHECKS",
    "CHECK_TITLES",
    "Answer",
    "DataCheck",
    "SkipCheck",
    "check_data",
    "check_title",
    "data_check",
]

#: Each check's name as a reader sees it (the ``check`` column holds the internal id).
CHECK_TITLES = {
    "all_passed": "All checks",
    "dates_contiguous": "Every day present",
    "data_points_count": "Days asked for",
    "hours_per_day": "24 hours a day",
    "no_negative_counts": "No negative counts",
    "new_le_unique": "New within unique",
    "returning_le_unique": "Returning within unique",
    "unique_le_new_plus_returning": "Unique within new + returning",
    "unique_equals_new_plus_returning": "Unique vs new + returning",
    "new_users_sum": "New users add up",
    "period_unique_bounds": "Week's unique users in range",
}


def check_title(check: str) -> str:
    """A check's name in words (``all_passed`` → ``All checks``)."""
    return CHECK_TITLES.get(check, check.replace("_", " ").capitalize())


#: What a check yields: ``("warning", message)`` or ``("info", message)``.
Finding = tuple[str, str]


@dataclasses.dataclass(frozen=True)
class Answer:
    """One answer as the checks read it: the ``Engagement``, its wide frame, its days."""

    data: Engagement
    wide: pd.DataFrame
    hourly: bool
    dates: pd.DatetimeIndex

    @classmethod
    def of(cls, data: Engagement) -> Answer:
        wide = _wide(data)
        hourly = data.aggregation == "hourly" or _is_hourly(wide)
        dates = pd.DatetimeIndex(wide["date"].unique()).sort_values()
        return cls(data, wide, hourly, dates)

    @property
    def buckets(self) -> str:
        """How the findings name the buckets: ``"hour bucket(s)"`` or ``"day(s)"``."""
        return "hour bucket(s)" if self.hourly else "day(s)"


class SkipCheck(Exception):
    """Raised by a check that cannot run on this answer; the message says what is missing."""


@dataclasses.dataclass(frozen=True)
class DataCheck:
    """A registered check: its name (the ``check`` column), its function, when it applies
    (a check that does not apply is neither run nor listed as skipped) and whether it counts
    in "All N data checks passed" (an information-only check does not)."""

    name: str
    run: Callable[[Answer], Iterable[Finding]]
    applies: Callable[[Answer], bool] = lambda answer: True
    counted: bool = True


#: The checks, in the order :func:`check_data` runs and reports them.
CHECKS: dict[str, DataCheck] = {}


def data_check(
    name: str, *, applies: Callable[[Answer], bool] | None = None, counted: bool = True
) -> Callable[[Callable[[Answer], Iterable[Finding]]], Callable[[Answer], Iterable[Finding]]]:
    """Register the decorated function as the check ``name`` (see :class:`DataCheck`)."""

    def register(
        fn: Callable[[Answer], Iterable[Finding]],
    ) -> Callable[[Answer], Iterable[Finding]]:
        CHECKS[name] = DataCheck(name, fn, applies or (lambda answer: True), counted)
        return fn

    return register


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
    answer = Answer.of(data)
    warnings: list[tuple[str, str, str]] = []
    notes: list[tuple[str, str, str]] = []
    ran, skipped = 0, []
    for check in CHECKS.values():
        if not check.applies(answer):
            continue
        try:
            found = list(check.run(answer))
        except SkipCheck as why:
            skipped.append(f"{check.name} ({why})")
            continue
        ran += check.counted
        for level, message in found:
            (warnings if level == "warning" else notes).append((level, check.name, message))
    rows = warnings + notes
    if not warnings:
        message = f"All {ran} data checks passed."
        if skipped:
            message += f" Skipped: {'; '.join(skipped)}."
        rows.append(("info", "all_passed", message))
    return pd.DataFrame(rows, columns=["level", "check", "message"])


# -- the checks, in order ------------------------------------------------------------------------


@data_check("dates_contiguous")
def _dates_contiguous(answer: Answer) -> Iterator[Finding]:
    dates = answer.dates
    if not len(dates):
        return
    missing = pd.date_range(dates[0], dates[-1], freq="D").difference(dates)
    if len(missing):
        yield (
            "warning",
            f"{len(missing)} day(s) are missing between {_format_days([dates[0]])} and "
            f"{_format_days([dates[-1]])}: {_format_days(missing)}.",
        )
    per_day = answer.wide.groupby("date").size()
    if not answer.hourly and (per_day > 1).any():
        yield (
            "warning",
            f"some days appear more than once: {_format_days(per_day[per_day > 1].index)}.",
        )


@data_check("data_points_count")
def _data_points_count(answer: Answer) -> Iterator[Finding]:
    data, dates = answer.data, answer.dates
    count = data.filters.get("dataPointsCount") if isinstance(data.filters, dict) else None
    query = getattr(data, "query", None)
    if count is None and query is None:
        raise SkipCheck("no dataPointsCount or query")
    if count is not None and int(count) != len(dates):
        yield (
            "warning",
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
            yield ("warning", f"the query asked for {span} but the trend has {got}.")


@data_check("hours_per_day", applies=lambda answer: answer.hourly)
def _hours_per_day(answer: Answer) -> Iterator[Finding]:
    bad = [
        day
        for day, hours in answer.wide.groupby("date")["hour"]
        if sorted(int(h) for h in hours.dropna()) != list(range(24))
    ]
    if bad:
        yield (
            "warning",
            f"{len(bad)} day(s) do not have exactly the 24 hours 0–23: {_format_days(bad)}.",
        )


@data_check("no_negative_counts")
def _no_negative_counts(answer: Answer) -> Iterator[Finding]:
    negative = [m for m in METRICS if (answer.wide[m] < 0).any()]
    negative += [k for k, v in answer.data.summary.items() if pd.notna(v) and v < 0]
    if negative:
        yield ("warning", f"negative counts in: {', '.join(map(str, negative))}.")


def _bucket_bound(
    rows: Callable[[pd.DataFrame], pd.Series], what: str
) -> Callable[[Answer], Iterator[Finding]]:
    """A per-bucket bound: warn with the first bucket where ``rows`` is true."""

    def check(answer: Answer) -> Iterator[Finding]:
        over = answer.wide[rows(answer.wide)]
        if len(over):
            yield (
                "warning",
                f"in {len(over)} {answer.buckets} {what}, e.g. on {_bucket_text(over.iloc[0])}.",
            )

    return check


data_check("new_le_unique")(
    _bucket_bound(lambda w: w["new"] > w["unique"], "new users exceed unique users")
)
data_check("returning_le_unique")(
    _bucket_bound(lambda w: w["returning"] > w["unique"], "returning users exceed unique users")
)
data_check("unique_le_new_plus_returning")(
    _bucket_bound(
        lambda w: w["unique"] > w["new"] + w["returning"],
        "unique users exceed new + returning (every user is new or has been seen before)",
    )
)


@data_check("unique_equals_new_plus_returning", counted=False)
def _unique_equals_new_plus_returning(answer: Answer) -> Iterator[Finding]:
    """The identity the definitions do not promise: information only."""
    wide = answer.wide
    overlap = wide[wide["unique"] < wide["new"] + wide["returning"]]
    if len(overlap):
        yield (
            "info",
            f"in {len(overlap)} {answer.buckets} unique users are fewer than new + returning, "
            f"e.g. on {_bucket_text(overlap.iloc[0])}: the platform counts a user who is new and "
            "comes back within the same bucket in both, which its definitions allow.",
        )


@data_check("new_users_sum")
def _new_users_sum(answer: Answer) -> Iterator[Finding]:
    summary_new = answer.data.summary.get("new_users", pd.NA)
    if pd.isna(summary_new):
        raise SkipCheck("summary new users unknown")
    total = int(answer.wide["new"].sum())
    filtered = _filters_in_words(answer.data)
    if total < summary_new and filtered:
        bucket = "hour" if answer.hourly else "day"
        yield (
            "info",
            f"the {bucket}s' new users add up to {total:,} and the summary says "
            f"{int(summary_new):,}: with the filter {filtered}, a user whose first-ever "
            f"session did not pass the filter is new in the period but in no {bucket} "
            f"(the platform's definitions), so the {bucket}s can count fewer new users than "
            "the period.",
        )
    elif total != summary_new:
        yield (
            "warning",
            f"the trend's new users add up to {total:,} but the summary says {int(summary_new):,}.",
        )


def _filters_in_words(data: Engagement) -> str:
    """The answer's conversation type, status and channel filters in words, or ``""`` for
    none (every session counted)."""
    query = getattr(data, "query", None)
    if query is not None:
        values = [query.conversation_type, query.conversation_status, ",".join(query.channels)]
    else:
        f = data.filters or {}
        channels = str(f.get("channels") or "")
        values = [
            str(f.get("conversationType", "all")),
            str(f.get("conversationStatus", "all")),
            "" if channels.lower() == "all" else channels,
        ]
    shown = [v.replace("_", " ") for v in values if v and v.lower() != "all"]
    return " and ".join(shown)


@data_check("period_unique_bounds")
def _period_unique_bounds(answer: Answer) -> Iterator[Finding]:
    summary_unique = answer.data.summary.get("unique_users", pd.NA)
    if pd.isna(summary_unique) or not len(answer.wide):
        raise SkipCheck("summary unique users unknown")
    low, high = int(answer.wide["unique"].max()), int(answer.wide["unique"].sum())
    bucket = "hour" if answer.hourly else "day"
    if not low <= summary_unique <= high:
        yield (
            "warning",
            f"the summary's {int(summary_unique):,} unique users are not between the busiest "
            f"{bucket}'s {low:,} and the sum over the {bucket}s, {high:,}.",
        )


def _format_days(days: Iterable[pd.Timestamp], limit: int = 3) -> str:
    days = [pd.Timestamp(d).date().isoformat() for d in days]
    shown = ", ".join(days[:limit])
    return shown + (f" and {len(days) - limit} more" if len(days) > limit else "")


def _bucket_text(row: pd.Series) -> str:
    text = pd.Timestamp(row["date"]).date().isoformat()
    if pd.notna(row["hour"]):
        text += f" {hour_label(int(row['hour']))}"
    return f"{text} (unique {row['unique']}, new {row['new']}, returning {row['returning']})"
