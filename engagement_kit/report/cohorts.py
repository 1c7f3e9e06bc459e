"""The weekly report's *Cohorts* section: true retention from the session history.

A stream opts in with ``cohorts = true`` in ``streams.toml``. For the report's ISO week,
:func:`load_cohorts` (run in the kernel by :func:`~engagement_kit.report.weekly.load_weekly`)

1. extends the stream's stored first-seen table (:class:`~engagement_kit.metrics.first_seen.FirstSeenTable`)
   to the report's Sunday with :func:`~engagement_kit.metrics.first_seen.backfill`, which asks only
   for the days the table does not cover yet: week after week, only the new week's sessions;
2. reads the sessions of the :data:`COHORT_WEEKS` weeks ending with the report's week (and one
   week more, the lifecycle's "week before") through
   :func:`~engagement_kit.client.sessions.fetch_sessions`: closed windows come from the store
   (``session_windows``), kept there by the backfill and by earlier reports;
3. computes the weekly cohort triangle (:func:`engagement_kit.metrics.cohorts.cohort_retention`,
   ``kind="on"``, users first seen before the shown weeks belong to no cohort) and the
   lifecycle (:func:`engagement_kit.metrics.cohorts.lifecycle`) of those weeks;
4. and, for the section *After the first conversation*, the same cohorts split by the outcome
   of each user's first session (:func:`engagement_kit.metrics.outcomes.retention_by_outcome`):
   the share active again in each later week with Wilson intervals, one sentence comparing the
   best and the worst known outcome in week 1 (a two-proportion z test, or Fisher's exact test
   for small numbers, says whether the difference is beyond chance at this size) and the
   first → next outcome transitions.

Without a first-seen table the section does not fail: it says so and gives the command that
builds one (``engagement-kit backfill --stream ID --since DATE``). On the demo platform the
report builds the table itself, back to :data:`DEMO_SEED_WEEKS` weeks before the report's week
(a few requests: the demo answers in-process), so ``make report`` shows the section out of the
box. Cohorts that start within ``DEFAULT_CENSOR_DAYS`` of the table's horizon are flagged as
possibly left-censored (their users may have come before the horizon).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any

import pandas as pd

from engagement_kit.client.sessions import fetch_sessions
from engagement_kit.config.weeks import iso_week_label, week_bounds, week_labels
from engagement_kit.errors import AuthError, InvalidQueryError
from engagement_kit.metrics.cohorts import LIFECYCLE_STATUSES, cohort_retention, lifecycle
from engagement_kit.metrics.first_seen import DEFAULT_CENSOR_DAYS, FirstSeenTable, backfill
from engagement_kit.metrics.outcomes import (
    OUTCOMES,
    OutcomeRetention,
    compare_outcomes,
    comparison_sentence,
    outcome_transitions,
    retention_by_outcome,
)
from engagement_kit.tidy.frames import json_number

if TYPE_CHECKING:
    from engagement_kit.client import EngagementClient

__all__ = [
    "COHORT_WEEKS",
    "DEMO_SEED_WEEKS",
    "OUTCOME_OFFSET",
    "CohortSection",
    "backfill_command",
    "load_cohorts",
]

#: Weekly cohorts shown: the report's week and the weeks before it.
COHORT_WEEKS = 8
#: On the demo, a missing first-seen table is built back this many weeks before the report's
#: week: the shown cohorts plus the censoring margin, so none of them is flagged.
DEMO_SEED_WEEKS = COHORT_WEEKS + DEFAULT_CENSOR_DAYS // 7
#: The week after the first whose return the sentence of *After the first conversation* compares.
OUTCOME_OFFSET = 1


def backfill_command(stream_id: str, since: dt.date, tz: str) -> str:
    """The command that builds the stream's first-seen table back to ``since``."""
    zone = "" if tz == "UTC" else f" --tz {tz}"
    return f"engagement-kit backfill --stream {stream_id} --since {since.isoformat()}{zone}"


@dataclasses.dataclass(frozen=True, eq=False)
class CohortSection:
    """What the *Cohorts* section shows (see the module docstring).

    Attributes
    ----------
    status : {"ok", "no_backfill", "unavailable"}
        ``"ok"``: the triangle and the lifecycle below; ``"no_backfill"``: the stream has no
        first-seen table yet (``message`` says how to build one); ``"unavailable"``: the
        session history could not be used (``message`` says why: a missing API scope, a table
        built in another zone).
    message : str
        One or two sentences for the page (empty when ``status == "ok"`` and nothing is special).
    triangle : DataFrame
        :func:`~engagement_kit.metrics.cohorts.cohort_retention` rows of the shown cohorts (empty
        unless ``ok``).
    lifecycle : DataFrame
        :func:`~engagement_kit.metrics.cohorts.lifecycle` rows of the shown weeks (empty unless ``ok``).
    horizon, through : date or None
        The first-seen table's first and last day.
    seeded : bool
        Whether this report built the table (the demo, first run).
    fetched_sessions, requested_windows : int
        Sessions and getSessions windows asked of the platform by this report (not the store).
    outcomes : OutcomeRetention or None
        The shown cohorts split by the outcome of their first session (``None`` unless ``ok``).
    transitions : DataFrame
        :func:`~engagement_kit.metrics.outcomes.outcome_transitions` of the shown cohorts' users.
    """

    status: str
    message: str = ""
    triangle: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    lifecycle: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    horizon: dt.date | None = None
    through: dt.date | None = None
    seeded: bool = False
    fetched_sessions: int = 0
    requested_windows: int = 0
    outcomes: OutcomeRetention | None = None
    transitions: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)

    @property
    def censored_cohorts(self) -> list[str]:
        """ISO weeks of the shown cohorts flagged as possibly left-censored."""
        if not len(self.triangle):
            return []
        flagged = self.triangle.loc[self.triangle["possibly_censored"], "cohort"]
        return [_iso_week(c) for c in dict.fromkeys(flagged)]

    def mean_rate(self, offset: int) -> float | None:
        """Users-weighted retention at ``offset`` over the shown cohorts that reach it."""
        if not len(self.triangle):
            return None
        rows = self.triangle[self.triangle["offset"] == offset]
        users = int(rows["users"].sum())
        return float(rows["retained"].sum() / users) if users else None

    def reading(self) -> str:
        """One plain-language line: typical week-1 and week-4 retention, this week's mix."""
        if self.status != "ok" or not len(self.triangle):
            return ""
        parts = []
        week1, week4 = self.mean_rate(1), self.mean_rate(4)
        if week1 is not None:
            text = f"Of the users first seen in a week, {week1:.0%} came back the week after"
            if week4 is not None:
                text += f" and {week4:.0%} were active 4 weeks later"
            parts.append(text + " (averaged over the cohorts shown).")
        this_week = self.lifecycle[self.lifecycle["period"] == self.lifecycle["period"].max()]
        counts = dict(zip(this_week["status"], this_week["users"], strict=True))
        if counts:
            parts.append(
                f"This week: {counts.get('new', 0):,} new, {counts.get('returning', 0):,} "
                f"returning from the week before, {counts.get('resurrecting', 0):,} back after "
                f"a gap, and {abs(counts.get('dormant', 0)):,} of last week's users did not come."
            )
        return " ".join(parts)

    def outcome_comparison(self) -> dict[str, Any] | None:
        """:func:`~engagement_kit.metrics.outcomes.compare_outcomes` at :data:`OUTCOME_OFFSET`."""
        if self.outcomes is None:
            return None
        return compare_outcomes(self.outcomes, OUTCOME_OFFSET)

    def outcome_reading(self) -> str:
        """One plain sentence: how much more often the best known first outcome's users came
        back the week after than the worst one's, and whether that is beyond chance."""
        if self.outcomes is None:
            return ""
        return comparison_sentence(self.outcome_comparison())

    def outcomes_sidecar(self) -> dict[str, Any] | None:
        """The numbers of *After the first conversation* (``cohorts.after_first_conversation``)."""
        result = self.outcomes
        if result is None:
            return None
        n = json_number

        def rows(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict[str, Any]]:
            return [
                {c: (n(r[c]) if c not in ("outcome", "first", "next") else r[c]) for c in columns}
                for _, r in frame.iterrows()
            ]

        sizes = result.cohorts.groupby("outcome")["users"].sum()
        found = self.outcome_comparison()
        return {
            "definition": "first session",
            "period": result.period,
            "confidence": result.confidence,
            "offset_compared": OUTCOME_OFFSET,
            "users": {o: int(sizes.get(o, 0)) for o in OUTCOMES},
            "cohorts": [
                {
                    "cohort": r["cohort"].date().isoformat(),
                    "week": _iso_week(r["cohort"]),
                    "outcome": r["outcome"],
                    "users": int(r["users"]),
                }
                for _, r in result.cohorts.iterrows()
            ],
            "retention": rows(
                result.retention,
                ("outcome", "offset", "cohorts", "users", "retained", "rate", "low", "high"),
            ),
            "within": rows(
                result.within, ("outcome", "days", "users", "returned", "rate", "low", "high")
            ),
            "comparison": None
            if found is None
            else {k: (n(v) if isinstance(v, float) else v) for k, v in found.items()},
            "reading": self.outcome_reading(),
            "transitions": rows(self.transitions, ("first", "next", "users", "share")),
        }

    def sidecar(self) -> dict[str, Any]:
        """The section's numbers for the JSON sidecar (``cohorts`` key)."""
        n = json_number
        return {
            "status": self.status,
            "message": self.message,
            "period": "week",
            "kind": "on",
            "horizon": self.horizon.isoformat() if self.horizon else None,
            "through": self.through.isoformat() if self.through else None,
            "seeded": self.seeded,
            "fetched_sessions": self.fetched_sessions,
            "requested_windows": self.requested_windows,
            "censored_cohorts": self.censored_cohorts,
            "reading": self.reading(),
            "mean_rate": {str(k): n(self.mean_rate(k)) for k in (1, 4)},
            "triangle": [
                {
                    "cohort": r["cohort"].date().isoformat(),
                    "week": _iso_week(r["cohort"]),
                    "offset": int(r["offset"]),
                    "users": int(r["users"]),
                    "retained": int(r["retained"]),
                    "rate": n(float(r["rate"])),
                    "possibly_censored": bool(r["possibly_censored"]),
                }
                for _, r in self.triangle.iterrows()
            ],
            "lifecycle": [
                {
                    "period": period.date().isoformat(),
                    "week": _iso_week(period),
                    **{
                        status: int(rows.loc[rows["status"] == status, "users"].sum())
                        for status in LIFECYCLE_STATUSES
                    },
                }
                for period, rows in (
                    self.lifecycle.groupby("period", sort=True) if len(self.lifecycle) else ()
                )
            ],
            "after_first_conversation": self.outcomes_sidecar(),
        }


def _iso_week(ts: pd.Timestamp) -> str:
    return iso_week_label(pd.Timestamp(ts).date())


def load_cohorts(
    client: EngagementClient,
    stream_id: str,
    week: str,
    *,
    tz: str,
    demo: bool = False,
    weeks: int = COHORT_WEEKS,
) -> CohortSection:
    """The *Cohorts* section of ``week`` (see the module docstring).

    Parameters
    ----------
    client : EngagementClient
        With a store: the first-seen table and the closed session windows live in its file.
    stream_id, week, tz
        The report's stream, ISO week and zone (the table must have been built in ``tz``).
    demo : bool
        Build a missing first-seen table (:data:`DEMO_SEED_WEEKS` back) instead of saying how.
    weeks : int
        Weekly cohorts shown, ending with ``week``.

    Returns
    -------
    CohortSection
    """
    labels = week_labels(week, weeks + 1)  # one more: the first shown week's "week before"
    first_shown = week_bounds(labels[1])[0]
    sunday = week_bounds(week)[1]
    if client.store is None:
        return CohortSection(
            "unavailable", "Cohorts need the response store (the client was made with store=False)."
        )
    table = FirstSeenTable(client.store.location)
    meta = table.meta(client.host, stream_id)
    seeded = False
    if meta is not None and sunday < meta["horizon"]:
        return CohortSection(
            "unavailable",
            f"The first-seen table of {stream_id} starts on {meta['horizon']}, after this week: "
            "no cohorts to show for it.",
        )
    if meta is None:
        if not demo:
            since = week_bounds(week_labels(week, DEMO_SEED_WEEKS)[0])[0]
            return CohortSection(
                "no_backfill",
                f"No first-seen table for {stream_id} yet, so there are no cohorts to show. "
                f"Build it once with `{backfill_command(stream_id, since, tz)}` (it needs the "
                'API scope "Bot Sessions"); later reports extend it by the new week only.',
            )
        seeded = True
        since = week_bounds(week_labels(week, DEMO_SEED_WEEKS)[0])[0]
    else:
        since = meta["horizon"]
    try:
        result = backfill(client, stream_id, since, sunday, tz=tz, progress=False, table=table)
        if not result["complete"]:
            raise KeyboardInterrupt  # Ctrl-C during the kernel's fetch: stop the report
        sessions = fetch_sessions(
            client, stream_id, week_bounds(labels[0])[0], sunday, tz=tz, progress=False
        )
    except AuthError as exc:  # no "Bot Sessions" scope: the rest of the report still stands
        return CohortSection("unavailable", f"The session history could not be read: {exc}")
    except InvalidQueryError as exc:  # a table built in another zone
        return CohortSection("unavailable", f"Cohorts are not shown: {exc}")
    first_seen = table.frame(client.host, stream_id, tz=tz)
    triangle = cohort_retention(sessions, period="week", kind="on", first_seen=first_seen)
    shown = pd.Timestamp(first_shown)
    triangle = triangle[triangle["cohort"] >= shown].reset_index(drop=True)
    cycle = lifecycle(sessions, period="week", first_seen=first_seen)
    cycle = cycle[cycle["period"] >= shown].reset_index(drop=True)
    horizon = first_seen.attrs.get("horizon")
    by_outcome = retention_by_outcome(
        sessions, "week", first_seen=first_seen, cohorts_since=first_shown
    )
    moves = outcome_transitions(sessions, first_seen=first_seen, cohorts_since=first_shown)
    section = CohortSection(
        "ok",
        triangle=triangle,
        lifecycle=cycle,
        horizon=horizon,
        through=first_seen.attrs.get("through"),
        seeded=seeded,
        fetched_sessions=int(result["sessions"]),
        requested_windows=int(result["requested_windows"])
        + int(sessions.attrs["requested_windows"]),
        outcomes=by_outcome,
        transitions=moves,
    )
    notes = []
    if seeded:
        notes.append(
            f"Demo: this report built the first-seen table itself, back to {horizon} "
            f"({DEMO_SEED_WEEKS} weeks)."
        )
    censored = section.censored_cohorts
    if censored:
        notes.append(
            f"The first-seen table starts on {horizon}: cohorts {', '.join(censored)} (marked *) "
            f"begin before it or within {DEFAULT_CENSOR_DAYS} days of it and are possibly "
            "left-censored, "
            "since some of their users may have come before it. Extend the table with "
            f"`{backfill_command(stream_id, horizon - dt.timedelta(weeks=8), tz)}`."
        )
    return dataclasses.replace(section, message=" ".join(notes)) if notes else section
