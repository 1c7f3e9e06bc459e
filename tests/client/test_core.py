"""EngagementClient through httpx.MockTransport: the request, every status path, retries,
the rate limiter, chunking, the store, fetch_many and fetch_weeks. Time is injected: nothing
really sleeps."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import re
import socket
import threading
import time as _time
from collections.abc import Callable

import httpx
import jwt
import pandas as pd
import pytest

from engagement_kit import __version__
from engagement_kit import client as client_module
from engagement_kit.client import EngagementClient, FetchResult, StreamRateLimiter
from engagement_kit.client.auth import Credentials
from engagement_kit.client.filter_echo import FilterEchoWarning
from engagement_kit.client.http_status import platform_message, retry_after_seconds
from engagement_kit.config.query import EngagementQuery
from engagement_kit.errors import (
    ApiConnectionError,
    ApiError,
    AuthError,
    ConfigError,
    InvalidQueryError,
    NotFoundError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
)
from engagement_kit.store import ResponseStore
from engagement_kit.tidy import format_api_date
from tests.builders import FIXTURES

HOST = "https://platform.kore.ai"
CLIENT_ID = "cs-0f4e9a7c-aaaa-bbbb-cccc-0123456789ab"
SECRET = "canary-Secret-XYZZY-0123456789-abcdefghijklmnop"
#: Wednesday 2025-12-10 12:00 UTC: the fixtures' Dec 01-05 2025 is in the past.
NOW = dt.datetime(2025, 12, 10, 12, tzinfo=dt.UTC).timestamp()
PATH = "/api/public/bot/st-abc_1/v2/userEngagementTrend"


def fixture_text(kind: str = "daily") -> str:
    return (FIXTURES / f"doc_sample_{kind}.json").read_text()


class FakeTime:
    """An injected clock and sleep: sleeping advances the clock; nothing really waits."""

    def __init__(self, start: float = NOW) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


class Script:
    """A MockTransport handler answering from a script (responses, exceptions or callables)."""

    def __init__(self, *steps: object, default: object = None) -> None:
        self.steps = list(steps)
        self.default = default
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            step = self.steps.pop(0) if self.steps else self.default
        if callable(step) and not isinstance(step, httpx.Response):
            step = step(request)
        if isinstance(step, Exception):
            raise step
        assert isinstance(step, httpx.Response), f"unscripted request {request.url}"
        return step

    @property
    def count(self) -> int:
        return len(self.requests)


def ok(text: str | None = None) -> httpx.Response:
    return httpx.Response(200, text=fixture_text() if text is None else text)


def daily_answer(
    request: httpx.Request, *, per_day: tuple[int, int, int] = (3, 1, 2)
) -> httpx.Response:
    """A valid daily answer for whatever range the request asks: per day unique, new, returning."""
    start = dt.date.fromisoformat(request.url.params["start_date"])
    end = dt.date.fromisoformat(request.url.params["end_date"])
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    unique, new, returning = per_day

    def trend(value: int) -> dict:
        return {"dataPoints": [{"date": format_api_date(d), "users": value} for d in days]}

    n = len(days)
    body = {
        "summary": {
            "uniqueUsers": unique * n,
            "newUsers": new * n,
            "returningUsers": returning * n,
            "avgUniqueUsersPerDay": float(unique),
            "avgNewUsersPerDay": float(new),
            "avgReturningUsersPerDay": float(returning),
        },
        "uniqueUsersTrend": trend(unique),
        "newUsersTrend": trend(new),
        "returningUsersTrend": trend(returning),
        "filters": {
            "start": format_api_date(start),
            "end": format_api_date(end),
            # the filters echoed as applied, lower-cased as the platform does
            "conversationType": request.url.params.get("conversationType", "all").lower(),
            "conversationStatus": request.url.params.get("conversationStatus", "all").lower(),
            "aggregationType": "daily",
            "dataPointsCount": n,
        },
    }
    return httpx.Response(200, json=body)


def make_client(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    time: FakeTime | None = None,
    store: ResponseStore | bool = False,
    **kwargs,
) -> EngagementClient:
    time = time or FakeTime()
    return EngagementClient(
        HOST,
        credentials=kwargs.pop("credentials", Credentials(CLIENT_ID, SECRET)),
        store=store,
        transport=httpx.MockTransport(handler),
        clock=time.clock,
        sleep=time.sleep,
        **kwargs,
    )


def fetch_dec(client: EngagementClient, **kwargs):
    return client.fetch("st-abc_1", "2025-12-01", "2025-12-05", **kwargs)


# -- the request ----------------------------------------------------------------------------
def test_the_request_is_a_post_with_the_documented_parameters_and_auth_header():
    script = Script(ok())  # the reference sample: it echoes conversationType "all"
    client = make_client(script, on_filter_mismatch="warn")
    with pytest.warns(FilterEchoWarning, match="conversationType='Non Interactive'"):
        data = client.fetch(
            "st-abc_1",
            "2025-12-01",
            dt.date(2025, 12, 5),
            conversation_type="Non Interactive",
            conversation_status="closed",
            channels=["RTM"],
            tz="Asia/Kolkata",
        )
    assert script.count == 1
    request = script.requests[0]
    assert request.method == "POST"
    assert request.url.scheme == "https" and request.url.host == "platform.kore.ai"
    assert request.url.path == PATH
    assert dict(request.url.params) == {
        "aggregation_type": "daily",
        "start_date": "2025-12-01",
        "end_date": "2025-12-05",
        "conversationType": "Non Interactive",
        "conversationStatus": "Closed",
        "channels": "rtm",
        "timeZoneOffset": "Asia/Kolkata",
    }
    raw = request.url.query.decode()
    assert "conversationType=Non%20Interactive" in raw
    assert "timeZoneOffset=Asia%2FKolkata" in raw
    assert request.content == b""
    assert "authorization" not in request.headers
    assert request.headers["user-agent"] == f"engagement-kit/{__version__}"
    claims = jwt.decode(
        request.headers["auth"], SECRET, algorithms=["HS256"], options={"verify_exp": False}
    )
    assert claims["appId"] == CLIENT_ID
    assert claims["iat"] == int(NOW) and claims["exp"] > NOW
    assert data.summary["unique_users"] == 2
    assert list(data.trend.query("metric == 'new'")["users"]) == [0, 0, 1, 1, 0]


def test_the_time_zone_is_always_sent():
    script = Script(ok())
    fetch_dec(make_client(script))
    assert script.requests[0].url.params["timeZoneOffset"] == "UTC"
    assert "channels" not in script.requests[0].url.params


def test_hourly_fixture_round_trip():
    script = Script(ok(fixture_text("hourly")))
    data = fetch_dec(make_client(script), aggregation="hourly")
    assert script.requests[0].url.params["aggregation_type"] == "hourly"
    assert len(data.trend) == 3 * 5 * 24
    assert data.trend["users"].sum() == 4  # unique 17h Dec 3, 14h Dec 4; the same for new


def test_stream_id_is_percent_encoded_in_the_path():
    client = make_client(Script())
    assert client.url_for("st-abc_1") == HOST + PATH
    assert (
        client.url_for("a b/c?d") == HOST + "/api/public/bot/a%20b%2Fc%3Fd/v2/userEngagementTrend"
    )


def test_each_attempt_carries_a_fresh_token():
    script = Script(httpx.Response(503), ok())
    fetch_dec(make_client(script))
    tokens = [r.headers["auth"] for r in script.requests]
    jtis = {
        jwt.decode(t, SECRET, algorithms=["HS256"], options={"verify_exp": False})["jti"]
        for t in tokens
    }
    assert len(jtis) == 2


# -- hosts ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "host", ["http://platform.kore.ai", "http://10.0.0.1", "http://localhost.evil.com", "ftp://x"]
)
def test_plain_http_is_refused_for_non_loopback_hosts(host):
    with pytest.raises(ConfigError, match="https://"):
        EngagementClient(host, store=False)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.3.2.1", "http://127.3.2.1"),
        ("http://localhost:5000/", "http://localhost:5000"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("platform.kore.ai", "https://platform.kore.ai"),
        ("https://bots.kore.ai/", "https://bots.kore.ai"),
    ],
)
def test_loopback_http_and_bare_hosts_are_accepted(host, expected):
    script = Script(ok())
    client = EngagementClient(
        host,
        credentials=Credentials(CLIENT_ID, SECRET),
        store=False,
        transport=httpx.MockTransport(script),
        clock=FakeTime().clock,
    )
    assert client.host == expected
    fetch_dec(client)
    assert str(script.requests[0].url).startswith(expected + "/api/public/bot/")


def test_host_defaults_to_kore_host(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="KORE_HOST") as info:
        EngagementClient(store=False)
    assert "https://platform.kore.ai" in str(info.value)
    monkeypatch.setenv("KORE_HOST", "platform.kore.ai")
    assert EngagementClient(store=False).host == "https://platform.kore.ai"
    monkeypatch.setenv("KORE_HOST", "http://platform.kore.ai")
    with pytest.raises(ConfigError, match="KORE_HOST"):
        EngagementClient(store=False)


def test_tls_verification_cannot_be_switched_off():
    with pytest.raises(TypeError):
        EngagementClient(HOST, store=False, verify=False)  # type: ignore[call-arg]


# -- credentials ----------------------------------------------------------------------------
def test_client_builds_without_credentials_and_reads_them_at_the_first_request(
    monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    script = Script(ok())
    client = make_client(script, credentials=None)
    with pytest.raises(ConfigError, match="KORE_CLIENT_ID"):
        fetch_dec(client)
    assert script.count == 0
    monkeypatch.setenv("KORE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("KORE_CLIENT_SECRET", SECRET)
    fetch_dec(client)
    assert script.count == 1
    assert (
        jwt.decode(
            script.requests[0].headers["auth"],
            SECRET,
            algorithms=["HS256"],
            options={"verify_exp": False},
        )["appId"]
        == CLIENT_ID
    )


def test_credentials_must_be_credentials():
    with pytest.raises(TypeError, match="Credentials"):
        EngagementClient(HOST, credentials="token", store=False)  # type: ignore[arg-type]


# -- invalid queries never leave the machine ------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"start": "2025-12-05", "end": "2025-12-01"},
        {"start": "01/12/2025"},
        {"tz": "Mars/Olympus"},
        {"aggregation": "weekly"},
        {"conversation_type": "bots"},
        {"conversation_status": "open"},
        {"channels": ["rtm", "all"]},
        {"stream_id": "st 1/../x"},
    ],
)
def test_no_request_for_an_invalid_query(kwargs):
    script = Script(ok())
    client = make_client(script)
    args = {"stream_id": "st-abc_1", "start": "2025-12-01", "end": "2025-12-05", **kwargs}
    with pytest.raises(InvalidQueryError):
        client.fetch(**args)
    assert script.count == 0


# -- status paths ---------------------------------------------------------------------------
def test_400_is_an_api_error_with_the_platforms_message_and_is_not_retried():
    script = Script(
        httpx.Response(400, json={"errors": [{"msg": "Invalid start_date", "code": 4001}]})
    )
    with pytest.raises(ApiError) as info:
        fetch_dec(make_client(script))
    err = info.value
    assert type(err) is ApiError
    assert err.status == 400 and err.message == "Invalid start_date"
    assert err.url.startswith(HOST + PATH + "?aggregation_type=daily")
    assert "stream st-abc_1, 2025-12-01 to 2025-12-05" in str(err)
    assert script.count == 1


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_auth_errors_with_a_hint_and_are_not_retried(status):
    script = Script(httpx.Response(status, json={"errors": [{"msg": "Access denied"}]}))
    time = FakeTime()
    with pytest.raises(AuthError) as info:
        fetch_dec(make_client(script, time=time))
    text = str(info.value)
    assert info.value.status == status and "Access denied" in text
    for needle in ("JWT app", '"User Engagement Trend"', "published", "KORE_CLIENT_ID"):
        assert needle in text
    assert script.count == 1 and time.sleeps == []


def test_404_is_not_found_with_a_hint_and_is_not_retried():
    script = Script(httpx.Response(404, json={"message": "Bot not found"}))
    with pytest.raises(NotFoundError) as info:
        fetch_dec(make_client(script))
    assert info.value.message == "Bot not found"
    assert "General Settings" in str(info.value) and "KORE_HOST" in str(info.value)
    assert script.count == 1


def test_500_is_a_server_error_and_is_not_retried():
    script = Script(httpx.Response(500, text="<html><body>Internal   Server\nError</body></html>"))
    with pytest.raises(ServerError) as info:
        fetch_dec(make_client(script))
    assert info.value.status == 500
    assert info.value.message == "Internal Server Error"  # the words of the page, not its tags
    assert script.count == 1


def test_long_text_messages_are_cut_short():
    script = Script(httpx.Response(418, text="x" * 5000))
    with pytest.raises(ApiError) as info:
        fetch_dec(make_client(script))
    assert len(info.value.message) <= 300


def test_429_then_200_waits_out_the_platforms_window_not_a_short_backoff():
    script = Script(httpx.Response(429), ok())
    time = FakeTime()
    client = make_client(script, time=time)
    data = fetch_dec(client)
    assert data.summary["new_users"] == 2
    assert script.count == 2
    # no Retry-After: the platform's rolling minute is full, so the stream cools down for a
    # whole window (in the rate limiter, as queued time) before the one retry
    assert [s for s in time.sleeps if s] == [client.rate_limiter.window] == [60.0]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_then_200_succeed(status):
    script = Script(httpx.Response(status), httpx.Response(status), ok())
    time = FakeTime()
    fetch_dec(make_client(script, time=time))
    assert script.count == 3 and len(time.sleeps) == 2


def test_429_exhausted_is_a_rate_limit_error_with_retry_after():
    rate_limited = httpx.Response(
        429,
        headers={"Retry-After": "7"},
        json={
            "errors": [
                {
                    "msg": "Rate limit for this API has been reached. Please try again after some time."
                }
            ]
        },
    )
    script = Script(default=rate_limited)
    time = FakeTime()
    with pytest.raises(RateLimitError) as info:
        fetch_dec(make_client(script, time=time, max_retries=2))
    assert info.value.retry_after == 7.0
    assert info.value.status == 429
    assert "Rate limit for this API has been reached" in info.value.message
    assert "after 3 attempts" in str(info.value)
    assert script.count == 3
    assert [s for s in time.sleeps if s] == [7.0, 7.0]  # Retry-After, as a cool-down


def test_the_platforms_rate_limit_message_is_a_rate_limit_whatever_the_status():
    limited = httpx.Response(
        400,
        json={
            "errors": [
                {
                    "msg": "Rate limit for this API has been reached. Please try again after some time."
                }
            ]
        },
    )
    script = Script(limited, ok())
    fetch_dec(make_client(script))
    assert script.count == 2


def test_5xx_gateway_exhausted_is_a_server_error():
    script = Script(default=httpx.Response(503, json={"message": "maintenance"}))
    time = FakeTime()
    with pytest.raises(ServerError) as info:
        fetch_dec(make_client(script, time=time, max_retries=3))
    assert info.value.status == 503 and info.value.message.startswith("maintenance")
    assert script.count == 4 and len(time.sleeps) == 3


def test_backoff_is_exponential_with_jitter():
    script = Script(default=httpx.Response(502))
    time = FakeTime()
    with pytest.raises(ServerError):
        fetch_dec(make_client(script, time=time, max_retries=5))
    assert script.count == 6
    for n, slept in enumerate(time.sleeps):
        assert 2**n <= slept <= 2**n + 1, time.sleeps


def test_max_retries_zero_means_one_attempt():
    script = Script(default=httpx.Response(503))
    with pytest.raises(ServerError):
        fetch_dec(make_client(script, max_retries=0))
    assert script.count == 1


def test_retry_after_seconds_is_honoured():
    script = Script(httpx.Response(503, headers={"Retry-After": "12"}), ok())
    time = FakeTime()
    fetch_dec(make_client(script, time=time))
    assert time.sleeps == [12.0]


def test_retry_after_http_date_is_honoured():
    when = dt.datetime.fromtimestamp(NOW + 30, dt.UTC)
    header = email.utils.format_datetime(when, usegmt=True)
    script = Script(httpx.Response(429, headers={"Retry-After": header}), ok())
    time = FakeTime()
    fetch_dec(make_client(script, time=time))
    assert [s for s in time.sleeps if s] == [30.0]


def test_retry_after_in_the_past_or_garbled_falls_back_sensibly():
    past = email.utils.format_datetime(dt.datetime.fromtimestamp(NOW - 100, dt.UTC), usegmt=True)
    script = Script(
        httpx.Response(429, headers={"Retry-After": past}),
        httpx.Response(429, headers={"Retry-After": "soon-ish"}),
        ok(),
    )
    time = FakeTime()
    fetch_dec(make_client(script, time=time))
    # the date has passed: retry at once; not a number or a date: a whole window, as without
    assert [s for s in time.sleeps if s] == [60.0]
    assert script.count == 3


def test_retry_budget_bounds_the_total_time():
    script = Script(default=httpx.Response(503))
    time = FakeTime()
    with pytest.raises(ServerError):
        fetch_dec(make_client(script, time=time, max_retries=100, retry_budget=10))
    # (epoch seconds near 1.8e9 carry ~2e-7 s of float rounding)
    assert 9.9 <= sum(time.sleeps) <= 10 + 1e-5
    assert time.now - NOW <= 10 + 1e-5
    assert 3 <= script.count <= 6  # 1 + 2 + 4 + (cut to what is left) ...


def test_retry_after_beyond_the_budget_stops_at_once():
    script = Script(default=httpx.Response(429, headers={"Retry-After": "600"}))
    time = FakeTime()
    client = make_client(script, time=time, retry_budget=120)
    with pytest.raises(RateLimitError) as info:
        fetch_dec(client)
    assert info.value.retry_after == 600
    assert "600s" in str(info.value)
    assert script.count == 1 and time.sleeps == []
    # ... but the platform's word is kept: the stream's next request waits it out first
    with pytest.raises(RateLimitError):
        fetch_dec(client)
    assert script.count == 2 and time.sleeps == [600.0]


def test_retry_after_is_capped_by_the_remaining_budget():
    script = Script(
        httpx.Response(503),  # ~1-2 s backoff
        httpx.Response(503, headers={"Retry-After": "5"}),
        ok(),
    )
    time = FakeTime()
    fetch_dec(make_client(script, time=time, retry_budget=30))
    assert time.sleeps[1] == 5.0


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ConnectError("connection refused"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
        httpx.ReadError("connection reset by peer"),
    ],
)
def test_transport_failures_are_retried(error):
    script = Script(error, ok())
    time = FakeTime()
    data = fetch_dec(make_client(script, time=time))
    assert data.summary["unique_users"] == 2
    assert script.count == 2 and len(time.sleeps) == 1


def test_timeouts_exhausted_are_a_connection_error_naming_the_host():
    script = Script(default=httpx.ReadTimeout("read timed out"))
    with pytest.raises(ApiConnectionError) as info:
        fetch_dec(make_client(script, max_retries=2, timeout=7.5))
    text = str(info.value)
    assert "platform.kore.ai" in text and "timed out" in text and "7.5s" in text
    assert "3 attempt(s)" in text
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert script.count == 3


def test_connection_errors_exhausted_are_a_connection_error():
    script = Script(default=httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(ApiConnectionError, match="Connection refused") as info:
        fetch_dec(make_client(script, max_retries=1))
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert script.count == 2


def test_a_malformed_200_is_a_format_error_at_once_and_is_not_stored(tmp_path):
    store = ResponseStore(tmp_path / "s.sqlite3")
    broken = json.loads(fixture_text())
    del broken["newUsersTrend"]
    script = Script(httpx.Response(200, json=broken), default=ok())
    client = make_client(script, store=store)
    with pytest.raises(ResponseFormatError, match="newUsersTrend") as info:
        fetch_dec(client)
    assert info.value.field == "newUsersTrend"
    assert "st-abc_1" in str(info.value)
    assert script.count == 1
    assert store.info()["entries"] == 0


@pytest.mark.parametrize("body", ["<html>Login</html>", '{"summary": {"uniqueUsers": 2', ""])
def test_a_non_json_or_truncated_200_is_a_format_error_without_retry(body):
    script = Script(httpx.Response(200, text=body), default=ok())
    with pytest.raises(ResponseFormatError):
        fetch_dec(make_client(script))
    assert script.count == 1


def test_redirects_are_not_followed():
    script = Script(httpx.Response(302, headers={"Location": "https://login.example/"}))
    with pytest.raises(ApiError, match=re.escape("redirect to https://login.example/")):
        fetch_dec(make_client(script))
    assert script.count == 1


# -- secrets stay secret --------------------------------------------------------------------
def test_secrets_never_reach_logs_or_errors(caplog):
    caplog.set_level(logging.DEBUG)
    echoed: list[str] = []

    def echo_token(request: httpx.Request) -> httpx.Response:
        echoed.append(request.headers["auth"])
        return httpx.Response(401, json={"message": f"invalid token {request.headers['auth']}"})

    script = Script(httpx.Response(503), ok(), echo_token)
    client = make_client(script)
    fetch_dec(client)
    with pytest.raises(AuthError) as info:
        client.fetch("st-abc_1", "2025-11-01", "2025-11-05")
    tokens = [r.headers["auth"] for r in script.requests]
    assert echoed and tokens
    assert "POST https://platform.kore.ai" in caplog.text  # requests are logged ...
    assert "attempt 2" in caplog.text
    for text in (caplog.text, str(info.value), repr(info.value), repr(client)):
        assert SECRET not in text
        for token in tokens:
            assert token not in text
    assert "<token>" in info.value.message


# -- the client-side rate limiter -----------------------------------------------------------
def test_the_58th_request_in_a_minute_waits_until_the_window_frees():
    """57 a minute by default: the platform's 60, counted on arrival, less a safety margin."""
    time = FakeTime()
    sent_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(time.clock())
        return daily_answer(request)

    client = make_client(handler, time=time)
    first = dt.date(2025, 1, 1)
    for i in range(58):
        day = first + dt.timedelta(days=i)
        client.fetch("st-abc_1", day, day)
    assert len(sent_at) == 58
    assert all(t == NOW for t in sent_at[:57])
    assert len(time.sleeps) == 1
    assert sent_at[57] >= NOW + 60  # a rolling minute after the first request
    assert sent_at[57] <= NOW + 60.01


def test_limits_are_settable_and_per_stream():
    time = FakeTime()
    client = make_client(daily_answer, time=time, requests_per_minute=3)
    for i in range(3):
        client.fetch("st-a", f"2025-01-0{i + 1}", f"2025-01-0{i + 1}")
        client.fetch("st-b", f"2025-01-0{i + 1}", f"2025-01-0{i + 1}")
    assert time.sleeps == []  # 3 per stream: no stream is held up by the other
    client.fetch("st-a", "2025-01-09", "2025-01-09")
    assert len(time.sleeps) == 1 and 60 <= sum(time.sleeps) <= 60.01


def test_limiter_allows_1800_per_hour():
    time = FakeTime()
    limiter = StreamRateLimiter(60, 1800, clock=time.clock, sleep=time.sleep)
    stamps = []
    for _ in range(1801):
        limiter.acquire("st-1")
        stamps.append(time.clock())
    # 60 a minute: the 1,800th goes out in minute 30; the 1,801st must wait for the hour
    assert stamps[1799] < NOW + 30 * 60
    assert stamps[1800] >= NOW + 3600
    for i in range(60, 1801):
        assert stamps[i] - stamps[i - 60] >= 60  # never 61 in a rolling minute
    assert limiter.acquire("st-2") == 0.0  # another stream is not affected


def test_limiter_with_only_one_limit_or_none():
    time = FakeTime()
    hourly = StreamRateLimiter(None, 5, clock=time.clock, sleep=time.sleep)
    for _ in range(5):
        assert hourly.acquire("s") == 0.0
    assert 3600 <= hourly.acquire("s") <= 3600.01
    off = StreamRateLimiter(None, None, clock=time.clock, sleep=time.sleep)
    assert all(off.acquire("s") == 0.0 for _ in range(10_000))


@pytest.mark.parametrize(("minute", "hour"), [(0, 1800), (60, -1), (1.5, 1800), (True, 10)])
def test_invalid_limits_are_refused(minute, hour):
    with pytest.raises(ConfigError, match="requests_per"):
        EngagementClient(HOST, store=False, requests_per_minute=minute, requests_per_hour=hour)


def test_the_budget_file_is_shared_between_limiters(tmp_path):
    """Two limiters on one file (as two processes would be) share one budget per stream."""
    time = FakeTime()
    path = tmp_path / "budget.sqlite3"
    a, b = (
        StreamRateLimiter(10, 1800, clock=time.clock, sleep=time.sleep, shared=path, scope=HOST)
        for _ in range(2)
    )
    for _ in range(5):
        assert a.acquire("st-1") == 0.0
        assert b.acquire("st-1") == 0.0
    assert 60 <= b.acquire("st-1") <= 60.01  # the 11th of the minute, whoever asks
    other = StreamRateLimiter(10, 1800, clock=time.clock, sleep=time.sleep, shared=path, scope="x")
    assert other.acquire("st-1") == 0.0  # another host's stream has its own budget
    a.close()
    b.close()
    other.close()


def test_the_client_shares_its_budget_by_default_unless_the_clock_is_simulated(tmp_path):
    from engagement_kit.client.ratelimit import default_budget_path

    real = EngagementClient(HOST, store=False)
    assert real.rate_limiter.shared == default_budget_path()
    assert (real.rate_limiter.per_minute, real.rate_limiter.per_hour) == (57, 1750)
    assert make_client(daily_answer).rate_limiter.shared is None
    path = tmp_path / "b.sqlite3"
    assert make_client(daily_answer, shared_rate_limit=path).rate_limiter.shared == path
    assert EngagementClient(HOST, store=False, shared_rate_limit=False).rate_limiter.shared is None


def test_an_unusable_budget_file_falls_back_to_this_process(tmp_path, caplog):
    time = FakeTime()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    limiter = StreamRateLimiter(
        2, None, clock=time.clock, sleep=time.sleep, shared=blocker / "budget.sqlite3"
    )
    assert limiter.acquire("s") == 0.0 and limiter.acquire("s") == 0.0
    assert limiter.acquire("s") >= 60
    assert limiter.shared is None and "cannot use the shared budget file" in caplog.text


def test_limiter_is_thread_safe():
    time = FakeTime()
    limiter = StreamRateLimiter(10, 1800, clock=time.clock, sleep=time.sleep)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(15):
            limiter.acquire("st-1")
            with lock:
                stamps.append(time.clock())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert len(stamps) == 60
    stamps.sort()
    for i in range(10, 60):
        assert stamps[i] - stamps[i - 10] >= 60  # never 11 in a rolling minute


# -- chunking -------------------------------------------------------------------------------
def test_a_long_range_is_split_fetched_in_order_and_merged():
    script = Script(default=daily_answer)
    client = make_client(script, max_days_per_request=31)
    data = client.fetch("st-abc_1", "2025-01-01", "2025-03-16")  # 75 days
    ranges = [(r.url.params["start_date"], r.url.params["end_date"]) for r in script.requests]
    assert ranges == [  # calendar months, so overlapping ranges reuse stored chunks
        ("2025-01-01", "2025-01-31"),
        ("2025-02-01", "2025-02-28"),
        ("2025-03-01", "2025-03-16"),
    ]
    assert "fetched in 3 parts" in data.summary_notes["unique_users"]
    assert set(data.summary_notes) == {
        "unique_users",
        "returning_users",
        "avg_unique_users_per_day",
        "avg_returning_users_per_day",
    }
    new = data.trend[data.trend["metric"] == "new"]
    expected = pd.date_range("2025-01-01", "2025-03-16", freq="D")
    assert list(new["date"]) == list(expected)  # continuous, no gap or overlap
    assert data.summary["new_users"] == 75  # 1 new user a day adds up exactly
    assert pd.isna(data.summary["unique_users"])
    assert pd.isna(data.summary["returning_users"])
    assert data.query is not None and data.query.days == 75


def test_max_days_per_request_is_settable():
    script = Script(default=daily_answer)
    make_client(script, max_days_per_request=7).fetch("st-abc_1", "2025-01-01", "2025-01-14")
    ranges = [(r.url.params["start_date"], r.url.params["end_date"]) for r in script.requests]
    assert ranges == [  # within one month: ISO weeks
        ("2025-01-01", "2025-01-05"),
        ("2025-01-06", "2025-01-12"),
        ("2025-01-13", "2025-01-14"),
    ]
    with pytest.raises(ConfigError, match="max_days_per_request"):
        make_client(script, max_days_per_request=0)


def test_a_chunk_failure_fails_the_fetch():
    script = Script(daily_answer, httpx.Response(404))
    with pytest.raises(NotFoundError):
        make_client(script, max_days_per_request=10).fetch("st-abc_1", "2025-01-01", "2025-01-20")


# -- the store ------------------------------------------------------------------------------
def test_a_final_answer_is_reused_without_a_request(tmp_path):
    store = ResponseStore(tmp_path / "s.sqlite3")
    time = FakeTime()
    script = Script(ok())
    client = make_client(script, time=time, store=store)
    first = fetch_dec(client)
    time.now += 90 * 86_400  # months later: the past does not change
    second = fetch_dec(client)
    assert script.count == 1
    pd.testing.assert_frame_equal(first.trend, second.trend)
    assert store.entries()[0].final is True


def test_a_not_final_answer_expires_after_the_ttl(tmp_path):
    store = ResponseStore(tmp_path / "s.sqlite3", ttl=900)
    time = FakeTime()
    script = Script(default=daily_answer)
    client = make_client(script, time=time, store=store)
    client.fetch("st-abc_1", "2025-12-08", "2025-12-10")  # includes today
    assert store.entries()[0].final is False
    time.now += 899
    client.fetch("st-abc_1", "2025-12-08", "2025-12-10")
    assert script.count == 1  # within the TTL
    time.now += 2
    client.fetch("st-abc_1", "2025-12-08", "2025-12-10")
    assert script.count == 2  # expired: asked again


def test_finality_uses_the_querys_time_zone(tmp_path):
    # 2025-12-10 12:00 UTC is already 2025-12-11 in Pacific/Kiritimati (UTC+14); settle=0:
    # final as soon as the range has ended in its zone
    store = ResponseStore(tmp_path / "s.sqlite3", settle=0)
    client = make_client(daily_answer, store=store)
    client.fetch("st-abc_1", "2025-12-10", "2025-12-10", tz="Pacific/Kiritimati")
    client.fetch("st-abc_1", "2025-12-10", "2025-12-10", tz="UTC")
    finals = {e.query["tz"]: e.final for e in store.entries()}
    assert finals == {"Pacific/Kiritimati": True, "UTC": False}


def test_refresh_forces_a_request_and_stores_the_new_answer(tmp_path):
    store = ResponseStore(tmp_path / "s.sqlite3")
    answers = [daily_answer, lambda r: daily_answer(r, per_day=(9, 9, 0))]
    script = Script(*answers)
    client = make_client(script, store=store)
    client.fetch("st-abc_1", "2025-11-01", "2025-11-02")
    refreshed = client.fetch("st-abc_1", "2025-11-01", "2025-11-02", refresh=True)
    again = client.fetch("st-abc_1", "2025-11-01", "2025-11-02")
    assert script.count == 2
    assert refreshed.summary["unique_users"] == 18
    assert again.summary["unique_users"] == 18


def test_chunks_are_stored_and_reused_one_by_one(tmp_path):
    store = ResponseStore(tmp_path / "s.sqlite3")
    script = Script(default=daily_answer)
    client = make_client(script, store=store, max_days_per_request=31)
    client.fetch("st-abc_1", "2025-01-01", "2025-01-31")
    client.fetch("st-abc_1", "2025-01-01", "2025-02-20")  # first chunk from the store
    assert script.count == 2
    assert store.info()["entries"] == 2


def test_failures_are_not_stored(tmp_path):
    store = ResponseStore(tmp_path / "s.sqlite3")
    client = make_client(Script(httpx.Response(404)), store=store)
    with pytest.raises(NotFoundError):
        fetch_dec(client)
    assert store.info()["entries"] == 0


def test_the_store_key_holds_no_secret(tmp_path):
    store = ResponseStore(tmp_path / "s.sqlite3")
    fetch_dec(make_client(Script(ok()), store=store))
    raw = (tmp_path / "s.sqlite3").read_bytes() + (tmp_path / "s.sqlite3-wal").read_bytes()
    assert SECRET.encode() not in raw
    assert b"eyJ" not in raw  # no JWT either
    assert store.entries()[0].key.startswith("https://platform.kore.ai st-abc_1?")


def test_store_false_and_the_default_store():
    script = Script(default=daily_answer)
    client = make_client(script, store=False)
    fetch_dec(client)
    fetch_dec(client)
    assert script.count == 2 and client.store is None
    default = EngagementClient(HOST, credentials=Credentials(CLIENT_ID, SECRET))
    assert isinstance(default.store, ResponseStore)
    assert default.store.path.name == "responses.sqlite3"  # conftest points it at a temp dir
    with pytest.raises(TypeError, match="ResponseStore"):
        EngagementClient(HOST, store="yes")  # type: ignore[arg-type]


def test_a_stored_answer_that_no_longer_parses_is_fetched_again(tmp_path):
    store = ResponseStore(tmp_path / "s.sqlite3")
    query = EngagementQuery(stream_id="st-abc_1", start="2025-12-01", end="2025-12-05")
    store.put(HOST, query, '{"not": "the shape"}', final=True)
    script = Script(ok())
    data = fetch_dec(make_client(script, store=store))
    assert script.count == 1 and data.summary["unique_users"] == 2
    assert store.get(HOST, query) == fixture_text()


# -- fetch_many -----------------------------------------------------------------------------
def test_fetch_many_keeps_input_order_and_reports_failures_per_item():
    def handler(request: httpx.Request) -> httpx.Response:
        if "/bot/st-missing/" in request.url.path:
            return httpx.Response(404, json={"message": "no such bot"})
        return daily_answer(request)

    client = make_client(handler)
    requests = [
        EngagementQuery(stream_id="st-a", start="2025-01-01", end="2025-01-03"),
        {"stream_id": "st-missing", "start": "2025-01-01", "end": "2025-01-03"},
        {"stream_id": "st-b", "start": "2025-01-01", "end": "2025-01-02", "tz": "Asia/Kolkata"},
        {"stream_id": "st-c", "start": "2025-01-05", "end": "2025-01-01"},
        "not a request",
        {"stream_id": "st-d", "start": "2025-02-01", "end": "2025-02-01", "refresh": True},
    ]
    results = client.fetch_many(requests, max_workers=3)
    assert [type(r) for r in results] == [FetchResult] * 6
    assert [r.ok for r in results] == [True, False, True, False, False, True]
    assert results[0].data.summary["unique_users"] == 9
    assert isinstance(results[1].error, NotFoundError) and results[1].data is None
    assert results[1].query.stream_id == "st-missing"
    assert results[2].data.tz == "Asia/Kolkata" and results[2].data.days == 2
    assert isinstance(results[3].error, InvalidQueryError) and results[3].query is None
    assert isinstance(results[4].error, InvalidQueryError)
    assert results[4].request == "not a request"
    assert results[5].data.stream_id == "st-d"


def test_fetch_many_stops_sending_to_a_stream_whose_server_fails_for_good():
    def handler(request: httpx.Request) -> httpx.Response:
        if "/bot/st-down/" in request.url.path:
            return httpx.Response(503, json={"message": "maintenance"})
        return daily_answer(request)

    script = Script(default=handler)
    client = make_client(script, max_retries=2)
    days = ["2025-01-01", "2025-01-02", "2025-01-03"]
    requests = [
        {"stream_id": sid, "start": d, "end": d} for d in days for sid in ("st-down", "st-up")
    ]
    results = client.fetch_many(requests, max_workers=1)
    assert [r.ok for r in results] == [False, True, False, True, False, True]
    down = [r for r in script.requests if "/bot/st-down/" in r.url.path]
    assert len(down) == 3  # one item's first try and 2 retries; the other 2 items never sent
    assert all(isinstance(r.error, ServerError) for r in results[::2])
    assert "not sent" not in str(results[0].error)
    assert all(str(r.error).startswith("HTTP 503: not sent") for r in results[2::2])
    assert "maintenance" in str(results[2].error)


def test_fetch_many_stops_sending_to_an_unreachable_host():
    script = Script(default=httpx.ConnectError("connection refused"))
    client = make_client(script, max_retries=1)
    requests = [
        {"stream_id": sid, "start": "2025-01-01", "end": "2025-01-01"} for sid in ("a", "b", "c")
    ]
    results = client.fetch_many(requests, max_workers=1)
    assert script.count == 2  # the first item and its one retry
    assert all(isinstance(r.error, ApiConnectionError) for r in results)
    assert [str(r.error).startswith("not sent") for r in results] == [False, True, True]


def test_a_refused_certificate_is_not_retried():
    script = Script(
        default=httpx.ConnectError(
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"
        )
    )
    client = make_client(script, max_retries=5)
    with pytest.raises(ApiConnectionError, match="certificate"):
        fetch_dec(client)
    assert script.count == 1


def test_store_hits_of_parsed_bytes_are_views_that_never_leak_edits_into_the_cache(tmp_path):
    script = Script(default=daily_answer)
    store = ResponseStore(tmp_path / "s.sqlite3")
    client = make_client(script, store=store)
    first = fetch_dec(client)
    first.trend.loc[0, "users"] = -99  # an analyst edits the frame in place
    first.summary["unique_users"] = -1
    first.filters["start"] = "edited"
    again = fetch_dec(client)  # from the store, parse remembered
    assert script.count == 1
    assert again.trend.loc[0, "users"] == 3 and again.summary["unique_users"] == 15
    assert again.filters["start"] == "Dec 01 2025"
    assert again.trend is not first.trend
    pd.testing.assert_frame_equal(
        again.trend,
        make_client(script, store=store).fetch("st-abc_1", "2025-12-01", "2025-12-05").trend,
    )


def test_an_html_error_page_is_reported_by_its_title_not_its_markup():
    page = "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad &amp; gone</h1></body></html>"
    client = make_client(Script(default=httpx.Response(502, text=page)), max_retries=1)
    with pytest.raises(ServerError) as info:
        fetch_dec(client)
    assert "502 Bad Gateway" in str(info.value) and "<" not in info.value.message


def test_an_unknown_host_name_is_not_retried():
    script = Script(default=httpx.ConnectError("[Errno -2] Name or service not known"))
    client = make_client(script, max_retries=5)
    with pytest.raises(ApiConnectionError, match="Name or service not known"):
        fetch_dec(client)
    assert script.count == 1


@pytest.mark.parametrize(
    "cause",
    [
        socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
        None,  # only the text, as httpx words it
    ],
)
def test_a_temporary_dns_failure_is_retried(cause):
    error = httpx.ConnectError("[Errno -3] Temporary failure in name resolution")
    if cause is not None:
        error.__cause__ = cause
    script = Script(error, error, default=daily_answer)
    data = fetch_dec(make_client(script, max_retries=3))
    assert script.count == 3 and data.days == 5


def test_a_name_that_does_not_exist_fails_at_once_even_as_a_gaierror():
    error = httpx.ConnectError("lookup failed")
    error.__cause__ = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    script = Script(default=error)
    with pytest.raises(ApiConnectionError):
        fetch_dec(make_client(script, max_retries=5))
    assert script.count == 1


def test_a_refused_connection_is_still_retried():
    script = Script(httpx.ConnectError("[Errno 111] Connection refused"), default=daily_answer)
    data = fetch_dec(make_client(script, max_retries=2))
    assert script.count == 2 and data.days == 5


def test_fetch_many_of_nothing():
    assert make_client(Script()).fetch_many([]) == []


def test_fetch_many_runs_in_parallel_threads():
    seen: set[str] = set()
    barrier = threading.Barrier(3, timeout=10)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.add(threading.current_thread().name)
        barrier.wait()  # only passes when three requests are in flight at once
        return daily_answer(request)

    client = make_client(handler)
    reqs = [{"stream_id": f"st-{i}", "start": "2025-01-01", "end": "2025-01-01"} for i in range(3)]
    results = client.fetch_many(reqs, max_workers=3)
    assert all(r.ok for r in results)
    assert len(seen) == 3


@pytest.mark.parametrize("per_stream", [1, 2])
def test_fetch_many_sends_one_request_per_stream_at_a_time(per_stream):
    """The platform asks for no overlapping requests: per stream they queue, streams overlap."""
    lock = threading.Lock()
    in_flight: dict[str, int] = {}
    most: dict[str, int] = {}
    both_streams_at_once = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        stream = request.url.path.split("/")[4]
        with lock:
            in_flight[stream] = in_flight.get(stream, 0) + 1
            most[stream] = max(most.get(stream, 0), in_flight[stream])
            if sum(1 for n in in_flight.values() if n) == 2:
                both_streams_at_once.set()
        threading.Event().wait(0.05)  # hold the request a moment so overlaps can happen
        with lock:
            in_flight[stream] -= 1
        return daily_answer(request)

    client = make_client(handler)
    reqs = [
        {"stream_id": stream, "start": f"2025-01-{d:02d}", "end": f"2025-01-{d:02d}"}
        for d in range(1, 7)
        for stream in ("st-a", "st-b")
    ]
    kwargs = {} if per_stream == 1 else {"per_stream": per_stream}
    results = client.fetch_many(reqs, max_workers=4, **kwargs)
    assert all(r.ok for r in results)
    assert most == {"st-a": per_stream, "st-b": per_stream}
    assert both_streams_at_once.is_set()


def test_fetch_many_keeps_every_stream_busy_when_items_come_grouped_by_stream():
    """Items listed stream by stream (as fetch_weeks and the reports list them) still go out
    one per stream at once: no thread waits behind a busy stream while another stream's items
    wait. Before, the threads queued on the first stream's lock and 3 streams x 8 items ran
    nearly one request at a time."""
    lock = threading.Lock()
    in_flight: set[str] = set()
    most = 0
    streams = ("st-a", "st-b", "st-c")

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal most
        stream = request.url.path.split("/")[4]
        with lock:
            in_flight.add(stream)
            most = max(most, len(in_flight))
        threading.Event().wait(0.03)  # hold the request so that overlaps can happen
        with lock:
            in_flight.discard(stream)
        return daily_answer(request)

    client = make_client(handler)
    reqs = [
        {"stream_id": stream, "start": f"2025-01-{d:02d}", "end": f"2025-01-{d:02d}"}
        for stream in streams
        for d in range(1, 9)
    ]
    results = client.fetch_many(reqs, max_workers=3)
    assert [r.request for r in results] == reqs  # input order kept
    assert all(r.ok for r in results)
    assert most == len(streams)


# -- fetch_weeks ----------------------------------------------------------------------------
def test_fetch_weeks_one_daily_request_per_complete_week():
    script = Script(default=daily_answer)
    client = make_client(script)  # today: Wednesday 2025-12-10 (UTC)
    frame = client.fetch_weeks("st-abc_1", weeks=3, conversation_type="interactive")
    assert list(frame.columns) == [
        "week",
        "start",
        "end",
        "days",
        "unique_users",
        "new_users",
        "returning_users",
        "avg_unique_users_per_day",
        "avg_new_users_per_day",
        "avg_returning_users_per_day",
    ]
    assert list(frame["week"]) == ["2025-W47", "2025-W48", "2025-W49"]
    assert list(frame["start"]) == list(pd.to_datetime(["2025-11-17", "2025-11-24", "2025-12-01"]))
    assert list(frame["end"]) == list(pd.to_datetime(["2025-11-23", "2025-11-30", "2025-12-07"]))
    assert list(frame["days"]) == [7, 7, 7]
    assert list(frame["unique_users"]) == [21, 21, 21]
    assert list(frame["new_users"]) == [7, 7, 7]
    assert list(frame["avg_returning_users_per_day"]) == [2.0, 2.0, 2.0]
    assert str(frame["unique_users"].dtype) == "Int64"
    assert frame.attrs["stream_id"] == "st-abc_1"
    params = [dict(r.url.params) for r in script.requests]
    assert sorted((p["start_date"], p["end_date"]) for p in params) == [
        ("2025-11-17", "2025-11-23"),
        ("2025-11-24", "2025-11-30"),
        ("2025-12-01", "2025-12-07"),
    ]
    assert {p["aggregation_type"] for p in params} == {"daily"}
    assert {p["conversationType"] for p in params} == {"Interactive"}


def test_fetch_weeks_reuses_closed_weeks_from_the_store(tmp_path):
    store = ResponseStore(tmp_path / "s.sqlite3")
    time = FakeTime()
    script = Script(default=daily_answer)
    client = make_client(script, time=time, store=store)
    client.fetch_weeks("st-abc_1", weeks=4)
    time.now += 7 * 86_400  # a week later: one new week to fetch
    frame = client.fetch_weeks("st-abc_1", weeks=4)
    assert list(frame["week"]) == ["2025-W47", "2025-W48", "2025-W49", "2025-W50"]
    assert script.count == 5


def test_fetch_weeks_end_week_and_zone():
    script = Script(default=daily_answer)
    client = make_client(script)
    frame = client.fetch_weeks("st-abc_1", weeks=2, end_week="2025-W01", tz="Asia/Kolkata")
    assert list(frame["week"]) == ["2024-W52", "2025-W01"]
    assert frame["start"].iloc[1] == pd.Timestamp("2024-12-30")
    assert {r.url.params["timeZoneOffset"] for r in script.requests} == {"Asia/Kolkata"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"end_week": "2025-W50"}, "end_week"),  # the current week: not complete
        ({"end_week": "2026-W01"}, "end_week"),  # the future
        ({"end_week": "2025-49"}, "end_week"),
        ({"end_week": "2025-W7"}, "end_week"),
        ({"end_week": "2025-W53"}, "end_week"),  # 2025 has 52 weeks
        ({"weeks": 0}, "weeks"),
        ({"tz": "Nowhere/City"}, "tz"),
        ({"conversation_status": "open"}, "conversation_status"),
        ({"aggregation": "hourly"}, "aggregation"),
    ],
)
def test_fetch_weeks_refuses_bad_arguments_before_any_request(kwargs, field):
    script = Script(default=daily_answer)
    with pytest.raises(InvalidQueryError) as info:
        make_client(script).fetch_weeks("st-abc_1", **kwargs)
    assert info.value.field == field
    assert script.count == 0


def test_fetch_weeks_raises_the_first_failure():
    script = Script(default=httpx.Response(403, json={"message": "scope missing"}))
    with pytest.raises(AuthError, match="scope missing"):
        make_client(script).fetch_weeks("st-abc_1", weeks=2)


def test_last_week_boundary_in_the_zone():
    # Monday 2025-12-08 03:00 UTC is still Sunday 2025-12-07 in America/New_York
    time = FakeTime(dt.datetime(2025, 12, 8, 3, tzinfo=dt.UTC).timestamp())
    client = make_client(daily_answer, time=time)
    assert client.fetch_weeks("st-1", weeks=1, tz="UTC")["week"].iloc[0] == "2025-W49"
    assert client.fetch_weeks("st-1", weeks=1, tz="America/New_York")["week"].iloc[0] == "2025-W48"


# -- lifecycle ------------------------------------------------------------------------------
def test_context_manager_closes_the_connection_pool():
    with make_client(Script(ok())) as client:
        fetch_dec(client)
    assert client.http.is_closed
    assert "platform.kore.ai" in repr(client) and SECRET not in repr(client)


@pytest.mark.parametrize(
    "kwargs",
    [{"timeout": 0}, {"max_retries": -1}, {"retry_budget": -1}, {"max_retries": 1.5}],
)
def test_invalid_settings_are_refused(kwargs):
    with pytest.raises(ConfigError):
        EngagementClient(HOST, store=False, **kwargs)


# -- over real HTTP (the demo platform on loopback) -----------------------------------------
def test_real_http_retries_a_dropped_connection_and_logs_no_secret(caplog):
    from engagement_kit.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, running_server

    caplog.set_level(logging.DEBUG)  # every logger, httpx/httpcore included
    time = FakeTime(_time.time())  # the server checks the token's exp against the real clock
    with running_server(script=["drop", "503", None]) as server:
        client = EngagementClient(
            server.url,
            credentials=Credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
            store=False,
            clock=time.clock,
            sleep=time.sleep,
            timeout=10,
        )
        with client:
            data = client.fetch("st-demo-it-de", "2025-11-01", "2025-11-07", tz="Europe/Berlin")
        assert server.stats.requests == 3
    assert client.host.startswith("http://127.0.0.1:")
    assert data.days == 7 and len(time.sleeps) == 2
    assert "send_request_headers" in caplog.text  # httpcore's trace was captured ...
    assert DEMO_CLIENT_SECRET not in caplog.text
    assert "eyJ" not in caplog.text  # ... and holds no JWT


# -- Tests that close the gaps mutation testing found in engagement_kit.client (see benchmarks/MUTATION.md).

HOST_2 = "https://platform.kore.ai"
NOW_2 = 1_765_368_000.0  # 2025-12-10 12:00 UTC


class FakeTime_2:
    def __init__(self) -> None:
        self.now = NOW_2

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


TOKEN = "header.payload.sig"


def mock_client(handler, *, time: FakeTime_2 | None = None, **kwargs) -> EngagementClient:
    """A client with no store that answers through ``handler``; time is injected."""
    time = time or FakeTime_2()
    kwargs.setdefault("clock", time.clock)
    kwargs.setdefault("sleep", time.sleep)
    return EngagementClient(
        HOST_2,
        credentials=Credentials(token=TOKEN),
        store=False,
        transport=httpx.MockTransport(handler),
        **kwargs,
    )


# -- an error body whose entries carry no text -----------------------------------------------
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"errors": [{"code": 4001}]}, '{"errors":[{"code":4001}]}'),  # the raw body
        ({"errors": [{"msg": None, "message": ""}]}, '{"errors":[{"msg":null,"message":""}]}'),
        ({"errors": [{"msg": {"en": "x"}}]}, '{"errors":[{"msg":{"en":"x"}}]}'),
        ({"errors": [None, 7, ["a"]]}, '{"errors":[null,7,["a"]]}'),
        ({"errors": [{"code": 1}], "message": "bad start_date"}, "bad start_date"),
        ({"errors": [{"code": 1}], "error_description": "expired"}, "expired"),
        ({"errors": [{"code": 1}, {"message": " second "}, "third"]}, "second; third"),
        ({"errors": {"msg": "not a list"}, "msg": "top"}, "top"),
        ("just words", "just words"),
        ([{"msg": "a list body"}], '[{"msg":"a list body"}]'),
    ],
)
def test_the_message_builder_never_crashes_on_odd_error_bodies(body, expected):
    response = httpx.Response(400, json=body)
    assert platform_message(response) == expected


def test_an_empty_error_body_falls_back_to_the_reason_phrase():
    assert platform_message(httpx.Response(502, content=b"")) == "Bad Gateway"
    assert platform_message(httpx.Response(599, content=b"")) == "no message"


def test_a_long_message_is_cut_with_an_ellipsis():
    text = platform_message(httpx.Response(400, json={"message": "x" * 1000}))
    assert len(text) == 300 and text.endswith("…")


@pytest.mark.parametrize("status", [400, 500])
def test_an_error_without_msg_reaches_the_user_as_an_api_error(status):
    body = {"errors": [{"code": 4001}]}
    client = mock_client(lambda request: httpx.Response(status, json=body), max_retries=0)
    with pytest.raises(ApiError) as info:
        client.fetch("st-1", "2025-12-01", "2025-12-05")
    assert info.value.status == status
    assert "4001" in info.value.message
    assert isinstance(info.value, ServerError) == (status == 500)


# -- the documented limits (60 a minute, 1,800 an hour) bound the defaults ----------------------
def test_the_defaults_stay_under_the_documented_limits():
    assert client_module.DEFAULT_REQUESTS_PER_MINUTE == 57 < 60
    assert client_module.DEFAULT_REQUESTS_PER_HOUR == 1750 < 1800
    client = EngagementClient(HOST_2, store=False)
    assert (client.rate_limiter.per_minute, client.rate_limiter.per_hour) == (57, 1750)


def test_the_default_limiter_never_sends_1800_in_an_hour():
    time = FakeTime_2()
    limiter = StreamRateLimiter(clock=time.clock, sleep=time.sleep)  # the defaults
    stamps = []
    for _ in range(1751):
        limiter.acquire("st-1")
        stamps.append(time.now)
    assert stamps[1749] < NOW_2 + 31 * 60  # 57 a minute: the 1,750th goes out in minute 31
    assert NOW_2 + 3600 <= stamps[1750] <= NOW_2 + 3600.01  # the 1,751st waits for the hour
    for i in range(57, 1751):
        assert stamps[i] - stamps[i - 57] >= 60  # never 58 in a rolling minute


# -- what the error of a failed request says -------------------------------------------------


def client_for(*responses: httpx.Response, time: FakeTime_2 | None = None, **kwargs):
    answers = list(responses)
    return mock_client(lambda request: answers.pop(0), time=time, **kwargs)


def fetch(client: EngagementClient):
    return client.fetch("st-1", "2025-12-01", "2025-12-05")


def test_an_echoed_token_is_replaced_by_a_placeholder():
    client = client_for(httpx.Response(400, json={"message": f"bad token {TOKEN} here"}))
    with pytest.raises(ApiError) as info:
        fetch(client)
    assert info.value.message == "bad token <token> here"


def test_the_error_says_how_many_attempts_were_made():
    client = client_for(
        httpx.Response(502, text="down"), httpx.Response(502, text="down"), max_retries=1
    )
    with pytest.raises(ServerError) as info:
        fetch(client)
    assert info.value.message == "down (after 2 attempts)"
    once = client_for(httpx.Response(503, text="down"), max_retries=0)
    with pytest.raises(ServerError) as info:
        fetch(once)
    assert info.value.message == "down"


def test_a_rate_limit_message_on_a_403_keeps_the_403_status():
    body = {"errors": [{"msg": "Rate limit for this API has been reached"}]}
    client = client_for(httpx.Response(403, json=body), max_retries=0)
    with pytest.raises(RateLimitError) as info:
        fetch(client)
    assert info.value.status == 403 and info.value.retry_after is None


@pytest.mark.parametrize("status", [300, 302, 307])
def test_a_redirect_is_an_api_error_naming_where_it_points(status):
    client = client_for(httpx.Response(status, headers={"location": "https://elsewhere.example"}))
    with pytest.raises(ApiError) as info:
        fetch(client)
    err = info.value
    assert type(err) is ApiError and err.status == status
    assert err.message == "unexpected redirect to https://elsewhere.example"
    assert err.hint.startswith("Check KORE_HOST: give the platform's API host")


def test_a_retry_after_date_without_a_zone_is_read_as_utc():
    when = email.utils.format_datetime(dt.datetime.fromtimestamp(NOW_2 + 30, dt.UTC))
    naive = when.replace("+0000", "-0000")  # "-0000": no zone information, per RFC 5322
    assert email.utils.parsedate_to_datetime(naive).tzinfo is None
    response = httpx.Response(429, headers={"retry-after": naive})
    assert retry_after_seconds(response, NOW_2) == pytest.approx(30)


def test_the_top_level_error_key_is_a_message_too():
    response = httpx.Response(401, json={"error": "invalid_client"})
    assert platform_message(response) == "invalid_client"


# -- the client's own arguments ----------------------------------------------------------------
def test_repr_names_the_host_and_the_store(tmp_path):
    store = ResponseStore(tmp_path / "r.sqlite3")
    assert repr(EngagementClient(HOST_2, store=store)) == (
        f"<EngagementClient {HOST_2} store={str(store.path)!r}>"
    )
    assert repr(EngagementClient(HOST_2, store=False)) == f"<EngagementClient {HOST_2} no store>"


def test_fetch_query_refuses_anything_but_a_query():
    with pytest.raises(TypeError, match="expected an EngagementQuery, got dict"):
        EngagementClient(HOST_2, store=False).fetch_query({"stream_id": "st-1"})


def test_fetch_many_names_a_bad_worker_count_and_a_bad_item():
    client = EngagementClient(HOST_2, store=False)
    with pytest.raises(ConfigError, match=r"^max_workers: 0 must be a whole number >= 1$"):
        client.fetch_many([], max_workers=0)
    (result,) = client.fetch_many([42])
    assert isinstance(result.error, InvalidQueryError)
    assert str(result.error).startswith("fetch_many: int is not a request")


def test_an_item_not_sent_after_a_failure_carries_no_url():
    client = client_for(httpx.Response(401, json={"message": "denied"}))
    first, second = client.fetch_many(
        [
            {"stream_id": "st-1", "start": "2025-12-01", "end": "2025-12-01"},
            {"stream_id": "st-1", "start": "2025-12-02", "end": "2025-12-02"},
        ],
        max_workers=1,
    )
    assert isinstance(first.error, AuthError) and "(POST " in str(first.error)
    assert isinstance(second.error, AuthError)
    assert second.error.url == "" and "(POST " not in str(second.error)
    assert second.error.message.startswith("not sent, because an earlier request")
    assert second.error.status == 401 and second.error.hint == first.error.hint


def test_bad_arguments_name_themselves():
    with pytest.raises(TypeError, match=r"^credentials must be a Credentials \(e\.g\."):
        EngagementClient(HOST_2, store=False, credentials="id:secret")
    with pytest.raises(ConfigError, match=r"^timeout: 0 must be a number >= 0\.001$"):
        EngagementClient(HOST_2, store=False, timeout=0)
    with pytest.raises(ConfigError, match=r"^max_days_per_request: 0 must be a whole number >= 1$"):
        EngagementClient(HOST_2, store=False, max_days_per_request=0)


def test_requests_ask_for_json():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"message": "no such stream"})

    with pytest.raises(ApiError):
        fetch(mock_client(handler))
    assert seen[0].headers["accept"] == "application/json"


def test_each_retry_is_logged_at_info_with_its_wait(caplog):
    caplog.set_level(logging.INFO, logger="engagement_kit.client")
    time = FakeTime_2()
    client = client_for(
        httpx.Response(503), httpx.Response(503), httpx.Response(404), time=time, max_retries=3
    )
    with pytest.raises(ApiError):
        fetch(client)
    retries = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(retries) == 2
    assert "HTTP 503; retrying in" in retries[0].getMessage()
    assert "(attempt 2 of 4)" in retries[0].getMessage()


def test_backoff_waits_grow_and_carry_jitter():
    time = FakeTime_2()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    answers = [httpx.Response(503)] * 4 + [httpx.Response(404)]
    client = mock_client(lambda request: answers.pop(0), time=time, sleep=sleep, max_retries=5)
    with pytest.raises(ApiError):
        fetch(client)
    assert len(waits) == 4
    for wait, base in zip(waits, (1, 2, 4, 8), strict=True):
        assert base <= wait <= base + 1  # exponential, plus up to 1 s of jitter
    assert any(wait != int(wait) for wait in waits)  # the jitter is there


def test_time_queued_for_the_rate_limiter_is_not_counted_as_spent_on_attempts():
    time = FakeTime_2()
    answers = [httpx.Response(404), httpx.ConnectError("refused")]

    def handler(request: httpx.Request) -> httpx.Response:
        step = answers.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    client = mock_client(handler, time=time, max_retries=0, requests_per_minute=1)
    with pytest.raises(ApiError):
        fetch(client)
    with pytest.raises(ApiConnectionError) as info:
        fetch(client)  # waits 60 s for the limiter, then fails at once
    assert time.now >= NOW_2 + 60
    assert "gave up after 1 attempt(s) in 0.0s" in str(info.value)


def test_fetch_weeks_columns_have_their_documented_dtypes():
    def handler(request: httpx.Request) -> httpx.Response:
        days = 7
        body = {
            "summary": {
                "uniqueUsers": 10,
                "newUsers": 3,
                "returningUsers": 8,
                "avgUniqueUsersPerDay": 10 / days,
                "avgNewUsersPerDay": 3 / days,
                "avgReturningUsersPerDay": 8 / days,
            },
            "filters": {},
        }
        start = dt.date.fromisoformat(request.url.params["start_date"])
        for key in ("uniqueUsersTrend", "newUsersTrend", "returningUsersTrend"):
            body[key] = {
                "dataPoints": [
                    {"date": format_api_date(start + dt.timedelta(days=i)), "users": 1}
                    for i in range(days)
                ]
            }
        return httpx.Response(200, json=body)

    weeks = mock_client(handler).fetch_weeks("st-1", weeks=2, end_week="2025-W49")
    assert str(weeks["days"].dtype) == "int64" and weeks["days"].tolist() == [7, 7]
    for name in ("unique_users", "new_users", "returning_users"):
        assert str(weeks[name].dtype) == "Int64", name
    for name in ("avg_unique_users_per_day", "avg_new_users_per_day"):
        assert str(weeks[name].dtype) == "Float64", name
    assert weeks["avg_new_users_per_day"].tolist() == [3 / 7, 3 / 7]


def test_fetch_many_never_uses_more_threads_than_max_workers():
    threads: set[str] = set()
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            threads.add(threading.current_thread().name)
        return httpx.Response(404, json={"message": "no such stream"})

    client = mock_client(handler)
    requests = [
        {"stream_id": f"st-{i}", "start": "2025-12-01", "end": "2025-12-01"} for i in range(8)
    ]
    results = client.fetch_many(requests, max_workers=2)
    assert len(results) == 8 and not any(r.ok for r in results)
    assert 1 <= len(threads) <= 2


def test_a_closed_port_fails_after_a_short_bounded_wait_and_says_so_as_it_waits():
    """A closed port used to be retried silently for the whole budget (34 s); now it is tried
    for at most REFUSED_BUDGET seconds, each wait announced, and the error names the fix."""
    from engagement_kit.client.retry import REFUSED_BUDGET

    time = FakeTime()
    script = Script(default=httpx.ConnectError("[Errno 111] Connection refused"))
    client = make_client(script, time=time, max_retries=10)
    said: list[str] = []
    client.retry_notice = said.append
    with pytest.raises(ApiConnectionError) as info:
        fetch_dec(client)
    assert sum(time.sleeps) <= REFUSED_BUDGET  # seconds waited before giving up
    assert 2 <= script.count < 11
    assert said and all(s.startswith("waiting: https://platform.kore.ai") for s in said)
    assert "retrying in" in said[0] and "attempt 2 of 11" in said[0]
    text = str(info.value)
    assert "connection refused" in text and "check the port and the scheme of KORE_HOST" in text
    assert "POST" not in text  # no request URL in the sentence


def test_https_to_a_plain_http_server_fails_at_once_with_the_hint():
    script = Script(
        default=httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
    )
    with pytest.raises(ApiConnectionError) as info:
        fetch_dec(make_client(script, max_retries=5))
    assert script.count == 1
    assert "is KORE_HOST plain http?" in str(info.value)


def test_a_short_secret_prints_no_third_party_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PyJWT's InsecureKeyLengthWarning would raise here
        token = Credentials(CLIENT_ID, "short").token(now=1_700_000_000)
    assert token.count(".") == 2
