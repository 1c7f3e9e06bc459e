"""The Explorer driven without a browser: set widget values, click Load, assert what happened."""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

import httpx
import pytest

from engagement_kit.client.auth import Credentials
from engagement_kit.config.streams import StreamConfig
from engagement_kit.demo import DEMO_HOST, DEMO_STREAMS, DemoPlatform
from engagement_kit.errors import InvalidQueryError, RateLimitError
from engagement_kit.explorer import (
    PANELS,
    Explorer,
    preset_range,
    previous_period,
)
from tests.builders import quick_demo_client

RETAIL = DEMO_STREAMS[0]  # st-demo-retail-in, Asia/Kolkata
HR = DEMO_STREAMS[1]  # st-demo-hr-us, America/New_York
TODAY = dt.date(2025, 12, 3)  # a Wednesday
# a fixed "now" for the demo platform, long after every date the tests ask for
NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp()


class RecordingClient:
    """Wraps a client: records every fetch (as keyword dicts) and can run a hook first."""

    def __init__(self, client: Any, before: Any = None) -> None:
        self.client = client
        self.host = client.host
        self.calls: list[dict[str, Any]] = []
        self.before = before

    def fetch(self, stream_id: str, start: Any, end: Any, **kwargs: Any) -> Any:
        call = {"stream_id": stream_id, "start": start, "end": end, **kwargs}
        self.calls.append(call)
        if self.before is not None:
            self.before(call)
        return self.client.fetch(stream_id, start, end, **kwargs)


def make_client(**platform_kwargs: Any) -> Any:
    """A demo client on a fixed clock, without client-side rate limits or real sleeping."""
    platform = DemoPlatform(clock=lambda: NOW, **platform_kwargs)
    return quick_demo_client(NOW, store=None, platform=platform, sleep=lambda seconds: None)


@pytest.fixture(scope="module")
def base_client():
    client = make_client(rate_limit=False)
    yield client
    client.close()


@pytest.fixture
def recorder(base_client):
    return RecordingClient(base_client)


@pytest.fixture
def explorer(recorder):
    return Explorer(recorder, today=TODAY, background=False)


def rows(chart, layer: int = 0) -> list[dict]:
    """The data rows of a chart spec (of one layer's dataset for a layered chart)."""
    spec = chart.to_dict()
    part = spec["layer"][layer] if "layer" in spec else spec
    name = (part.get("data") or spec["data"])["name"]
    return spec["datasets"][name]


def call(stream=RETAIL, start=None, end=None, aggregation="daily", **kw):
    return {
        "stream_id": stream.id,
        "start": start,
        "end": end,
        "aggregation": aggregation,
        "conversation_type": kw.get("conversation_type", "all"),
        "conversation_status": kw.get("conversation_status", "all"),
        "channels": kw.get("channels"),
        "tz": kw.get("tz", stream.tz),
    }


# -- pure helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "today", "expected"),
    [
        ("last_7", TODAY, (dt.date(2025, 11, 26), dt.date(2025, 12, 2))),
        ("last_28", TODAY, (dt.date(2025, 11, 5), dt.date(2025, 12, 2))),
        ("last_90", TODAY, (dt.date(2025, 9, 4), dt.date(2025, 12, 2))),
        ("last_week", TODAY, (dt.date(2025, 11, 24), dt.date(2025, 11, 30))),
        # on a Monday the last full week ended yesterday; on a Sunday it is the one before
        ("last_week", dt.date(2025, 12, 1), (dt.date(2025, 11, 24), dt.date(2025, 11, 30))),
        ("last_week", dt.date(2025, 11, 30), (dt.date(2025, 11, 17), dt.date(2025, 11, 23))),
        # across a year boundary: ISO week 2026-W01 starts on 2025-12-29
        ("last_week", dt.date(2026, 1, 5), (dt.date(2025, 12, 29), dt.date(2026, 1, 4))),
    ],
)
def test_preset_range_counts_back_from_today(preset, today, expected):
    assert preset_range(preset, today) == expected


def test_preset_range_refuses_custom_and_unknown():
    with pytest.raises(ValueError, match="preset"):
        preset_range("custom", TODAY)
    with pytest.raises(ValueError, match="last_7"):
        preset_range("yesterday", TODAY)


def test_previous_period_has_equal_length_and_ends_the_day_before():
    assert previous_period(dt.date(2025, 11, 24), dt.date(2025, 11, 30)) == (
        dt.date(2025, 11, 17),
        dt.date(2025, 11, 23),
    )
    assert previous_period(dt.date(2025, 3, 1), dt.date(2025, 3, 1)) == (
        dt.date(2025, 2, 28),
        dt.date(2025, 2, 28),
    )
    start, end = previous_period(dt.date(2025, 9, 4), dt.date(2025, 12, 2))
    assert (end - start).days + 1 == 90 and end == dt.date(2025, 9, 3)


# -- controls -----------------------------------------------------------------------------------


def test_controls_start_on_the_first_stream_with_its_zone_and_the_default_preset(explorer):
    assert explorer.stream.value == RETAIL.id
    assert [v for _, v in explorer.stream.options] == [s.id for s in DEMO_STREAMS]
    assert explorer.tz.value == "Asia/Kolkata"
    assert explorer.preset.value == "last_28"
    assert (explorer.start.value, explorer.end.value) == (
        dt.date(2025, 11, 5),
        dt.date(2025, 12, 2),
    )
    assert explorer.aggregation.value == "daily"
    assert explorer.conversation_type.value == explorer.conversation_status.value == "all"
    assert explorer.channels.value == ""
    assert "whatsapp" in explorer.channels.placeholder  # the demo stream's channels as hints
    assert list(explorer.tabs.titles) == [*PANELS.values(), "Compare"]


def test_presets_set_the_date_pickers_and_hand_picked_dates_switch_to_custom(explorer):
    explorer.preset.value = "last_7"
    assert (explorer.start.value, explorer.end.value) == (
        dt.date(2025, 11, 26),
        dt.date(2025, 12, 2),
    )
    assert explorer.select_preset("last_week") == (dt.date(2025, 11, 24), dt.date(2025, 11, 30))
    assert explorer.preset.value == "last_week"
    explorer.start.value = dt.date(2025, 11, 1)
    assert explorer.preset.value == "custom"
    assert explorer.start.value == dt.date(2025, 11, 1)  # the hand-picked date stays
    assert explorer.end.value == dt.date(2025, 11, 30)
    explorer.preset.value = "last_90"
    assert (explorer.start.value, explorer.end.value) == (dt.date(2025, 9, 4), dt.date(2025, 12, 2))


def test_changing_stream_resets_zone_and_filters_to_the_streams_own(recorder):
    streams = [
        StreamConfig(id=RETAIL.id, name="Retail", tz=RETAIL.tz),
        StreamConfig(
            id=HR.id,
            name="HR",
            tz=HR.tz,
            conversation_type="interactive",
            conversation_status="closed",
            channels=("msteams",),
        ),
    ]
    explorer = Explorer(recorder, streams=streams, today=TODAY, background=False)
    explorer.tz.value = "UTC"
    explorer.stream.value = HR.id
    assert explorer.tz.value == "America/New_York"
    assert explorer.conversation_type.value == "interactive"
    assert explorer.conversation_status.value == "closed"
    assert explorer.channels.value == "msteams"
    assert explorer.query().describe() == (
        f"stream {HR.id}, 2025-11-05 to 2025-12-02 (daily, America/New_York; interactive; "
        "closed; channels msteams)"
    )


def test_streams_default_to_streams_toml_for_a_real_client_and_demo_streams_for_the_demo(
    tmp_path, monkeypatch, base_client
):
    (tmp_path / "streams.toml").write_text(
        '[[stream]]\nid = "st-mine"\nname = "My bot"\ntz = "Europe/Paris"\n'
        'conversation_type = "Interactive"\n'
    )
    monkeypatch.chdir(tmp_path)
    other = httpx.MockTransport(lambda request: httpx.Response(500))
    from engagement_kit.client import EngagementClient

    real = EngagementClient(
        host="https://example.invalid",
        credentials=Credentials("id", "secret"),
        transport=other,
        store=False,
    )
    mine = Explorer(real, today=TODAY, background=False)
    assert [v for _, v in mine.stream.options] == ["st-mine"]
    assert (mine.tz.value, mine.conversation_type.value) == ("Europe/Paris", "interactive")
    demo = Explorer(base_client, today=TODAY, background=False)
    assert [v for _, v in demo.stream.options] == [s.id for s in DEMO_STREAMS]
    real.close()


# -- loading ------------------------------------------------------------------------------------


def test_load_fetches_the_range_its_previous_period_and_hourly_data(explorer, recorder):
    explorer.load_button.click()
    start, end = dt.date(2025, 11, 5), dt.date(2025, 12, 2)
    prev = (dt.date(2025, 10, 8), dt.date(2025, 11, 4))
    assert recorder.calls == [
        call(start=start, end=end),
        call(start=prev[0], end=prev[1]),
        call(start=start, end=end, aggregation="hourly"),
    ]
    assert explorer.error == ""
    assert set(explorer.drawn) == set(PANELS)
    assert explorer.render_counts == {p: 1 for p in PANELS}
    assert not explorer.load_button.disabled and explorer.load_button.description == "Load"
    assert "Showing stream st-demo-retail-in, 2025-11-05 to 2025-12-02" in explorer.status.value


def test_the_charts_are_built_from_the_fetched_data(explorer):
    explorer.load_button.click()
    daily = explorer.data["daily"].wide()
    trend = explorer.charts["trend"].to_dict()
    assert trend["mark"]["type"] == "line"
    assert trend["encoding"]["color"]["field"] == "metric"
    points = rows(explorer.charts["trend"])
    assert len(points) == 3 * 28
    assert {p["time"][:10] for p in points} == {d.strftime("%Y-%m-%d") for d in daily["date"]}
    first = daily.iloc[0]
    got = {p["metric"]: p["users"] for p in points if p["time"].startswith("2025-11-05")}
    assert got == {m: int(first[m]) for m in ("unique", "new", "returning")}
    bars = rows(explorer.charts["new_vs_returning"])
    assert explorer.charts["new_vs_returning"].to_dict()["mark"]["type"] == "bar"
    assert sum(b["users"] for b in bars if b["metric"] == "new") == daily["new"].sum()
    cells = rows(explorer.charts["peak_hours"])
    assert len(cells) == 7 * 24
    assert {c["weekday"] for c in cells} == {
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"
    }  # fmt: skip
    hourly = explorer.data["hourly"].wide()
    assert explorer.data["hourly"].aggregation == "hourly" and len(hourly) == 28 * 24
    assert re.search(r"All \d+ data checks passed", explorer.panels["checks"].value)
    assert list(explorer.checks["check"]) == ["all_passed"]
    assert "<b>All checks</b>" in explorer.panels["checks"].value  # not the internal id
    assert "all_passed" not in explorer.panels["checks"].value


def test_kpis_shown_are_the_periods_numbers_with_change_from_the_previous_period(explorer):
    explorer.load_button.click()
    daily, previous = explorer.data["daily"], explorer.data["previous"]
    kpis = explorer.kpis
    assert kpis.loc["new_users", "value"] == daily.summary["new_users"]
    assert kpis.loc["unique_users", "value"] == daily.summary["unique_users"]
    assert kpis.loc["unique_users", "previous"] == previous.summary["unique_users"]
    change = daily.summary["unique_users"] - previous.summary["unique_users"]
    assert kpis.loc["unique_users", "change"] == change
    assert daily.wide()["new"].sum() == daily.summary["new_users"]
    html = explorer.panels["kpis"].value
    assert f"{int(daily.summary['unique_users']):,}" in html
    assert "Returning share" in html


def test_channels_text_and_filters_reach_the_client(explorer, recorder):
    explorer.channels.value = " WhatsApp "
    explorer.conversation_type.value = "interactive"
    explorer.conversation_status.value = "closed"
    explorer.tz.value = "UTC"
    explorer.load_button.click()
    assert explorer.error == ""
    assert {c["channels"] and tuple(c["channels"]) for c in recorder.calls} == {("whatsapp",)}
    assert {c["tz"] for c in recorder.calls} == {"UTC"}
    assert {(c["conversation_type"], c["conversation_status"]) for c in recorder.calls} == {
        ("interactive", "closed")
    }
    assert explorer.data["main"].filters["channels"] == "whatsapp"


def test_several_channels_in_the_filter_point_to_the_breakdown(explorer, recorder):
    explorer.channels.value = "whatsapp, rtm"
    explorer.load_button.click()
    assert "one channel per request" in explorer.error and "fetch_channels" in explorer.error


def test_loading_again_unchanged_redraws_and_fetches_nothing(explorer, recorder):
    explorer.load_button.click()
    calls = len(recorder.calls)
    explorer.load_button.click()
    assert len(recorder.calls) == calls
    assert explorer.render_counts == {p: 1 for p in PANELS}
    assert "Redrawn: nothing" in explorer.status.value


def test_switching_to_hourly_redraws_only_the_trend_and_the_checks(explorer, recorder):
    explorer.load_button.click()
    kpi_html, heatmap = explorer.panels["kpis"].value, explorer.charts["peak_hours"]
    recorder.calls.clear()
    explorer.aggregation.value = "hourly"
    explorer.load_button.click()
    assert [c["aggregation"] for c in recorder.calls] == ["hourly"]
    assert explorer.render_counts == {
        "kpis": 1,
        "trend": 2,
        "new_vs_returning": 1,
        "peak_hours": 1,
        "checks": 2,
        "channels": 1,
        "cohorts": 1,
    }
    assert explorer.panels["kpis"].value is kpi_html
    assert explorer.charts["peak_hours"] is heatmap
    assert explorer.data["main"].aggregation == "hourly"
    points = rows(explorer.charts["trend"])
    assert len(points) == 3 * 28 * 24
    assert {p["time"][11:13] for p in points} == {f"{h:02d}" for h in range(24)}
    # a filter change touches every query, so every tab is redrawn
    explorer.conversation_type.value = "interactive"
    explorer.load_button.click()
    assert explorer.render_counts == {
        "kpis": 2,
        "trend": 3,
        "new_vs_returning": 2,
        "peak_hours": 2,
        "checks": 3,
        "channels": 2,
        "cohorts": 2,
    }


def test_reloading_a_seen_range_is_answered_by_the_store(recorder):
    """Same range again after another one: the client asks its store, not the platform."""
    platform_calls: list[str] = []
    platform = DemoPlatform(clock=lambda: NOW, rate_limit=False)

    def handle(request: httpx.Request) -> httpx.Response:
        platform_calls.append(str(request.url))
        return platform.handle(request)

    from engagement_kit.client import EngagementClient
    from engagement_kit.store import ResponseStore

    with EngagementClient(
        host=DEMO_HOST,
        credentials=Credentials(*_demo_credentials()),
        transport=httpx.MockTransport(handle),
        store=ResponseStore(),
        clock=lambda: NOW,
        requests_per_minute=None,
        requests_per_hour=None,
    ) as client:
        explorer = Explorer(client, today=TODAY, background=False)
        explorer.select_preset("last_7")
        assert explorer.load()
        first = len(platform_calls)
        explorer.select_preset("last_week")
        assert explorer.load()
        assert len(platform_calls) > first
        seen = len(platform_calls)
        explorer.select_preset("last_7")
        assert explorer.load()
        assert len(platform_calls) == seen  # every answer came from the store
        assert explorer.render_counts["kpis"] == 3


def _demo_credentials() -> tuple[str, str]:
    from engagement_kit.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

    return DEMO_CLIENT_ID, DEMO_CLIENT_SECRET


# -- busy state and double submissions ----------------------------------------------------------


def test_a_click_while_loading_is_ignored(base_client):
    seen: list[tuple[bool, str, bool]] = []
    explorer: Explorer

    def click_again(call):
        button = explorer.load_button
        seen.append((button.disabled, button.description, "Loading" in explorer.status.value))
        button.click()  # a second click while busy

    recorder = RecordingClient(base_client, before=click_again)
    explorer = Explorer(recorder, today=TODAY, background=False)
    explorer.load_button.click()
    assert len(recorder.calls) == 3  # one load's fetches, not two
    assert explorer.ignored_clicks == 3
    assert seen and all(s == (True, "Loading…", True) for s in seen)
    assert explorer.render_counts == {p: 1 for p in PANELS}
    assert not explorer.load_button.disabled and not explorer.busy


def test_background_load_shows_busy_state_and_ignores_clicks_until_done(base_client):
    release = threading.Event()
    entered = threading.Event()

    def wait_for_release(call):
        entered.set()
        assert release.wait(10), "test did not release the fetch"

    recorder = RecordingClient(base_client, before=wait_for_release)
    explorer = Explorer(recorder, today=TODAY, background=True)
    explorer.load_button.click()
    assert entered.wait(10)
    assert explorer.busy and explorer.load_button.disabled
    assert explorer.load_button.description == "Loading…"
    assert "Loading stream st-demo-retail-in" in explorer.status.value
    explorer.load_button.click()
    explorer.load_button.click()
    assert explorer.load() is False  # a programmatic load is refused too
    release.set()
    assert explorer.wait(20)
    assert explorer.ignored_clicks == 3
    assert len(recorder.calls) == 3
    assert not explorer.busy and not explorer.load_button.disabled
    assert explorer.load_button.description == "Load"
    assert explorer.error == "" and set(explorer.drawn) == set(PANELS)


# -- errors -------------------------------------------------------------------------------------


def test_start_after_end_is_shown_without_any_request_and_the_panel_stays_usable(
    explorer, recorder
):
    explorer.load_button.click()
    kpis_before = explorer.panels["kpis"].value
    recorder.calls.clear()
    explorer.start.value = dt.date(2025, 12, 2)
    explorer.end.value = dt.date(2025, 11, 5)
    explorer.load_button.click()
    assert recorder.calls == []
    assert explorer.error.startswith(
        "Check the controls: start: 2025-12-02 is after end 2025-11-05"
    )
    assert "after end" in explorer.error_area.value
    assert "Traceback" not in explorer.error_area.value
    assert "previous data" in explorer.status.value
    assert explorer.panels["kpis"].value == kpis_before
    assert not explorer.load_button.disabled
    # fix the range: loading works again and the error goes away
    explorer.preset.value = "last_7"
    explorer.load_button.click()
    assert explorer.error == "" and explorer.error_area.value == ""
    assert recorder.calls


def test_a_missing_date_or_a_bad_zone_is_a_readable_message(explorer, recorder):
    explorer.start.value = None
    explorer.load_button.click()
    assert explorer.error == "Check the controls: start: pick a start date (or a preset)"
    explorer.preset.value = "last_7"
    explorer.tz.value = "Mars/Olympus"
    explorer.load_button.click()
    assert explorer.error.startswith("Check the controls: tz: 'Mars/Olympus' is not an IANA")
    assert recorder.calls == []


def test_refused_credentials_show_an_auth_message_then_a_good_client_works():
    from engagement_kit.client import EngagementClient

    platform = DemoPlatform(clock=lambda: NOW, rate_limit=False)
    bad = EngagementClient(
        host=DEMO_HOST,
        credentials=Credentials("x", "a-wrong-secret-that-is-long-enough-for-hs256"),
        transport=httpx.MockTransport(platform.handle),
        store=False,
        clock=lambda: NOW,
        sleep=lambda s: None,
    )
    explorer = Explorer(bad, today=TODAY, background=False)
    assert explorer.load() is False
    assert explorer.error.startswith("Authentication failed: HTTP 401")
    assert "a-wrong-secret" not in explorer.error and "Traceback" not in explorer.error_area.value
    assert explorer.drawn == {} and "nothing loaded yet" in explorer.status.value
    assert not explorer.load_button.disabled
    explorer.client = make_client(rate_limit=False)
    assert explorer.load() is True
    assert explorer.error == "" and set(explorer.drawn) == set(PANELS)
    bad.close()


def test_a_rate_limit_is_shown_as_such():
    client = make_client(per_minute=2, per_hour=None)
    client.max_retries = 0
    explorer = Explorer(client, today=TODAY, background=False)
    assert explorer.load() is False  # the third request of the load is refused
    assert isinstance(explorer.last_error, RateLimitError)
    assert explorer.error.startswith("Rate limit reached: HTTP 429")
    assert "Rate limit for this API has been reached" in explorer.error
    assert not explorer.load_button.disabled and not explorer.busy
    client.close()


def test_an_unknown_stream_is_a_not_found_message(recorder):
    explorer = Explorer(
        recorder,
        streams=[StreamConfig(id="st-nope", name="Nope", tz="UTC")],
        today=TODAY,
        background=False,
    )
    explorer.load_button.click()
    assert explorer.error.startswith("Unknown stream: HTTP 404")


def test_an_unexpected_failure_is_still_a_message_not_a_traceback(base_client):
    def boom(call):
        raise ZeroDivisionError("division by zero")

    explorer = Explorer(RecordingClient(base_client, before=boom), today=TODAY, background=False)
    assert explorer.load() is False
    assert explorer.error.startswith("Unexpected error (ZeroDivisionError: division by zero)")
    assert not explorer.busy


# -- display ------------------------------------------------------------------------------------


def test_show_and_bare_display(explorer):
    root = explorer.show()
    assert root is explorer.root
    assert explorer.tabs in root.children
    bundle = explorer._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == root.model_id
    assert bundle["text/plain"] == (
        "<Explorer: 3 stream(s); st-demo-retail-in, 2025-11-05 to 2025-12-02; "
        "showing nothing loaded yet>"
    )


def test_charts_are_drawn_as_svg_when_their_tab_is_opened_and_only_once(explorer):
    import altair as alt

    active = alt.renderers.active
    explorer.load_button.click()
    assert explorer.visible_panel == "kpis"
    assert explorer.svg_renders == {} and explorer.panels["trend"].outputs == ()
    explorer.tabs.selected_index = list(PANELS).index("trend")
    assert alt.renderers.active == active  # the notebook's own renderer is left alone
    (output,) = explorer.panels["trend"].outputs
    assert output["output_type"] == "display_data"
    assert output["data"]["image/svg+xml"].lstrip().startswith("<svg")
    explorer.tabs.selected_index = 0
    explorer.tabs.selected_index = list(PANELS).index("trend")
    assert explorer.svg_renders == {"trend": 1}
    # with the heatmap on screen, a load that changes it redraws it at once
    explorer.tabs.selected_index = list(PANELS).index("peak_hours")
    assert explorer.svg_renders == {"trend": 1, "peak_hours": 1}
    explorer.tz.value = "UTC"
    explorer.load_button.click()
    assert explorer.svg_renders == {"trend": 1, "peak_hours": 2}
    assert "svg" in explorer.panels["peak_hours"].outputs[0]["data"]["image/svg+xml"][:200]


def test_missing_credentials_name_what_to_set():
    from engagement_kit.client import EngagementClient

    never = httpx.MockTransport(lambda request: pytest.fail("no request may be sent"))
    client = EngagementClient(host="https://platform.example.invalid", transport=never, store=False)
    explorer = Explorer(
        client, streams=[StreamConfig(id="st-x", name="X", tz="UTC")], background=False
    )
    assert explorer.load() is False
    assert explorer.error.startswith("Settings missing: ")
    assert "KORE_CLIENT_ID" in explorer.error or "KORE_JWT" in explorer.error
    client.close()


def test_without_a_pinned_today_presets_end_yesterday_in_the_streams_zone(recorder):
    from engagement_kit.config.weeks import today_in

    before = today_in(RETAIL.tz)
    explorer = Explorer(recorder, background=False)
    after = today_in(RETAIL.tz)
    explorer.select_preset("last_7")
    assert explorer.end.value in {before - dt.timedelta(days=1), after - dt.timedelta(days=1)}
    assert (explorer.end.value - explorer.start.value).days == 6
    explorer.tz.value = "Asia/Kol"  # half-typed: presets keep working
    assert explorer.start.value is not None and explorer.error == ""
    kiritimati = today_in("Pacific/Kiritimati")
    explorer.tz.value = "Pacific/Kiritimati"  # UTC+14: presets follow "today" in the chosen zone
    assert explorer.end.value + dt.timedelta(days=1) in {kiritimati, today_in("Pacific/Kiritimati")}


def test_streams_may_be_mappings_and_must_be_unique_and_present(recorder):
    explorer = Explorer(
        recorder,
        streams=[{"id": HR.id, "name": "HR", "tz": HR.tz, "channels": ["msteams"]}],
        today=TODAY,
        background=False,
    )
    assert explorer.stream.options == (("HR (st-demo-hr-us)", HR.id),)
    assert explorer.channels.value == "msteams"
    one = Explorer(
        recorder,
        streams=[
            {
                "id": "a",
                "name": "A",
                "tz": "UTC",
                "channels": "rtm",
                "channels_breakdown": "rtm,slack",
            }
        ],
    )
    assert one.channels.value == "rtm"
    assert one.selected_stream().channels_breakdown == ("rtm", "slack")
    with pytest.raises(InvalidQueryError, match="channels_breakdown"):
        Explorer(recorder, streams=[{"id": "a", "name": "A", "tz": "UTC", "channels": "rtm,slack"}])
    platform_spelling = {
        "id": "a",
        "name": "A",
        "tz": "UTC",
        "conversation_type": "Non Interactive",
    }
    assert Explorer(recorder, streams=[platform_spelling]).conversation_type.value == (
        "non_interactive"
    )
    with pytest.raises(ValueError, match="conversation_status: 'open' is not allowed"):
        Explorer(recorder, streams=[{**platform_spelling, "conversation_status": "open"}])
    with pytest.raises(ValueError, match="at least one stream"):
        Explorer(recorder, streams=[], background=False)
    with pytest.raises(ValueError, match="once"):
        Explorer(recorder, streams=[RETAIL, RETAIL], background=False)
    with pytest.raises(ValueError, match="every stream needs id, name and tz"):
        Explorer(recorder, streams=[{"id": "st-x"}], background=False)


def test_a_stream_id_names_the_configured_stream_with_all_its_settings(
    base_client, tmp_path, monkeypatch
):
    (tmp_path / "streams.toml").write_text(
        '[[stream]]\nid = "st-demo-hr-us"\nname = "HR"\ntz = "America/New_York"\n'
        'conversation_type = "interactive"\nconversation_status = "closed"\n'
    )
    monkeypatch.setenv("ENGAGEMENT_KIT_HOME", str(tmp_path))
    explorer = Explorer(base_client, streams=["st-demo-hr-us"], today=TODAY, background=False)
    (stream,) = explorer.streams
    assert (stream.name, stream.tz, stream.conversation_type, stream.conversation_status) == (
        "HR", "America/New_York", "interactive", "closed"
    )  # fmt: skip
    with pytest.raises(InvalidQueryError, match=r"is not in streams\.toml"):
        Explorer(base_client, streams=["st-nowhere"], today=TODAY, background=False)
