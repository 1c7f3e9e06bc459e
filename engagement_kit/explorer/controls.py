"""The Explorer's controls and their state, without any fetching: the presets and tabs, pure
date helpers (:func:`preset_range`, :func:`previous_period`), the picker's stream entries, and
:class:`ControlsState`, the part of the :class:`~engagement_kit.explorer.Explorer` that keeps
stream defaults, presets, dates and zone in step and turns the controls into queries.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import ipywidgets as widgets

from engagement_kit.config.query import EngagementQuery
from engagement_kit.config.streams import StreamConfig
from engagement_kit.config.weeks import last_complete_week, today_in, week_bounds
from engagement_kit.errors import ConfigError, EngagementError, InvalidQueryError

if TYPE_CHECKING:
    pass

__all__ = [
    "DEFAULT_PRESET",
    "PANELS",
    "PANEL_INPUTS",
    "PRESETS",
    "ControlsState",
    "preset_range",
    "previous_period",
]

#: Date-range presets: value → label. Day-count presets end *yesterday* (today is partial).
PRESETS: dict[str, str] = {
    "last_7": "Last 7 days",
    "last_28": "Last 28 days",
    "last_90": "Last 90 days",
    "last_week": "Last full ISO week",
    "custom": "Custom dates",
}
_PRESET_DAYS = {"last_7": 7, "last_28": 28, "last_90": 90}
DEFAULT_PRESET = "last_28"

#: The tabs, in display order: key → title.
PANELS: dict[str, str] = {
    "kpis": "KPIs",
    "trend": "Trend",
    "new_vs_returning": "New vs returning",
    "peak_hours": "Peak hours",
    "checks": "Data checks",
    "channels": "Channels",
    "cohorts": "Cohorts",
}

#: Which fetched queries each tab is drawn from (see :meth:`Explorer.queries`).
PANEL_INPUTS: dict[str, tuple[str, ...]] = {
    "kpis": ("daily", "previous"),
    "trend": ("main",),
    "new_vs_returning": ("daily",),
    "peak_hours": ("hourly",),
    "checks": ("main",),
    "channels": ("daily",),  # plus one request per channel of the stream's channels_breakdown
    "cohorts": ("daily",),  # the range and filters; the sessions are fetched when shown
}

#: Chart format inside the tabs: static SVG needs no network and no JavaScript extension.
CHART_FORMAT: Literal["svg"] = "svg"

TYPE_LABELS = {"all": "All", "interactive": "Interactive", "non_interactive": "Non Interactive"}
STATUS_LABELS = {"all": "All", "active": "Active", "closed": "Closed"}
_COMMON_ZONES = (
    "UTC",
    "America/Los_Angeles",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Australia/Sydney",
)
LOADING_LABEL = "Loading…"
LOAD_LABEL = "Load"


# -- pure helpers --------------------------------------------------------------------------------


def preset_range(preset: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day (inclusive) of a date-range preset, seen from ``today``.

    ``last_7`` / ``last_28`` / ``last_90`` are the N complete days ending yesterday (today is
    still partial); ``last_week`` is the latest ISO week (Monday–Sunday) that ended before
    ``today``.

    Raises
    ------
    InvalidQueryError
        For ``"custom"`` or an unknown preset.
    """
    if preset in _PRESET_DAYS:
        end = today - dt.timedelta(days=1)
        return end - dt.timedelta(days=_PRESET_DAYS[preset] - 1), end
    if preset == "last_week":
        return week_bounds(last_complete_week(today=today))
    known = ", ".join(repr(p) for p in PRESETS if p != "custom")
    raise InvalidQueryError(
        f"preset: {preset!r} has no fixed range; use one of {known}", field="preset"
    )


def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The period of equal length just before ``start``..``end`` (both inclusive).

    ``previous_period(date(2025, 11, 24), date(2025, 11, 30))`` is 2025-11-17..2025-11-23.
    """
    days = (end - start).days + 1
    return start - dt.timedelta(days=days), start - dt.timedelta(days=1)


#: The picker's entries are :class:`~engagement_kit.config.streams.StreamConfig` (the one stream
#: model); the old name stays importable.


def stream_entry(stream: Any) -> StreamConfig:
    """One picker entry from a StreamConfig, a demo stream, a mapping, or a stream id: the
    stream of the project's ``streams.toml`` (else of the demo) with all its settings, as on
    the command line (a clear error)."""
    if isinstance(stream, str):
        from engagement_kit.config.streams import configured_streams
        from engagement_kit.demo import demo_streams

        known, _ = configured_streams()
        found = next((s for s in [*known, *demo_streams()] if s.id == stream.strip()), None)
        if found is None:
            raise InvalidQueryError(
                f"streams: {stream!r} is not in streams.toml; add it there, or give a "
                "StreamConfig (or a mapping) with its id, name and tz",
                field="streams",
            )
        return found
    try:
        return StreamConfig.from_stream(stream)
    except ConfigError as exc:
        raise InvalidQueryError(f"streams: {stream!r}: {exc}", field="streams") from None


def default_client() -> Any:
    """The real client when platform settings are present (environment or the project's
    ``.env``), else the built-in demo platform."""
    from engagement_kit.config.settings import load_settings
    from engagement_kit.data_source import client_for

    return client_for("platform" if load_settings().has_platform else "demo")


def default_streams(*, demo: bool) -> list[StreamConfig]:
    """The demo streams for the demo platform; else the project's ``streams.toml``."""
    from engagement_kit.config.streams import project_streams
    from engagement_kit.demo import demo_streams

    if not demo:
        return project_streams()
    # the picker's demo streams load three requests a view; their channels stay hints of the
    # Channels text box rather than a breakdown fetched with every load
    return [s.model_copy(update={"channels_breakdown": ()}) for s in demo_streams()]


def in_kernel() -> bool:
    """Whether we run inside a Jupyter kernel (where a background load keeps the UI live)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def error_text(exc: BaseException) -> str:
    """A readable one-paragraph message for an error (never a traceback)."""
    if isinstance(exc, EngagementError):
        kind = {
            "InvalidQueryError": "Check the controls",
            "AuthError": "Authentication failed",
            "RateLimitError": "Rate limit reached",
            "NotFoundError": "Unknown stream",
            "ConfigError": "Settings missing",
            "ServerError": "The platform failed",
            "ApiConnectionError": "Cannot reach the platform",
        }.get(type(exc).__name__, "Could not load")
        text = f"{kind}: {exc}"
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            text += f" (try again in about {retry_after:.0f} s)"
        return text
    return (
        f"Unexpected error ({type(exc).__name__}: {exc}). The panel is still usable; "
        "if it persists, report it with the controls' values."
    )


# -- the controls' state --------------------------------------------------------------------------


class ControlsState:
    """Stream defaults, presets, dates and zone kept in step, and the queries the controls
    describe. A base of :class:`~engagement_kit.explorer.Explorer`, which builds the widgets
    named here (``stream``, ``preset``, ``start``, ``end``, ``aggregation``,
    ``conversation_type``, ``conversation_status``, ``channels``, ``tz``) before using it."""

    streams: list[StreamConfig]
    today: dt.date | None
    _syncing: bool
    stream: widgets.Dropdown
    preset: widgets.Dropdown
    start: widgets.DatePicker
    end: widgets.DatePicker
    aggregation: widgets.ToggleButtons
    conversation_type: widgets.Dropdown
    conversation_status: widgets.Dropdown
    channels: widgets.Text
    tz: widgets.Combobox

    def selected_stream(self) -> StreamConfig:
        return next(s for s in self.streams if s.id == self.stream.value)

    def _apply_stream_defaults(self, stream: StreamConfig) -> None:
        """Reset zone and filters to the stream's own, and re-apply the date preset."""
        self._syncing = True
        try:
            zones = dict.fromkeys([stream.tz, *(s.tz for s in self.streams), *_COMMON_ZONES])
            self.tz.options = tuple(zones)
            self.tz.value = stream.tz
            self.conversation_type.value = stream.conversation_type
            self.conversation_status.value = stream.conversation_status
            self.channels.value = ", ".join(stream.channels)
            hint = ", ".join(stream.known_channels) or "rtm, msteams"
            self.channels.placeholder = f"all channels (or e.g. {hint})"
        finally:
            self._syncing = False
        self._apply_preset()

    def _today(self) -> dt.date:
        if self.today is not None:
            return self.today
        try:
            return today_in(self.tz.value.strip() or self.selected_stream().tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            return today_in(self.selected_stream().tz)

    def _apply_preset(self) -> None:
        if self.preset.value == "custom":
            return
        start, end = preset_range(self.preset.value, self._today())
        self._syncing = True
        try:
            self.start.value, self.end.value = start, end
        finally:
            self._syncing = False

    # -- control callbacks (no fetching here) ---------------------------------------------------
    def _on_stream(self, change: Mapping[str, Any]) -> None:
        self._apply_stream_defaults(self.selected_stream())

    def _on_preset(self, change: Mapping[str, Any]) -> None:
        if not self._syncing:
            self._apply_preset()

    def _on_date(self, change: Mapping[str, Any]) -> None:
        """A date picked by hand turns the preset into "Custom dates"."""
        if self._syncing or self.preset.value == "custom":
            return
        self._syncing = True
        try:
            self.preset.value = "custom"
        finally:
            self._syncing = False

    def _on_tz(self, change: Mapping[str, Any]) -> None:
        """Presets follow "today" in the chosen zone (unless ``today`` is pinned)."""
        if not self._syncing and self.today is None:
            self._apply_preset()

    def select_preset(self, preset: str) -> tuple[dt.date, dt.date]:
        """Choose a date preset (as the dropdown does) and return the dates it set."""
        if preset not in PRESETS:
            raise InvalidQueryError(
                f"preset: {preset!r} is not one of {', '.join(map(repr, PRESETS))}",
                field="preset",
            )
        self.preset.value = preset
        self._apply_preset()
        return self.start.value, self.end.value

    # -- queries --------------------------------------------------------------------------------
    def query(self, *, aggregation: str | None = None) -> EngagementQuery:
        """The validated query the controls describe (``aggregation`` overrides the toggle).

        Raises
        ------
        InvalidQueryError
            For a missing or reversed date, a bad zone or channel name.
        """
        if self.start.value is None:
            raise InvalidQueryError("start: pick a start date (or a preset)", field="start")
        if self.end.value is None:
            raise InvalidQueryError("end: pick an end date (or a preset)", field="end")
        return EngagementQuery(
            stream_id=self.stream.value,
            start=self.start.value,
            end=self.end.value,
            aggregation=aggregation or self.aggregation.value,
            conversation_type=self.conversation_type.value,
            conversation_status=self.conversation_status.value,
            channels=self.channels.value or None,
            tz=(self.tz.value or "").strip() or self.selected_stream().tz,
        )

    def queries(self) -> dict[str, EngagementQuery]:
        """Every query a full load needs, by role.

        Returns
        -------
        dict
            ``main`` (the toggle's aggregation: trend and data checks), ``daily`` (KPIs, new vs
            returning), ``previous`` (daily, the period of equal length just before: KPI
            changes) and ``hourly`` (peak-hours heatmap).
        """
        main = self.query()
        daily = main.replace(aggregation="daily")
        prev_start, prev_end = previous_period(main.start, main.end)
        return {
            "main": main,
            "daily": daily,
            "previous": daily.replace(start=prev_start, end=prev_end),
            "hourly": main.replace(aggregation="hourly"),
        }

    # -- loading --------------------------------------------------------------------------------
