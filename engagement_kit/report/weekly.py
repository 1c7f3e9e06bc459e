"""The report's numbers, fetched once in the kernel: :func:`load_weekly` and :class:`WeeklyReport`.

Everything the page shows comes from here, through :mod:`engagement_kit.metrics`; the last cell
of the notebook emits :meth:`WeeklyReport.sidecar_output`, which the runner writes as
``<week>.json`` (the notebook is the single source of the numbers).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from engagement_kit import __version__, charts, metrics
from engagement_kit.config.query import EngagementQuery
from engagement_kit.config.weeks import parse_iso_week, week_bounds, week_labels
from engagement_kit.data_source import check_source, client_for, platform_label
from engagement_kit.errors import InvalidQueryError
from engagement_kit.report import blocks
from engagement_kit.report.data_status import week_status
from engagement_kit.report.params import DEFAULT_WEEKS_OF_HISTORY, SIDECAR_MIMETYPE, SidecarOutput
from engagement_kit.store.history import report_note
from engagement_kit.tidy import METRICS, Engagement, merge_engagements
from engagement_kit.tidy.frames import json_number, json_ready

if TYPE_CHECKING:
    from engagement_kit.client import EngagementClient
    from engagement_kit.metrics import CoverageWindow
    from engagement_kit.report.cohorts import CohortSection
    from engagement_kit.store.history import StoreNote

__all__ = [
    "ANOMALY_WEEKS",
    "DEFAULT_WEEKS_OF_HISTORY",
    "SIDECAR_MIMETYPE",
    "WeeklyReport",
    "load_weekly",
]

#: Weeks of daily data before the report's week that the anomaly check compares with.
ANOMALY_WEEKS = 8


@dataclasses.dataclass(frozen=True, eq=False)
class WeeklyReport:
    """Everything one weekly report shows, fetched once (see :func:`load_weekly`).

    Attributes
    ----------
    stream_id, stream_name, week, tz : str
    start, end : datetime.date
        Monday and Sunday of the week.
    filters : dict
        ``conversation_type``, ``conversation_status``, ``channels`` (list).
    source, host : str
        Where the data came from (``host`` is the API host, never a credential).
    current, previous : Engagement
        Daily data of the week and of the week before.
    hourly : Engagement
        Hourly data of the week.
    recent : Engagement
        Daily data of the week and the :data:`ANOMALY_WEEKS` weeks before it (only its trend
        is used: its summary is not exact across weeks).
    history : pandas.DataFrame
        ``client.fetch_weeks`` output for the weeks ending with this one (oldest first).
    generated_at : str
        When the data was loaded, ISO 8601 in UTC.
    channels : pandas.DataFrame or None
        The week's breakdown by channel (``client.fetch_channels``, daily), when the stream
        lists ``channels_breakdown``; else ``None``.
    store_note : StoreNote, optional
        Whether the numbers were settled, and the weeks the platform revised lately.
    cohort_section : CohortSection, optional
        The *Cohorts* section (:mod:`engagement_kit.report.cohorts`) when the stream sets
        ``cohorts = true``; else ``None``.
    stream_note : str
        Where the settings came from when not all from ``streams.toml`` (empty otherwise).
    """

    stream_id: str
    stream_name: str
    week: str
    tz: str
    start: dt.date
    end: dt.date
    filters: dict[str, Any]
    source: str
    host: str
    current: Engagement
    previous: Engagement
    hourly: Engagement
    recent: Engagement
    history: pd.DataFrame
    generated_at: str
    channels: pd.DataFrame | None = None
    store_note: StoreNote | None = None
    cohort_section: CohortSection | None = None
    stream_note: str = ""
    #: The stream's ``[platform.NAME]`` profile (empty: the project's settings).
    platform: str = ""
    #: Its ``label`` (``EU (Frankfurt)``), else the profile's name; empty without a profile.
    platform_label: str = ""

    def __repr__(self) -> str:
        return (
            f"<WeeklyReport {self.stream_name!r} ({self.stream_id}), {self.week} "
            f"{self.start}..{self.end} {self.tz}; {len(self.history)} weeks of history>"
        )

    # -- numbers (all from engagement_kit.metrics) --------------------------------------------
    @functools.cached_property
    def kpis(self) -> pd.DataFrame:
        """:func:`metrics.kpis` of this week against the previous one."""
        return metrics.kpis(self.current, self.previous)

    @functools.cached_property
    def peak_hours(self) -> pd.DataFrame:
        """Weekday × hour matrix of unique users (:func:`metrics.peak_hours`)."""
        return metrics.peak_hours(self.hourly)

    @functools.cached_property
    def top_hours(self) -> pd.DataFrame:
        """The three busiest hours of the week (:func:`metrics.top_hours`)."""
        return metrics.top_hours(self.hourly, 3)

    @functools.cached_property
    def coverage_window(self) -> CoverageWindow:
        """Shortest run of hours holding 80 % of the week's user-hours."""
        return metrics.coverage_window(self.hourly, 0.8)

    @functools.cached_property
    def anomalies(self) -> pd.DataFrame:
        """The week's unusual days for each metric, against the same weekday of earlier weeks.

        :func:`metrics.anomalies` with ``by_weekday=True`` over the :data:`ANOMALY_WEEKS` weeks
        before, so regular weekend dips are not flagged. The smallest spread allowed is the
        Poisson noise of a count, ``sqrt(median daily count)`` of those weeks: a bot with a
        dozen users a day swings by a few users by chance alone, which is not an anomaly.

        Returns
        -------
        pandas.DataFrame
            :func:`metrics.anomalies` columns (``date``, ``metric``, ``value``, ``expected``,
            ``low``, ``high``, ``score``, ``direction``, ``is_anomaly``), only days of this week
            that are anomalies; metric order unique, new, returning, then date.
        """
        frames = []
        first = pd.Timestamp(self.start)
        daily = metrics.daily_totals(self.recent)
        before = daily[daily["date"] < first]
        for metric in METRICS:
            median = float(before[metric].median()) if len(before) else 0.0
            found = metrics.anomalies(
                self.recent,
                metric=metric,
                by_weekday=True,
                window=ANOMALY_WEEKS,
                min_periods=4,
                min_scale=max(1.0, math.sqrt(median)) if math.isfinite(median) else 1.0,
            )
            frames.append(found[found["date"] >= first])
        return pd.concat(frames, ignore_index=True)

    @functools.cached_property
    def checks(self) -> pd.DataFrame:
        """:func:`metrics.check_data` of the week's daily and hourly answers.

        Returns
        -------
        pandas.DataFrame
            ``answer`` (``"daily"``/``"hourly"``), ``level``, ``check``, ``message``.
        """
        parts = []
        for answer, data in (("daily", self.current), ("hourly", self.hourly)):
            found = metrics.check_data(data)
            found.insert(0, "answer", answer)
            parts.append(found)
        return pd.concat(parts, ignore_index=True)

    @functools.cached_property
    def status(self) -> str:
        """``"no_data"`` when the platform reports no users at all for the week, else ``"ok"``
        (:mod:`engagement_kit.report.data_status`): not a quiet week, and no alert fires."""
        return week_status(self.current, self.kpis)

    @property
    def parameters(self) -> dict[str, Any]:
        """The report's parameters (as papermill passed them; never a secret)."""
        return {
            "stream_id": self.stream_id,
            "stream_name": self.stream_name,
            "week": self.week,
            "tz": self.tz,
            "conversation_type": self.filters["conversation_type"],
            "conversation_status": self.filters["conversation_status"],
            "channels": ",".join(self.filters["channels"]),
            "cohorts": self.cohort_section is not None,
            "source": self.source,
            "host": self.host,
            "platform": self.platform,
            "weeks_of_history": len(self.history),
            "stream_note": self.stream_note,
        }

    # -- the sidecar ---------------------------------------------------------------------------
    def sidecar(self) -> dict[str, Any]:
        """The report's numbers as JSON-ready data (written beside the HTML as ``.json``).

        Returns
        -------
        dict
            ``stream_id``, ``stream_name``, ``week``, ``start``, ``end``, ``tz``, ``filters``,
            ``source``, ``status`` (``"ok"`` or ``"no_data"``, see :attr:`status`),
            ``stream_note`` (where the settings came from), ``kpis`` and ``previous_kpis`` (``unique_users``, ``new_users``,
            ``returning_users``, the three per-day averages, ``returning_share``,
            ``stickiness``), ``change`` (per KPI: ``change`` and ``pct_change``),
            ``peak_hours`` (``metric``, ``weekdays``, ``hours``, ``matrix`` of mean users,
            ``top_hours``), ``coverage_window``, ``anomalies``, ``checks``, ``history``,
            ``generated_at``, ``toolkit_version``; and ``cohorts``
            (:meth:`CohortSection.sidecar`) when the stream sets ``cohorts = true``.
        """
        n = json_number
        kpis = self.kpis
        matrix = self.peak_hours
        extra = {} if self.cohort_section is None else {"cohorts": self.cohort_section.sidecar()}
        return json_ready(
            {
                "stream_id": self.stream_id,
                "stream_name": self.stream_name,
                "week": self.week,
                "start": self.start.isoformat(),
                "end": self.end.isoformat(),
                "tz": self.tz,
                "filters": dict(self.filters),
                "source": self.source,
                "status": self.status,
                "stream_note": self.stream_note,
                "platform": self.platform,
                "platform_label": self.platform_label,
                "host": self.host,
                "kpis": {k: n(v) for k, v in kpis["value"].items()},
                "previous_kpis": {k: n(v) for k, v in kpis["previous"].items()},
                "change": {
                    k: {"change": n(row["change"]), "pct_change": n(row["pct_change"])}
                    for k, row in kpis.iterrows()
                },
                "peak_hours": {
                    "metric": "unique",
                    "weekdays": [str(d) for d in matrix.index],
                    "hours": [int(h) for h in matrix.columns],
                    "matrix": [[n(v) for v in row] for row in matrix.to_numpy(object)],
                    "top_hours": [
                        {
                            "rank": int(r["rank"]),
                            "hour": int(r["hour"]),
                            "label": str(r["label"]),
                            "users": n(r["users"]),
                            "share": n(r["share"]),
                        }
                        for _, r in self.top_hours.iterrows()
                    ],
                },
                "coverage_window": self.coverage_window.to_dict(),
                "anomalies": [
                    {
                        "date": r["date"].date().isoformat(),
                        "metric": str(r["metric"]),
                        "value": n(r["value"]),
                        "expected": n(r["expected"]),
                        "low": n(r["low"]),
                        "high": n(r["high"]),
                        "score": n(r["score"]),
                        "direction": str(r["direction"]),
                    }
                    for _, r in self.anomalies.iterrows()
                ],
                "checks": [
                    {k: str(r[k]) for k in ("answer", "level", "check", "message")}
                    for _, r in self.checks.iterrows()
                ],
                "history": [
                    {
                        "week": str(r["week"]),
                        **{
                            k: n(r[k])
                            for k in (
                                "unique_users",
                                "new_users",
                                "returning_users",
                                "avg_unique_users_per_day",
                            )
                        },
                    }
                    for _, r in self.history.iterrows()
                ],
                **extra,
                "generated_at": self.generated_at,
                "toolkit_version": __version__,
            }
        )

    def sidecar_output(self) -> SidecarOutput:
        """The sidecar as a notebook output the runner reads back (:data:`SIDECAR_MIMETYPE`)."""
        return SidecarOutput(self.sidecar())

    # -- display pieces (HTML from templates/blocks, every dynamic text escaped) ---------------
    def header(self) -> Any:
        """Stream, week, zone, filters and data source, as an HTML block."""
        return blocks.header(self)

    def generated_note(self) -> Any:
        """When the report was generated and by which toolkit version (volatile)."""
        return blocks.generated_note(self)

    def headline(self) -> Any:
        """One sentence: this week's unique users and the change from last week."""
        return blocks.headline(self)

    def kpi_table(self) -> Any:
        """The KPI table (:func:`charts.kpi_table_html`): this week, the week before, change."""
        return blocks.kpi_table(self)

    def coverage_note(self) -> Any:
        """The coverage window and the busiest hours in one sentence."""
        return blocks.coverage_note(self)

    def anomalies_table(self) -> Any:
        """The week's unusual days as a small table, or a sentence when there are none."""
        return blocks.anomalies_table(self, weeks=ANOMALY_WEEKS)

    def checks_table(self) -> Any:
        """The data checks as a table (level, which answer, what was found)."""
        return blocks.checks_table(self)

    def channels_section(self) -> Any:
        """The *Channels* section (heading, note and channel-mix table), or nothing."""
        return blocks.channels_section(self)

    def channels_chart(self) -> Any:
        """Daily unique users per channel (:func:`charts.channel_mix_chart`), or nothing."""
        if self.channels is None:
            return blocks.nothing()
        return charts.channel_mix_chart(self.channels)

    def cohorts_section(self) -> Any:
        """The *Cohorts* section (heading, reading line, notes), or nothing."""
        return blocks.cohorts_section(self)

    def cohorts_heatmap(self) -> Any:
        """The weekly cohort triangle (:func:`charts.cohort_heatmap`), or nothing."""
        section = self.cohort_section
        if section is None or section.status != "ok":
            return blocks.nothing()
        return charts.cohort_heatmap(section.triangle, title="Weekly cohorts: users who came back")

    def lifecycle_chart(self) -> Any:
        """New, returning, resurrecting and dormant users of the same weeks, or nothing."""
        section = self.cohort_section
        if section is None or section.status != "ok":
            return blocks.nothing()
        return charts.lifecycle_chart(section.lifecycle, title="User lifecycle per week")

    def outcomes_section(self) -> Any:
        """*After the first conversation* (heading, what it shows, the sentence), or nothing."""
        return blocks.outcomes_section(self)

    def outcomes_chart(self) -> Any:
        """Week-N return by the outcome of the first session, with intervals, or nothing."""
        section = self.cohort_section
        if section is None or section.outcomes is None:
            return blocks.nothing()
        return charts.outcome_return_chart(
            section.outcomes, title="Back after the first conversation"
        )

    def footer(self) -> Any:
        """Toolkit version and the parameters this report was made with."""
        return blocks.footer(self)


def load_weekly(
    stream_id: str,
    week: str,
    *,
    stream_name: str | None = None,
    tz: str = "UTC",
    conversation_type: str = "all",
    conversation_status: str = "all",
    channels: str | Sequence[str] | None = None,
    source: str = "demo",
    host: str | None = None,
    weeks_of_history: int = DEFAULT_WEEKS_OF_HISTORY,
    client: EngagementClient | None = None,
    channels_breakdown: str | Sequence[str] | None = None,
    cohorts: bool = False,
    stream_note: str = "",
    platform: str = "",
) -> WeeklyReport:
    """Fetch everything one weekly report needs, in the stream's zone.

    Requests (each closed week is reused from the response store afterwards): one daily answer
    per week of history (at least the week, the week before and :data:`ANOMALY_WEEKS` more,
    through ``client.fetch_weeks``) and the week's hourly answer.

    Parameters
    ----------
    stream_id : str
    week : str
        ``'YYYY-Www'``; it must have ended in ``tz``.
    stream_name : str, optional
        Display name (default: the id).
    tz, conversation_type, conversation_status, channels
        As for :meth:`EngagementClient.fetch`; ``channels`` may be a comma-separated string.
    source : {"demo", "platform"}
        The built-in demo platform, or ``host`` (default ``$KORE_HOST``) with credentials from
        the environment.
    platform : str
        The stream's ``[platform.NAME]`` profile (its host and credentials; for the demo one of
        its two demo platforms); empty for the project's settings.
    weeks_of_history : int
        Weeks in the history chart, ending with ``week``.
    client : EngagementClient, optional
        Use this client instead of the one ``source`` names.
    channels_breakdown : list of str or comma-separated str, optional
        Channels compared in a *Channels* section (one daily request per channel).
    cohorts : bool
        Add the *Cohorts* section (:func:`engagement_kit.report.cohorts.load_cohorts`): the
        stored first-seen table extended by the new week's sessions (getSessions).
    stream_note : str
        Where the settings came from, shown in the header (``"tz from the command line"``).

    Returns
    -------
    WeeklyReport

    Raises
    ------
    InvalidQueryError, ConfigError, ApiError, ...
        The client's errors, unchanged.
    """
    probe = _report_probe(
        stream_id,
        week,
        tz,
        conversation_type,
        conversation_status,
        channels,
        source,
        weeks_of_history,
    )
    filters: dict[str, Any] = {
        "conversation_type": probe.conversation_type,
        "conversation_status": probe.conversation_status,
        "channels": list(probe.channels),
    }
    owns = client is None
    client = client_for(source, host, platform or None) if client is None else client
    api_host = client.host
    try:
        got = _fetch_week(
            client,
            probe,
            week,
            weeks_of_history=weeks_of_history,
            channels_breakdown=channels_breakdown,
            cohorts=cohorts,
            demo=source == "demo",
        )
    finally:
        if owns:
            client.close()
    start, end = week_bounds(week)
    first_day = week_bounds(week_labels(week, ANOMALY_WEEKS + 1)[0])[0]
    recent = merge_engagements(got.daily, probe.replace(start=first_day, end=end))
    return WeeklyReport(
        stream_id=probe.stream_id,
        stream_name=(stream_name or "").strip() or probe.stream_id,
        week=week,
        tz=probe.tz,
        start=start,
        end=end,
        filters=filters,
        source=source,
        host=api_host,
        platform=platform or "",
        platform_label=platform_label(source, platform),
        current=got.daily[-1],
        previous=got.daily[-2],
        hourly=got.hourly,
        recent=recent,
        history=got.history,
        generated_at=pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
        channels=got.breakdown,
        store_note=got.store_note,
        cohort_section=got.cohort_section,
        stream_note=str(stream_note or ""),
    )


def _report_probe(
    stream_id: str,
    week: str,
    tz: str,
    conversation_type: str,
    conversation_status: str,
    channels: str | Sequence[str] | None,
    source: str,
    weeks_of_history: int,
) -> EngagementQuery:
    """The arguments checked, as one query of the stream and its filters (dates are a stand-in)."""
    check_source(source)
    parse_iso_week(week)
    if not isinstance(weeks_of_history, int) or weeks_of_history < 1:
        raise InvalidQueryError(
            f"weeks_of_history: {weeks_of_history!r} must be a whole number of weeks >= 1",
            field="weeks_of_history",
        )
    if isinstance(channels, str):
        channels = [c for c in channels.split(",") if c.strip()] or None
    return EngagementQuery(
        stream_id=stream_id,
        start="2000-01-03",
        end="2000-01-03",
        tz=tz,
        conversation_type=conversation_type,
        conversation_status=conversation_status,
        channels=channels,
    )


@dataclasses.dataclass
class _WeekData:
    """What one report fetched: the history, the daily weeks, the hourly week and the rest."""

    history: pd.DataFrame
    daily: list[Engagement]
    hourly: Engagement
    breakdown: pd.DataFrame | None
    store_note: StoreNote
    cohort_section: Any


def _fetch_week(
    client: EngagementClient,
    probe: EngagementQuery,
    week: str,
    *,
    weeks_of_history: int,
    channels_breakdown: str | Sequence[str] | None,
    cohorts: bool,
    demo: bool,
) -> _WeekData:
    """Every request of one report (see :func:`load_weekly`), in the stream's zone."""
    fetch_filters: dict[str, Any] = {
        "conversation_type": probe.conversation_type,
        "conversation_status": probe.conversation_status,
        "channels": list(probe.channels) or None,
    }
    weeks = max(weeks_of_history, ANOMALY_WEEKS + 1)
    history = client.fetch_weeks(
        probe.stream_id, weeks, end_week=week, tz=probe.tz, **fetch_filters
    )
    history = history.iloc[len(history) - weeks_of_history :].reset_index(drop=True)
    daily = [
        client.fetch(probe.stream_id, *week_bounds(label), tz=probe.tz, **fetch_filters)
        for label in week_labels(week, ANOMALY_WEEKS + 1)
    ]  # already in the store: fetch_weeks asked for exactly these weeks
    start, end = week_bounds(week)
    hourly = client.fetch(
        probe.stream_id, start, end, aggregation="hourly", tz=probe.tz, **fetch_filters
    )
    breakdown = None
    if channels_breakdown:
        type_and_status = {k: v for k, v in fetch_filters.items() if k != "channels"}
        breakdown = client.fetch_channels(
            probe.stream_id, start, end, channels=channels_breakdown, tz=probe.tz, **type_and_status
        )
    store_note = _store_note(client, probe, week_labels(week, weeks))
    cohort_section = None
    if cohorts:
        from engagement_kit.report.cohorts import load_cohorts

        cohort_section = load_cohorts(client, probe.stream_id, week, tz=probe.tz, demo=demo)
    return _WeekData(history, daily, hourly, breakdown, store_note, cohort_section)


def _store_note(client: EngagementClient, probe: Any, labels: Sequence[str]) -> StoreNote:
    """Settled or not, and recent revisions, of the answers this report shows."""
    daily = [probe.replace(start=a, end=b) for a, b in map(week_bounds, labels)]
    hourly = probe.replace(aggregation="hourly", start=daily[-1].start, end=daily[-1].end)
    return report_note(
        client.store, client.host, [*daily[-2:], hourly], now=client.now(), revised=daily
    )
