"""The demo session logs: deterministic, append-only, and shaped like real apps."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import subprocess
import sys
import zoneinfo

import numpy as np
import pandas as pd
import pytest

from engagement_kit.demo import DEMO_STREAMS, LOG_START, clear_cache, get_stream, session_log
from engagement_kit.demo.sessions import DemoStream, local_view, session_arrays

UTC = dt.UTC
THROUGH = dt.date(2025, 12, 31)


def _ts(*args: int) -> float:
    return dt.datetime(*args, tzinfo=UTC).timestamp()


def _fingerprint(stream_id: str, through: dt.date) -> str:
    a = session_arrays(stream_id, through)
    stop = int(a.day_starts[(through - LOG_START).days + 1])
    parts = (a.instant[:stop], a.user[:stop], a.channel[:stop], a.interactive[:stop])
    return "|".join(str(int(np.sum(p.astype(np.int64) * np.arange(1, stop + 1)))) for p in parts)


@pytest.fixture(scope="module")
def logs() -> dict[str, pd.DataFrame]:
    """Each stream's 2025 log, every session closed."""
    return {s.id: session_log(s, THROUGH) for s in DEMO_STREAMS}


def test_streams_are_named_and_differ():
    assert len(DEMO_STREAMS) >= 3
    ids = [s.id for s in DEMO_STREAMS]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids)
    assert len({s.tz for s in DEMO_STREAMS}) == len(DEMO_STREAMS)
    assert all(len(s.name) > 10 and s.name[0].isupper() for s in DEMO_STREAMS)
    assert {"Asia/Kolkata", "America/New_York", "Europe/Berlin"} <= {s.tz for s in DEMO_STREAMS}
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEMO_STREAMS[0].name = "x"  # type: ignore[misc]
    assert get_stream(DEMO_STREAMS[1].id) is DEMO_STREAMS[1]
    with pytest.raises(KeyError, match="st-demo-retail-in"):
        get_stream("st-nope")


def test_stream_settings_are_checked():
    base = DEMO_STREAMS[2]
    with pytest.raises(ValueError, match="24 hour weights"):
        dataclasses.replace(base, hour_weights=(1.0,) * 23)
    with pytest.raises(ValueError, match="sum to 1"):
        dataclasses.replace(base, return_classes=base.return_classes[:1])


def test_log_frame_shape(logs):
    log = logs["st-demo-it-de"]
    assert list(log.columns) == [
        "user_id",
        "instant",
        "channel",
        "conversation_type",
        "status",
        "outcome",
    ]
    assert log["user_id"].dtype == np.int64
    assert str(log["instant"].dt.tz) == "UTC"
    assert log["instant"].is_monotonic_increasing
    assert set(log["conversation_type"]) == {"interactive", "non_interactive"}
    assert set(log["status"]) == {"closed"}
    assert set(log["channel"]) <= set(get_stream("st-demo-it-de").channel_names)
    assert set(log["outcome"]) == {"selfService", "dropOff", "agent"}
    assert (
        log.loc[log["conversation_type"] == "non_interactive", "outcome"] == "selfService"
    ).all()


def test_log_starts_at_home_midnight_2025(logs):
    for s in DEMO_STREAMS:
        first = logs[s.id]["instant"].iloc[0].tz_convert(s.tz)
        assert first.date() == LOG_START
        last = logs[s.id]["instant"].iloc[-1].tz_convert(s.tz)
        assert last.date() == THROUGH
    assert session_log(DEMO_STREAMS[0], dt.date(2024, 12, 31)).empty


def test_same_days_same_sessions_in_a_fresh_process():
    """Seeds come from SHA-256 of (stream, day), never from Python's salted hash()."""
    through = dt.date(2025, 2, 10)
    here = _fingerprint("st-demo-hr-us", through)
    code = (
        "import datetime as dt, sys; sys.path.insert(0, '.');"
        "from tests.demo.test_sessions import _fingerprint;"
        "print(_fingerprint('st-demo-hr-us', dt.date(2025, 2, 10)))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == here


def test_later_days_never_change_earlier_ones():
    clear_cache()
    short = session_log("st-demo-it-de", dt.date(2025, 3, 31))
    long = session_log("st-demo-it-de", dt.date(2025, 9, 30))
    pd.testing.assert_frame_equal(long.iloc[: len(short)], short)
    assert len(long) > len(short)
    clear_cache()
    again = session_log("st-demo-it-de", dt.date(2025, 3, 31))
    pd.testing.assert_frame_equal(again, short)


def test_first_session_is_each_users_earliest():
    a = session_arrays("st-demo-hr-us", dt.date(2025, 6, 30))
    first_instant = np.full(a.n_users, np.iinfo(np.int64).max)
    np.minimum.at(first_instant, a.user, a.instant)
    assert np.array_equal(a.instant[a.first_session], first_instant)
    assert np.array_equal(a.user[a.first_session], np.arange(a.n_users))
    # users are numbered day by day: a later first day means a larger id
    first_day = np.searchsorted(a.day_starts, a.first_session, side="right")
    assert np.all(np.diff(first_day) >= 0)


def test_status_is_relative_to_now():
    now = _ts(2025, 12, 10, 15, 30)
    log = session_log("st-demo-retail-in", dt.date(2025, 12, 12), now=now)
    assert log["instant"].max().timestamp() <= now
    active = log[log["status"] == "active"]
    assert len(active) > 0
    age = (pd.Timestamp(now, unit="s", tz="UTC") - active["instant"]).dt.total_seconds()
    assert age.min() >= 0
    assert age.max() <= 86_400
    recent = log[log["instant"] > pd.Timestamp(now - 86_400, unit="s", tz="UTC")]
    assert 0.01 < len(active) / len(recent) < 0.3


def test_shares_look_real(logs):
    for s in DEMO_STREAMS:
        log = logs[s.id]
        ni = (log["conversation_type"] == "non_interactive").mean()
        assert 0.03 < ni < 0.12, s.id
    retail, hr, it = (logs[i] for i in ("st-demo-retail-in", "st-demo-hr-us", "st-demo-it-de"))
    per_day = {
        i: logs[i]
        .groupby(logs[i]["instant"].dt.tz_convert(get_stream(i).tz).dt.date)["user_id"]
        .nunique()
        for i in logs
    }
    assert per_day["st-demo-retail-in"].mean() > 200
    assert 30 < per_day["st-demo-hr-us"].mean() < 200
    assert per_day["st-demo-it-de"].mean() < 15
    # retail grows through the year
    assert (
        per_day["st-demo-retail-in"].iloc[-30:].mean()
        > 1.5 * per_day["st-demo-retail-in"].iloc[:30].mean()
    )
    # channel mixes
    assert retail["channel"].value_counts().index[0] == "whatsapp"
    assert hr["channel"].value_counts().index[0] == "msteams"
    assert set(it["channel"].value_counts().index[:2]) == {"rtm", "slack"}

    # HR users come back far more than retail users: sessions per user
    assert len(hr) / hr["user_id"].nunique() > 2 * len(retail) / retail["user_id"].nunique()


def _local(log: pd.DataFrame, tz: str) -> pd.Series:
    return log["instant"].dt.tz_convert(tz)


def test_hour_and_weekday_patterns_in_home_zone(logs):
    retail = _local(logs["st-demo-retail-in"], "Asia/Kolkata")
    hours = retail.dt.hour.value_counts()
    assert hours.idxmax() in range(18, 23)  # evening peak in India
    weekend = retail.dt.day_of_week >= 5
    assert weekend.mean() > 2 / 7 * 1.1  # weekend-heavy

    hr = _local(logs["st-demo-hr-us"], "America/New_York")
    assert hr.dt.hour.between(7, 18).mean() > 0.85  # office hours in New York
    assert (hr.dt.day_of_week >= 5).mean() < 0.05

    it = _local(logs["st-demo-it-de"], "Europe/Berlin")
    assert it.dt.hour.between(7, 17).mean() > 0.85  # office hours in Berlin
    # and the same sessions are *not* office hours in New York
    assert _local(logs["st-demo-it-de"], "America/New_York").dt.hour.between(7, 17).mean() < 0.7


def test_each_home_day_holds_its_own_sessions():
    """Day k's sessions lie in that home-zone calendar day, 23- and 25-hour days included."""
    for s in DEMO_STREAMS:
        a = session_arrays(s, dt.date(2025, 11, 30))
        view = local_view(a, s.tz)
        n_days = (a.last_day - LOG_START).days + 1
        expected = np.repeat(
            (LOG_START - dt.date(1970, 1, 1)).days + np.arange(n_days), np.diff(a.day_starts)
        )
        assert np.array_equal(view.day, expected), s.id


def test_fall_back_day_has_sessions_in_both_real_hours():
    """Berlin's 2025-10-26 has two 02:00 hours; the IT stream is quiet then, so look at all
    25 real hours of the HR stream's New York 2025-11-02 and Berlin's day for the retail one."""
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    day = dt.date(2025, 10, 26)
    a = session_arrays("st-demo-it-de", day)
    k = (day - LOG_START).days
    day_instants = a.instant[a.day_starts[k] : a.day_starts[k + 1]]
    start = dt.datetime.combine(day, dt.time(), tzinfo=berlin).timestamp()
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=berlin).timestamp()
    assert end - start == 25 * 3600
    assert np.all((day_instants >= start) & (day_instants < end))


def test_local_view_matches_zoneinfo():
    a = session_arrays("st-demo-it-de", dt.date(2025, 4, 30))
    for tz in ("Australia/Lord_Howe", "America/New_York", "Asia/Kolkata"):
        view = local_view(a, tz)
        zone = zoneinfo.ZoneInfo(tz)
        for i in range(0, len(a), 37):
            local = dt.datetime.fromtimestamp(int(a.instant[i]), zone)
            assert view.day[i] == (local.date() - dt.date(1970, 1, 1)).days
            assert view.hour[i] == local.hour


def test_custom_stream_gets_its_own_log():
    tiny = dataclasses.replace(DEMO_STREAMS[2], id="st-test-tiny", new_users_per_day=0.5)
    log = session_log(tiny, dt.date(2025, 1, 31))
    assert 0 < log["user_id"].nunique() < 40
    assert isinstance(tiny, DemoStream)


def test_outcomes_depend_on_stream_channel_and_hour(logs):
    from engagement_kit.demo.outcomes import OUTCOMES

    def drop_share(frame):
        return float((frame["outcome"] == "dropOff").mean())

    interactive = {k: v[v["conversation_type"] == "interactive"] for k, v in logs.items()}
    retail, hr = interactive["st-demo-retail-in"], interactive["st-demo-hr-us"]
    assert set(retail["outcome"]) == set(OUTCOMES)
    # the stream: shoppers drop off more than employees asking HR, who reach an agent more
    assert drop_share(retail) > drop_share(hr) + 0.1
    assert (hr["outcome"] == "agent").mean() > 2 * (retail["outcome"] == "agent").mean()
    # the channel: social channels drop off more than the web chat, e-mail reaches agents
    by_channel = retail.groupby("channel")["outcome"].apply(lambda s: (s == "dropOff").mean())
    assert by_channel["facebook"] > by_channel["rtm"] + 0.05
    agent = hr.groupby("channel")["outcome"].apply(lambda s: (s == "agent").mean())
    assert agent["email"] > agent["rtm"] + 0.05
    # the home hour: at night hardly any agent and more drop-offs than in office hours
    hour = hr["instant"].dt.tz_convert("America/New_York").dt.hour
    office, night = hr[(hour >= 9) & (hour < 17)], hr[(hour < 6) | (hour >= 22)]
    assert len(night) > 100
    assert (night["outcome"] == "agent").mean() < 0.5 * (office["outcome"] == "agent").mean()
    assert drop_share(night) > drop_share(office)


def test_return_propensity_depends_on_the_first_outcome(logs):
    log = logs["st-demo-retail-in"]
    day = log["instant"].dt.floor("D")
    first = log.drop_duplicates("user_id").set_index("user_id")
    first_day = day.groupby(log["user_id"]).min()
    gap = (day - log["user_id"].map(first_day)).dt.days
    came_back = set(log.loc[(gap >= 1) & (gap <= 28), "user_id"])
    watched = first[first["instant"] < pd.Timestamp("2025-12-01", tz="UTC")]
    rate = watched.index.isin(came_back)
    by_outcome = pd.Series(rate, index=watched.index).groupby(watched["outcome"]).mean()
    assert by_outcome["dropOff"] < by_outcome["agent"] < by_outcome["selfService"]
    assert by_outcome["selfService"] / by_outcome["dropOff"] > 1.3


def test_outcomes_leave_the_sessions_themselves_unchanged():
    """The outcomes come from a random stream of their own: who, when, which channel and which
    conversation type are what the log had before outcomes existed (the fingerprint of its
    first 40 days, taken from the toolkit without outcomes)."""
    assert _fingerprint("st-demo-it-de", dt.date(2025, 2, 9)) == "7925422088675|165209|2377|4044"
