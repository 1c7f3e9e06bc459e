"""The team store's faults (issue 28): a PostgreSQL role that may only read, a server that is
down, a server that stalls. ``send`` stops before anything is sent and ``report`` fails, each
in one sentence with the URL masked, never a traceback; a stalled server is given up on within
the layer's connect timeout."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid

import pytest
from typer.testing import CliRunner

from engagement_kit.cli import app
from engagement_kit.delivery import Ledger, transport
from tests.delivery.test_delivery import _Http
from tests.postgres import TEST_PASSWORD
from tests.reliability.test_full_disk import WEEK, _one_stream_send, written_reports

RO_PASSWORD = "ro-canary-7d1e02"


def _one_sentence(output: str) -> str:
    assert "Traceback" not in output, output
    assert TEST_PASSWORD not in output and RO_PASSWORD not in output, output
    return " ".join(output.split())


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setattr(transport, "RETRY_WAIT", 0.0)
    server = _Http()
    yield server
    server.stop()


def test_a_role_that_may_only_read_stops_send_before_anything_is_sent(
    postgres_url, tmp_path, monkeypatch, hook
):
    with Ledger(postgres_url) as ledger:  # the store's tables, made by their owner
        ledger.sent("st-x", WEEK, "json://x", "report")
    database = postgres_url.rsplit("/", 1)[1]
    role = f"ro_{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["psql", postgres_url, "-q", "-v", "ON_ERROR_STOP=1",
         "-c", f"CREATE ROLE {role} LOGIN PASSWORD '{RO_PASSWORD}'",
         "-c", f'GRANT CONNECT ON DATABASE "{database}" TO {role}',
         "-c", f"GRANT USAGE ON SCHEMA public TO {role}",
         "-c", f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    ro_url = postgres_url.replace(f"ek:{TEST_PASSWORD}@", f"{role}:{RO_PASSWORD}@")
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", ro_url)
    out = tmp_path / "reports"
    written_reports(out)
    result = _one_stream_send(tmp_path, out, f"json://127.0.0.1:{hook.port}/hook")
    assert hook.requests == [], result.output  # nothing sent
    assert result.exit_code != 0
    text = _one_sentence(result.output)
    assert f"postgresql://{role}:***@" in text
    assert "may only read" in text and "GRANT INSERT, UPDATE, DELETE" in text, text


def _down_url(free_port: int) -> str:
    return f"postgresql://ek:{TEST_PASSWORD}@127.0.0.1:{free_port}/engagement"


def test_a_server_that_is_down_stops_send_in_one_sentence(tmp_path, monkeypatch, hook, free_port):
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", _down_url(free_port))
    out = tmp_path / "reports"
    written_reports(out)
    result = _one_stream_send(tmp_path, out, f"json://127.0.0.1:{hook.port}/hook")
    assert hook.requests == []
    assert result.exit_code != 0
    text = _one_sentence(result.output)
    assert f"postgresql://ek:***@127.0.0.1:{free_port}/engagement" in text
    assert "Connection refused" in text and "is running and reachable" in text, text


def test_a_server_that_is_down_fails_report_in_one_sentence(tmp_path, monkeypatch, free_port):
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", _down_url(free_port))
    result = CliRunner().invoke(
        app,
        ["report", "--demo", "--stream", "st-demo-it-de", "--week", WEEK,
         "--out-dir", str(tmp_path / "reports")],
        env={"COLUMNS": "250"},
    )  # fmt: skip
    assert result.exit_code != 0, result.output
    text = _one_sentence(result.output)
    assert f"postgresql://ek:***@127.0.0.1:{free_port}/engagement" in text
    assert "is running and reachable" in text, text


@pytest.fixture
def stalled_server():
    """A loopback socket that accepts TCP connections and never says anything."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    listener.settimeout(0.1)
    yield listener.getsockname()[1], held
    for conn in held:
        conn.close()
    listener.close()


def test_a_server_that_stalls_fails_send_within_the_connect_timeout(
    tmp_path, monkeypatch, hook, stalled_server
):
    from engagement_kit.store import database

    port, _ = stalled_server
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    monkeypatch.setattr(database, "CONNECT_TIMEOUT_S", 2)  # the layer's own bound (10 s)
    monkeypatch.setenv(
        "ENGAGEMENT_KIT_STORE", f"postgresql://ek:{TEST_PASSWORD}@127.0.0.1:{port}/engagement"
    )
    out = tmp_path / "reports"
    written_reports(out)
    t0 = time.monotonic()
    result = _one_stream_send(tmp_path, out, f"json://127.0.0.1:{hook.port}/hook")
    elapsed = time.monotonic() - t0
    assert hook.requests == []
    assert result.exit_code != 0
    assert elapsed < 20, f"send waited {elapsed:.0f} s for a server that says nothing"
    text = _one_sentence(result.output)
    assert f"postgresql://ek:***@127.0.0.1:{port}/engagement" in text
    assert "timeout" in text.lower() and "is running and reachable" in text, text


def test_the_connect_timeout_is_set_unless_libpq_is_told_otherwise(monkeypatch):
    import sqlalchemy as sa

    from engagement_kit.store.database import CONNECT_TIMEOUT_S, connect_args

    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    url = sa.make_url("postgresql+psycopg://u@h/db")
    assert connect_args(url) == {"connect_timeout": CONNECT_TIMEOUT_S} and CONNECT_TIMEOUT_S <= 30
    assert connect_args(sa.make_url("postgresql+psycopg://u@h/db?connect_timeout=3")) == {}
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "5")
    assert connect_args(url) == {}
