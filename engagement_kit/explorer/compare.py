"""The Explorer's *Compare* tab: several streams (across platforms), one metric, one range.

Pick streams, a metric (unique, new or returning users, or the returning share), how many weeks
ending with which complete week, and absolute numbers or an index (100 = each stream's first
week, so a bot with 40 users and one with 4,000 can be compared); one line per stream and the
table beside it. Each stream is fetched through its own platform's client (its
``[platform.NAME]`` profile; the project's client for the others), one daily request per week,
and closed weeks come from the store.

The logic (:func:`compare_frame`, :func:`compare_table`, :func:`compare_chart`) is plain pandas
and altair, tested without widgets; :class:`CompareTab` only wires the widgets to it.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engagement_kit.config.streams import StreamConfig
from engagement_kit.errors import InvalidQueryError
from engagement_kit.formatting import count_text, share_text

if TYPE_CHECKING:
    import altair as alt
    import pandas as pd

__all__ = [
    "COMPARE_METRICS",
    "CompareTab",
    "compare_chart",
    "compare_frame",
    "compare_table",
    "compare_table_html",
    "platform_clients",
    "stream_label",
]

#: The metrics the tab compares (weekly numbers: they do not add up across weeks or bots).
COMPARE_METRICS: dict[str, str] = {
    "unique_users": "Unique users",
    "new_users": "New users",
    "returning_users": "Returning users",
    "returning_share": "Returning share",
}
MODES = ("absolute", "indexed")
WEEK_CHOICES = (4, 8, 12, 26, 52)


def stream_label(stream: StreamConfig) -> str:
    """``Name (platform)``, or the name alone for a stream on the project's own platform."""
    return f"{stream.name} ({stream.platform})" if stream.platform else stream.name


def _values(weekly: pd.DataFrame, metric: str) -> pd.Series:
    if metric == "returning_share":
        unique = weekly["unique_users"].astype("Float64")
        return (weekly["returning_users"].astype("Float64") / unique.where(unique > 0)).astype(
            "Float64"
        )
    return weekly[metric].astype("Float64")


def compare_frame(
    weekly: Mapping[str, pd.DataFrame], metric: str = "unique_users", *, indexed: bool = False
) -> pd.DataFrame:
    """The long frame of the chart: one row per stream and week.

    Parameters
    ----------
    weekly : mapping of label to DataFrame
        Each stream's :func:`~engagement_kit.client.batch.fetch_weeks` frame, by its label.
    metric : str
        One of :data:`COMPARE_METRICS`.
    indexed : bool
        Each stream's values as an index, 100 at its first week with a value above zero.

    Returns
    -------
    pandas.DataFrame
        ``stream``, ``week``, ``value`` (``Float64``; missing where there is no number).

    Raises
    ------
    InvalidQueryError
        An unknown metric.
    """
    import pandas as pd

    if metric not in COMPARE_METRICS:
        raise InvalidQueryError(
            f"metric: {metric!r} is not one of {', '.join(COMPARE_METRICS)}", field="metric"
        )
    parts = []
    for label, frame in weekly.items():
        values = _values(frame, metric).reset_index(drop=True)
        if indexed:
            base = next((v for v in values if pd.notna(v) and v > 0), None)
            values = values * 100 / base if base is not None else values * pd.NA
        parts.append(
            pd.DataFrame(
                {"stream": label, "week": frame["week"].astype(str).to_numpy(), "value": values}
            )
        )
    if not parts:
        return pd.DataFrame(
            {"stream": pd.Series(dtype=str), "week": pd.Series(dtype=str), "value": []}
        ).astype({"value": "Float64"})
    return pd.concat(parts, ignore_index=True).astype({"value": "Float64"})


def compare_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The table beside the chart: one row per week, one column per stream (in pick order)."""
    order = list(dict.fromkeys(frame["stream"]))
    table = frame.pivot(index="week", columns="stream", values="value")
    return table.reindex(columns=order).sort_index()


def _cell(value: Any, metric: str, indexed: bool) -> str:
    import pandas as pd

    if value is None or pd.isna(value):
        return "n/a"
    if indexed:
        return f"{float(value):.1f}"
    return share_text(float(value)) if metric == "returning_share" else count_text(float(value))


def compare_table_html(table: pd.DataFrame, metric: str, *, indexed: bool) -> str:
    """The table as HTML (every text escaped), numbers in the toolkit's vocabulary."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    rows = "".join(
        f"<tr><th>{html.escape(str(week))}</th>"
        + "".join(f"<td>{_cell(v, metric, indexed)}</td>" for v in row)
        + "</tr>"
        for week, row in zip(table.index, table.to_numpy(object), strict=True)
    )
    return (
        '<table class="ek-compare" style="border-collapse:collapse;font-variant-numeric:'
        f'tabular-nums"><thead><tr><th>Week</th>{head}</tr></thead><tbody>{rows}</tbody></table>'
    )


def compare_chart(frame: pd.DataFrame, metric: str, *, indexed: bool = False) -> alt.Chart:
    """One line per stream over the weeks (altair, the toolkit's theme)."""
    import altair as alt

    label = COMPARE_METRICS[metric]
    if indexed:
        title, axis = f"{label}, indexed (first week = 100)", alt.Axis(title="Index")
    elif metric == "returning_share":
        title, axis = label, alt.Axis(title=label, format="%")
    else:
        title, axis = label, alt.Axis(title=label, format=",d")
    data = frame.astype({"value": "float64"})
    return (
        alt.Chart(data, title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X("week:O", title="ISO week"),
            y=alt.Y("value:Q", axis=axis),
            color=alt.Color("stream:N", title="Stream"),
            tooltip=["stream:N", "week:O", alt.Tooltip("value:Q", format=",.3~f")],
        )
        .properties(width=520, height=300)
    )


def platform_clients(default: Callable[[], Any]) -> Callable[[StreamConfig], Any]:
    """A client per stream: ``default()`` for the project's own platform, else one client per
    ``[platform.NAME]`` profile. With the demo (whose client answers every demo stream) or a
    stand-in that is not an :class:`~engagement_kit.client.EngagementClient`, always
    ``default()``."""
    from engagement_kit.client import EngagementClient
    from engagement_kit.demo import DEMO_REGIONS

    demo_hosts = {r.host for r in DEMO_REGIONS.values()}
    made: dict[str, Any] = {}

    def client(stream: StreamConfig) -> Any:
        own = default()
        if not stream.platform or not isinstance(own, EngagementClient) or own.host in demo_hosts:
            return own
        if stream.platform not in made:
            from engagement_kit.data_source import client_for

            made[stream.platform] = client_for("platform", platform=stream.platform)
        return made[stream.platform]

    return client


class CompareTab:
    """The widgets of the Compare tab, and what they last showed.

    Parameters
    ----------
    streams : sequence of StreamConfig
        What can be picked (the Explorer's streams).
    client : EngagementClient
        The Explorer's client (the project's platform, or the demo).
    clients : callable, optional
        ``stream -> client``; default: the stream's platform's client.

    Attributes
    ----------
    frame : DataFrame or None
        The last :func:`compare_frame`.
    table : DataFrame or None
        The last :func:`compare_table`.
    chart : altair.Chart or None
    error : str
    """

    def __init__(
        self,
        streams: Sequence[StreamConfig],
        client: Any,
        *,
        clients: Callable[[StreamConfig], Any] | None = None,
    ) -> None:
        import ipywidgets as widgets

        self.streams = list(streams)
        self.clients = clients or platform_clients(lambda: client)
        self._by_label = {stream_label(s): s for s in self.streams}
        labels = list(self._by_label)
        self.picker = widgets.SelectMultiple(
            options=labels,
            value=tuple(labels[:3]),
            description="Streams",
            rows=min(max(len(labels), 3), 8),
        )
        self.metric = widgets.Dropdown(
            options=[(v, k) for k, v in COMPARE_METRICS.items()],
            value="unique_users",
            description="Metric",
        )
        self.weeks = widgets.Dropdown(options=WEEK_CHOICES, value=12, description="Weeks")
        self.end_week = widgets.Text(value="", placeholder="last complete", description="Ending")
        self.mode = widgets.ToggleButtons(
            options=[("Absolute", "absolute"), ("Index = 100", "indexed")]
        )
        self.button = widgets.Button(
            description="Compare", button_style="primary", icon="line-chart"
        )
        self.chart_area = widgets.Output()
        self.table_area = widgets.HTML(value="")
        self.error_area = widgets.HTML(value="")
        self.button.on_click(lambda _b: self.compare())
        self.root = widgets.VBox(
            [
                widgets.HBox(
                    [self.picker, widgets.VBox([self.metric, self.weeks, self.end_week, self.mode])]
                ),
                self.button,
                self.error_area,
                widgets.HBox([self.chart_area, self.table_area]),
            ]
        )
        self.frame: pd.DataFrame | None = None
        self.table: pd.DataFrame | None = None
        self.chart: alt.Chart | None = None
        self.error = ""

    def selected(self) -> list[StreamConfig]:
        """The streams picked, in the list's order."""
        return [self._by_label[label] for label in self.picker.value]

    def fetch(self) -> dict[str, pd.DataFrame]:
        """Each picked stream's weeks, through its platform's client, by label."""
        from engagement_kit.client.batch import fetch_weeks

        picked = self.selected()
        if not picked:
            raise InvalidQueryError("streams: pick at least one stream to compare", field="streams")
        end = self.end_week.value.strip() or None
        out = {}
        for stream in picked:
            filters = stream.filters()
            tz = filters.pop("tz")
            out[stream_label(stream)] = fetch_weeks(
                self.clients(stream),
                stream.id,
                int(self.weeks.value),
                end_week=end,
                tz=tz,
                **filters,
            )
        return out

    def compare(self) -> bool:
        """Fetch, then draw the chart and the table; an error is shown as one sentence.

        Returns
        -------
        bool
            Whether it worked.
        """
        from engagement_kit.explorer.controls import CHART_FORMAT, error_text

        indexed = self.mode.value == "indexed"
        try:
            self.frame = compare_frame(self.fetch(), self.metric.value, indexed=indexed)
            self.table = compare_table(self.frame)
            self.chart = compare_chart(self.frame, self.metric.value, indexed=indexed)
            buffer = io.StringIO()
            self.chart.save(buffer, format=CHART_FORMAT)
        except Exception as exc:  # one readable sentence in the tab, never a traceback
            self.error = error_text(exc)
            self.error_area.value = f"<b style='color:#b42318'>{html.escape(self.error)}</b>"
            return False
        self.error = ""
        self.error_area.value = ""
        self.chart_area.outputs = (
            {
                "output_type": "display_data",
                "data": {"image/svg+xml": buffer.getvalue(), "text/plain": "<Compare>"},
                "metadata": {},
            },
        )
        self.table_area.value = compare_table_html(self.table, self.metric.value, indexed=indexed)
        return True
