"""Hostile input and secrets: what an attacker, a typo or a tampered file can put in.

* Stream ids with ``../``, ``/``, ``%2e%2e``, NUL, markup or thousands of characters are refused
  (``InvalidQueryError``) by the query, the client, ``fetch_many``/``fetch_weeks``, the report's
  data loader and the explorer, before any request; ``streams.toml`` refuses them with a
  ``ConfigError`` naming the field. Display names are free text: they become safe folder names
  and are escaped in every HTML page (checked here for the explorer and the index, and in
  ``test_reliability_reports.py`` for real report pages).
* Plain ``http://`` is refused for every spelling of a non-loopback host; TLS verification is on
  in the client the toolkit builds, and a self-signed certificate really is refused.
* A canary client secret, a canary ready-made token and every token minted from the secret go
  through the explorer, the client, the store, the CLI and failed runs (refused credentials,
  a platform that echoes the token, an unreachable host), with DEBUG logs of ``engagement_kit``,
  ``httpx`` and ``httpcore`` captured: none of them appears in any log line, message, widget
  state or byte of any file written.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from engagement_kit.client import EngagementClient
from engagement_kit.client.auth import Credentials
from engagement_kit.config.query import EngagementQuery
from engagement_kit.config.streams import StreamConfig, host_from_env, load_streams
from engagement_kit.demo import DEMO_STREAMS, DemoPlatform, running_server
from engagement_kit.demo.platform import error_response
from engagement_kit.errors import (
    ApiConnectionError,
    AuthError,
    ConfigError,
    EngagementError,
    InvalidQueryError,
)
from engagement_kit.report import load_weekly, write_index
from engagement_kit.store import ResponseStore
from engagement_kit.store.files import stream_slug

HOSTILE_IDS = [
    "../../etc/passwd",
    "..",
    "a/b",
    "/abs",
    "st-1/../st-2",
    "%2e%2e",
    "%2e%2e%2fetc",
    "st\x00id",
    "st-1\x00",
    "x" * 129,
    "y" * 100_000,
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "st-1\n",
    "st 1",
    "st-1?x=1",
    "st-1#frag",
    "st-1;rm -rf /",
    "\uff53\uff54-1",  # full-width letters
    "st-1\u202e",  # right-to-left override
    "st.1",
    "",
]
HOSTILE_NAMES = [
    "<script>alert('name')</script>",
    "../../outside",
    "/etc/cron.d/x",
    "%2e%2e%2f%2e%2e",
    "nul\x00byte",
    "z" * 5000,
    '"><img src=x onerror=alert(1)>',
    "..",
    "\u202eevil",
]
NON_LOOPBACK_HTTP = [
    "http://platform.kore.ai",
    "HTTP://PLATFORM.KORE.AI",
    " http://example.com ",
    "http://127.0.0.1.nip.io",
    "http://localhost.evil.com",
    "http://localhost.",
    "http://[::ffff:8.8.8.8]",
    "http://0.0.0.0",
    "http://2130706433",
    "http://127.1",
    "http://0x7f.0.0.1",
    "http://\uff11\uff12\uff17.0.0.1",
    "http://localhost@evil.com",
    "http://127.0.0.1:80@evil.com",
    "http://127.0.0.1\\@evil.com",
    "http://evil.com#@127.0.0.1",
    "http://127.0.0.1?@evil.com",
    "http://127.0.0.1\t.evil.com",
    "http://127.0.0.1%00.evil.com",
    "//evil.com",
    "ftp://127.0.0.1",
    "file:///etc/passwd",
    "javascript:alert(1)",
]
STREAM = DEMO_STREAMS[2]  # the small Berlin stream: cheap answers
NOW = dt.datetime(2025, 12, 10, 12, tzinfo=dt.UTC).timestamp()
TODAY = dt.date(2025, 12, 10)


class Counting:
    """A MockTransport handler that counts requests and answers 500 (none should arrive)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(500)


def counting_client() -> tuple[EngagementClient, Counting]:
    handler = Counting()
    client = EngagementClient(
        "https://platform.kore.ai",
        credentials=Credentials("cs-x", "not-a-secret"),
        store=False,
        transport=httpx.MockTransport(handler),
    )
    return client, handler


# -- hostile stream ids ------------------------------------------------------------------------
@pytest.mark.parametrize("stream_id", HOSTILE_IDS, ids=lambda v: repr(v)[:30])
def test_a_hostile_stream_id_is_refused_everywhere_before_any_request(stream_id, tmp_path):
    with pytest.raises(InvalidQueryError) as info:
        EngagementQuery(stream_id=stream_id, start="2025-12-01", end="2025-12-07")
    assert info.value.field == "stream_id"
    message = str(info.value)
    assert "\x00" not in message and "\n" not in message and len(message) < 400

    client, handler = counting_client()
    with pytest.raises(InvalidQueryError):
        client.fetch(stream_id, "2025-12-01", "2025-12-07")
    with pytest.raises(InvalidQueryError):
        client.fetch_weeks(stream_id, 2, end_week="2025-W48")
    [result] = client.fetch_many([{"stream_id": stream_id, "start": TODAY, "end": TODAY}])
    assert isinstance(result.error, InvalidQueryError)
    with pytest.raises(InvalidQueryError):
        load_weekly(stream_id, "2025-W48", client=client)
    assert handler.requests == []

    with pytest.raises(ConfigError, match="field id"):
        StreamConfig(id=stream_id, name="x", tz="UTC")
    toml = tmp_path / "streams.toml"
    toml.write_text(
        f'[[stream]]\nid = {json.dumps(stream_id)}\nname = "x"\ntz = "UTC"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="field id"):
        load_streams(toml)


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda v: repr(v)[:30])
def test_a_hostile_display_name_becomes_a_plain_folder_name(name):
    slug = stream_slug(name, "st-demo-it-de")
    assert slug and len(slug) <= 60
    assert set(slug) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert slug not in (".", "..") and not slug.startswith("-")
    StreamConfig(id="st-1", name=name, tz="UTC")  # names are free text


def test_the_index_escapes_every_text_and_links_nowhere_outside(tmp_path):
    """Sidecars and error files written by someone else: markup in every field."""
    out = tmp_path / "reports"
    evil = "<script>alert('x')</script>"
    (out / "good").mkdir(parents=True)
    (out / "good" / "2025-W48.json").write_text(
        json.dumps(
            {
                "stream_id": evil,
                "stream_name": evil,
                "week": "2025-W48",
                "start": "<b>start</b>",
                "end": '"><img src=x onerror=alert(1)>',
                "tz": evil,
                "kpis": {"unique_users": evil, "new_users": 3, "returning_users": None},
                "change": {"unique_users": {"pct_change": 0.25}},
                "checks": [{"level": "warning", "message": evil}],
                "anomalies": [evil],
                "generated_at": evil,
            }
        ),
        encoding="utf-8",
    )
    (out / "good" / "2025-W47.error.json").write_text(
        json.dumps(
            {
                "stream_id": "st-1",
                "stream_name": "</td></tr><script>alert(2)</script>",
                "week": "2025-W47",
                "error": evil,
                "failed_at": evil,
                "notebook": "../../secret.txt",
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "secret.txt").write_text("not for the index")
    # folders that are not slugs are never listed (markup, dots, spaces)
    for odd in ("<b>x", "..hidden", "Upper Case"):
        (out / odd).mkdir()
        (out / odd / "2025-W48.json").write_text(json.dumps({"stream_name": evil}))
    before = sorted(p for p in tmp_path.rglob("*"))

    page = write_index(out).read_text(encoding="utf-8")

    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(" in page  # shown, as text
    assert page.count('class="stream-row"') == 2  # W48 report + W47 failure, odd folders skipped
    after = sorted(p for p in tmp_path.rglob("*"))
    history = out / "good" / "history"
    catalogue = out / "_catalogue"
    assert [p for p in after if p not in before] == sorted(
        [out / "index.html", catalogue, catalogue / "_index.json", catalogue / "good.json"]
        + [history, history / "index.html", history / "2025.html"]
        + [out / "portfolio.html", out / "portfolio.json"]
    )
    portfolio = (out / "portfolio.html").read_text(encoding="utf-8")
    assert "<script>alert" not in portfolio and "<img" not in portfolio and "<b>" not in portfolio
    for extra in (history / "index.html", history / "2025.html"):  # escaped as the index is
        text = extra.read_text(encoding="utf-8")
        assert "<script>" not in text and "<img" not in text and "<b>" not in text, extra
        assert "&lt;script&gt;alert(" in text and text.count('class="stream-row"') == 2


def test_the_index_never_links_a_failed_notebook_outside_the_streams_folder(tmp_path):
    out = tmp_path / "reports"
    (out / "bot").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("not for the index")
    (out / "bot" / "2025-W47.error.json").write_text(
        json.dumps({"stream_name": "Bot", "error": "boom", "notebook": "../../secret.txt"})
    )
    page = write_index(out).read_text(encoding="utf-8")
    assert "Failed" in page and "boom" in page
    assert "secret.txt" not in page


def test_the_explorer_escapes_a_hostile_name_and_refuses_a_hostile_id(tmp_path):
    from engagement_kit.explorer import Explorer

    client, handler = counting_client()
    streams = [
        {"id": "<script>alert(1)</script>", "name": "<img src=x onerror=alert(1)>", "tz": "UTC"},
    ]
    # the picker's entries are validated like streams.toml: a hostile id is refused up front
    with pytest.raises(InvalidQueryError, match="not a valid stream id"):
        Explorer(client, streams=streams, today=TODAY, background=False)
    hostile_name = [{**streams[0], "id": "st-x"}]
    explorer = Explorer(client, streams=hostile_name, today=TODAY, background=False)
    explorer.start.value = explorer.end.value + dt.timedelta(days=2)  # an error to show
    assert explorer.load() is False
    assert "<img" not in explorer.error_area.value + explorer.status.value
    assert handler.requests == []


# -- hosts and TLS -------------------------------------------------------------------------------
@pytest.mark.parametrize("host", NON_LOOPBACK_HTTP, ids=repr)
def test_plain_http_or_another_scheme_to_anything_but_loopback_is_refused(host, monkeypatch):
    with pytest.raises(ConfigError):
        EngagementClient(
            host,
            credentials=Credentials("cs-x", "test-secret-of-at-least-32-bytes-long"),
            store=False,
        )
    monkeypatch.setenv("KORE_HOST", host)
    with pytest.raises(ConfigError, match="KORE_HOST"):
        host_from_env(dotenv=False)


def test_tls_verification_is_on_in_the_client_the_toolkit_builds():
    client = EngagementClient("https://platform.kore.ai", store=False)
    # httpx.Client -> HTTPTransport -> httpcore.ConnectionPool: the SSL context it will use
    context = client.http._transport._pool._ssl_context
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True
    client.close()


@pytest.fixture
def self_signed_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 with a fresh self-signed certificate (openssl CLI)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=30,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # the refused handshakes

    httpd = Server(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}", cert
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


def test_a_self_signed_certificate_is_refused(self_signed_server):
    url, cert = self_signed_server
    # the server works for a client that trusts its certificate ...
    trusting = ssl.create_default_context(cafile=str(cert))
    with httpx.Client(verify=trusting, timeout=5) as http:
        assert http.post(url + "/x").json() == {"ok": True}
    # ... and the toolkit's client refuses it
    waits: list[float] = []
    client = EngagementClient(
        url,
        credentials=Credentials("cs-x", "test-secret-of-at-least-32-bytes-long"),
        store=False,
        max_retries=1,
        sleep=waits.append,
    )
    started = time.perf_counter()
    with client, pytest.raises(ApiConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        client.fetch("st-1", "2025-12-01", "2025-12-07")
    assert time.perf_counter() - started < 5


# -- canaries: no secret or token in any file, log line or message -------------------------------
CANARY_ID = "cs-canary-client-0001"
CANARY_SECRET = f"canary-secret-{uuid.uuid4().hex}"
CANARY_TOKEN = jwt.encode(
    {
        "sub": "canary",
        "appId": CANARY_ID,
        "jti": f"canary-jti-{uuid.uuid4().hex}",
        "iat": int(NOW),
        "exp": int(NOW) + 10 * 365 * 86400,
    },
    CANARY_SECRET,
    algorithm="HS256",
)
LOGGERS = ("engagement_kit", "httpx", "httpcore")


class RecordingPlatform(DemoPlatform):
    """The demo platform for the canary app; remembers every token it was sent."""

    def __init__(self, *, echo: bool = False, secret: str = CANARY_SECRET) -> None:
        super().__init__(clock=lambda: NOW, client_id=CANARY_ID, client_secret=secret)
        self.echo = echo
        self.tokens: set[str] = set()

    def handle(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("auth")
        if token:
            self.tokens.add(token)
        if self.echo:  # a careless platform or proxy that puts the token in its message
            return error_response(401, f"Unauthorized: token {token} was refused")
        return super().handle(request)


def widget_states(root: Any) -> str:
    """Every widget's state under ``root`` as JSON text (what a notebook would save)."""
    import ipywidgets

    seen, out, todo = set(), [], [root]
    while todo:
        widget = todo.pop()
        if id(widget) in seen or not isinstance(widget, ipywidgets.Widget):
            continue
        seen.add(id(widget))
        out.append(json.dumps(widget.get_state(), default=str))
        todo.extend(getattr(widget, "children", ()))
    return "\n".join(out)


def files_under(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


@pytest.mark.slow
def test_canary_secret_and_tokens_appear_in_no_file_log_or_message(
    tmp_path, caplog, monkeypatch, recwarn
):
    from typer.testing import CliRunner

    from engagement_kit.cli import app
    from engagement_kit.explorer import Explorer

    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # the CLI's --csv, .env lookups and anything relative land here
    store_path = tmp_path / "store" / "responses.sqlite3"
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", str(store_path))
    texts: list[str] = []  # every message, repr and output a user could see
    waits: list[float] = []
    runner = CliRunner()
    fetch_args = [
        "fetch",
        STREAM.id,
        "--start",
        "2025-11-24",
        "--end",
        "2025-11-30",
        "--tz",
        STREAM.tz,
    ]

    platform = RecordingPlatform()
    with running_server(platform=platform, script=["503", "drop"]) as server:
        # 1. the explorer, with minted tokens, a store, a retry and a dropped connection
        credentials = Credentials(CANARY_ID, CANARY_SECRET)
        client = EngagementClient(
            server.url, credentials=credentials, store=ResponseStore(), sleep=waits.append
        )
        explorer = Explorer(client, streams=[STREAM], today=TODAY, background=False)
        assert explorer.load() is True, explorer.error
        explorer.tabs.selected_index = 1  # the trend tab: its chart is drawn as SVG
        explorer.aggregation.value = "hourly"
        assert explorer.load() is True, explorer.error
        weeks = client.fetch_weeks(STREAM.id, 3, end_week="2025-W49", tz=STREAM.tz)
        assert len(weeks) == 3
        texts += [repr(client), repr(credentials), str(credentials), repr(explorer)]
        texts += [widget_states(explorer.root), explorer.status.value]
        client.close()

        # 2. a ready-made canary token (KORE_JWT) through the CLI, with a CSV export
        monkeypatch.setenv("KORE_HOST", server.url)
        monkeypatch.setenv("KORE_JWT", CANARY_TOKEN)
        result = runner.invoke(app, [*fetch_args, "--csv", "trend.csv", "--refresh"])
        assert result.exit_code == 0, result.output
        texts.append(result.output)
        monkeypatch.delenv("KORE_JWT")

        # 3. the client id and secret from the environment, through the CLI
        monkeypatch.setenv("KORE_CLIENT_ID", CANARY_ID)
        monkeypatch.setenv("KORE_CLIENT_SECRET", CANARY_SECRET)
        result = runner.invoke(app, [*fetch_args, "--refresh"])
        assert result.exit_code == 0, result.output
        texts.append(result.output)
        unreachable = server.url
    assert CANARY_TOKEN in platform.tokens and len(platform.tokens) >= 5

    # 4. failed runs: refused credentials, a platform echoing the token, an unreachable host
    failures: list[EngagementError] = []
    refusing = RecordingPlatform(secret="another-apps-secret")
    echoing = RecordingPlatform(echo=True)
    for bad in (refusing, echoing):
        with running_server(platform=bad) as server:
            client = EngagementClient(
                server.url, credentials=Credentials(CANARY_ID, CANARY_SECRET), store=False
            )
            explorer = Explorer(client, streams=[STREAM], today=TODAY, background=False)
            assert explorer.load() is False
            assert isinstance(explorer.last_error, AuthError)
            failures.append(explorer.last_error)
            texts += [explorer.error, explorer.error_area.value, widget_states(explorer.root)]
            monkeypatch.setenv("KORE_HOST", server.url)
            result = runner.invoke(app, [*fetch_args, "--refresh"])
            assert result.exit_code == 1 and "HTTP 401" in result.output
            texts.append(result.output)
            client.close()
    assert "<token>" in str(failures[-1])  # the echoed token was masked
    client = EngagementClient(
        unreachable,
        credentials=Credentials(token=CANARY_TOKEN),
        store=False,
        max_retries=1,
        sleep=waits.append,
    )
    with pytest.raises(ApiConnectionError) as info:
        client.fetch(STREAM.id, "2025-11-24", "2025-11-30")
    failures.append(info.value)
    monkeypatch.setenv("KORE_JWT", CANARY_TOKEN[:-4] + "AAAA")  # a bad signature
    tampered = RecordingPlatform()
    with running_server(platform=tampered) as server:
        monkeypatch.setenv("KORE_HOST", server.url)
        result = runner.invoke(app, [*fetch_args, "--refresh"])
    assert result.exit_code == 1 and "signature" in result.output
    texts.append(result.output)
    for exc in failures:
        texts += [str(exc), repr(exc), str(exc.__cause__ or ""), repr(exc.__cause__ or "")]

    # the evidence: logs were really captured (httpcore's trace included), files were written
    log_text = caplog.text + "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
    )
    assert "send_request_headers" in log_text and "engagement_kit" in log_text
    files = files_under(tmp_path)
    assert store_path in files and work / "trend.csv" in files
    secrets = [CANARY_SECRET, CANARY_TOKEN, *platform.tokens, *refusing.tokens, *echoing.tokens]
    secrets += tampered.tokens
    everything = "\n".join([log_text, *texts, *(str(w.message) for w in recwarn)])
    for secret in secrets:
        assert secret not in everything
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{path.name} holds a secret"
