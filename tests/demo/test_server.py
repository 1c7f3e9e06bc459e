"""The loopback demo server: the same bytes as in-process, faults that do what they say, and a
clean stop. Every server here is bound to 127.0.0.1, bounded by a ``with`` block."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import threading
import time

import httpx
import jwt
import pytest

from engagement_kit.demo import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_HOST,
    FAULT_KINDS,
    RATE_LIMIT_MESSAGE,
    DemoPlatform,
    DemoServer,
    running_server,
    serve,
)

NOW = dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC).timestamp()
PATH = "/api/public/bot/st-demo-it-de/v2/userEngagementTrend"
PARAMS = {"start_date": "2025-12-01", "end_date": "2025-12-07", "aggregation_type": "daily"}
TOKEN = jwt.encode({"sub": "t", "appId": DEMO_CLIENT_ID}, DEMO_CLIENT_SECRET, algorithm="HS256")
AUTH = {"auth": TOKEN}


@pytest.fixture
def platform() -> DemoPlatform:
    return DemoPlatform(lambda: NOW, rate_limit=False)


def in_process(platform: DemoPlatform) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(platform.handle), base_url=DEMO_HOST)


def over_http(server: DemoServer, **kwargs) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=kwargs.pop("timeout", 10), **kwargs)


@pytest.mark.parametrize(
    ("path", "params", "headers"),
    [
        (PATH, PARAMS, AUTH),
        (PATH, {**PARAMS, "aggregation_type": "Hourly", "timeZoneOffset": "Europe/Berlin"}, AUTH),
        (PATH, {**PARAMS, "channels": "slack,rtm", "conversationType": "non interactive"}, AUTH),
        (PATH, {"start_date": "2025-12-01"}, AUTH),
        (PATH, PARAMS, {}),
        ("/api/public/bot/st-nope/v2/userEngagementTrend", PARAMS, AUTH),
    ],
)
def test_same_bytes_as_in_process(platform, path, params, headers):
    local = in_process(platform).post(path, params=params, headers=headers)
    with running_server(platform=platform) as server, over_http(server) as http:
        remote = http.post(path, params=params, headers=headers)
    assert remote.status_code == local.status_code
    assert remote.content == local.content
    assert remote.headers["content-type"] == local.headers["content-type"] == "application/json"


def test_get_is_405_over_http_too(platform):
    with running_server(platform=platform) as server, over_http(server) as http:
        response = http.get(PATH, params=PARAMS, headers=AUTH)
    assert response.status_code == 405
    assert response.json()["errors"][0]["code"] == 405


def test_url_is_loopback_and_stats_count(platform):
    with running_server(platform=platform) as server, over_http(server) as http:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        assert server.platform is platform
        http.post(PATH, params=PARAMS, headers=AUTH)
        http.post(PATH, params=PARAMS)
        assert server.stats.requests == 2
        assert server.stats.by_status == {200: 1, 401: 1}
        assert "requests=2" in repr(server.stats)


def test_rate_limit_429s_are_counted():
    limited = DemoPlatform(lambda: NOW, per_minute=2, per_hour=None)
    with running_server(platform=limited) as server, over_http(server) as http:
        codes = [http.post(PATH, params=PARAMS, headers=AUTH).status_code for _ in range(4)]
        assert codes == [200, 200, 429, 429]
        assert server.stats.count(429) == 2
        assert server.stats.count(200) == 2


# -- faults -----------------------------------------------------------------------------------


def test_503(platform):
    with running_server(platform=platform, script=["503"]) as server, over_http(server) as http:
        first = http.post(PATH, params=PARAMS, headers=AUTH)
        second = http.post(PATH, params=PARAMS, headers=AUTH)
        assert first.status_code == 503
        assert first.json()["errors"][0]["code"] == 503
        assert second.status_code == 200
        assert server.stats.faults == {"503": 1}


def test_429_burst(platform):
    with (
        running_server(platform=platform, script=["429"], burst_429=3) as server,
        over_http(server) as http,
    ):
        codes = [http.post(PATH, params=PARAMS, headers=AUTH) for _ in range(4)]
        assert [r.status_code for r in codes] == [429, 429, 429, 200]
        assert codes[0].json()["errors"][0]["msg"] == RATE_LIMIT_MESSAGE
        assert "retry-after" not in codes[0].headers
        assert server.stats.count(429) == 3


def test_429_with_retry_after(platform):
    with (
        running_server(platform=platform, script=["429_retry_after"], retry_after=7) as server,
        over_http(server) as http,
    ):
        response = http.post(PATH, params=PARAMS, headers=AUTH)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "7"
        assert response.headers["content-type"] == "application/json"


def test_slow_answer_times_out_the_client(platform):
    with (
        running_server(platform=platform, script=["slow"], slow_seconds=5) as server,
        over_http(server, timeout=0.2) as http,
    ):
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            http.post(PATH, params=PARAMS, headers=AUTH)
        assert time.monotonic() - started < 2
    # stop() ended the slow wait at once rather than after 5 s
    assert time.monotonic() - started < 3


def test_dropped_connection(platform):
    with running_server(platform=platform, script=["drop"]) as server, over_http(server) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.post(PATH, params=PARAMS, headers=AUTH)
        assert http.post(PATH, params=PARAMS, headers=AUTH).status_code == 200
        assert server.stats.dropped == 1


def test_truncated_body(platform):
    full = in_process(platform).post(PATH, params=PARAMS, headers=AUTH).content
    with running_server(platform=platform, script=["truncated"]) as server, over_http(server) as h:
        response = h.post(PATH, params=PARAMS, headers=AUTH)
    assert response.status_code == 200
    assert response.content == full[: len(full) // 2]
    with pytest.raises(json.JSONDecodeError):
        response.json()


@pytest.mark.parametrize(
    ("fault", "status", "content_type"),
    [
        ("not_json", 200, "application/json"),
        ("html_200", 200, "text/html"),
        ("html_502", 502, "text/html"),
    ],
)
def test_answers_that_are_not_json(platform, fault, status, content_type):
    with running_server(platform=platform, script=[fault]) as server, over_http(server) as http:
        response = http.post(PATH, params=PARAMS, headers=AUTH)
    assert response.status_code == status
    assert response.headers["content-type"] == content_type
    with pytest.raises(json.JSONDecodeError):
        response.json()
    if fault.startswith("html"):
        assert response.text.lower().startswith(("<!doctype html", "<html"))


def test_wrong_content_type(platform):
    full = in_process(platform).post(PATH, params=PARAMS, headers=AUTH).content
    with (
        running_server(platform=platform, script=["wrong_content_type"]) as server,
        over_http(server) as http,
    ):
        response = http.post(PATH, params=PARAMS, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.content == full


def test_random_faults_follow_the_seed(platform):
    def statuses(seed: int) -> list[int]:
        with (
            running_server(platform=platform, fault_rate=0.5, faults=["503"], seed=seed) as srv,
            over_http(srv) as http,
        ):
            codes = [http.post(PATH, params=PARAMS, headers=AUTH).status_code for _ in range(12)]
            assert srv.stats.count(503) == codes.count(503)
            return codes

    first = statuses(11)
    assert first == statuses(11)  # same seed, same faults
    assert 0 < first.count(503) < 12
    assert statuses(12) != first


def test_latency_is_added(platform):
    with running_server(platform=platform, latency_ms=150) as server, over_http(server) as http:
        started = time.monotonic()
        assert http.post(PATH, params=PARAMS, headers=AUTH).status_code == 200
        assert time.monotonic() - started >= 0.15


def test_options_are_checked():
    with pytest.raises(ValueError, match="unknown fault kind 'teapot'"):
        DemoServer(faults=["teapot"])
    with pytest.raises(ValueError, match="unknown fault kind"):
        DemoServer(script=["503", "boom"])
    with pytest.raises(ValueError, match="between 0 and 1"):
        DemoServer(fault_rate=1.5)
    with pytest.raises(ValueError, match="at least one fault kind"):
        DemoServer(fault_rate=0.1, faults=[])
    assert set(FAULT_KINDS) >= {"503", "slow", "drop", "429", "truncated", "not_json"}
    with pytest.raises(RuntimeError, match="not running"):
        DemoServer().url  # noqa: B018


# -- stopping ---------------------------------------------------------------------------------


def _server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "engagement-kit-demo-server"]


def test_stops_cleanly_even_with_an_idle_keep_alive_connection(platform):
    before = set(threading.enumerate())
    with running_server(platform=platform) as server:
        port = int(server.url.rsplit(":", 1)[1])
        http = over_http(server)
        assert http.post(PATH, params=PARAMS, headers=AUTH).status_code == 200
        started = time.monotonic()
    assert time.monotonic() - started < 2  # the idle connection did not hold it up
    assert not _server_threads()
    assert set(threading.enumerate()) <= before
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 1):
        pass
    with pytest.raises(httpx.TransportError):
        http.post(PATH, params=PARAMS, headers=AUTH)
    http.close()


def test_serve_prints_what_to_use_and_stops(platform):
    lines: list[str] = []
    stop = threading.Event()
    result = {}
    thread = threading.Thread(
        target=lambda: result.update(
            stats=serve(
                # seed 0: the first draw (0.84) is no fault, so the one request below is
                # answered; unseeded, one run in ten failed on an injected fault
                0,
                platform=platform,
                echo=lines.append,
                stop=stop,
                fault_rate=0.1,
                seed=0,
            )
        )
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not any("KORE_CLIENT_SECRET" in line for line in lines):
            assert time.monotonic() < deadline, lines
            time.sleep(0.01)
        url = re.search(r"KORE_HOST=(\S+)", "\n".join(lines))[1]
        assert url.startswith("http://127.0.0.1:")
        assert f"KORE_CLIENT_ID={DEMO_CLIENT_ID}" in lines[2]
        assert f"KORE_CLIENT_SECRET={DEMO_CLIENT_SECRET}" in lines[3]
        assert "st-demo-retail-in" in lines[4]
        assert "10%" in lines[5]
        assert "max days per request" in lines[6] and "overlap off" in lines[6]
        with httpx.Client(base_url=url, timeout=10) as http:
            http.get("/")
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert result["stats"].requests == 1
    assert lines[-1] == "Stopped after 1 requests."


def test_the_toolkit_client_retries_through_faults(platform):
    from engagement_kit.client import EngagementClient
    from engagement_kit.client.auth import Credentials

    waits: list[float] = []
    with running_server(platform=platform, script=["503", "drop", "html_502", "429"]) as server:
        client = EngagementClient(
            server.url,
            credentials=Credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
            store=False,
            max_retries=8,
            sleep=waits.append,
        )
        with client:
            data = client.fetch("st-demo-it-de", "2025-12-01", "2025-12-07")
        assert server.stats.count(200) == 1
        assert server.stats.requests == 7  # 503, drop, 502, three 429s, then the answer
    direct = in_process(platform).post(PATH, params=PARAMS, headers=AUTH).json()
    assert data.wide()["unique"].tolist() == [
        p["users"] for p in direct["uniqueUsersTrend"]["dataPoints"]
    ]
    assert len(waits) >= 5 and min(waits) > 0  # it backed off (on an injected sleep)
