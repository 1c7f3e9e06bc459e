"""Tests that close the gaps mutation testing found in engagement_kit.client (see benchmarks/MUTATION.md)."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import threading

import httpx
import pytest

from engagement_kit import client as client_module
from engagement_kit.client import EngagementClient, StreamRateLimiter
from engagement_kit.client.auth import Credentials
from engagement_kit.client.http_status import _platform_message, _retry_after
from engagement_kit.errors import (
    ApiConnectionError,
    ApiError,
    AuthError,
    ConfigError,
    InvalidQueryError,
    RateLimitError,
    ServerError,
)
from engagement_kit.store import ResponseStore
from engagement_kit.tidy import format_api_date

HOST = "https://platform.kore.ai"
NOW = 1_765_368_000.0  # 2025-12-10 12:00 UTC


class FakeTime:
    def __init__(self) -> None:
        self.now = NOW

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


TOKEN = "header.payload.sig"


def mock_client(handler, *, time: FakeTime | None = None, **kwargs) -> EngagementClient:
    """A client with no store that answers through ``handler``; time is injected."""
    time = time or FakeTime()
    kwargs.setdefault("clock", time.clock)
    kwargs.setdefault("sleep", time.sleep)
    return EngagementClient(
        HOST,
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
    assert _platform_message(response) == expected


def test_an_empty_error_body_falls_back_to_the_reason_phrase():
    assert _platform_message(httpx.Response(502, content=b"")) == "Bad Gateway"
    assert _platform_message(httpx.Response(599, content=b"")) == "no message"


def test_a_long_message_is_cut_with_an_ellipsis():
    text = _platform_message(httpx.Response(400, json={"message": "x" * 1000}))
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
    client = EngagementClient(HOST, store=False)
    assert (client.rate_limiter.per_minute, client.rate_limiter.per_hour) == (57, 1750)


def test_the_default_limiter_never_sends_1800_in_an_hour():
    time = FakeTime()
    limiter = StreamRateLimiter(clock=time.clock, sleep=time.sleep)  # the defaults
    stamps = []
    for _ in range(1751):
        limiter.acquire("st-1")
        stamps.append(time.now)
    assert stamps[1749] < NOW + 31 * 60  # 57 a minute: the 1,750th goes out in minute 31
    assert NOW + 3600 <= stamps[1750] <= NOW + 3600.01  # the 1,751st waits for the hour
    for i in range(57, 1751):
        assert stamps[i] - stamps[i - 57] >= 60  # never 58 in a rolling minute


# -- what the error of a failed request says -------------------------------------------------


def client_for(*responses: httpx.Response, time: FakeTime | None = None, **kwargs):
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
    when = email.utils.format_datetime(dt.datetime.fromtimestamp(NOW + 30, dt.UTC))
    naive = when.replace("+0000", "-0000")  # "-0000": no zone information, per RFC 5322
    assert email.utils.parsedate_to_datetime(naive).tzinfo is None
    response = httpx.Response(429, headers={"retry-after": naive})
    assert _retry_after(response, NOW) == pytest.approx(30)


def test_the_top_level_error_key_is_a_message_too():
    response = httpx.Response(401, json={"error": "invalid_client"})
    assert _platform_message(response) == "invalid_client"


# -- the client's own arguments ----------------------------------------------------------------
def test_repr_names_the_host_and_the_store(tmp_path):
    store = ResponseStore(tmp_path / "r.sqlite3")
    assert repr(EngagementClient(HOST, store=store)) == (
        f"<EngagementClient {HOST} store={str(store.path)!r}>"
    )
    assert repr(EngagementClient(HOST, store=False)) == f"<EngagementClient {HOST} no store>"


def test_fetch_query_refuses_anything_but_a_query():
    with pytest.raises(TypeError, match="expected an EngagementQuery, got dict"):
        EngagementClient(HOST, store=False).fetch_query({"stream_id": "st-1"})


def test_fetch_many_names_a_bad_worker_count_and_a_bad_item():
    client = EngagementClient(HOST, store=False)
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
        EngagementClient(HOST, store=False, credentials="id:secret")
    with pytest.raises(ConfigError, match=r"^timeout: 0 must be a number >= 0\.001$"):
        EngagementClient(HOST, store=False, timeout=0)
    with pytest.raises(ConfigError, match=r"^max_days_per_request: 0 must be a whole number >= 1$"):
        EngagementClient(HOST, store=False, max_days_per_request=0)


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
    time = FakeTime()
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
    time = FakeTime()
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
    time = FakeTime()
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
    assert time.now >= NOW + 60
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
