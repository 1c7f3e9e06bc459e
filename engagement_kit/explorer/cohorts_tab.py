"""The Explorer's *Cohorts* tab: true retention of the Explorer's stream, range and filters.

A getSessions download costs many requests, so the tab's content is built only when the tab is
first shown (the Explorer converts a chart when its tab is on screen): :class:`CohortView`
stands in for the chart until then and fetches on :meth:`CohortView.save`.
"""

from __future__ import annotations

from typing import IO, Any, Literal

from engagement_kit.config.query import EngagementQuery

__all__ = ["CohortView", "cohort_period"]

_TYPES = {"all": None, "interactive": "interactive", "non_interactive": "non-interactive"}


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
    """

    def __init__(self, client: Any, query: EngagementQuery) -> None:
        self.client = client
        self.query = query
        self.period = cohort_period(query.days)
        self.sessions: Any = None
        self._chart: Any = None

    def chart(self) -> Any:
        """Fetch the sessions (once) and build the stacked triangle + lifecycle chart."""
        if self._chart is not None:
            return self._chart
        import altair as alt

        from engagement_kit.charts import cohorts as cohort_charts
        from engagement_kit.metrics import cohorts

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
        word = {"day": "Daily", "week": "Weekly", "month": "Monthly"}[self.period]
        self._chart = alt.vconcat(
            cohort_charts.cohort_heatmap(triangle, title=f"{word} cohort retention"),
            cohort_charts.lifecycle_chart(life),
        )
        return self._chart

    def save(self, fp: IO[str], format: str = "svg") -> None:
        """Like ``altair.Chart.save``: what the Explorer calls when the tab is shown."""
        self.chart().save(fp, format=format)
