"""The shared fixtures of ``tests/conftest.py`` do what they say, and tests use them instead of
their own copies (a free port, a demo client standing still, the demo platform over HTTP)."""

from __future__ import annotations

import re
import socket

import httpx

from tests.builders import REPO


def test_free_port_can_be_bound_on_loopback(free_port):
    with socket.socket() as s:
        s.bind(("127.0.0.1", free_port))  # free now: nobody else holds it


def test_demo_at_stands_still_never_waits_and_closes(demo_at):
    now = 1_764_000_000.0
    client = demo_at(now)
    assert client.clock() == now and client.now().timestamp() == now
    assert client.store is None  # no store unless asked for
    assert client.rate_limiter.per_minute is None and client.rate_limiter.per_hour is None
    data = client.fetch("st-demo-retail-in", "2025-11-01", "2025-11-07", tz="Asia/Kolkata")
    assert int(data.summary["unique_users"]) > 0


def test_demo_server_serves_the_demo_platform_over_http(demo_server):
    assert demo_server.url.startswith("http://127.0.0.1:")
    answer = httpx.get(demo_server.url + "/nothing-here", timeout=10)
    assert answer.status_code == 404
    assert demo_server.stats.requests == 1


def test_no_test_keeps_its_own_free_port_helper():
    own = [
        path.relative_to(REPO).as_posix()
        for path in (REPO / "tests").rglob("*.py")
        if re.search(r"^def _?free_port\(", path.read_text(encoding="utf-8"), re.M)
        and path.name not in ("builders.py", "conftest.py")  # the shared helper and fixture
    ]
    assert own == []
