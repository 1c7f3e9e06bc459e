"""The dashboard serves only its own origin (issue 22.4): a foreign ``Host`` or ``Origin`` gets
403 on the page, its files and the kernel websocket, against a real running dashboard."""

from __future__ import annotations

import base64
import os
import re
import socket

import pytest

from engagement_kit.explorer.dashboard import running_dashboard, voila_command
from engagement_kit.explorer.origin import host_allowed, origin_allowed, request_allowed

PORT = 8866


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:8866", "localhost:8866", "[::1]:8866", "localhost", "LOCALHOST:8866", "127.0.0.1"],
)
def test_its_own_addresses_are_allowed(host):
    assert host_allowed(host, PORT)


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:8866",  # DNS rebinding: the attacker's name, resolving to 127.0.0.1
        "evil.example",
        "127.0.0.1.evil.example:8866",
        "localhost.evil.example",
        "127.0.0.1:9999",  # another port: another server's page
        "10.0.0.5:8866",
        "",
        None,
        "127.0.0.1:8866@evil",
        "[::1",
    ],
)
def test_any_other_host_is_refused(host):
    assert not host_allowed(host, PORT)


def test_an_origin_must_be_exactly_this_dashboard():
    assert origin_allowed(None, PORT)  # same-site navigation sends none
    assert origin_allowed("http://127.0.0.1:8866", PORT)
    assert origin_allowed("http://localhost:8866", PORT)
    for origin in (
        "http://evil.example:8866",
        "http://localhost:3000",  # another local app's page
        "https://127.0.0.1:8866",
        "null",
        "http://127.0.0.1",
        "",
    ):
        assert not origin_allowed(origin, PORT), origin
    assert not request_allowed({"Host": "127.0.0.1:8866", "Origin": "http://evil.example"}, PORT)
    assert request_allowed({"Host": "127.0.0.1:8866", "Origin": "http://127.0.0.1:8866"}, PORT)


def test_voila_starts_behind_the_guard_for_its_port(tmp_path):
    code = voila_command(tmp_path / "app.ipynb", port=8870)[2]
    assert "m.protect(8870)" in code and "origin.py" in code
    assert code.index("m.protect") < code.index("from voila.app import main")


def _status(port: int, path: str, host: str, origin: str | None = None, ws: bool = False) -> int:
    """The status code of one raw HTTP/1.1 request (so any Host can be sent)."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}"]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    if ws:
        key = base64.b64encode(os.urandom(16)).decode()
        lines += [
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
    with socket.create_connection(("127.0.0.1", port), timeout=90) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                break
            head += chunk
    return int(head.split(b" ", 2)[1])


@pytest.mark.slow
def test_a_running_dashboard_refuses_a_foreign_host_and_origin_on_page_and_websocket(tmp_path):
    import httpx

    env = {"ENGAGEMENT_KIT_STORE": str(tmp_path / "store.sqlite3")}
    with running_dashboard(env=env, timeout=90, demo=True) as running:
        port = running.port
        own = f"127.0.0.1:{port}"
        with httpx.Client(trust_env=False, timeout=90) as client:
            page = client.get(running.url)
        assert page.status_code == 200
        (kernel,) = set(re.findall(r'"kernelId": "([0-9a-f-]{36})"', page.text))
        channels = f"/api/kernels/{kernel}/channels"
        evil = f"evil.example:{port}"

        assert _status(port, "/", evil) == 403  # the page
        assert _status(port, "/voila/static/voila.js", own) == 200
        assert _status(port, "/voila/static/voila.js", evil) == 403  # its files
        assert _status(port, "/", own, origin=f"http://{evil}") == 403
        assert _status(port, "/", f"localhost:{port}") == 200

        # the kernel websocket: its own origin upgrades (101), any other gets 403
        assert _status(port, channels, own, origin=f"http://{own}", ws=True) == 101
        assert _status(port, channels, evil, origin=f"http://{evil}", ws=True) == 403
        assert _status(port, channels, own, origin=f"http://{evil}", ws=True) == 403
        assert _status(port, channels, own, origin="http://localhost:3000", ws=True) == 403
        assert _status(port, f"/voila/query/{kernel}", evil, ws=True) == 403
