"""Channels as documented: one per request; a breakdown is one request per channel."""

from __future__ import annotations

import datetime as dt
import html as html_module

import pandas as pd
import pytest

from engagement_kit import charts, metrics
from engagement_kit.charts.channels import channel_mix_html
from engagement_kit.client import EngagementClient
from engagement_kit.errors import InvalidQueryError
from engagement_kit.metrics.channels import NOT_ADDITIVE_NOTE, channel_mix
from engagement_kit.store import ResponseStore
from tests.client.test_ranges import Counting, client
from tests.demo.test_platform import IT, NOW_LATE, expected_answer

CHANNELS = ["rtm", "slack", "msteams"]  # the IT demo stream's channels
TZ = "Europe/Berlin"


@pytest.fixture
def platform() -> Counting:
    return Counting(channels="single")  # a platform that takes one channel per request


def make(platform: Counting, store=False) -> EngagementClient:
    return client(platform, store)


def test_several_channels_in_fetch_point_to_the_breakdown(platform):
    with make(platform) as client, pytest.raises(InvalidQueryError) as info:
        client.fetch(IT, "2025-11-01", "2025-11-07", channels=["rtm", "slack"])
    assert info.value.field == "channels" and "fetch_channels" in str(info.value)
    assert "do not add up" in str(info.value)
    assert platform.sent == []  # nothing was sent


def test_fetch_channels_is_one_request_per_channel_and_one_tidy_frame(platform, tmp_path):
    store = ResponseStore(tmp_path / "s.sqlite3")
    with make(platform, store) as client:
        frame = client.fetch_channels(
            IT, "2025-11-01", "2025-11-14", channels=CHANNELS, tz=TZ, conversation_type="all"
        )
        assert [p.get("channels") for p in platform.sent] == CHANNELS
        again = client.fetch_channels(IT, "2025-11-01", "2025-11-14", channels=CHANNELS, tz=TZ)
    assert len(platform.sent) == 3  # the second breakdown came from the store
    pd.testing.assert_frame_equal(frame, again)
    assert list(frame.columns[:2]) == ["channel", "stream_id"]
    assert list(frame["channel"].cat.categories) == CHANNELS
    assert len(frame) == 3 * 3 * 14
    for name in CHANNELS:
        want = expected_answer(
            IT,
            NOW_LATE,
            start=dt.date(2025, 11, 1),
            end=dt.date(2025, 11, 14),
            tz=TZ,
            hourly=False,
            ctype="all",
            status="all",
            channels={name},
        )
        rows = frame[(frame["channel"] == name) & (frame["metric"] == "unique")]
        assert rows["users"].tolist() == [
            p["users"] for p in want["uniqueUsersTrend"]["dataPoints"]
        ]
        assert frame.attrs["summaries"][name]["unique_users"] == want["summary"]["uniqueUsers"]

    mix = metrics.channel_mix(frame)
    assert mix["channel"].tolist() == CHANNELS
    summaries = frame.attrs["summaries"]
    assert mix["unique_users"].tolist() == [summaries[c]["unique_users"] for c in CHANNELS]
    assert mix["share_of_channel_users"].sum() == pytest.approx(1.0)
    row = mix.set_index("channel").loc["rtm"]
    assert row["returning_share"] == pytest.approx(row["returning_users"] / row["unique_users"])

    # unique users do not add up across channels: the bot's are fewer than the channels' sum
    with make(platform) as client:
        whole = client.fetch(IT, "2025-11-01", "2025-11-14", tz=TZ)  # every channel
    assert whole.summary["unique_users"] < mix["unique_users"].sum()


def test_channel_mix_chart_stacks_daily_users_per_channel(platform):
    with make(platform) as client:
        frame = client.fetch_channels(IT, "2025-11-01", "2025-11-03", channels="rtm,slack")
    spec = charts.channel_mix_chart(frame).to_dict()
    assert spec["mark"]["type"] == "bar"
    assert spec["encoding"]["color"]["field"] == "channel"
    assert "count in each" in spec["title"]["subtitle"]
    data = spec["datasets"][spec["data"]["name"]]
    assert len(data) == sum(1 for u in frame.query("metric == 'unique'")["users"] if u > 0)
    assert {d["channel"] for d in data} == {"rtm", "slack"}
    with pytest.raises(InvalidQueryError, match="metric"):
        charts.channel_mix_chart(frame, metric="total")


@pytest.mark.parametrize(
    ("channels", "needle"),
    [([], "at least one"), (["all"], "'all' is not a channel"), (["rtm;x"], "channel")],
)
def test_bad_breakdowns_are_refused_before_any_request(platform, channels, needle):
    with make(platform) as client, pytest.raises(InvalidQueryError, match=needle):
        client.fetch_channels(IT, "2025-11-01", "2025-11-03", channels=channels)
    assert platform.sent == []


def test_channel_mix_needs_a_breakdown_frame():
    with pytest.raises(InvalidQueryError, match="fetch_channels"):
        metrics.channel_mix(pd.DataFrame({"x": [1]}))


# -- the Explorer's Channels tab -----------------------------------------------------------------


def test_explorer_channels_tab_shows_the_streams_breakdown(platform):
    from engagement_kit.config.streams import StreamConfig
    from engagement_kit.explorer import Explorer

    with_breakdown = StreamConfig(
        id=IT, name="IT", tz=TZ, channels_breakdown=["rtm", "slack", "msteams"]
    )
    without = StreamConfig(id="st-demo-hr-us", name="HR", tz="America/New_York")
    with make(platform) as client:
        explorer = Explorer(
            client, streams=[with_breakdown, without], today=dt.date(2025, 11, 20), background=False
        )
        explorer.preset.value = "last_7"
        explorer.load_button.click()
        assert explorer.error == ""
        html = explorer.panels["channels"].value
        mix = explorer.channel_mix
        assert mix["channel"].tolist() == ["rtm", "slack", "msteams"]
        sent = [p.get("channels") for p in platform.sent]
        assert {"rtm", "slack", "msteams"} <= set(sent)  # one request per channel
        for row in mix.itertuples():
            assert f'data-channel="{row.channel}"' in html
            assert f"{int(row.unique_users):,}" in html
        assert "do not add up across channels" in html
        explorer.stream.value = list(explorer.stream.options)[1][1]  # the stream without one
        explorer.load_button.click()
        assert "channels_breakdown" in explorer.panels["channels"].value
        assert explorer.channel_mix is None


# -- the weekly report's Channels section ---------------------------------------------------------


def test_weekly_report_channels_section(platform):
    from engagement_kit.demo import demo_streams
    from engagement_kit.report import load_weekly, report_parameters

    with make(platform) as client:
        weekly = load_weekly(
            IT, "2025-W46", tz=TZ, weeks_of_history=1, client=client, channels_breakdown="rtm,slack"
        )
        plain = load_weekly(IT, "2025-W46", tz=TZ, weeks_of_history=1, client=client)
    assert list(weekly.channels["channel"].cat.categories) == ["rtm", "slack"]
    html = weekly.channels_section().data
    assert "<h2>Channels</h2>" in html and "do not add up across channels" in html
    for name in ("rtm", "slack"):
        unique = weekly.channels.attrs["summaries"][name]["unique_users"]
        assert f'data-channel="{name}"' in html and f"{int(unique):,}" in html
    assert weekly.channels_chart().to_dict()["mark"]["type"] == "bar"
    assert plain.channels is None and plain.channels_section().data == ""
    # the demo report shows each demo stream's channels
    demo = {s.id: s for s in demo_streams()}[IT]
    assert report_parameters(demo, "2025-W46")["channels_breakdown"] == "rtm,slack,msteams"


# -- Tests that close the gaps mutation testing found in engagement_kit.client.channels (see


def breakdown(summaries: dict, names: list[str] | None = None) -> pd.DataFrame:
    names = list(summaries) if names is None else names
    frame = pd.DataFrame({"channel": pd.Categorical(names[:1] * 2, categories=names)})
    frame.attrs["summaries"] = summaries
    return frame


def test_channel_mix_reads_each_channels_summary_with_exact_dtypes():
    summaries = {
        "rtm": {"unique_users": 30, "new_users": 10, "returning_users": 20},
        "msteams": {"unique_users": 10, "new_users": 10, "returning_users": 0},
    }
    mix = channel_mix(breakdown(summaries, ["rtm", "msteams", "slack"]))
    assert mix["channel"].tolist() == ["rtm", "msteams", "slack"]
    assert mix["unique_users"].tolist()[:2] == [30, 10]
    assert mix["new_users"].tolist()[:2] == [10, 10]
    assert mix["returning_users"].tolist()[:2] == [20, 0]
    for col in ("unique_users", "new_users", "returning_users"):
        assert mix[col].dtype == "Int64"
        assert mix[col].isna().tolist() == [False, False, True]  # no summary for slack
    assert mix["returning_share"].dtype == "Float64"
    assert mix["returning_share"].iloc[0] == pytest.approx(2 / 3)
    assert mix["returning_share"].iloc[1] == 0
    # one channel without a count: the shares of the sum cannot be known
    assert mix["share_of_channel_users"].isna().all()


def test_a_range_fetched_in_parts_has_no_counts_and_no_shares_but_does_not_fail():
    # fetch_channels keeps None for a summary it could not take from one answer
    parts = {"rtm": dict.fromkeys(("unique_users", "new_users", "returning_users"))}
    mix = channel_mix(breakdown({**parts, "web": {"unique_users": 5.0}}))
    assert mix["unique_users"].isna().tolist() == [True, False]
    assert mix["share_of_channel_users"].isna().all()


def test_shares_of_channel_users_and_a_channel_without_users():
    summaries = {
        "rtm": {"unique_users": 30, "new_users": 10, "returning_users": 20},
        "web": {"unique_users": 0, "new_users": 0, "returning_users": 0},
        "msteams": {"unique_users": 10, "new_users": 4, "returning_users": 6},
    }
    mix = channel_mix(breakdown(summaries))
    assert mix["share_of_channel_users"].tolist() == pytest.approx([0.75, 0.0, 0.25])
    assert pd.isna(mix["returning_share"].iloc[1])  # 0 / 0 is not a share
    empty = {"web": {"unique_users": 0, "new_users": 0, "returning_users": 0}}
    assert channel_mix(breakdown(empty))["share_of_channel_users"].isna().all()


def test_channel_mix_refuses_other_frames_naming_the_argument():
    with pytest.raises(InvalidQueryError, match="expected the output of fetch_channels") as err:
        channel_mix(pd.DataFrame({"channel": ["rtm"]}))  # no summaries
    assert err.value.field == "frame"


def test_channel_mix_html_shows_counts_shares_and_the_note():
    summaries = {
        "r<t>m": {"unique_users": 3000, "new_users": 1000, "returning_users": 2000},
        'we"b': {},
    }
    html = channel_mix_html(channel_mix(breakdown(summaries)), title="Mix <this week>")
    assert (
        '<caption style="text-align:left;font-weight:600;">Mix &lt;this week&gt;</caption>' in html
    )
    heads = [
        "Channel",
        "Unique users",
        "New users",
        "Returning users",
        "Returning share",
        "Share of channel-users",
    ]
    for head in heads:
        assert f">{head}</th>" in html
    assert 'text-align:left;">Channel</th>' in html
    assert 'text-align:right;">Unique users</th>' in html
    assert '<tr data-channel="r&lt;t&gt;m">' in html
    assert '<tr data-channel="we&quot;b">' in html
    row = html.split('data-channel="r&lt;t&gt;m">')[1].split("</tr>")[0]
    assert [c.rsplit(">", 1)[-1] for c in row.split("</td>")[:-1]] == [
        "r&lt;t&gt;m",
        "3,000",
        "1,000",
        "2,000",
        "66.7%",
        "–",
    ]
    row = html.split('data-channel="we&quot;b">')[1].split("</tr>")[0]
    assert row.count(">not available</td>") == 3 and row.count(">–</td>") == 2
    assert html_module.escape(NOT_ADDITIVE_NOTE) in html
    assert "<caption" not in channel_mix_html(channel_mix(breakdown(summaries)))
