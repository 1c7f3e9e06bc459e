"""The Explorer's Compare tab: several streams across platforms, one metric, absolute or
indexed; the logic on its own, then the widgets on the demo platform."""

from __future__ import annotations

import pandas as pd
import pytest

from engagement_kit.config.streams import StreamConfig
from engagement_kit.demo import demo_client, demo_streams
from engagement_kit.errors import InvalidQueryError
from engagement_kit.explorer import Explorer
from engagement_kit.explorer.compare import (
    CompareTab,
    compare_chart,
    compare_frame,
    compare_table,
    compare_table_html,
    stream_label,
)

WEEKS = ["2025-W45", "2025-W46", "2025-W47"]


def weekly(unique, returning):
    return pd.DataFrame(
        {
            "week": WEEKS,
            "unique_users": pd.array(unique, dtype="Int64"),
            "new_users": pd.array(
                [u - r for u, r in zip(unique, returning, strict=True)], dtype="Int64"
            ),
            "returning_users": pd.array(returning, dtype="Int64"),
        }
    )


def test_absolute_and_indexed_lines():
    data = {
        "Big (us)": weekly([4000, 4400, 3600], [2000, 2000, 1800]),
        "Small (eu)": weekly([40, 50, 60], [10, 10, 30]),
    }
    absolute = compare_frame(data, "unique_users")
    assert list(absolute.columns) == ["stream", "week", "value"]
    assert absolute[absolute.stream == "Small (eu)"].value.tolist() == [40, 50, 60]
    indexed = compare_frame(data, "unique_users", indexed=True)
    assert indexed[indexed.stream == "Big (us)"].value.tolist() == [100, 110, 90]
    assert indexed[indexed.stream == "Small (eu)"].value.tolist() == [100, 125, 150]
    share = compare_frame(data, "returning_share")
    assert share[share.stream == "Small (eu)"].value.tolist() == pytest.approx([0.25, 0.2, 0.5])


def test_the_table_has_a_column_per_stream_in_pick_order():
    data = {"B": weekly([1, 2, 3], [0, 1, 1]), "A": weekly([5, 0, 7], [1, 0, 2])}
    table = compare_table(compare_frame(data, "new_users"))
    assert list(table.columns) == ["B", "A"] and list(table.index) == WEEKS
    assert table.loc["2025-W46", "A"] == 0
    html = compare_table_html(
        compare_table(compare_frame(data, "returning_share")), "returning_share", indexed=False
    )
    assert "<td>n/a</td>" in html and "<td>20.0 %</td>" in html  # 0/0 has no share


def test_an_index_without_a_first_week_above_zero_is_missing_not_infinite():
    frame = compare_frame({"X": weekly([0, 0, 0], [0, 0, 0])}, indexed=True)
    assert frame.value.isna().all()


def test_unknown_metric_names_the_choices():
    with pytest.raises(InvalidQueryError, match="metric: 'sessions' is not one of unique_users"):
        compare_frame({}, "sessions")


def test_the_chart_draws_a_line_per_stream():
    data = {"A": weekly([1, 2, 3], [0, 1, 1]), "B": weekly([3, 2, 1], [1, 1, 0])}
    spec = compare_chart(compare_frame(data, indexed=True), "unique_users", indexed=True).to_dict()
    assert spec["mark"]["type"] == "line" and spec["encoding"]["color"]["field"] == "stream"
    assert "indexed" in spec["title"]


def test_each_stream_is_fetched_through_its_own_platforms_client():
    streams = demo_streams()
    clients = {
        "us": demo_client(store=False, region="us"),
        "eu": demo_client(store=False, region="eu"),
    }
    routed = []

    def client_of(stream):
        routed.append((stream.platform, stream.id))
        return clients[stream.platform]

    tab = CompareTab(streams, clients["us"], clients=client_of)
    tab.picker.value = tuple(stream_label(s) for s in streams)
    tab.weeks.value = 4
    tab.end_week.value = "2025-W47"
    assert tab.compare(), tab.error
    assert routed == [("us", "st-demo-retail-in"), ("us", "st-demo-hr-us"), ("eu", "st-demo-it-de")]
    assert list(tab.table.columns) == [stream_label(s) for s in streams]
    assert list(tab.table.index) == ["2025-W44", "2025-W45", "2025-W46", "2025-W47"]
    assert "Servicedesk IT Bot (Berlin) (eu)" in tab.table_area.value
    assert tab.chart_area.outputs[0]["data"]["image/svg+xml"].startswith("<svg")


def test_compare_in_the_explorer_with_an_error_as_one_sentence():
    explorer = Explorer(demo_client(store=False), today=pd.Timestamp("2025-11-25").date())
    titles = explorer.tabs.titles
    assert titles[-1] == "Compare" and explorer.tabs.children[-1] is explorer.compare.root
    explorer.tabs.selected_index = len(titles) - 1
    assert explorer.visible_panel == "compare"
    explorer.compare.picker.value = ()
    assert not explorer.compare.compare()
    assert (
        explorer.compare.error == "Check the controls: streams: pick at least one stream to compare"
    )
    explorer.compare.picker.value = (explorer.compare.picker.options[0],)
    explorer.compare.mode.value = "indexed"
    explorer.compare.weeks.value = 4
    explorer.compare.end_week.value = "2025-W47"
    assert explorer.compare.compare() and explorer.compare.error == ""
    first = explorer.compare.frame.value.iloc[0]
    assert first == 100


def test_a_stream_on_a_profile_gets_that_profiles_client(tmp_path, monkeypatch):
    from engagement_kit.explorer.compare import platform_clients

    (tmp_path / "streams.toml").write_text(
        '[platform.eu]\nhost = "https://de-platform.kore.ai"\ntoken = "${EU_JWT}"\n'
        '[[stream]]\nid = "st-1"\nname = "Bot"\ntz = "UTC"\nplatform = "eu"\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EU_JWT", "opaque-token")
    from engagement_kit.client import EngagementClient
    from engagement_kit.client.auth import Credentials

    default = EngagementClient(
        "https://platform.kore.ai", credentials=Credentials(token="t"), store=False
    )
    clients = platform_clients(lambda: default)
    eu = clients(StreamConfig(id="st-1", name="Bot", tz="UTC", platform="eu"))
    assert eu.host == "https://de-platform.kore.ai"
    assert clients(StreamConfig(id="st-2", name="Other", tz="UTC")) is default
    assert clients(StreamConfig(id="st-3", name="Again", tz="UTC", platform="eu")) is eu
    demo = demo_client(store=False)  # the demo answers every demo stream itself
    assert (
        platform_clients(lambda: demo)(StreamConfig(id="x", name="X", tz="UTC", platform="eu"))
        is demo
    )
    eu.close()
    default.close()


def test_the_dashboard_serves_a_project_whose_streams_all_name_platforms(tmp_path, monkeypatch):
    from engagement_kit.explorer.dashboard_app import app_source

    for name in ("KORE_HOST", "KORE_CLIENT_ID", "KORE_CLIENT_SECRET", "KORE_JWT"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "streams.toml").write_text(
        '[platform.eu]\nhost = "https://de-platform.kore.ai"\ntoken = "${EU_JWT}"\n'
        '[platform.jp]\nhost = "https://jp-platform.kore.ai"\ntoken = "${JP_JWT}"\n'
        '[[stream]]\nid = "st-1"\nname = "Bot"\ntz = "UTC"\nplatform = "eu"\n'
        '[[stream]]\nid = "st-1"\nname = "Bot JP"\ntz = "UTC"\nplatform = "jp"\n'
    )
    monkeypatch.chdir(tmp_path)
    source = app_source(env={})
    assert not source.demo
    assert source.host == "https://de-platform.kore.ai, https://jp-platform.kore.ai"
    assert "de-platform.kore.ai" in source.describe()
