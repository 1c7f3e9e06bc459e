"""Tests that close the gaps mutation testing found in engagement_kit.client (see benchmarks/MUTATION.md)."""

from __future__ import annotations

import httpx
import pytest

from engagement_kit import client as client_module
from engagement_kit.auth import Credentials
from engagement_kit.client import EngagementClient, StreamRateLimiter, _platform_message
from engagement_kit.errors import ApiError, ServerError

HOST = "https://platform.kore.ai"
NOW = 1_765_368_000.0  # 2025-12-10 12:00 UTC


class FakeTime:
    def __init__(self) -> None:
        self.now = NOW

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


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
    client = EngagementClient(
        HOST,
        credentials=Credentials(token="header.payload.sig"),
        store=False,
        max_retries=0,
        transport=httpx.MockTransport(lambda request: httpx.Response(status, json=body)),
    )
    with pytest.raises(ApiError) as info:
        client.fetch("st-1", "2025-12-01", "2025-12-05")
    assert info.value.status == status
    assert "4001" in info.value.message
    assert isinstance(info.value, ServerError) == (status == 500)


# -- the documented hourly limit (1,800) is the default ------------------------------------------
def test_the_documented_limits_are_the_defaults():
    assert client_module.DEFAULT_REQUESTS_PER_MINUTE == 60
    assert client_module.DEFAULT_REQUESTS_PER_HOUR == 1800
    client = EngagementClient(HOST, store=False)
    assert (client.rate_limiter.per_minute, client.rate_limiter.per_hour) == (60, 1800)


def test_the_default_limiter_lets_1800_through_in_an_hour_and_holds_the_1801st():
    time = FakeTime()
    limiter = StreamRateLimiter(clock=time.clock, sleep=time.sleep)  # the defaults
    stamps = []
    for _ in range(1801):
        limiter.acquire("st-1")
        stamps.append(time.now)
    assert stamps[1799] < NOW + 30 * 60  # 60 a minute: the 1,800th goes out in minute 30
    assert NOW + 3600 <= stamps[1800] <= NOW + 3600.01  # the 1,801st waits for the hour
