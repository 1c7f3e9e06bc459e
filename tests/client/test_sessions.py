"""getSessions: the client (windows, paging, dedup, store, Ctrl-C) against the doc sample and
every switch of the demo platform, and the demo's sessions against its own session log."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import httpx
import numpy as np
import pandas as pd
import pytest

from engagement_kit.client.sessions import (
    SESSION_COLUMNS,
    SessionsConfig,
    parse_sessions_page,
    sessions_frame,
    windows_for,
)
from engagement_kit.demo import DemoPlatform, session_log
from engagement_kit.demo.sessions import get_stream
from engagement_kit.demo.sessions_api import SessionsSwitches, user_ids
from engagement_kit.errors import ApiError, AuthError, ConfigError, ResponseFormatError
from engagement_kit.metrics.first_seen import SessionCache
from tests.builders import FIXTURES

NOW = dt.datetime(2025, 4, 1, 12, tzinfo=dt.UTC).timestamp()
STREAM = "st-demo-hr-us"


class Recorder:
    """The demo platform behind a transport that records every request (and can interrupt)."""

    def __init__(self, interrupt_at: int | None = None, **platform_options):
        self.platform = DemoPlatform(lambda: NOW, rate_limit=False, **platform_options)
        self.requests: list[httpx.Request] = []
        self.interrupt_at = interrupt_at

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.interrupt_at is not None and len(self.requests) == self.interrupt_at:
            raise KeyboardInterrupt
        return self.platform.handle(request)

    @property
    def bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests]

    def client(self, **options):
        from engagement_kit.client import EngagementClient
        from engagement_kit.client.auth import Credentials
        from engagement_kit.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_HOST

        return EngagementClient(
            DEMO_HOST,
            credentials=Credentials(client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET),
            transport=httpx.MockTransport(self.handle),
            clock=lambda: NOW,
            sleep=lambda s: None,
            requests_per_minute=None,
            requests_per_hour=None,
            **options,
        )


def fetch(rec: Recorder, start="2025-03-01", end="2025-03-20", tz="America/New_York", **kw):
    kw.setdefault("cache", False)
    kw.setdefault("progress", False)
    with rec.client(store=False) as client:
        return client.fetch_sessions(STREAM, start, end, tz=tz, **kw)


def expected_log(start: str, end: str, tz: str, stream: str = STREAM) -> pd.DataFrame:
    """A plain recomputation: the demo log's sessions that started on those local days."""
    log = session_log(stream, "2025-04-02", now=NOW)
    local = log["instant"].dt.tz_convert(tz).dt.date
    keep = (local >= dt.date.fromisoformat(start)) & (local <= dt.date.fromisoformat(end))
    return log[keep]


# -- parsing -----------------------------------------------------------------------------------
def test_the_doc_sample_parses_exactly():
    rows, more = parse_sessions_page((FIXTURES / "sessions_sample.json").read_text())
    assert more is False
    frame = sessions_frame(rows, tz="Asia/Kolkata")
    assert list(frame.columns) == list(SESSION_COLUMNS)
    assert frame["session_id"].tolist() == [
        "6930221ab3c61f2d47e05a97",
        "69302533d7b14e6c05a9e8f4",
        "69314b77a8e05d3b91f4c6e2",
        "6933aca4c1f2a94e7b10d3a1",
    ]
    first = frame.iloc[0]
    assert first["user_id"] == "u-9f2c4e7a-1b3d-5e8f-a6c2-7d4b0e9f1a23"
    assert first["channel"] == "rtm"
    assert first["start"] == pd.Timestamp("2025-12-03T11:42:18.512Z").tz_convert("Asia/Kolkata")
    assert first["end"] == pd.Timestamp("2025-12-03T11:49:05.733Z")
    assert str(first["start"].tz) == "Asia/Kolkata"
    assert first["start"].strftime("%Y-%m-%d %H:%M") == "2025-12-03 17:12"
    assert frame["session_type"].tolist() == [
        "interactive",
        "non-interactive",
        "interactive",
        "interactive",
    ]
    assert frame["session_status"].tolist() == ["closed"] * 4
    assert frame["containment"].tolist() == ["dropOff", "selfService", "agent", "selfService"]
    assert frame["messages"].tolist() == [4, 1, 9, 6]
    assert frame["tasks"].tolist() == [0, 0, 1, 1]
    assert frame["is_developer"].tolist() == [False] * 4
    assert frame.loc[2, "channel"] == "msteams"
    assert frame.loc[2, "start"].strftime("%Y-%m-%d %H:%M") == "2025-12-04 14:21"


def test_parsing_tolerates_the_unknowns_and_rejects_what_is_not_a_session():
    rows, more = parse_sessions_page(
        {
            "moreAvailable": True,
            "sessions": [
                {
                    "userId": "u-1",
                    "sessionId": "a",
                    "channel": "RTM",
                    "start_time": "2025-01-01T00:00:00.000Z",
                    "isDeveloper": 1,
                    "containmentType": "selfservice",
                    "extra": {"x": 1},
                }
            ],
        }
    )
    assert more is True
    frame = sessions_frame(rows)
    assert frame.loc[0, "is_developer"] and frame.loc[0, "containment"] == "selfService"
    assert frame.loc[0, "channel"] == "rtm" and pd.isna(frame.loc[0, "end"])
    assert pd.isna(frame.loc[0, "messages"]) and frame.loc[0, "session_status"] is None
    with pytest.raises(ResponseFormatError, match="encrypt"):
        parse_sessions_page('{"data": "eyJhbGciOi..."}')
    with pytest.raises(ResponseFormatError, match=r"sessions\[0\]\.userId"):
        parse_sessions_page({"sessions": [{"sessionId": "a", "start_time": "2025-01-01T00:00Z"}]})


def test_windows_are_under_seven_days_as_full_utc_timestamps_on_a_fixed_grid():
    lo = dt.datetime(2025, 3, 1, 5, tzinfo=dt.UTC)
    hi = dt.datetime(2025, 3, 30, tzinfo=dt.UTC)
    windows = windows_for(lo, hi, 6)
    assert windows[0].start <= lo < windows[0].end and windows[-1].end >= hi
    assert all(b.start == a.end for a, b in itertools.pairwise(windows))
    body = windows[0].body()
    assert body["dateFrom"].endswith(".000Z") and body["dateTo"].endswith(".999Z")
    span = pd.Timestamp(body["dateTo"]) - pd.Timestamp(body["dateFrom"])
    assert span < pd.Timedelta(days=7)
    # the grid does not depend on the range asked
    assert windows_for(lo + dt.timedelta(days=7), hi, 6)[0] in windows
    with pytest.raises(ConfigError, match="less than 7"):
        SessionsConfig(window_days=7)


# -- against the demo platform -----------------------------------------------------------------
def test_the_demo_sessions_are_the_demo_log():
    tz = "America/New_York"
    frame = fetch(Recorder())
    real = frame[~frame["is_developer"]]
    log = expected_log("2025-03-01", "2025-03-20", tz)
    assert len(real) == len(log)
    stream = get_stream(STREAM)
    assert real["user_id"].tolist() == user_ids(stream, log["user_id"].to_numpy())
    assert (real["start"].dt.floor("s").dt.tz_convert("UTC") == log["instant"].to_numpy()).all()
    assert real["channel"].tolist() == log["channel"].tolist()
    kind = np.where(log["conversation_type"] == "interactive", "interactive", "non-interactive")
    assert real["session_type"].tolist() == kind.tolist()
    assert frame["session_id"].is_unique
    assert frame["is_developer"].any()  # the demo has developer sessions, as platforms do
    assert str(frame["start"].dt.tz) == tz
    assert frame.attrs["complete"] and frame.attrs["stream_id"] == STREAM


def test_paging_follows_more_available_and_skip_advances_by_what_came():
    rec = Recorder(sessions=SessionsSwitches(max_limit=40))
    frame = fetch(rec, config=SessionsConfig(page_size=100))  # clamped to 40 by the server
    pages = rec.bodies
    assert len(pages) > 4
    skips = [b["skip"] for b in pages]
    assert any(s > 0 for s in skips) and all(s % 40 == 0 for s in skips)
    assert len(frame) == len(fetch(Recorder()))


def test_a_page_size_above_the_maximum_is_an_error_when_the_server_says_so():
    rec = Recorder(sessions=SessionsSwitches(max_limit=50, over_limit="error"))
    with pytest.raises(ApiError, match="above the maximum"):
        fetch(rec, config=SessionsConfig(page_size=100))
    assert len(fetch(Recorder(sessions=SessionsSwitches(max_limit=50, over_limit="error")),
                     config=SessionsConfig(page_size=50))) == len(fetch(Recorder()))  # fmt: skip


@pytest.mark.parametrize(
    "switches",
    [
        SessionsSwitches(select="overlap"),
        SessionsSwitches(omitted_containment="unlabelled"),
        SessionsSwitches(seven_days_ok=True, date_only_to="midnight"),
        SessionsSwitches(developer_as="int", active_labels=True, active_end_time="null"),
        SessionsSwitches(active_end_time="last_activity", shared_rate_limit=False),
    ],
    ids=["overlap", "unlabelled", "7days-midnight", "int-dev-labels", "last-activity"],
)
def test_every_switch_gives_the_same_sessions(switches):
    baseline = fetch(Recorder(), end="2025-04-01")
    rec = Recorder(sessions=switches)
    frame = fetch(rec, end="2025-04-01")
    assert frame["session_id"].tolist() == baseline["session_id"].tolist()
    assert frame["is_developer"].tolist() == baseline["is_developer"].tolist()
    if switches.omitted_containment == "unlabelled":  # fell back to one call per type
        containments = {r.url.params.get("containmentType") for r in rec.requests}
        assert containments == {None, "selfService", "dropOff", "agent"}
        assert frame.loc[frame["end"].notna(), "containment"].notna().all()


def test_active_sessions_carry_what_the_switch_says():
    frame = fetch(Recorder(), start="2025-03-31", end="2025-04-01")
    active = frame["end"].isna()
    assert active.any() and frame.loc[active, "session_status"].isna().all()
    labelled = fetch(
        Recorder(sessions=SessionsSwitches(active_labels=True, active_end_time="last_activity")),
        start="2025-03-31",
        end="2025-04-01",
    )
    assert (labelled.loc[active.to_numpy(), "session_status"] == "active").all()
    assert labelled["end"].notna().all()


def test_the_seven_day_rule_is_enforced_by_the_demo():
    rec = Recorder()
    with rec.client(store=False) as client:
        response = client.http.post(
            client.host + f"/api/public/bot/{STREAM}/getSessions",
            json={"dateFrom": "2025-03-01", "dateTo": "2025-03-08"},
        )
    assert response.status_code == 401  # no token: auth comes first
    request = httpx.Request(
        "POST",
        f"https://x/api/public/bot/{STREAM}/getSessions",
        json={"dateFrom": "2025-03-01T00:00:00.000Z", "dateTo": "2025-03-08T00:00:00.000Z"},
    )
    from engagement_kit.client.sessions import Window  # noqa: F401  (the client never sends this)

    with rec.client(store=False) as client:
        request.headers["auth"] = client.credentials.token(now=NOW)
    answer = rec.platform.handle(request)
    assert answer.status_code == 400 and "less than 7 days" in answer.text


def test_a_missing_bot_sessions_scope_says_which_scope():
    rec = Recorder(scopes=("User Engagement Trend",))
    with pytest.raises(AuthError) as info:
        fetch(rec)
    assert "Bot Sessions" in str(info.value)


def test_closed_windows_are_stored_for_good_and_ctrl_c_keeps_them(tmp_path):
    cache = SessionCache(tmp_path / "s.sqlite3")
    rec = Recorder(interrupt_at=3)
    partial = fetch(rec, start="2025-01-05", end="2025-03-20", cache=cache)
    assert partial.attrs["complete"] is False
    stored = cache.count("https://demo.engagement-kit.invalid", STREAM)
    assert 1 <= stored < partial.attrs["windows"]  # the windows finished before Ctrl-C
    assert partial["session_id"].is_unique and len(partial) > 0
    again = Recorder()
    full = fetch(again, start="2025-01-05", end="2025-03-20", cache=cache)
    assert full.attrs["complete"]
    assert full.attrs["requested_windows"] == full.attrs["windows"] - stored
    third = Recorder()
    same = fetch(third, start="2025-01-05", end="2025-03-20", cache=cache)
    assert third.requests == []  # every window closed: nothing asked
    pd.testing.assert_frame_equal(same, full)
    # the window reaching "now" is never stored
    recent = Recorder()
    fetch(recent, start="2025-03-28", end="2025-04-01", cache=cache)
    fetch(recent, start="2025-03-28", end="2025-04-01", cache=cache)
    assert len(recent.requests) >= 2 and len({r.content for r in recent.requests}) < len(
        recent.requests
    )


@pytest.mark.slow
def test_sessions_over_real_http_equal_the_in_process_answer():
    from engagement_kit.client import EngagementClient
    from engagement_kit.client.auth import Credentials
    from engagement_kit.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, running_server

    platform = DemoPlatform(lambda: NOW, rate_limit=False)
    with running_server(platform=platform) as server:
        client = EngagementClient(
            server.url,
            credentials=Credentials(client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET),
            store=False,
            clock=lambda: NOW,
        )
        with client:
            frame = client.fetch_sessions(
                STREAM, "2025-03-01", "2025-03-10", tz="UTC", cache=False, progress=False
            )
    expected = fetch(Recorder(), start="2025-03-01", end="2025-03-10", tz="UTC")
    pd.testing.assert_frame_equal(frame, expected)
