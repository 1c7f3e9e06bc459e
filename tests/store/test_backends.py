"""Every table of the store on both backends (``store_location``: a SQLite file, a PostgreSQL
database on a throwaway server), moving a history between them, backups, credentials, and a
writer killed halfway."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import sqlalchemy as sa
from typer.testing import CliRunner

from engagement_kit.cli import app
from engagement_kit.config.query import EngagementQuery
from engagement_kit.delivery.ledger import Ledger
from engagement_kit.metrics.first_seen import FirstSeenTable
from engagement_kit.store import ResponseStore
from engagement_kit.store.schema import revisions
from engagement_kit.store.session_windows import SessionCache
from tests.builders import REPO

HOST = "https://bots.example.com"
T0 = dt.datetime(2025, 12, 10, 12, tzinfo=dt.UTC)


def q(day: int = 17, stream: str = "st-1") -> EngagementQuery:
    return EngagementQuery(stream_id=stream, start=f"2025-11-{day}", end=f"2025-11-{day}")


def _fill(location: str) -> None:
    """One of everything: answers with a revision, a host limit, a session window, first-seen
    users, a delivery, an alert firing."""
    store = ResponseStore(location)
    store.put(HOST, q(17), '{"a": 1}', final=True, now=T0)
    store.put(HOST, q(17), '{"a": 2}', final=True, now=T0 + dt.timedelta(hours=1))
    store.put(HOST, q(18, "st-2"), '{"b": 1}', final=True, now=T0)
    store.set_max_days(HOST, "day", 31, now=T0)
    window = type("W", (), {"start": dt.datetime(2025, 11, 1, tzinfo=dt.UTC)})()
    SessionCache(location).put_window(HOST, "st-1", window, 1.0, [["u1", "x"]])
    sessions = pd.DataFrame(
        {
            "user_id": ["u1", "u2"],
            "start": pd.to_datetime(["2025-11-02T10:00:00Z", "2025-11-03T10:00:00Z"]),
            "channel": ["web", "msteams"],
            "is_developer": [False, False],
        }
    )
    FirstSeenTable(location).update(
        HOST, "st-1", sessions, since=dt.date(2025, 11, 1), through=dt.date(2025, 11, 30), tz="UTC"
    )
    ledger = Ledger(location)
    ledger.record("st-1", "2025-W47", "mailto://t@example.com", "report", "hash")
    ledger.set_firings("st-1", "2025-W47", ["drop"])
    store.close()


def _snapshot(location: str) -> dict:
    store = ResponseStore(location)
    window = type("W", (), {"start": dt.datetime(2025, 11, 1, tzinfo=dt.UTC)})()
    return {
        "revisions": [(r.key, r.payload, r.seq) for rs in store.ranges().values() for r in rs],
        "in_use": store.get(HOST, q(17), now=T0 + dt.timedelta(days=30)),
        "limit": store.max_days(HOST, "day"),
        "window": list(SessionCache(location).get_windows(HOST, "st-1", [window], 1.0).values()),
        "first_seen": FirstSeenTable(location).frame(HOST, "st-1")["user_id"].tolist(),
        "sent": Ledger(location).sent("st-1", "2025-W47", "mailto://t@example.com", "report"),
        "fired": Ledger(location).last_fired("st-1", "2025-W48"),
    }


def test_every_table_works_on_the_backend(store_location):
    _fill(store_location)
    snap = _snapshot(store_location)
    assert [p for _, p, _ in snap["revisions"]] == ['{"a": 1}', '{"a": 2}', '{"b": 1}']
    assert snap["in_use"] == '{"a": 2}'
    assert snap["limit"] == 31
    assert snap["window"] == [[["u1", "x"]]]
    assert snap["first_seen"] == ["u1", "u2"]
    assert snap["sent"][0] == "hash"
    assert snap["fired"] == {"drop": "2025-W47"}
    info = ResponseStore(store_location).info()
    assert info["entries"] == 2 and info["revisions"] == 3 and info["size_bytes"] > 0
    assert info["backend"] == ("postgresql" if "://" in store_location else "sqlite")


def test_store_copy_moves_everything_between_backends_idempotently(tmp_path, postgres_url):
    sqlite_file = str(tmp_path / "alone.sqlite3")
    _fill(sqlite_file)
    before = _snapshot(sqlite_file)
    runner = CliRunner()
    first = runner.invoke(app, ["store", "copy", sqlite_file, postgres_url])
    assert first.exit_code == 0, first.output
    assert "3 revisions" in first.output and "1 deliveries" in first.output
    from tests.postgres import TEST_PASSWORD

    assert TEST_PASSWORD not in first.output and "***" in first.output
    again = runner.invoke(app, ["store", "copy", sqlite_file, postgres_url])
    assert again.exit_code == 0 and "nothing new" in again.output, again.output
    assert _snapshot(postgres_url) == before
    back = str(tmp_path / "back.sqlite3")
    assert runner.invoke(app, ["store", "copy", postgres_url, back]).exit_code == 0
    assert _snapshot(back) == before


def test_backup_of_each_backend(store_location, tmp_path):
    _fill(store_location)
    target = tmp_path / "copy.backup"
    result = CliRunner().invoke(app, ["--store", store_location, "store", "backup", str(target)])
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 0
    if "://" in store_location:  # pg_dump's custom format: pg_restore lists the tables
        listed = subprocess.run(
            ["pg_restore", "--list", str(target)], capture_output=True, text=True, check=True
        )
        assert "TABLE public revisions" in listed.stdout
        assert "TABLE public deliveries" in listed.stdout
    else:
        assert _snapshot(str(target)) == _snapshot(store_location)


def test_credentials_come_from_a_reference_the_env_file_or_pgpassword(
    postgres_url, tmp_path, monkeypatch
):
    from tests.postgres import TEST_PASSWORD

    bare = postgres_url.replace(f":{TEST_PASSWORD}@", "@")
    # libpq's own PGPASSWORD
    monkeypatch.setenv("PGPASSWORD", TEST_PASSWORD)
    ResponseStore(bare).put(HOST, q(), '{"a": 1}', final=True, now=T0)
    monkeypatch.delenv("PGPASSWORD")
    # a ${NAME} reference filled from the project's .env
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text(f"TEAM_DB_PASSWORD={TEST_PASSWORD}\n")
    monkeypatch.setenv("ENGAGEMENT_KIT_HOME", str(project))
    url = postgres_url.replace(f":{TEST_PASSWORD}@", ":${TEAM_DB_PASSWORD}@")
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", url)
    store = ResponseStore()
    assert store.get(HOST, q(), now=T0) == '{"a": 1}'
    assert TEST_PASSWORD not in store.shown
    result = CliRunner().invoke(app, ["store", "info"])
    assert result.exit_code == 0 and "postgresql" in result.output
    assert TEST_PASSWORD not in result.output
    # an unset reference is one sentence naming it
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", url.replace("TEAM_DB_PASSWORD", "NOT_SET_ANYWHERE"))
    result = CliRunner().invoke(app, ["store", "info"])
    assert result.exit_code != 0 and "${NOT_SET_ANYWHERE} is not set" in result.output


_WRITER = """
import datetime as dt, sys
from engagement_kit.config.query import EngagementQuery
from engagement_kit.store import ResponseStore
store = ResponseStore(sys.argv[1])
print("ready", flush=True)
i = 0
while True:
    day = dt.date(2024, 1, 1) + dt.timedelta(days=i % 300)
    q = EngagementQuery(stream_id="st-kill", start=day, end=day)
    store.put("https://h", q, '{"n": %d, "pad": "%s"}' % (i, "x" * 2000), final=True)
    i += 1
"""


def test_a_writer_killed_halfway_leaves_the_store_consistent(store_location):
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, store_location],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(2.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    store = ResponseStore(store_location)
    rows = store.read(sa.select(revisions.c.key, revisions.c.payload, revisions.c.digest))
    assert rows, "the writer wrote nothing before it was killed"
    from engagement_kit.store.schema import payload_digest

    assert all(payload_digest(p) == d for _, p, d in rows)  # no half-written row
    assert all(p.endswith('"}') for _, p, _ in rows)
    store.put("https://h", q(), '{"after": 1}', final=True)  # and it takes writes again
    assert store.get("https://h", q()) == '{"after": 1}'
