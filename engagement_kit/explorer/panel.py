"""The :class:`Explorer` itself: the panel's widgets and tabs, loading (one job at a time, in the
background inside a kernel), drawing each tab only when its inputs changed, and errors shown as
one readable message. The controls' state lives in :mod:`engagement_kit.explorer.controls`.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from engagement_kit.config.query import CONVERSATION_STATUSES, CONVERSATION_TYPES, EngagementQuery
from engagement_kit.config.streams import StreamConfig
from engagement_kit.errors import InvalidQueryError
from engagement_kit.explorer.controls import (
    CHART_FORMAT,
    DEFAULT_PRESET,
    LOAD_LABEL,
    LOADING_LABEL,
    PANEL_INPUTS,
    PANELS,
    PRESETS,
    STATUS_LABELS,
    TYPE_LABELS,
    ControlsState,
    default_client,
    default_streams,
    error_text,
    in_kernel,
    stream_entry,
)
from engagement_kit.metrics.checks import check_title

if TYPE_CHECKING:
    import altair as alt
    import pandas as pd

    from engagement_kit.explorer.cohorts_tab import CohortView
    from engagement_kit.tidy import Engagement

__all__ = ["Explorer"]


class Explorer(ControlsState):
    """An interactive panel for one stream's engagement (ipywidgets).

    Parameters
    ----------
    client : EngagementClient, optional
        Anything with the :meth:`EngagementClient.fetch` signature. Default: the real
        :class:`~engagement_kit.client.EngagementClient` when platform settings are present
        (``KORE_HOST`` or credentials in the environment or the project's ``.env``), else
        :func:`engagement_kit.demo.demo_client` (the built-in demo platform).
    streams : iterable, optional
        :class:`~engagement_kit.config.streams.StreamConfig` entries (or demo streams, or mappings with
        ``id``, ``name``, ``tz`` and optional filters) for the picker. Default: the demo
        streams with the demo client, else the project's ``streams.toml`` (an error naming
        where it was looked for when there is none).
    today : date, optional
        The day presets count back from (default: today in the selected time zone). Pin it for
        reproducible notebooks and tests.
    background : bool, optional
        Run a click's load in a background thread so the kernel stays responsive (a click while
        loading is then ignored). Default: on inside a Jupyter kernel, off elsewhere (tests).

    Attributes
    ----------
    charts : dict of str to altair.Chart
        The last chart built for each chart tab (``"trend"``, ``"new_vs_returning"``,
        ``"peak_hours"``).
    kpis : pandas.DataFrame or None
        The last :func:`engagement_kit.metrics.kpis` frame shown.
    checks : pandas.DataFrame or None
        The last :func:`engagement_kit.metrics.check_data` frame shown.
    channel_mix : pandas.DataFrame or None
        The last :func:`engagement_kit.metrics.channel_mix` frame of the Channels tab.
    data : dict of str to Engagement
        The last fetched answers by role (``"main"``, ``"daily"``, ``"previous"``,
        ``"hourly"``).
    drawn : dict of str to tuple
        For each tab, the query keys it was last drawn from.
    render_counts : collections.Counter
        How many times each tab's content has been rebuilt from new data.
    svg_renders : collections.Counter
        How many times each chart tab has been converted to SVG (only when on screen).
    error : str
        The message in the error area (``""`` when none).
    last_error : BaseException or None
        The exception behind :attr:`error`, for debugging.
    ignored_clicks : int
        Clicks that arrived while a load was running.

    Examples
    --------
    >>> import engagement_kit as ek
    >>> explorer = ek.Explorer()   # your streams with settings present, else the demo platform
    >>> explorer                   # displays the panel in a notebook
    """

    def __init__(
        self,
        client: Any = None,
        *,
        streams: Iterable[Any] | None = None,
        today: dt.date | None = None,
        background: bool | None = None,
    ) -> None:
        if client is None:
            client = default_client()
        if streams is None:
            streams = default_streams(demo=_is_demo(client))
        self.client = client
        self.streams: list[StreamConfig] = [stream_entry(s) for s in streams]
        if not self.streams:
            raise InvalidQueryError("streams: give at least one stream", field="streams")
        ids = [s.id for s in self.streams]
        if len(set(ids)) != len(ids):
            raise InvalidQueryError("streams: each stream id may appear once", field="streams")
        if today is not None and (not isinstance(today, dt.date) or isinstance(today, dt.datetime)):
            raise InvalidQueryError(f"today: {today!r} is not a date", field="today")
        self.today = today
        self.background = in_kernel() if background is None else bool(background)

        self.charts: dict[str, alt.TopLevelMixin | CohortView] = {}
        self.kpis: pd.DataFrame | None = None
        self.checks: pd.DataFrame | None = None
        self.channel_mix: pd.DataFrame | None = None
        self.data: dict[str, Engagement] = {}
        self.drawn: dict[str, tuple[str, ...]] = {}
        self.render_counts: Counter[str] = Counter()
        self.svg_renders: Counter[str] = Counter()
        self._unrendered: set[str] = set()
        self.error = ""
        self.last_error: BaseException | None = None
        self.ignored_clicks = 0
        self.busy = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._syncing = False
        self._build_widgets()

    # -- widgets --------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self._build_controls()
        self._build_tabs()
        self._apply_stream_defaults(self.streams[0])
        self._observe()
        self._lay_out()

    def _build_controls(self) -> None:
        """The stream, range and filter controls, the Load button and the status lines."""
        first = self.streams[0]
        style = {"description_width": "110px"}
        wide = widgets.Layout(width="360px")
        self.stream = widgets.Dropdown(
            options=[(f"{s.name} ({s.id})", s.id) for s in self.streams],
            value=first.id,
            description="Stream",
            style=style,
            layout=widgets.Layout(width="480px"),
        )
        self.preset = widgets.Dropdown(
            options=[(label, key) for key, label in PRESETS.items()],
            value=DEFAULT_PRESET,
            description="Date range",
            style=style,
            layout=wide,
        )
        self.start = widgets.DatePicker(description="Start", style=style, layout=wide)
        self.end = widgets.DatePicker(description="End", style=style, layout=wide)
        self.aggregation = widgets.ToggleButtons(
            options=[("Daily", "daily"), ("Hourly", "hourly")],
            value="daily",
            description="Aggregation",
            style={**style, "button_width": "90px"},
        )
        self.conversation_type = widgets.Dropdown(
            options=[(TYPE_LABELS[v], v) for v in CONVERSATION_TYPES],
            description="Conversations",
            style=style,
            layout=wide,
        )
        self.conversation_status = widgets.Dropdown(
            options=[(STATUS_LABELS[v], v) for v in CONVERSATION_STATUSES],
            description="Status",
            style=style,
            layout=wide,
        )
        self.channels = widgets.Text(description="Channels", style=style, layout=wide)
        self.tz = widgets.Combobox(
            description="Time zone", ensure_option=False, style=style, layout=wide
        )
        self.load_button = widgets.Button(
            description=LOAD_LABEL,
            button_style="primary",
            icon="refresh",
            tooltip="Fetch the selected range and redraw the tabs whose inputs changed",
        )
        self.status = widgets.HTML(value="Choose a stream and a range, then press <b>Load</b>.")
        self.error_area = widgets.HTML(value="")

    def _build_tabs(self) -> None:
        """One tab per panel, each with a placeholder until it is drawn."""
        self.panels: dict[str, widgets.Widget] = {
            "kpis": widgets.HTML(value=_placeholder("KPIs")),
            "trend": widgets.Output(),
            "new_vs_returning": widgets.Output(),
            "peak_hours": widgets.Output(),
            "checks": widgets.HTML(value=_placeholder("data checks")),
            "channels": widgets.HTML(value=_placeholder("channel breakdown")),
            "cohorts": widgets.Output(),
        }
        from engagement_kit.explorer.compare import CompareTab, platform_clients

        self._client_of = platform_clients(lambda: self.client)
        #: The *Compare* tab: several streams, one metric (its own controls and button).
        self.compare = CompareTab(self.streams, self.client, clients=self._client_of)
        self.tabs = widgets.Tab(children=[*self.panels.values(), self.compare.root])
        self.tabs.titles = (*PANELS.values(), "Compare")

    def _observe(self) -> None:
        """What each control does when it changes."""
        self.stream.observe(self._on_stream, names="value")
        self.preset.observe(self._on_preset, names="value")
        self.start.observe(self._on_date, names="value")
        self.end.observe(self._on_date, names="value")
        self.tz.observe(self._on_tz, names="value")
        self.load_button.on_click(self._on_click)
        self.tabs.observe(self._on_tab, names="selected_index")

    def _lay_out(self) -> None:
        """The controls in two columns, the button and status below, then the tabs."""
        controls = widgets.HBox(
            [
                widgets.VBox([self.stream, self.preset, self.start, self.end]),
                widgets.VBox(
                    [
                        self.aggregation,
                        self.conversation_type,
                        self.conversation_status,
                        self.channels,
                        self.tz,
                    ]
                ),
            ]
        )
        self.root = widgets.VBox(
            [
                controls,
                widgets.HBox([self.load_button, self.status]),
                self.error_area,
                self.tabs,
            ]
        )

    def _on_click(self, _button: widgets.Button | None = None) -> None:
        if not self._begin():
            return
        if self.background:
            self._thread = threading.Thread(target=self._run, name="explorer-load", daemon=True)
            self._thread.start()
        else:
            self._run()

    def wait(self, timeout: float | None = 30.0) -> bool:
        """Wait for a background load to finish; ``True`` when none is running any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def load(self) -> bool:
        """Fetch what the controls describe and redraw the tabs whose inputs changed.

        Runs in the calling thread (a notebook cell can call it to fill the panel before it is
        shown). Returns ``True`` on success, ``False`` when it showed an error or when another
        load was already running (then nothing happens).
        """
        if not self._begin():
            return False
        return self._run()

    def _begin(self) -> bool:
        """Enter the busy state, or count an ignored click when already busy."""
        with self._lock:
            if self.busy:
                self.ignored_clicks += 1
                return False
            self.busy = True
        self.load_button.disabled = True
        self.load_button.description = LOADING_LABEL
        self.load_button.icon = "hourglass-half"
        return True

    def _run(self) -> bool:
        try:
            return self._load_and_draw()
        finally:
            self._end()

    def _load_and_draw(self) -> bool:
        started = time.perf_counter()
        try:
            queries = self.queries()
            self._set_status(f"Loading {html.escape(queries['main'].describe())}…")
            todo = [p for p in PANELS if self.drawn.get(p) != self._panel_key(p, queries)]
            roles = sorted({r for p in todo for r in PANEL_INPUTS[p]}, key=list(queries).index)
            by_key: dict[str, Engagement] = {}  # "main" is "daily" or "hourly": fetch once
            for role in roles:
                key = queries[role].key()
                if key not in by_key:
                    by_key[key] = self._fetch(queries[role])
            self.data.update({role: by_key[queries[role].key()] for role in roles})
            for panel in todo:
                self._draw(panel)
                self.drawn[panel] = self._panel_key(panel, queries)
                self.render_counts[panel] += 1
        except Exception as exc:  # shown in the panel, never as a traceback
            self._show_error(exc)
            self._set_status(
                "Load failed; the tabs still show the previous data."
                if self.drawn
                else "Load failed; nothing loaded yet."
            )
            return False
        self._show_error(None)
        seconds = time.perf_counter() - started
        redrawn = ", ".join(PANELS[p] for p in todo) or "nothing (no input changed)"
        self._set_status(
            f"Showing {html.escape(queries['main'].describe())}. Redrawn: {redrawn}."
            f" <span style='color:#777'>({seconds:.1f} s)</span>"
        )
        return True

    def _end(self) -> None:
        self.load_button.description = LOAD_LABEL
        self.load_button.icon = "refresh"
        self.load_button.disabled = False
        with self._lock:
            self.busy = False

    @property
    def stream_client(self) -> Any:
        """The client of the selected stream's platform (its ``[platform.NAME]`` profile), else
        :attr:`client`."""
        return self._client_of(self.selected_stream())

    def _fetch(self, query: EngagementQuery) -> Engagement:
        return self.stream_client.fetch(
            query.stream_id,
            query.start,
            query.end,
            aggregation=query.aggregation,
            conversation_type=query.conversation_type,
            conversation_status=query.conversation_status,
            channels=list(query.channels) or None,
            tz=query.tz,
        )

    @staticmethod
    def _panel_key(panel: str, queries: Mapping[str, EngagementQuery]) -> tuple[str, ...]:
        return tuple(queries[role].key() for role in PANEL_INPUTS[panel])

    # -- drawing --------------------------------------------------------------------------------
    def _draw(self, panel: str) -> None:
        from engagement_kit import charts, metrics

        if panel == "kpis":
            frame = metrics.kpis(self.data["daily"], self.data["previous"])
            self.kpis = frame
            self.panels["kpis"].value = charts.kpi_table_html(frame)
        elif panel == "trend":
            self._show_chart(panel, charts.trend_chart(self.data["main"]))
        elif panel == "new_vs_returning":
            self._show_chart(panel, charts.new_vs_returning_chart(self.data["daily"]))
        elif panel == "peak_hours":
            self._show_chart(panel, charts.peak_hours_heatmap(self.data["hourly"]))
        elif panel == "cohorts":  # true retention from getSessions, fetched when shown
            from engagement_kit.explorer.cohorts_tab import CohortView

            self._show_chart(panel, CohortView(self.stream_client, self.queries()["daily"]))
        elif panel == "checks":
            frame = metrics.check_data(self.data["main"])
            self.checks = frame
            self.panels["checks"].value = _checks_html(frame)
        elif panel == "channels":
            self.panels["channels"].value = self._channels_html()
        else:  # pragma: no cover - PANELS is fixed
            raise KeyError(panel)

    def _channels_html(self) -> str:
        """The Channels tab: the stream's ``channels_breakdown``, one request per channel."""
        from engagement_kit.charts.channels import channel_mix_html
        from engagement_kit.metrics.channels import channel_mix

        names = self.selected_stream().channels_breakdown
        if not names:
            self.channel_mix = None
            return _channels_hint()
        daily = self.data["daily"].query
        assert daily is not None
        frame = self.stream_client.fetch_channels(
            daily.stream_id,
            daily.start,
            daily.end,
            channels=names,
            conversation_type=daily.conversation_type,
            conversation_status=daily.conversation_status,
            tz=daily.tz,
        )
        self.channel_mix = channel_mix(frame)
        return channel_mix_html(self.channel_mix, title=daily.describe())

    def _show_chart(self, panel: str, chart: alt.TopLevelMixin | CohortView) -> None:
        """Keep the chart; draw it now if its tab is visible, else when the tab is opened.

        Converting a chart to SVG costs a few hundred milliseconds, so a load only pays for
        the tab on screen.
        """
        self.charts[panel] = chart
        self._unrendered.add(panel)
        if self.visible_panel == panel:
            self._render(panel)

    @property
    def visible_panel(self) -> str:
        """The key of the tab on screen (``"kpis"``, ``"trend"``, ..., ``"compare"``)."""
        keys = [*PANELS, "compare"]
        return keys[min(self.tabs.selected_index or 0, len(keys) - 1)]

    def _on_tab(self, change: Mapping[str, Any]) -> None:
        panel = self.visible_panel
        if panel in self._unrendered:
            try:
                self._render(panel)
            except Exception as exc:  # shown in the panel, never as a traceback
                self._show_error(exc)

    def _render(self, panel: str) -> None:
        """Replace the tab's output with the chart's static SVG.

        The output is set as data (not captured with ``with output:``), so it works from a
        background thread and never leaks into the notebook cell's own outputs.
        """
        buffer = io.StringIO()
        # chart.save, not the renderer registry: a load in a background thread must not
        # switch the notebook's global altair renderer under the user's own charts
        self.charts[panel].save(buffer, format=CHART_FORMAT)
        self.panels[panel].outputs = (
            {
                "output_type": "display_data",
                "data": {"image/svg+xml": buffer.getvalue(), "text/plain": f"<{PANELS[panel]}>"},
                "metadata": {},
            },
        )
        self._unrendered.discard(panel)
        self.svg_renders[panel] += 1

    def _set_status(self, text: str) -> None:
        self.status.value = text

    def _show_error(self, exc: BaseException | None) -> None:
        self.last_error = exc
        self.error = "" if exc is None else error_text(exc)
        self.error_area.value = (
            ""
            if exc is None
            else (
                "<div style='color:#a4000f;background:#fdecea;border:1px solid #f5c2c0;"
                "padding:6px 10px;border-radius:4px;white-space:pre-wrap'>"
                f"{html.escape(self.error)}</div>"
            )
        )

    # -- display --------------------------------------------------------------------------------
    def show(self) -> widgets.VBox:
        """The panel's root widget (display it, or put it into your own layout)."""
        return self.root

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.root._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)

    def __repr__(self) -> str:
        shown = ", ".join(PANELS[p] for p in PANELS if p in self.drawn) or "nothing loaded yet"
        return (
            f"<Explorer: {len(self.streams)} stream(s); {self.stream.value}, "
            f"{self.start.value} to {self.end.value}; showing {shown}>"
        )


def _channels_hint() -> str:
    return (
        "<i style='color:#777'>No channel breakdown for this stream. List the channels to "
        "compare in its <code>streams.toml</code> entry, e.g. "
        '<code>channels_breakdown = ["whatsapp", "rtm"]</code> (one request each).</i>'
    )


def _is_demo(client: Any) -> bool:
    from engagement_kit.demo import DEMO_HOST

    return getattr(client, "host", None) == DEMO_HOST


def _placeholder(what: str) -> str:
    return f"<i style='color:#777'>Press Load to see the {html.escape(what)}.</i>"


def _checks_html(frame: pd.DataFrame) -> str:
    """The :func:`~engagement_kit.metrics.check_data` frame as a small HTML list."""
    items = []
    for row in frame.itertuples(index=False):
        mark = "✔" if row.level == "info" else "⚠"
        colour = "#1a7f37" if row.level == "info" else "#9a6700"
        items.append(
            f"<li style='color:{colour}'>{mark} <b>{html.escape(check_title(str(row.check)))}</b>: "
            f"{html.escape(str(row.message))}</li>"
        )
    return "<ul style='list-style:none;padding-left:0'>" + "".join(items) + "</ul>"
