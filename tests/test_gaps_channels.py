"""Tests that close the gaps mutation testing found in engagement_kit.client.channels (see
benchmarks/MUTATION.md): the channel-mix table and its HTML, from a hand-made breakdown."""

from __future__ import annotations

import html as html_module

import pandas as pd
import pytest

from engagement_kit.charts.channels import channel_mix_html
from engagement_kit.errors import InvalidQueryError
from engagement_kit.metrics.channels import NOT_ADDITIVE_NOTE, channel_mix


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
