"""The report's HTML blocks, drawn from ``templates/blocks/*.html.j2``.

Each function takes a :class:`~engagement_kit.report.weekly.WeeklyReport`, prepares the texts
(numbers formatted here, markup only in the templates) and returns an ``IPython.display.HTML``
the report notebook displays. Every dynamic text is escaped by the template environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from IPython.display import HTML

from engagement_kit import __version__
from engagement_kit.charts import kpi_table_html
from engagement_kit.charts.channels import channel_mix_html
from engagement_kit.charts.html import Markup, render_block
from engagement_kit.formatting import change_phrase, count_text
from engagement_kit.metrics.channels import NOT_ADDITIVE_NOTE, channel_mix
from engagement_kit.report.data_status import NO_DATA, no_data_note
from engagement_kit.tidy.frames import json_number

if TYPE_CHECKING:
    from engagement_kit.report.weekly import WeeklyReport

__all__ = [
    "anomalies_table",
    "channels_section",
    "checks_table",
    "cohorts_section",
    "coverage_note",
    "filters_text",
    "footer",
    "generated_note",
    "header",
    "headline",
    "kpi_table",
    "nothing",
    "outcomes_section",
]

_TYPES = {
    "all": "all conversation types",
    "interactive": "interactive conversations",
    "non_interactive": "non-interactive conversations",
}
_STATUSES = {
    "all": "any status",
    "active": "active conversations",
    "closed": "closed conversations",
}


def filters_text(filters: Mapping[str, Any]) -> str:
    """The filters in words: ``"all conversation types, any status, every channel"``."""
    ctype = _TYPES.get(
        filters.get("conversation_type", "all"), str(filters.get("conversation_type"))
    )
    status = _STATUSES.get(
        filters.get("conversation_status", "all"), str(filters.get("conversation_status"))
    )
    channels = filters.get("channels") or []
    chan = "channels " + ", ".join(channels) if channels else "every channel"
    return f"{ctype}, {status}, {chan}"


def header(report: WeeklyReport) -> HTML:
    """Stream, week, zone, filters and data source."""
    source = "the built-in demo platform" if report.source == "demo" else report.host or "KORE_HOST"
    return HTML(
        render_block(
            "header",
            stream_name=report.stream_name,
            stream_id=report.stream_id,
            week=report.week,
            start=f"{report.start:%d %B %Y}",
            end=f"{report.end:%d %B %Y}",
            tz=report.tz,
            filters=filters_text(report.filters),
            source=source,
            stream_note=report.stream_note,
        )
    )


def generated_note(report: WeeklyReport) -> HTML:
    """When the report was generated and by which toolkit version (volatile)."""
    return HTML(
        render_block("generated_note", generated_at=report.generated_at, version=__version__)
    )


def headline(report: WeeklyReport) -> HTML:
    """One sentence: this week's unique users and the change from last week ("down 6.9 %")."""
    row = report.kpis.loc["unique_users"]
    value, prev, pct = (json_number(row[k]) for k in ("value", "previous", "pct_change"))
    word = css = change = ""
    if value is not None and prev is not None:
        phrase = change_phrase(value, prev, pct)
        word, _, rest = phrase.partition(" ")
        css = "ek-up" if word == "up" else "ek-down" if word == "down" else "ek-muted"
        change = f" {rest}" if rest else ""
    return HTML(
        render_block(
            "headline",
            value=None if value is None else count_text(value),
            previous=None if prev is None else count_text(prev),
            word=word,
            css=css,
            change=change,
            no_data=no_data_note(report.week, f"{report.start:%d %B %Y} to {report.end:%d %B %Y}")
            if report.status == NO_DATA
            else "",
        )
    )


def kpi_table(report: WeeklyReport) -> HTML:
    """The KPI table (:func:`charts.kpi_table_html`): this week, the week before, change."""
    return HTML(kpi_table_html(report.kpis, value_label="This week", previous_label="Week before"))


def coverage_note(report: WeeklyReport) -> HTML:
    """The coverage window and the busiest hours in one sentence."""
    window = report.coverage_window
    return HTML(
        render_block(
            "coverage_note",
            found=window.found,
            share=f"{window.share * 100:.0f}" if window.found else "",
            label=window.label,
            hours=window.hours,
            tz=report.tz,
            top=", ".join(str(label) for label in report.top_hours["label"]),
        )
    )


def anomalies_table(report: WeeklyReport, *, weeks: int) -> HTML:
    """The week's unusual days as a small table, or a sentence when there are none."""
    rows = [
        {
            "day": f"{r['date']:%A %d %B}",
            "metric": r["metric"],
            "value": count_text(r["value"]),
            "low": count_text(r["low"]),
            "high": count_text(r["high"]),
            "up": r["direction"] == "up",
        }
        for _, r in report.anomalies.iterrows()
    ]
    return HTML(render_block("anomalies_table", rows=rows, weeks=weeks))


def checks_table(report: WeeklyReport) -> HTML:
    """The data checks as a table (level, which answer, what was found)."""
    rows = report.checks[["answer", "level", "message"]].to_dict("records")
    return HTML(render_block("checks_table", rows=rows))


def nothing() -> HTML:
    """An empty block (a section the report has no data for)."""
    return HTML("")


def channels_section(report: WeeklyReport) -> HTML:
    """The *Channels* section (heading, note and channel-mix table), or nothing."""
    if report.channels is None:
        return nothing()
    table = channel_mix_html(channel_mix(report.channels))
    return HTML(render_block("channels_section", note=NOT_ADDITIVE_NOTE, table=Markup(table)))


def cohorts_section(report: WeeklyReport) -> HTML:
    """The *Cohorts* section's heading, reading line and notes (no backfill, censoring), or
    nothing when the stream does not set ``cohorts = true``."""
    section = report.cohort_section
    if section is None:
        return nothing()
    return HTML(
        render_block(
            "cohorts_section",
            ok=section.status == "ok",
            status=section.status,
            reading=section.reading(),
            message=section.message,
            scope=cohorts_scope(report.filters),
        )
    )


def outcomes_section(report: WeeklyReport) -> HTML:
    """*After the first conversation*: heading, what the chart shows and the one sentence
    comparing first outcomes, or nothing without the cohorts' numbers."""
    section = report.cohort_section
    if section is None or section.outcomes is None:
        return nothing()
    found = section.outcome_comparison()
    return HTML(
        render_block(
            "outcomes_section",
            reading=section.outcome_reading(),
            significant=bool(found and found["significant"]),
        )
    )


def parameter_text(value: Any) -> str:
    """A parameter as a user types it on the command line: ``hr-bot``, ``true``, ``12`` (not
    a Python repr), ``(none)`` for an empty one."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or value == "":
        return "(none)"
    return str(value)


def cohorts_scope(filters: Mapping[str, Any]) -> str:
    """What the *Cohorts* section counts, in one line, and why it can differ from the KPIs."""
    every = filters_text({})
    if filters_text(filters) == every:
        return (
            "Counted from the session history: every session of the stream, like the KPIs "
            "above (those come from the platform's trend counts, so the two can differ a little)."
        )
    return (
        f"Counted from every session of the stream ({every}), while the KPIs above count "
        f"{filters_text(filters)}: so this section's new users are more than the KPI table's."
    )


def footer(report: WeeklyReport) -> HTML:
    """Whether the numbers were settled (and recent revisions), the toolkit version and the
    parameters this report was made with."""
    parameters = [(k, parameter_text(v)) for k, v in report.parameters.items()]
    notes = report.store_note.text() if report.store_note is not None else []
    return HTML(render_block("footer", version=__version__, parameters=parameters, notes=notes))
