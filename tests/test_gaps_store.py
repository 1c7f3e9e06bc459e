"""Tests that close the gaps mutation testing found in engagement_kit.store (see benchmarks/MUTATION.md)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from engagement_kit.config.query import EngagementQuery
from engagement_kit.errors import StoreError
from engagement_kit.store import ResponseStore
from engagement_kit.store import core as store_module

HOST = "https://platform.kore.ai"
T0 = dt.datetime(2025, 12, 10, 12, tzinfo=dt.UTC)
PAYLOAD = '{"summary": {"uniqueUsers": 2}}'
QUERY = EngagementQuery(stream_id="st-1", start="2025-12-01", end="2025-12-05")


class Sleeps:
    """Stands in for the ``time`` module in ``engagement_kit.store``: records every wait and
    runs ``on_sleep`` (e.g. release a lock) instead of sleeping."""

    def __init__(self, on_sleep=None) -> None:
        self.waits: list[float] = []
        self.on_sleep = on_sleep

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "responses.sqlite3"


def test_with_block_closes_every_connection_and_the_store_reopens(path):
    with ResponseStore(path) as s:
        assert isinstance(s, ResponseStore)
        s.put(HOST, QUERY, PAYLOAD, final=True, now=T0)
        assert len(s._all) == 1
    assert s._all == []  # closed on leaving the block
    assert s.get(HOST, QUERY, now=T0) == PAYLOAD  # and reopens on next use
    s.close()


def test_with_block_closes_even_when_the_body_raises(path):
    with pytest.raises(RuntimeError), ResponseStore(path) as s:
        s.put(HOST, QUERY, PAYLOAD, final=True, now=T0)
        raise RuntimeError("boom")
    assert s._all == []


def test_a_failed_write_is_rolled_back_and_the_store_stays_usable(path):
    with ResponseStore(path) as s:
        s.put(HOST, QUERY, PAYLOAD, final=True, now=T0)

        def half_done(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM revisions")  # works ...
            conn.execute("INSERT INTO no_such_table VALUES (1)")  # ... then this fails

        with pytest.raises(StoreError, match="cannot write to it") as info:
            s._transaction(half_done)
        assert str(path) in str(info.value)
        assert not s._connect().in_transaction  # rolled back, not left open
        assert s.get(HOST, QUERY, now=T0) == PAYLOAD  # the delete was undone
        s.put(HOST, QUERY, PAYLOAD + " ", final=True, now=T0)  # the next write works
        assert s.get(HOST, QUERY, now=T0) == PAYLOAD + " "


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_locked_database_is_retried_until_the_lock_is_released(path, monkeypatch):
    s = ResponseStore(path)
    s.put(HOST, QUERY, PAYLOAD, final=True, now=T0)  # create the file and schema
    s.close()
    monkeypatch.setattr(store_module, "_BUSY_TIMEOUT_MS", 1)  # meet "locked" at once
    other = _hold_write_lock(path)
    releases = iter([None, None, other.rollback])  # the lock goes away on the third wait
    sleeps = Sleeps(on_sleep=lambda: (next(releases) or (lambda: None))())
    monkeypatch.setattr(store_module, "time", sleeps)
    with ResponseStore(path) as s:
        s.put(HOST, QUERY, "new", final=True, now=T0)
        assert s.get(HOST, QUERY, now=T0) == "new"
    other.close()
    assert sleeps.waits == [0.05, 0.1, 0.2]  # exponential backoff between the attempts


def test_a_lock_that_never_clears_ends_in_a_store_error_after_the_retries(path, monkeypatch):
    s = ResponseStore(path)
    s.put(HOST, QUERY, PAYLOAD, final=True, now=T0)
    s.close()
    monkeypatch.setattr(store_module, "_BUSY_TIMEOUT_MS", 1)
    sleeps = Sleeps()
    monkeypatch.setattr(store_module, "time", sleeps)
    other = _hold_write_lock(path)
    try:
        with ResponseStore(path) as s, pytest.raises(StoreError, match="locked"):
            s.put(HOST, QUERY, "new", final=True, now=T0)
    finally:
        other.rollback()
        other.close()
    assert len(sleeps.waits) == store_module._LOCK_RETRIES - 1
    assert sleeps.waits[:6] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0]
    assert max(sleeps.waits) == 1.0  # the backoff is capped at a second
    assert ResponseStore(path).get(HOST, QUERY, now=T0) == PAYLOAD  # nothing half-written


def test_other_sqlite_errors_are_not_retried(path, monkeypatch):
    sleeps = Sleeps()
    monkeypatch.setattr(store_module, "time", sleeps)
    with ResponseStore(path) as s:
        with pytest.raises(StoreError, match="no such table"):
            s._write("DELETE FROM no_such_table")
        with pytest.raises(StoreError, match="cannot read it"):
            s._read("SELECT * FROM no_such_table")
    assert sleeps.waits == []


@pytest.mark.parametrize(
    ("text", "locked"),
    [
        ("database is locked", True),
        ("database table is locked", True),
        ("database is busy", True),
        ("SQLITE_BUSY: busy", True),
        ("no such table: responses", False),
        ("disk I/O error", False),
    ],
)
def test_which_sqlite_errors_count_as_a_lock(text, locked):
    assert store_module._is_locked(sqlite3.OperationalError(text)) is locked


def test_a_naive_now_is_refused_with_the_fix():
    with pytest.raises(ValueError) as info:
        store_module._utc(dt.datetime(2025, 12, 10, 12))
    assert str(info.value) == "now must be timezone-aware (e.g. datetime.now(datetime.UTC))"


def test_one_thread_reuses_one_connection(path):
    with ResponseStore(path) as s:
        for _ in range(3):
            s.get(HOST, QUERY, now=T0)
        s.put(HOST, QUERY, PAYLOAD, final=True, now=T0)
        assert len(s._all) == 1


def test_close_closes_the_connections_other_threads_opened(path):
    s = ResponseStore(path)
    worker = threading.Thread(target=lambda: s.get(HOST, QUERY, now=T0))
    worker.start()
    worker.join()
    (conn,) = s._all
    s.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        conn.execute("SELECT 1")


def test_a_directory_that_cannot_be_made_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create its directory") as info:
        ResponseStore(blocker / "sub" / "r.sqlite3").get(HOST, QUERY, now=T0)
    assert "ENGAGEMENT_KIT_STORE" in str(info.value)


def test_a_failed_schema_set_up_is_rolled_back_and_reported(path, monkeypatch):
    # the first statement works, the second fails: the first must not stay behind
    schema = "CREATE TABLE responses (key TEXT); CREATE INDEX broken ON nowhere (key)"
    monkeypatch.setattr(store_module, "SCHEMA", schema)
    with pytest.raises(StoreError, match=r"cannot open it \(OperationalError: no such table"):
        ResponseStore(path).get(HOST, QUERY, now=T0)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0  # nothing half-made
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    conn.close()


def test_a_read_error_names_the_sqlite_error(path):
    with ResponseStore(path) as s, pytest.raises(StoreError) as info:
        s._read("SELECT * FROM no_such_table")
    assert "cannot read it (OperationalError: no such table: no_such_table)" in str(info.value)


def test_info_counts_the_database_file_and_its_log(path):
    with ResponseStore(path) as s:
        s.put(HOST, QUERY, PAYLOAD * 1000, final=True, now=T0)
        size = s.info()["size_bytes"]
        assert size >= path.stat().st_size > 0
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with ResponseStore(path) as s:  # no write-ahead log on disk: just the file
        assert s.info()["size_bytes"] >= path.stat().st_size


# -- what changed between two answers (store.compare) -----------------------------------------
def _answer(fixture_payload, **users):
    """The daily sample with the unique/new users of some days set: ``{"Dec 03 2025": 5}``."""
    payload = copy.deepcopy(fixture_payload("daily"))
    for trend in ("uniqueUsersTrend", "newUsersTrend"):
        for point in payload[trend]["dataPoints"]:
            point["users"] = users.get(point["date"].replace(" ", "_"), point["users"])
    return json.dumps(payload)


def test_changes_counts_only_the_days_that_differ(fixture_payload):
    from engagement_kit.store.compare import changes

    old = _answer(fixture_payload)
    assert changes(old, old, QUERY) == []
    new = _answer(fixture_payload, Dec_03_2025=3)
    assert changes(old, new, QUERY) == ["1 day changed"]
    newer = _answer(fixture_payload, Dec_03_2025=3, Dec_05_2025=2)
    assert changes(old, newer, QUERY) == ["2 days changed"]
    assert changes(old, "{not json", QUERY) == ["the answer does not parse"]


def test_an_answer_with_no_users_and_no_days_loses_the_summary(fixture_payload):
    from engagement_kit.store.compare import lost_buckets

    old = _answer(fixture_payload)
    empty = copy.deepcopy(fixture_payload("daily"))
    empty["summary"] = dict.fromkeys(empty["summary"], 0)
    for trend in ("uniqueUsersTrend", "newUsersTrend", "returningUsersTrend"):
        empty[trend]["dataPoints"] = []
    empty["filters"]["dataPointsCount"] = 0
    assert lost_buckets(old, json.dumps(empty), QUERY) == ["2025-12-03", "2025-12-04"]
    # users in the summary but none in any day: losing the summary loses every day
    quiet = _answer(fixture_payload, Dec_03_2025=0, Dec_04_2025=0)
    days = [f"2025-12-0{d}" for d in range(1, 6)]
    assert lost_buckets(quiet, json.dumps(empty), QUERY) == days
    assert lost_buckets(old, old, QUERY) == []


def test_importing_a_file_that_is_not_a_csv_says_so(tmp_path):
    from engagement_kit.store.portable import import_history

    bad = tmp_path / "answers.csv"
    bad.write_bytes(b'"unterminated\n')
    with ResponseStore(tmp_path / "s.sqlite3") as store, pytest.raises(StoreError) as err:
        import_history(store, bad)
    assert str(err.value).startswith(f"import: {bad} is not a readable CSV (")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with ResponseStore(tmp_path / "s.sqlite3") as store, pytest.raises(StoreError) as err:
        import_history(store, other)
    assert f"import: {other} lacks the columns " in str(err.value)
    assert str(err.value).endswith("is it an `engagement-kit store export`?")
