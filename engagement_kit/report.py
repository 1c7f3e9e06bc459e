"""Weekly reports: papermill runs the report notebook, nbconvert turns it into offline HTML.

One report per stream and ISO week::

    reports/<stream-slug>/<YYYY-Www>.html    self-contained page: no network needed, charts
                                             interactive, one copy of the chart JavaScript
    reports/<stream-slug>/<YYYY-Www>.json    the numbers the page shows, for machines
    reports/index.html                       every stream and week found under reports/

The pieces, in the order they run:

* :func:`render_all` / :func:`render_report` (parent process): choose the week (the last
  complete ISO week in each stream's zone), start a bounded pool of worker processes, show one
  progress bar per stream and a summary table, then write the index.
* In a worker, papermill's Python API executes ``notebooks/reports/weekly_report.ipynb`` with
  literal parameters only (:func:`report_parameters`; never a credential: the kernel reads those
  from its environment). A kernel that fails to *start* (port race) is retried once.
* In the kernel, the notebook calls :func:`setup_notebook` (our altair renderer and the charts
  theme), :func:`load_weekly` (every number, through the client and :mod:`~engagement_kit.metrics`)
  and finally emits the sidecar data as one output (:meth:`WeeklyReport.sidecar_output`): the
  notebook is the single source of the numbers, the runner only copies them.
* Back in the worker, :func:`notebook_to_html` renders the executed notebook with nbconvert's
  public ``HTMLExporter`` and our ``ek_report`` template (the lab template without CDN scripts,
  plus the Vega bundle of ``vl_convert.javascript_bundle`` inlined once), and every file is
  written atomically (:func:`atomic_write`).

A failed stream does not stop the others: its error (one readable sentence) goes into the
summary, ``<week>.error.json`` and the index, and its executed notebook is kept as
``<week>.failed.ipynb``. The previous report of that week, if any, is left untouched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import html
import itertools
import json
import math
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, EngagementError, InvalidQueryError, ReportError
from .stopping import remove_on_stop

if TYPE_CHECKING:
    import nbformat
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from .client import EngagementClient
    from .config import StreamConfig
    from .metrics import CoverageWindow
    from .store.history import StoreNote
    from .tidy import Engagement

__all__ = [
    "DEFAULT_WEEKS_OF_HISTORY",
    "RENDERER_NAME",
    "SIDECAR_MIMETYPE",
    "SOURCES",
    "ReportResult",
    "WeeklyReport",
    "atomic_write",
    "chart_mimebundle",
    "default_jobs",
    "default_notebook",
    "demo_streams",
    "execute_notebook",
    "exit_code",
    "load_weekly",
    "notebook_to_html",
    "print_summary",
    "render_all",
    "render_report",
    "report_parameters",
    "setup_notebook",
    "stream_slug",
    "summary_lines",
    "summary_table",
    "vega_bundle",
    "write_index",
]

#: Name of our altair renderer (see :func:`chart_mimebundle`).
RENDERER_NAME = "engagement_kit_report"
#: Mimetype of the sidecar output the report notebook emits (read back by the runner).
SIDECAR_MIMETYPE = "application/vnd.engagement-kit.report+json"
#: Where the data comes from: the built-in demo platform, or the real one (``KORE_*``).
SOURCES: tuple[str, ...] = ("demo", "platform")
DEFAULT_WEEKS_OF_HISTORY = 12
#: Weeks of daily data before the report's week that the anomaly check compares with.
ANOMALY_WEEKS = 8
DEFAULT_KERNEL = "python3"
#: Seconds one notebook cell may run, and a kernel may take to start.
CELL_TIMEOUT = 600
START_TIMEOUT = 60
MAX_DEFAULT_JOBS = 4

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "ek_report"
INDEX_TEMPLATE = "reports_index.html.j2"
#: The lab-template blocks ``ek_report/index.html.j2`` overrides (checked by the tests).
OVERRIDDEN_LAB_BLOCKS: tuple[str, ...] = (
    "html_head_js_requirejs",
    "jupyter_widgets",
    "notebook_css",
    "html_head_js_mathjax",
    "html_head_js_mermaidjs",
    "html_head_css",
)
NOTEBOOK_RELATIVE = Path("notebooks") / "reports" / "weekly_report.ipynb"

#: The papermill parameters of the report notebook; all literals, none of them a secret.
PARAMETER_NAMES: tuple[str, ...] = (
    "stream_id",
    "stream_name",
    "week",
    "tz",
    "conversation_type",
    "conversation_status",
    "channels",
    "source",
    "host",
    "weeks_of_history",
    "channels_breakdown",
)
_SECRET_WORDS = ("secret", "token", "jwt", "password", "key", "credential")
_WEEK_FILE = re.compile(r"(\d{4}-W\d{2})\.json")
_ERROR_FILE = re.compile(r"(\d{4}-W\d{2})\.error\.json")


# =============================================================================================
# Kernel side: the chart renderer and the notebook set-up
# =============================================================================================

_chart_ids = itertools.count(1)

_CHART_SCRIPT = """(function () {
  var el = document.getElementById("%(id)s");
  var spec = JSON.parse(document.getElementById("%(id)s-spec").textContent);
  if (window.vegaEmbed) {
    el.textContent = "";
    window.vegaEmbed(el, spec, {actions: false, renderer: "svg"}).catch(function (err) {
      el.textContent = "This chart could not be drawn: " + err;
    });
  }
})();"""
_CHART_NOTE = "Interactive chart: open the HTML report."


def _json_for_html(value: Any) -> str:
    """JSON text that is safe inside a ``<script>`` element (no ``</``, ``<!--``, ``]]>``)."""
    text = json.dumps(_finite(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _finite(value: Any) -> Any:
    """Replace NaN and infinities (which JSON cannot hold) by ``None``, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _chart_title(spec: Mapping[str, Any]) -> str:
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    if isinstance(title, list):
        title = " ".join(str(t) for t in title)
    if not title:
        for key in ("vconcat", "hconcat", "concat", "layer"):
            parts = spec.get(key)
            if isinstance(parts, list) and parts and isinstance(parts[0], dict):
                return _chart_title(parts[0])
    return str(title) if title else "Chart"


def chart_mimebundle(spec: dict[str, Any], **_metadata: Any) -> dict[str, str]:
    """The altair renderer registered as :data:`RENDERER_NAME`.

    Gives a ``text/html`` output holding a ``<div>`` for the chart, the Vega-Lite spec as inline
    JSON and a few lines of script that call ``vegaEmbed`` when the page has it (the report page
    inlines the bundle once in its ``<head>``); elsewhere (JupyterLab, GitHub) the div shows a
    one-line note. Ids come from a per-kernel counter, so re-running a notebook gives identical
    outputs (nbval compares them). No URL is ever referenced.

    Returns
    -------
    dict
        ``{"text/html": ..., "text/plain": <the chart's title>}``.
    """
    chart_id = f"ek-chart-{next(_chart_ids)}"
    script = (_CHART_SCRIPT % {"id": chart_id}).replace("</", "<\\/")
    title = _chart_title(spec)
    markup = (
        f'<div class="ek-chart" id="{chart_id}" role="img" '
        f'aria-label="{html.escape(title, quote=True)}">{_CHART_NOTE}</div>\n'
        f'<script type="application/json" id="{chart_id}-spec">{_json_for_html(spec)}</script>\n'
        f"<script>{script}</script>"
    )
    return {"text/html": markup, "text/plain": f"<Chart: {title}>"}


def setup_notebook(*, fast_imports: bool = True) -> None:
    """Prepare a report kernel: our altair renderer and the charts theme, both enabled.

    The report notebook calls it in its first code cell. Calling it again is harmless.

    Parameters
    ----------
    fast_imports : bool
        Skip the slow optional import of ``rfc3987_syntax`` (see the module docs), saving about
        two seconds per report.
    """
    from . import charts

    if fast_imports:
        charts.skip_slow_optional_imports()
    import altair as alt

    if RENDERER_NAME not in alt.renderers.names():
        alt.renderers.register(RENDERER_NAME, chart_mimebundle)
    alt.renderers.enable(RENDERER_NAME)
    charts.use_theme()


# =============================================================================================
# Kernel side: the report's data, computed once
# =============================================================================================


def _client(source: str, host: str | None) -> EngagementClient:
    if source == "demo":
        from .demo import demo_client

        return demo_client()
    if source == "platform":
        from .client import EngagementClient

        return EngagementClient(host=host or None)
    raise InvalidQueryError(
        f"source: {source!r} is not a data source; use 'demo' (the built-in demo platform) or "
        "'platform' (KORE_HOST and credentials from the environment)",
        field="source",
    )


def _check_source(source: object) -> str:
    if source not in SOURCES:
        raise InvalidQueryError(
            f"source: {source!r} is not a data source; use 'demo' (the built-in demo platform) "
            "or 'platform' (KORE_HOST and credentials from the environment)",
            field="source",
        )
    return str(source)


def _number(value: Any) -> int | float | None:
    """A JSON-ready number: ``None`` for missing/NaN, ``int`` for whole counts."""
    import pandas as pd

    if value is None or pd.isna(value):
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def _signed_percent(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value * 100:+.1f} %".replace("-", "−")


def _filters_text(filters: Mapping[str, Any]) -> str:
    ctype = {
        "all": "all conversation types",
        "interactive": "interactive conversations",
        "non_interactive": "non-interactive conversations",
    }.get(filters.get("conversation_type", "all"), str(filters.get("conversation_type")))
    status = {
        "all": "any status",
        "active": "active conversations",
        "closed": "closed conversations",
    }.get(filters.get("conversation_status", "all"), str(filters.get("conversation_status")))
    channels = filters.get("channels") or []
    chan = "channels " + ", ".join(channels) if channels else "every channel"
    return f"{ctype}, {status}, {chan}"


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

    def __repr__(self) -> str:
        return (
            f"<WeeklyReport {self.stream_name!r} ({self.stream_id}), {self.week} "
            f"{self.start}..{self.end} {self.tz}; {len(self.history)} weeks of history>"
        )

    # -- numbers (all from engagement_kit.metrics) --------------------------------------------
    @functools.cached_property
    def kpis(self) -> pd.DataFrame:
        """:func:`metrics.kpis` of this week against the previous one."""
        from . import metrics

        return metrics.kpis(self.current, self.previous)

    @functools.cached_property
    def peak_hours(self) -> pd.DataFrame:
        """Weekday × hour matrix of unique users (:func:`metrics.peak_hours`)."""
        from . import metrics

        return metrics.peak_hours(self.hourly)

    @functools.cached_property
    def top_hours(self) -> pd.DataFrame:
        """The three busiest hours of the week (:func:`metrics.top_hours`)."""
        from . import metrics

        return metrics.top_hours(self.hourly, 3)

    @functools.cached_property
    def coverage_window(self) -> CoverageWindow:
        """Shortest run of hours holding 80 % of the week's user-hours."""
        from . import metrics

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
        import pandas as pd

        from . import metrics
        from .tidy import METRICS

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
        import pandas as pd

        from . import metrics

        parts = []
        for answer, data in (("daily", self.current), ("hourly", self.hourly)):
            found = metrics.check_data(data)
            found.insert(0, "answer", answer)
            parts.append(found)
        return pd.concat(parts, ignore_index=True)

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
            "source": self.source,
            "host": self.host,
            "weeks_of_history": len(self.history),
        }

    # -- the sidecar ---------------------------------------------------------------------------
    def sidecar(self) -> dict[str, Any]:
        """The report's numbers as JSON-ready data (written beside the HTML as ``.json``).

        Returns
        -------
        dict
            ``stream_id``, ``stream_name``, ``week``, ``start``, ``end``, ``tz``, ``filters``,
            ``source``, ``kpis`` and ``previous_kpis`` (``unique_users``, ``new_users``,
            ``returning_users``, the three per-day averages, ``returning_share``,
            ``stickiness``), ``change`` (per KPI: ``change`` and ``pct_change``),
            ``peak_hours`` (``metric``, ``weekdays``, ``hours``, ``matrix`` of mean users,
            ``top_hours``), ``coverage_window``, ``anomalies``, ``checks``, ``history``,
            ``generated_at``, ``toolkit_version``.
        """
        from . import __version__

        kpis = self.kpis
        matrix = self.peak_hours
        return _finite(
            {
                "stream_id": self.stream_id,
                "stream_name": self.stream_name,
                "week": self.week,
                "start": self.start.isoformat(),
                "end": self.end.isoformat(),
                "tz": self.tz,
                "filters": dict(self.filters),
                "source": self.source,
                "kpis": {k: _number(v) for k, v in kpis["value"].items()},
                "previous_kpis": {k: _number(v) for k, v in kpis["previous"].items()},
                "change": {
                    k: {"change": _number(row["change"]), "pct_change": _number(row["pct_change"])}
                    for k, row in kpis.iterrows()
                },
                "peak_hours": {
                    "metric": "unique",
                    "weekdays": [str(d) for d in matrix.index],
                    "hours": [int(h) for h in matrix.columns],
                    "matrix": [[_number(v) for v in row] for row in matrix.to_numpy(object)],
                    "top_hours": [
                        {
                            "rank": int(r["rank"]),
                            "hour": int(r["hour"]),
                            "label": str(r["label"]),
                            "users": _number(r["users"]),
                            "share": _number(r["share"]),
                        }
                        for _, r in self.top_hours.iterrows()
                    ],
                },
                "coverage_window": self.coverage_window.to_dict(),
                "anomalies": [
                    {
                        "date": r["date"].date().isoformat(),
                        "metric": str(r["metric"]),
                        "value": _number(r["value"]),
                        "expected": _number(r["expected"]),
                        "low": _number(r["low"]),
                        "high": _number(r["high"]),
                        "score": _number(r["score"]),
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
                            k: _number(r[k])
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
                "generated_at": self.generated_at,
                "toolkit_version": __version__,
            }
        )

    def sidecar_output(self) -> _SidecarOutput:
        """The sidecar as a notebook output the runner reads back (:data:`SIDECAR_MIMETYPE`)."""
        return _SidecarOutput(self.sidecar())

    # -- display pieces (HTML, every dynamic text escaped) -----------------------------------
    def header(self) -> Any:
        """Stream, week, zone, filters and data source, as an HTML block."""
        from IPython.display import HTML

        source = "the built-in demo platform" if self.source == "demo" else self.host or "KORE_HOST"
        rows = [
            (
                "Stream",
                f"{_escape(self.stream_name)} <span class='ek-muted'>({_escape(self.stream_id)})</span>",
            ),
            (
                "Week",
                f"{_escape(self.week)}: Monday {self.start:%d %B %Y} to Sunday {self.end:%d %B %Y}",
            ),
            ("Time zone", f"{_escape(self.tz)} (days and hours are this zone's wall clock)"),
            ("Filters", _escape(_filters_text(self.filters))),
            ("Data from", _escape(source)),
        ]
        body = "".join(
            f"<tr><th>{k}</th><td style='text-align:left'>{v}</td></tr>" for k, v in rows
        )
        return HTML(
            f"<h1>Weekly report: {_escape(self.stream_name)}</h1>\n"
            f"<table class='ek-header'><tbody>{body}</tbody></table>"
        )

    def generated_note(self) -> Any:
        """When the report was generated and by which toolkit version (volatile)."""
        from IPython.display import HTML

        from . import __version__

        return HTML(
            f"<p class='ek-muted'>Generated {_escape(self.generated_at)} by engagement-kit "
            f"{_escape(__version__)}.</p>"
        )

    def headline(self) -> Any:
        """One sentence: this week's unique users and the change from last week."""
        from IPython.display import HTML

        row = self.kpis.loc["unique_users"]
        value, prev, pct = (
            _number(row["value"]),
            _number(row["previous"]),
            _number(row["pct_change"]),
        )
        if value is None:
            text = "The platform gave no user count for this week."
        elif prev is None:
            text = f"<b>{value:,}</b> unique users this week."
        else:
            word = "up" if value > prev else "down" if value < prev else "unchanged"
            cls = "ek-up" if word == "up" else "ek-down" if word == "down" else "ek-muted"
            change = f" {_signed_percent(pct)}" if pct is not None and word != "unchanged" else ""
            text = (
                f"<b>{value:,}</b> unique users this week, <span class='{cls}'>{word}{change}"
                f"</span> from {prev:,} the week before."
            )
        return HTML(f"<p class='ek-headline'>{text}</p>")

    def kpi_table(self) -> Any:
        """The KPI table (:func:`charts.kpi_table_html`): this week, the week before, change."""
        from IPython.display import HTML

        from . import charts

        return HTML(
            charts.kpi_table_html(self.kpis, value_label="This week", previous_label="Week before")
        )

    def coverage_note(self) -> Any:
        """The coverage window and the busiest hours in one sentence."""
        from IPython.display import HTML

        window = self.coverage_window
        if not window.found:
            return HTML("<p>No users this week, so there is no busy period to staff.</p>")
        top = ", ".join(str(label) for label in self.top_hours["label"])
        return HTML(
            f"<p>{window.share * 100:.0f} % of this week's user-hours fall between "
            f"<b>{_escape(window.label)}</b> ({window.hours} hours, {_escape(self.tz)}). "
            f"Busiest hours: {_escape(top)}.</p>"
        )

    def anomalies_table(self) -> Any:
        """The week's unusual days as a small table, or a sentence when there are none."""
        from IPython.display import HTML

        found = self.anomalies
        if found.empty:
            return HTML(
                "<p>No unusual days: every day of the week is within the normal range of the "
                f"same weekday over the previous {ANOMALY_WEEKS} weeks.</p>"
            )
        rows = "".join(
            "<tr>"
            f"<td>{r['date']:%A %d %B}</td><td>{_escape(r['metric'])}</td>"
            f"<td>{_number(r['value']):,}</td>"
            f"<td>{r['low']:,.0f}–{r['high']:,.0f}</td>"
            f"<td class='{'ek-up' if r['direction'] == 'up' else 'ek-down'}'>"
            f"{'higher' if r['direction'] == 'up' else 'lower'} than usual</td>"
            "</tr>"
            for _, r in found.iterrows()
        )
        return HTML(
            "<table><thead><tr><th>Day</th><th>Users</th><th>Count</th>"
            "<th>Normal range</th><th></th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )

    def checks_table(self) -> Any:
        """The data checks as a table (level, which answer, what was found)."""
        from IPython.display import HTML

        rows = "".join(
            f"<tr><td>{_escape(r['answer'])}</td><td>{_escape(r['level'])}</td>"
            f"<td style='text-align:left'>{_escape(r['message'])}</td></tr>"
            for _, r in self.checks.iterrows()
        )
        return HTML(
            "<table><thead><tr><th>Answer</th><th>Level</th><th>Finding</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )

    def channels_section(self) -> Any:
        """The *Channels* section (heading, note and channel-mix table), or nothing."""
        from IPython.display import HTML

        from .channels import NOT_ADDITIVE_NOTE, channel_mix, channel_mix_html

        if self.channels is None:
            return HTML("")
        table = channel_mix_html(channel_mix(self.channels))
        return HTML(
            "<h2>Channels</h2><p>The week's users on each channel, each channel asked for on "
            f"its own. {_escape(NOT_ADDITIVE_NOTE)}</p>{table}"
        )

    def channels_chart(self) -> Any:
        """Daily unique users per channel (:func:`charts.channel_mix_chart`), or nothing."""
        from IPython.display import HTML

        from . import charts

        if self.channels is None:
            return HTML("")
        return charts.channel_mix_chart(self.channels)

    def footer(self) -> Any:
        """Toolkit version and the parameters this report was made with."""
        from IPython.display import HTML

        from . import __version__

        rows = "".join(
            f"<tr><td>{_escape(k)}</td><td style='text-align:left'><code>{_escape(repr(v))}"
            "</code></td></tr>"
            for k, v in self.parameters.items()
        )
        lines = self.store_note.text() if self.store_note is not None else []
        note = "".join(f"<p>{_escape(line)}</p>" for line in lines)
        return HTML(
            f"{note}<p class='ek-muted'>engagement-kit {_escape(__version__)}. Parameters of this "
            "report (re-run it with <code>engagement-kit report</code> or papermill):</p>"
            f"<table><tbody>{rows}</tbody></table>"
        )


class _SidecarOutput:
    """Displays as :data:`SIDECAR_MIMETYPE` (JSON) plus a one-line text."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {
            SIDECAR_MIMETYPE: self.data,
            "text/plain": f"<report data: {self.data['stream_id']} {self.data['week']}>",
        }


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
    weeks_of_history : int
        Weeks in the history chart, ending with ``week``.
    client : EngagementClient, optional
        Use this client instead of the one ``source`` names.
    channels_breakdown : list of str or comma-separated str, optional
        Channels compared in a *Channels* section (one daily request per channel).

    Returns
    -------
    WeeklyReport

    Raises
    ------
    InvalidQueryError, ConfigError, ApiError, ...
        The client's errors, unchanged.
    """
    import pandas as pd

    from .query import EngagementQuery
    from .tidy import merge_engagements
    from .weeks import parse_iso_week, week_bounds, week_labels

    _check_source(source)
    parse_iso_week(week)
    if not isinstance(weeks_of_history, int) or weeks_of_history < 1:
        raise InvalidQueryError(
            f"weeks_of_history: {weeks_of_history!r} must be a whole number of weeks >= 1",
            field="weeks_of_history",
        )
    if isinstance(channels, str):
        channels = [c for c in channels.split(",") if c.strip()] or None
    probe = EngagementQuery(
        stream_id=stream_id,
        start="2000-01-03",
        end="2000-01-03",
        tz=tz,
        conversation_type=conversation_type,
        conversation_status=conversation_status,
        channels=channels,
    )
    filters = {
        "conversation_type": probe.conversation_type,
        "conversation_status": probe.conversation_status,
        "channels": list(probe.channels),
    }
    fetch_filters = {**filters, "channels": list(probe.channels) or None}
    owns = client is None
    client = _client(source, host) if client is None else client
    try:
        weeks = max(weeks_of_history, ANOMALY_WEEKS + 1)
        history = client.fetch_weeks(
            probe.stream_id, weeks, end_week=week, tz=probe.tz, **fetch_filters
        )
        history = history.iloc[len(history) - weeks_of_history :].reset_index(drop=True)
        labels = week_labels(week, ANOMALY_WEEKS + 1)
        daily = [
            client.fetch(probe.stream_id, *week_bounds(label), tz=probe.tz, **fetch_filters)
            for label in labels
        ]  # already in the store: fetch_weeks asked for exactly these weeks
        start, end = week_bounds(week)
        hourly = client.fetch(
            probe.stream_id, start, end, aggregation="hourly", tz=probe.tz, **fetch_filters
        )
        breakdown = None
        if channels_breakdown:
            from .channels import fetch_channels

            breakdown = fetch_channels(
                client,
                probe.stream_id,
                start,
                end,
                channels=channels_breakdown,
                conversation_type=probe.conversation_type,
                conversation_status=probe.conversation_status,
                tz=probe.tz,
            )
        store_note = _store_note(client, probe, week_labels(week, weeks))
    finally:
        if owns:
            client.close()
    recent = merge_engagements(daily, probe.replace(start=week_bounds(labels[0])[0], end=end))
    return WeeklyReport(
        stream_id=probe.stream_id,
        stream_name=(stream_name or "").strip() or probe.stream_id,
        week=week,
        tz=probe.tz,
        start=start,
        end=end,
        filters=filters,
        source=source,
        host=host or "",
        current=daily[-1],
        previous=daily[-2],
        hourly=hourly,
        recent=recent,
        history=history,
        generated_at=pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
        channels=breakdown,
        store_note=store_note,
    )


def _store_note(client: EngagementClient, probe: Any, labels: Sequence[str]) -> StoreNote:
    """Settled or not, and recent revisions, of the answers this report shows."""
    from .store.history import report_note
    from .weeks import week_bounds

    daily = [probe.replace(start=a, end=b) for a, b in map(week_bounds, labels)]
    hourly = probe.replace(aggregation="hourly", start=daily[-1].start, end=daily[-1].end)
    return report_note(
        client.store, client.host, [*daily[-2:], hourly], now=client._now(), revised=daily
    )


# =============================================================================================
# Files: slugs, atomic writes, the offline HTML
# =============================================================================================


def _slugify(text: str, max_length: int = 60) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].strip("-")


def stream_slug(name: str | None, stream_id: str | None = None) -> str:
    """The folder name of a stream under ``reports/``: lowercase ``[a-z0-9-]``, never empty.

    From the display name, else the id, else ``"stream"``: ``"../"``, ``"/"``, ``"%2e%2e"``,
    NUL bytes or markup can never make a path outside the reports folder.
    """
    for text in (name, stream_id):
        if isinstance(text, str):
            slug = _slugify(text)
            if slug:
                return slug
    return "stream"


def _inside(base: Path, *parts: str) -> Path:
    """``base / parts`` after checking it stays inside ``base`` (defence in depth)."""
    root = base.resolve()
    path = root.joinpath(*parts).resolve()
    if path != root and root not in path.parents:
        raise ReportError(f"refusing to write outside {root}: {path}")
    return path


def atomic_write(path: str | os.PathLike[str], data: str | bytes | Iterable[bytes]) -> Path:
    """Write a file so that readers see the old content or the new, never a half-written one.

    The data goes to a temporary file in the same directory, is flushed to disk, then renamed
    over ``path`` (``os.replace``). On any failure the temporary file is removed and ``path``
    keeps its previous bytes.

    Parameters
    ----------
    data : str, bytes or iterable of bytes
        Text is written as UTF-8.

    Returns
    -------
    Path
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, str):
                fh.write(data.encode("utf-8"))
            elif isinstance(data, bytes | bytearray):
                fh.write(data)
            else:
                for chunk in data:
                    fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


def _vegalite_minor() -> str:
    import altair as alt

    major, minor, *_ = alt.SCHEMA_VERSION.lstrip("v").split(".")
    return f"{major}.{minor}"


def _bundle_cache_file(vl_version: str) -> Path | None:
    import vl_convert

    try:
        from platformdirs import user_cache_dir

        folder = Path(user_cache_dir("engagement-kit"))
    except Exception:  # pragma: no cover - no usable cache folder
        return None
    version = re.sub(r"[^0-9A-Za-z.]+", "_", str(getattr(vl_convert, "__version__", "0")))
    return folder / f"vega-bundle-vlc{version}-vl{vl_version}.js"


@functools.cache
def vega_bundle() -> str:
    """Vega, Vega-Lite (altair's version) and Vega-Embed as one script, safe to inline.

    From ``vl_convert.javascript_bundle`` (it defines ``window.vegaEmbed``). Building it takes
    seconds, so it is cached per process and on disk (the user cache folder, keyed by the
    vl-convert and Vega-Lite versions).
    """
    vl_version = _vegalite_minor()
    cache = _bundle_cache_file(vl_version)
    bundle = None
    if cache is not None and cache.is_file():
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = cache.read_text(encoding="utf-8")
            if "window.vegaEmbed" in text and len(text) > 100_000:
                bundle = text
    if bundle is None:
        import vl_convert

        bundle = vl_convert.javascript_bundle(vl_version=vl_version)
        if cache is not None:
            with contextlib.suppress(OSError):
                atomic_write(cache, bundle)
    return re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)


def _template_resources(title: str) -> dict[str, Any]:
    import vl_convert

    from . import __version__

    return {
        "metadata": {"name": title},
        "ek_vega_bundle": vega_bundle(),
        "ek_vega_version": vl_convert.get_vega_version(),
        "ek_vegalite_version": _vegalite_minor(),
        "ek_vega_embed_version": vl_convert.get_vega_embed_version(),
        "ek_toolkit_version": __version__,
    }


@functools.cache
def _drop_stray_outputs_class() -> type:
    from nbconvert.preprocessors import Preprocessor

    class DropStrayOutputs(Preprocessor):
        """Drop printed text (stdout/stderr streams) and tracebacks from every cell."""

        def preprocess_cell(self, cell: Any, resources: Any, index: int) -> tuple[Any, Any]:
            if cell.get("cell_type") == "code":
                cell.outputs = [
                    o
                    for o in cell.get("outputs", [])
                    if o.get("output_type") not in ("stream", "error")
                ]
            return cell, resources

    return DropStrayOutputs


@functools.cache
def _html_exporter() -> Any:
    """The configured ``HTMLExporter``, built once per process (its templates compile once)."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(
            remove_cell_tags={"remove_cell", "parameters", "injected-parameters"},
            remove_all_outputs_tags={"remove_output"},
            remove_input_tags={"remove_input"},
        ),
        enabled=True,
    )
    exporter.register_preprocessor(_drop_stray_outputs_class()(), enabled=True)
    return exporter


def notebook_to_html(nb: nbformat.NotebookNode, *, title: str) -> str:
    """Render an executed notebook as one self-contained HTML page.

    nbconvert's ``HTMLExporter`` with the ``ek_report`` template (package data), without code
    cells, prompts, printed output or cells tagged ``remove_cell`` (outputs of ``remove_output``
    cells are dropped too). The result references no URL: no CDN script, stylesheet or font.

    Returns
    -------
    str
        The page.
    """
    exporter = _html_exporter()
    body, _ = exporter.from_notebook_node(nb, resources=_template_resources(title))
    return body


def default_notebook() -> Path:
    """The report notebook: the checkout's, else the copy inside the installed package.

    Raises
    ------
    ReportError
        When neither exists (a broken installation).
    """
    from .project import bundled_file

    try:
        return bundled_file(NOTEBOOK_RELATIVE)
    except ConfigError as exc:
        raise ReportError(f"{exc} (or pass notebook=)") from None


def _kernel_start_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is a kernel that failed to start (worth one retry), not a cell error."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return False
    text = f"{type(exc).__name__}: {exc}"
    needles = (
        "Address already in use",
        "Kernel died before replying",
        "Kernel didn't respond",
        "DeadKernelError",
        "kernel_info",
    )
    return any(n in text for n in needles)


def execute_notebook(
    notebook: str | os.PathLike[str],
    output: str | os.PathLike[str],
    parameters: Mapping[str, Any],
    *,
    kernel_name: str = DEFAULT_KERNEL,
    on_cell: Callable[[int, int], None] | None = None,
    retries: int = 1,
) -> nbformat.NotebookNode:
    """Run a notebook with papermill's Python API; retry a kernel that failed to start.

    On POSIX systems the kernel talks over Unix sockets in a private temporary folder
    (:func:`_ipc_kernel_manager`) instead of TCP ports, so parallel runs cannot race for ports.

    Parameters
    ----------
    notebook, output : path
        Input notebook; where papermill writes the executed one (also when a cell fails).
    parameters : mapping
        Literal papermill parameters (see :func:`report_parameters`).
    on_cell : callable, optional
        ``on_cell(done, total)`` after each code cell (nbclient's ``on_cell_complete`` hook).
    retries : int
        Extra attempts after a kernel start failure (``Address already in use``, kernel died
        before replying). A failing *cell* is never retried.

    Returns
    -------
    nbformat.NotebookNode
        The executed notebook.

    Raises
    ------
    papermill.PapermillExecutionError
        A cell raised; ``ename`` and ``evalue`` say what.
    """
    import papermill
    from tenacity import Retrying, retry_if_exception, stop_after_attempt

    state = {"done": 0, "total": 0}

    def on_start(notebook: Any = None, **_: Any) -> None:
        cells = notebook.cells if notebook is not None else []
        state["done"] = 0
        state["total"] = sum(1 for c in cells if c.cell_type == "code" and c.source.strip())
        if on_cell is not None:
            on_cell(0, state["total"])

    def on_complete(**_: Any) -> None:
        state["done"] += 1
        if on_cell is not None:
            on_cell(state["done"], max(state["total"], state["done"]))

    engine_kwargs: dict[str, Any] = {}
    sockets = tempfile.TemporaryDirectory(prefix="ek-kernel-") if os.name == "posix" else None
    if sockets is not None:
        remove_on_stop(sockets.name)
        engine_kwargs["kernel_manager_class"] = _ipc_kernel_manager(sockets.name)
    try:
        for attempt in Retrying(
            stop=stop_after_attempt(retries + 1),
            retry=retry_if_exception(_kernel_start_failed),
            reraise=True,
        ):
            with attempt:
                return papermill.execute_notebook(
                    str(notebook),
                    str(output),
                    parameters=dict(parameters),
                    kernel_name=kernel_name,
                    progress_bar=False,
                    log_output=False,
                    start_timeout=START_TIMEOUT,
                    execution_timeout=CELL_TIMEOUT,
                    on_notebook_start=on_start,
                    on_cell_complete=on_complete,
                    # outputs are complete once the last cell is idle: no need to wait for a
                    # graceful kernel exit (which can add seconds)
                    shutdown_kernel="immediate",
                    # one save at the end (and on a failure) instead of one per cell
                    request_save_on_cell_execute=False,
                    # the kernel's own start-up chatter is not ours to show
                    extra_arguments=["--IPKernelApp.log_level=ERROR"],
                    **engine_kwargs,
                )
    finally:
        if sockets is not None:
            sockets.cleanup()
    raise AssertionError("unreachable")  # pragma: no cover


def _ipc_kernel_manager(folder: str) -> type:
    """A kernel manager whose kernel talks over Unix sockets in ``folder``, not TCP ports.

    Parallel papermill runs on TCP race for free ports (``ZMQError: Address already in use``,
    papermill issues 239 and 511); sockets in a private folder per run cannot collide, and
    nothing listens on the network.
    """
    from nbclient.client import NotebookClient

    base = NotebookClient.kernel_manager_class.default_value
    if isinstance(base, str):
        from traitlets.utils.importstring import import_item

        base = import_item(base)
    prefix = os.path.join(folder, "kernel")

    def __init__(self: Any, **kwargs: Any) -> None:
        kwargs.setdefault("transport", "ipc")
        kwargs.setdefault("ip", prefix)
        base.__init__(self, **kwargs)

    return type("IpcKernelManager", (base,), {"__init__": __init__})


# =============================================================================================
# The runner
# =============================================================================================


@dataclasses.dataclass(frozen=True)
class ReportResult:
    """What happened to one stream's report.

    Attributes
    ----------
    stream_id, stream_name, slug, week : str
    status : {"written", "failed"}
    html, json, notebook : Path or None
        The files written (``notebook``: the executed notebook when kept, or
        ``<week>.failed.ipynb`` after a failure).
    error : str or None
        One readable sentence (never a secret) when the report failed.
    unique_users : int or None
    change : float or None
        Week-over-week change of unique users as a fraction (0.25 = +25 %).
    seconds : float
    attempts : int
    """

    stream_id: str
    stream_name: str
    slug: str
    week: str
    status: str
    html: Path | None = None
    json: Path | None = None
    notebook: Path | None = None
    error: str | None = None
    unique_users: int | None = None
    change: float | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the HTML and JSON were written."""
        return self.status == "written"


@dataclasses.dataclass(frozen=True)
class _Task:
    """One stream's job, as sent to a worker process (picklable, no secret)."""

    key: int
    parameters: dict[str, Any]
    slug: str
    out_dir: str
    notebook: str
    keep_notebook: bool
    kernel_name: str = DEFAULT_KERNEL


def default_jobs() -> int:
    """Parallel report runs by default: the number of cores, at most 4."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_JOBS))


def report_parameters(
    config: StreamConfig,
    week: str,
    *,
    source: str = "demo",
    host: str | None = None,
    weeks_of_history: int = DEFAULT_WEEKS_OF_HISTORY,
) -> dict[str, Any]:
    """The papermill parameters for one stream's report: literals only, never a secret.

    Returns
    -------
    dict
        :data:`PARAMETER_NAMES` → ``str`` or ``int``.

    Raises
    ------
    ReportError
        If a value looks like a credential from the environment (defence in depth).
    """
    params: dict[str, Any] = {
        "stream_id": config.id,
        "stream_name": config.name,
        "week": week,
        "tz": config.tz,
        "conversation_type": config.conversation_type,
        "conversation_status": config.conversation_status,
        "channels": ",".join(config.channels),
        "source": _check_source(source),
        "host": host or "",
        "weeks_of_history": int(weeks_of_history),
        "channels_breakdown": ",".join(config.channels_breakdown),
    }
    _check_no_secret(params)
    return params


def _check_no_secret(params: Mapping[str, Any]) -> None:
    from .settings import known_secrets

    secrets = known_secrets()
    for name, value in params.items():
        if name not in PARAMETER_NAMES or any(w in name.lower() for w in _SECRET_WORDS):
            raise ReportError(f"parameter {name!r} is not a report parameter")
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise ReportError(f"parameter {name!r} must be a literal string or integer")
        if isinstance(value, str) and any(s and s in value for s in secrets):
            raise ReportError(
                f"parameter {name!r} contains a credential; credentials reach the kernel only "
                "through its environment"
            )


@contextlib.contextmanager
def _kernel_environment() -> Iterator[None]:
    """``ENGAGEMENT_KIT_HOME`` (the project folder) into ``os.environ`` for the kernel to
    inherit, then undo: the kernel reads the project's settings (``.env``: host, credentials,
    store) itself, wherever it starts. Variables already in the environment win.
    """
    from .settings import kernel_environment

    added = {k: v for k, v in kernel_environment().items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _one_sentence(text: str, limit: int = 400) -> str:
    line = " ".join(str(text).strip().splitlines()[:1]).strip() or "unknown error"
    from .settings import known_secrets

    for secret in known_secrets():
        line = line.replace(secret, "***")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _describe_error(exc: BaseException) -> str:
    """A one-sentence, secret-free description of why a report failed."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return _one_sentence(f"{exc.ename}: {exc.evalue}")
    if isinstance(exc, EngagementError):
        return _one_sentence(f"{type(exc).__name__}: {exc}")
    if _kernel_start_failed(exc):
        return _one_sentence(
            f"the notebook kernel failed to start twice ({type(exc).__name__}: {exc})"
        )
    return _one_sentence(f"{type(exc).__name__}: {exc}")


# progress plumbing: each worker process gets the parent's queue from the pool initializer and
# sends (key, done, total) messages; done = -1 means the stream failed.
_progress_queue: Any = None


def _init_worker(queue: Any) -> None:
    global _progress_queue
    _progress_queue = queue
    from .charts import skip_slow_optional_imports
    from .stopping import worker_stops_on_signals

    skip_slow_optional_imports()
    worker_stops_on_signals()


def _emit(key: int, done: int, total: int) -> None:
    if _progress_queue is not None:
        with contextlib.suppress(Exception):
            _progress_queue.put((key, done, total))


def _sidecar_from(nb: Any) -> dict[str, Any]:
    found = [
        out["data"][SIDECAR_MIMETYPE]
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if SIDECAR_MIMETYPE in out.get("data", {})
    ]
    if len(found) != 1:
        raise ReportError(
            f"the report notebook emitted {len(found)} sidecar outputs instead of 1; its last "
            "cell must display report.sidecar_output()"
        )
    return dict(found[0])


#: Temporary files older than this are left-overs of a killed run (a run takes minutes).
STALE_TEMP_SECONDS = 6 * 3600


def _sweep_stale_temp_files(folder: Path, *, now: float | None = None) -> list[Path]:
    """Remove our temporary files (``.<name>...tmp...``) that a killed run left behind.

    Only hidden files with ``.tmp`` in their name and older than :data:`STALE_TEMP_SECONDS`,
    so a run going on at the same time keeps its files.

    Returns
    -------
    list of Path
        What was removed.
    """
    now = time.time() if now is None else now
    removed = []
    for path in folder.glob(".*tmp*"):
        try:
            if path.is_file() and now - path.stat().st_mtime > STALE_TEMP_SECONDS:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed


def _run_task(task: _Task) -> ReportResult:
    """Worker: execute the notebook, render HTML, write files atomically. Never raises."""
    started = time.perf_counter()
    params = task.parameters
    week = params["week"]
    out_dir = Path(task.out_dir)
    stream_dir = _inside(out_dir, task.slug)
    stream_dir.mkdir(parents=True, exist_ok=True)
    _sweep_stale_temp_files(stream_dir)
    fd, tmp_name = tempfile.mkstemp(dir=stream_dir, prefix=f".{week}.tmp-", suffix=".ipynb")
    os.close(fd)
    tmp_nb = Path(tmp_name)
    remove_on_stop(tmp_nb)  # a SIGTERM'd worker exits without unwinding (see stopping.py)
    tmp_nb.chmod(0o644)
    base = {
        "stream_id": params["stream_id"],
        "stream_name": params["stream_name"],
        "slug": task.slug,
        "week": week,
    }
    total_steps = {"n": 0}

    def on_cell(done: int, total: int) -> None:
        total_steps["n"] = total + 1  # + rendering the HTML
        _emit(task.key, done, total + 1)

    try:
        try:
            with _kernel_environment():
                nb = execute_notebook(
                    task.notebook, tmp_nb, params, kernel_name=task.kernel_name, on_cell=on_cell
                )
            sidecar = _sidecar_from(nb)
            if sidecar.get("stream_id") != params["stream_id"] or sidecar.get("week") != week:
                raise ReportError("the notebook reported another stream or week than asked")
            page = notebook_to_html(nb, title=f"Weekly report: {params['stream_name']}, {week}")
        except Exception as exc:
            error = _describe_error(exc)
            failed_nb: Path | None = None
            if tmp_nb.exists() and tmp_nb.stat().st_size > 0:
                failed_nb = stream_dir / f"{week}.failed.ipynb"
                os.replace(tmp_nb, failed_nb)
            from . import __version__

            atomic_write(
                stream_dir / f"{week}.error.json",
                json.dumps(
                    {
                        **{k: base[k] for k in ("stream_id", "stream_name", "week")},
                        "error": error,
                        "notebook": failed_nb.name if failed_nb else None,
                        "failed_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "toolkit_version": __version__,
                    },
                    indent=2,
                    ensure_ascii=False,
                ),
            )
            _emit(task.key, -1, max(total_steps["n"], 1))
            return ReportResult(
                **base,
                status="failed",
                notebook=failed_nb,
                error=error,
                seconds=time.perf_counter() - started,
            )
        html_path = atomic_write(stream_dir / f"{week}.html", page)
        json_path = atomic_write(
            stream_dir / f"{week}.json", json.dumps(sidecar, indent=2, ensure_ascii=False)
        )
        kept: Path | None = None
        if task.keep_notebook:
            kept = stream_dir / f"{week}.ipynb"
            os.replace(tmp_nb, kept)
        for stale in (f"{week}.failed.ipynb", f"{week}.error.json"):
            with contextlib.suppress(FileNotFoundError):
                (stream_dir / stale).unlink()
        _emit(task.key, total_steps["n"] or 1, total_steps["n"] or 1)
        unique = sidecar.get("kpis", {}).get("unique_users")
        change = sidecar.get("change", {}).get("unique_users", {}).get("pct_change")
        return ReportResult(
            **base,
            status="written",
            html=html_path,
            json=json_path,
            notebook=kept,
            unique_users=unique if isinstance(unique, int) else None,
            change=float(change) if isinstance(change, int | float) else None,
            seconds=time.perf_counter() - started,
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_nb.unlink()


def _resolve_week(config: StreamConfig, week: str | None, today: dt.date | None) -> str:
    from .weeks import last_complete_week, parse_iso_week, today_in, week_bounds

    if week is None:
        return last_complete_week(config.tz, today=today)
    parse_iso_week(week)
    sunday = week_bounds(week)[1]
    now = today if today is not None else today_in(config.tz)
    if sunday >= now:
        raise InvalidQueryError(
            f"week: {week} has not ended yet in {config.tz} (its Sunday is {sunday}); the last "
            f"complete week there is {last_complete_week(config.tz, today=now)}",
            field="week",
        )
    return week


def render_all(
    configs: Sequence[StreamConfig],
    *,
    week: str | None = None,
    out_dir: str | os.PathLike[str] = "reports",
    jobs: int | None = None,
    keep_notebook: bool = False,
    source: str = "demo",
    host: str | None = None,
    weeks_of_history: int = DEFAULT_WEEKS_OF_HISTORY,
    notebook: str | os.PathLike[str] | None = None,
    console: Console | None = None,
    quiet: bool = False,
    today: dt.date | None = None,
) -> list[ReportResult]:
    """Write the weekly report of every stream, in parallel, then the index page.

    Parameters
    ----------
    configs : sequence of StreamConfig
        The streams (``config.load_streams``, or the demo streams).
    week : str, optional
        ``'YYYY-Www'``; default the last complete ISO week in each stream's own zone.
    out_dir : path
        Reports go to ``out_dir/<stream-slug>/<week>.html`` and ``.json``; the index to
        ``out_dir/index.html``.
    jobs : int, optional
        Parallel notebook runs (worker processes); default :func:`default_jobs`.
    keep_notebook : bool
        Also keep each executed notebook as ``<week>.ipynb``.
    source : {"demo", "platform"}
    host : str, optional
        The API host for ``source="platform"`` (default ``$KORE_HOST``); credentials always come
        from the environment or ``.env`` and are checked for presence before anything runs.
    notebook : path, optional
        The report notebook (default :func:`default_notebook`).
    console : rich.console.Console, optional
        Where the progress bars and the summary table go (default: stderr).
    quiet : bool
        Show neither.
    today : date, optional
        "Today" for the default week (tests).

    Returns
    -------
    list of ReportResult
        In the order of ``configs``. A failed stream is a result with ``status="failed"``;
        the others are still written.

    Raises
    ------
    InvalidQueryError, ConfigError
        Bad arguments or settings, before anything runs: an invalid or unfinished week, an
        unknown source, no host or credentials for ``source="platform"``, two streams with the
        same folder name, no streams.
    """
    from .config import normalize_host

    source = _check_source(source)
    if not configs:
        raise ConfigError("no streams to report on; list them in streams.toml or use --demo")
    if jobs is None:
        jobs = default_jobs()
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise InvalidQueryError(f"jobs: {jobs!r} must be a whole number >= 1", field="jobs")
    if source == "platform":
        host = _platform_host(host)
    elif host:
        host = normalize_host(host)
    nb_path = Path(notebook) if notebook is not None else default_notebook()
    if not nb_path.is_file():
        raise ConfigError(f"notebook: {nb_path} does not exist")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    tasks: list[_Task] = []
    seen: dict[str, str] = {}
    for key, config in enumerate(configs):
        slug = stream_slug(config.name, config.id)
        if slug in seen:
            raise ConfigError(
                f"streams {seen[slug]!r} and {config.id!r} would share the folder {slug!r}; give "
                "them distinct names"
            )
        seen[slug] = config.id
        stream_week = _resolve_week(config, week, today)
        params = report_parameters(
            config, stream_week, source=source, host=host, weeks_of_history=weeks_of_history
        )
        tasks.append(
            _Task(
                key=key,
                parameters=params,
                slug=slug,
                out_dir=str(out.resolve()),
                notebook=str(nb_path.resolve()),
                keep_notebook=keep_notebook,
            )
        )

    from rich.console import Console as RichConsole

    console = console or RichConsole(stderr=True)
    with _progress(tasks, console=console, quiet=quiet) as update:
        results = _run_tasks(tasks, jobs=min(jobs, len(tasks)), update=update)
    write_index(out)
    if not quiet:
        print_summary(results, console=console)
    return results


def _platform_host(host: str | None) -> str:
    """The API host for ``source="platform"``, after checking credentials are set (fail fast).

    Credentials are only checked for presence here; the kernels read them again from their
    environment. The host is not a secret and travels as a parameter.
    """
    from .auth import credentials_from_env
    from .config import host_from_env, normalize_host

    resolved = normalize_host(host) if host else host_from_env()
    credentials_from_env()  # ConfigError naming the variables when none are set
    return resolved


def demo_streams() -> list[StreamConfig]:
    """The demo platform's streams as :class:`StreamConfig` (what ``report --demo`` renders)."""
    from .config import demo_streams as streams

    # each demo report shows its stream's channels side by side
    return [s.model_copy(update={"channels_breakdown": s.known_channels}) for s in streams()]


def render_report(
    config: StreamConfig,
    *,
    week: str | None = None,
    out_dir: str | os.PathLike[str] = "reports",
    keep_notebook: bool = False,
    source: str = "demo",
    host: str | None = None,
    weeks_of_history: int = DEFAULT_WEEKS_OF_HISTORY,
    notebook: str | os.PathLike[str] | None = None,
    console: Console | None = None,
    quiet: bool = False,
    today: dt.date | None = None,
) -> ReportResult:
    """Write one stream's weekly report (in one worker process) and refresh the index.

    Same arguments as :func:`render_all` for a single stream.

    Returns
    -------
    ReportResult
    """
    return render_all(
        [config],
        week=week,
        out_dir=out_dir,
        jobs=1,
        keep_notebook=keep_notebook,
        source=source,
        host=host,
        weeks_of_history=weeks_of_history,
        notebook=notebook,
        console=console,
        quiet=quiet,
        today=today,
    )[0]


@contextlib.contextmanager
def _progress(
    tasks: Sequence[_Task], *, console: Console, quiet: bool
) -> Iterator[Callable[[int, int, int], None]]:
    """One rich progress bar per stream; yields ``update(key, done, total)``."""
    if quiet:
        yield lambda key, done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[state]}", markup=False),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        ids = {
            t.key: progress.add_task(
                f"{t.parameters['stream_name']} {t.parameters['week']}", total=None, state="waiting"
            )
            for t in tasks
        }

        def update(key: int, done: int, total: int) -> None:
            task_id = ids.get(key)
            if task_id is None:
                return
            if done < 0:
                progress.update(task_id, total=total, completed=total, state="failed")
            else:
                state = "done" if done >= total else "running"
                progress.update(task_id, total=total, completed=done, state=state)

        yield update


def _run_tasks(
    tasks: Sequence[_Task], *, jobs: int, update: Callable[[int, int, int], None]
) -> list[ReportResult]:
    """Run the tasks in a bounded pool of worker processes; collect results in task order.

    Always in worker processes (``spawn``), even for one job: a kernel or zmq failure cannot
    take the caller down, the caller's process keeps its imports and environment, and workers
    can skip a slow optional import (:func:`engagement_kit.charts.skip_slow_optional_imports`).
    """
    import multiprocessing
    import queue as queue_module
    import threading
    from concurrent.futures import ProcessPoolExecutor

    from .stopping import call_in_worker, stop_pool

    ctx = multiprocessing.get_context("spawn")  # never fork a threaded parent
    messages = ctx.Queue()
    stop = threading.Event()

    def drain(timeout: float) -> bool:
        try:
            key, done, total = messages.get(timeout=timeout)
        except (queue_module.Empty, EOFError, OSError, ValueError):
            return False
        update(key, done, total)
        return True

    def pump() -> None:
        while not stop.is_set():
            drain(0.1)

    reader = threading.Thread(target=pump, name="engagement-kit-progress", daemon=True)
    reader.start()
    results: list[ReportResult] = []
    try:
        with ProcessPoolExecutor(
            max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=(messages,)
        ) as pool:
            try:
                futures = [pool.submit(call_in_worker, _run_task, t) for t in tasks]
                for task, future in zip(tasks, futures, strict=True):
                    try:
                        results.append(future.result())
                    except Exception as exc:  # the worker process itself died
                        results.append(
                            ReportResult(
                                stream_id=task.parameters["stream_id"],
                                stream_name=task.parameters["stream_name"],
                                slug=task.slug,
                                week=task.parameters["week"],
                                status="failed",
                                error=_one_sentence(
                                    f"the report worker stopped ({type(exc).__name__}: {exc})"
                                ),
                            )
                        )
                        update(task.key, -1, 1)
            except KeyboardInterrupt:  # Ctrl-C, or SIGTERM/SIGHUP (see stopping.py)
                stop_pool(pool)  # the workers and their kernels, not only the pending work
                raise
    finally:
        stop.set()
        reader.join(timeout=5)
        while drain(0.01):  # messages still in the pipe after the workers exited
            pass
        messages.close()
        messages.join_thread()
    return results


def exit_code(results: Sequence[ReportResult]) -> int:
    """The command's exit status: 0 when every report was written, 1 when any failed."""
    return 0 if results and all(r.ok for r in results) else 1


def _change_text(change: float | None) -> str:
    return _signed_percent(change)


def summary_table(results: Sequence[ReportResult], *, width: int | None = None) -> Table:
    """A rich table for a terminal: stream, status, unique users, change, report.

    Paths are relative to the current folder, a week shared by every stream goes into the
    title, and errors are left to :func:`print_summary` (below the table). A row is one line;
    when that is wider than ``width`` (80 columns), the path moves under the stream's name, so
    a row takes two lines, never more (a long name is cut with "…").
    """
    import io

    from rich.console import Console as RichConsole
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    from .terminal import display_path

    weeks = {r.week for r in results}
    title = "Weekly reports" + (f", {next(iter(weeks))}" if len(weeks) == 1 else "")

    def build(two_lines: bool) -> Table:
        table = Table(
            title=title,
            title_justify="left",
            title_style="bold",
            box=None,
            pad_edge=False,
            header_style="bold underline",
        )
        table.add_column("stream" + (" / report" if two_lines else ""), overflow="fold")
        if len(weeks) > 1:
            table.add_column("week", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("users", justify="right", no_wrap=True)
        table.add_column("change", justify="right", no_wrap=True)
        if not two_lines:
            table.add_column("report", no_wrap=True)
        for r in results:
            path = display_path(r.html if r.ok else r.notebook)
            name = Text(r.stream_name, no_wrap=True, overflow="ellipsis")
            if two_lines:
                name = Text.assemble(r.stream_name, "\n", (path, "dim") if path else "")
            cells: list[Any] = [name]
            if len(weeks) > 1:
                cells.append(Text(r.week))
            cells += [
                Text("written", style="green") if r.ok else Text("failed", style="bold red"),
                f"{r.unique_users:,}" if r.unique_users is not None else "",
                _change_text(r.change) if r.ok else "",
            ]
            if not two_lines:
                cells.append(Text(path))
            table.add_row(*cells)
        return table

    table = build(two_lines=False)
    if width is not None:
        measuring = RichConsole(width=10_000, file=io.StringIO())  # the natural width
        if Measurement.get(measuring, measuring.options, table).maximum > width:
            table = build(two_lines=True)
    return table


def summary_lines(results: Sequence[ReportResult]) -> list[str]:
    """The summary as plain lines, one per stream (for logs: nothing is wrapped)."""
    from .terminal import display_path

    written = sum(r.ok for r in results)
    lines = [f"Weekly reports: {written} written, {len(results) - written} failed"]
    for r in results:
        if r.ok:
            users = f"{r.unique_users:,} users" if r.unique_users is not None else "users n/a"
            lines.append(
                f"written  {r.stream_name}  {r.week}  {users}  {_change_text(r.change)}  "
                f"{display_path(r.html)}"
            )
        else:
            kept = f" (notebook kept: {display_path(r.notebook)})" if r.notebook else ""
            lines.append(f"failed   {r.stream_name}  {r.week}  {r.error or 'failed'}{kept}")
    return lines


def print_summary(results: Sequence[ReportResult], *, console: Console | None = None) -> None:
    """Print the summary and, when there is one, where the index is.

    To a terminal: :func:`summary_table` fitted to its width, then each error. Otherwise (a
    file, a pipe, a cron log): :func:`summary_lines`, which nothing wraps.
    """
    from rich.console import Console as RichConsole
    from rich.text import Text

    from .terminal import display_path, plain_output

    console = console or RichConsole(stderr=True)

    def line(text: str | Text) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=plain_output(console))

    if plain_output(console):
        for text in summary_lines(results):
            line(text)
    else:
        console.print(summary_table(results, width=console.width))
        for r in results:
            if not r.ok:
                line(Text.assemble((f"{r.stream_name} ({r.week}): ", "bold red"), r.error or ""))
    written = [r for r in results if r.html is not None]
    if written:
        index = written[0].html.parent.parent / "index.html"  # type: ignore[union-attr]
        line(f"Index: {display_path(index)}")


# =============================================================================================
# The index page
# =============================================================================================


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _index_entries(out_dir: Path) -> list[dict[str, Any]]:
    from urllib.parse import quote

    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for stream_dir in sorted(p for p in out_dir.iterdir() if p.is_dir()):
        if stream_dir.name.startswith(".") or stream_dir.name != stream_slug(stream_dir.name):
            continue
        for file in sorted(stream_dir.iterdir()):
            ok = _WEEK_FILE.fullmatch(file.name)
            bad = _ERROR_FILE.fullmatch(file.name)
            if not (ok or bad):
                continue
            week = (ok or bad).group(1)  # type: ignore[union-attr]
            data = _read_json(file)
            if data is None:
                continue
            entry = entries.setdefault(
                (stream_dir.name, week),
                {"slug": stream_dir.name, "week": week, "report": None, "error": None},
            )
            for key, fallback in (("stream_name", stream_dir.name), ("stream_id", "")):
                if data.get(key):
                    entry[key] = str(data[key])
                else:
                    entry.setdefault(key, fallback)
            if ok:
                html_file = stream_dir / f"{week}.html"
                kpis = data.get("kpis") or {}
                change = (data.get("change") or {}).get("unique_users") or {}
                entry["report"] = {
                    "href": f"{quote(stream_dir.name)}/{quote(week)}.html"
                    if html_file.is_file()
                    else None,
                    "json_href": f"{quote(stream_dir.name)}/{quote(week)}.json",
                    "start": data.get("start", ""),
                    "end": data.get("end", ""),
                    "tz": data.get("tz", ""),
                    "unique_users": kpis.get("unique_users"),
                    "new_users": kpis.get("new_users"),
                    "returning_users": kpis.get("returning_users"),
                    "change": change.get("pct_change"),
                    "warnings": sum(
                        1 for c in data.get("checks") or [] if c.get("level") == "warning"
                    ),
                    "anomalies": len(data.get("anomalies") or []),
                    "alerts": [str(a.get("message", "")) for a in data.get("alerts") or []],
                    "generated_at": data.get("generated_at", ""),
                }
                entry["delivery"] = _read_json(stream_dir / f"{week}.delivery.json") or {}
            else:
                notebook = data.get("notebook")
                entry["error"] = {
                    "message": str(data.get("error") or "unknown error"),
                    "failed_at": str(data.get("failed_at") or ""),
                    "notebook_href": f"{quote(stream_dir.name)}/{quote(notebook)}"
                    if isinstance(notebook, str)
                    and Path(notebook).name == notebook  # a file in this stream's folder only
                    and (stream_dir / notebook).is_file()
                    else None,
                }
    return sorted(
        entries.values(),
        key=lambda e: (_week_key(e["week"]), e["stream_name"].casefold()),
        reverse=False,
    )


def _week_key(week: str) -> tuple[int, int]:
    year, number = week.split("-W")
    return (-int(year), -int(number))


def _fmt_count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int | float) and not isinstance(value, bool) else "–"


def write_index(out_dir: str | os.PathLike[str] = "reports") -> Path:
    """Write ``out_dir/index.html``: every stream and week found under ``out_dir``.

    Scans the ``<slug>/<week>.json`` sidecars (and ``<week>.error.json`` of failed runs),
    newest week first, streams by name; shows unique/new/returning users, the change of unique
    users from the week before, and links to each report. Every text is HTML-escaped (jinja2
    autoescape); links point only at files that exist.

    Returns
    -------
    Path
        The index file.
    """
    import jinja2

    from . import __version__

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    entries = _index_entries(out)
    weeks: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        weeks.setdefault(entry["week"], []).append(entry)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["users"] = _fmt_count
    env.filters["pct"] = _change_text
    page = env.get_template(INDEX_TEMPLATE).render(
        weeks=weeks,
        streams=len({e["slug"] for e in entries}),
        version=__version__,
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    return atomic_write(out / "index.html", page)
