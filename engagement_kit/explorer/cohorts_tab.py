"""The Explorer's *Cohorts* tab: true retention of the Explorer's stream, range and filters.

Below the cohort triangle and the lifecycle: *after the first conversation*, the same cohorts
split by the outcome of each user's first session
(:func:`engagement_kit.metrics.outcomes.retention_by_outcome`, its sentence in the chart's
subtitle) and the first → next outcome transitions of returning users.

A getSessions download costs many requests, so the tab's content is built only when the tab is
first shown (the Explorer converts a chart when its tab is on screen): :class:`CohortView`
stands in for the chart until then and fetches on :meth:`CohortView.save`.
"""

from __future__ import annotations

from typing import IO, Any, Literal

from engagement_kit.config.query import EngagementQuery

__all__ = ["OUTCOME_HORIZON", "CohortView", "cohort_period"]

_TYPES = {"all": None, "interactive": "interactive", "non_interactive": "non-interactive"}


#: Offsets the outcome chart shows, per cohort period.
OUTCOME_HORIZON = {"day": 7, "week": 8, "month": 6}

Period = Literal["day", "week", "month"]


def cohort_period(days: int) -> Period:
    """Day cohorts for ranges under four weeks, week cohorts up to half a year, else months."""
    if days < 28:
        return "day"
    return "week" if days <= 183 else "month"


class CohortView:
    """The cohort triangle and lifecycle for one Explorer query, built on first display.

    Attributes
    ----------
    sessions : DataFrame or None
        The download, once made (one per view; filters apply client-side).
    outcomes : OutcomeRetention or None
        Retention by first outcome, once the chart was built.
    reading : str
        The sentence comparing first outcomes (also the outcome chart's subtitle).
    """

    def __init__(self, client: Any, query: EngagementQuery) -> None:
        self.client = client
        self.query = query
        self.period = cohort_period(query.days)
        self.sessions: Any = None
        self.outcomes: Any = None
        self.reading = ""
        self._chart: Any = None

    def chart(self) -> Any:
        """Fetch the sessions (once) and build the stacked triangle + lifecycle chart."""
        if self._chart is not None:
            return self._chart
        import altair as alt

        from engagement_kit.charts import cohorts as cohort_charts
        from engagement_kit.metrics import cohorts, outcomes

        q = self.query
        if self.sessions is None:
            self.sessions = self.client.fetch_sessions(
                q.stream_id, q.start, q.end, tz=q.tz, progress=False
            )
        filters: dict[str, Any] = {
            "channels": list(q.channels) or None,
            "session_type": _TYPES.get(q.conversation_type),
            "status": None if q.conversation_status == "all" else q.conversation_status,
        }
        triangle = cohorts.cohort_retention(self.sessions, self.period, **filters)
        life = cohorts.lifecycle(
            self.sessions, "week" if self.period == "day" else self.period, **filters
        )
        self.outcomes = outcomes.retention_by_outcome(
            self.sessions, self.period, horizon=OUTCOME_HORIZON[self.period], **filters
        )
        self.reading = outcomes.comparison_sentence(
            outcomes.compare_outcomes(self.outcomes), self.period
        )
        moves = outcomes.outcome_transitions(self.sessions, **filters)
        word = {"day": "Daily", "week": "Weekly", "month": "Monthly"}[self.period]
        back = cohort_charts.outcome_return_chart(
            self.outcomes, title="Back after the first conversation"
        )
        self._chart = alt.vconcat(
            cohort_charts.cohort_heatmap(triangle, title=f"{word} cohort retention"),
            cohort_charts.lifecycle_chart(life),
            back.properties(title=alt.TitleParams("Back after the first conversation",
                                                  subtitle=_wrap(self.reading))),
            cohort_charts.outcome_transitions_chart(moves),
        ).properties(title=alt.TitleParams(self.note(), fontSize=12, fontWeight="normal"))  # fmt: skip
        return self._chart

    def note(self) -> str:
        """Why the cohorts are censored (``*``): the sessions start with the range, so a user
        first seen before it counts as new. One sentence, shown above the charts."""
        q = self.query
        return (
            f"Only sessions from {q.start:%d %b %Y} on are read: a user who first came before "
            f"that counts as new here, so every cohort may be censored (*) and 'new' is "
            f"overstated in a {q.days}-day range; for true cohorts pick a longer range, or see "
            "the weekly report's Cohorts section (from the backfilled first-seen table)."
        )

    def save(self, fp: IO[str], format: str = "svg") -> None:
        """Like ``altair.Chart.save``: what the Explorer calls when the tab is shown."""
        self.chart().save(fp, format=format)


def _wrap(text: str, width: int = 100) -> list[str]:
    """A subtitle as lines of at most ``width`` characters (Vega does not wrap titles)."""
    import textwrap

    return textwrap.wrap(text, width) or [""]
