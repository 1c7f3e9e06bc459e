"""ResponseStore: hits, finality and TTL, info/clear/entries, corruption, concurrent writers."""

from __future__ import annotations

import copy
import datetime as dt
import json
import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from engagement_kit.config.query import EngagementQuery
from engagement_kit.errors import StoreError
from engagement_kit.store import ResponseStore, StoreEntry, default_store_path, sqlite_file
from engagement_kit.store import database as store_module
from engagement_kit.store.schema import COLUMNS

HOST = "https://platform.kore.ai"
T0 = dt.datetime(2025, 12, 10, 12, tzinfo=dt.UTC)
PAYLOAD = '{"summary": {"uniqueUsers": 2}}'


def q(
    stream: str = "st-1", start: str = "2025-12-01", end: str = "2025-12-05", **kw
) -> EngagementQuery:
    return EngagementQuery(stream_id=stream, start=start, end=end, **kw)


def test_nothing_is_created_until_first_use(tmp_path):
    path = tmp_path / "deep" / "dir" / "r.sqlite3"
    s = ResponseStore(path)
    assert not path.exists() and not path.parent.exists()
    assert s.get(HOST, q()) is None
    assert path.exists()


def test_put_then_get_returns_the_exact_payload(store):
    store.put(HOST, q(), PAYLOAD, final=True, now=T0)
    assert store.get(HOST, q(), now=T0) == PAYLOAD
    store.put(HOST, q("st-2"), PAYLOAD.encode(), final=True, now=T0)  # bytes are decoded
    assert store.get(HOST, q("st-2"), now=T0) == PAYLOAD


def test_misses(store):
    store.put(HOST, q(), PAYLOAD, final=True, now=T0)
    assert store.get(HOST, q("st-2"), now=T0) is None
    assert store.get(HOST, q(end="2025-12-06"), now=T0) is None
    assert store.get(HOST, q(tz="Asia/Kolkata"), now=T0) is None
    assert store.get(HOST, q(conversation_type="interactive"), now=T0) is None
    assert store.get("https://bots.kore.ai", q(), now=T0) is None  # the host is in the key


def test_equivalent_spellings_share_one_key(store):
    store.put(HOST, q(conversation_type="Non Interactive", channels="RTM"), PAYLOAD, final=True)
    assert store.get(HOST, q(conversation_type="non_interactive", channels=["rtm"])) == PAYLOAD
    assert store.get(HOST + "/", q(conversation_type="NON INTERACTIVE", channels="rtm")) == PAYLOAD


def test_a_final_answer_never_expires(store):
    store.put(HOST, q(), PAYLOAD, final=True, now=T0)
    assert store.get(HOST, q(), now=T0 + dt.timedelta(days=3650)) == PAYLOAD


def test_a_not_final_answer_expires_after_the_ttl(tmp_path):
    store = ResponseStore(tmp_path / "s.sqlite3", ttl=900)
    store.put(HOST, q(), PAYLOAD, final=False, now=T0)
    assert store.get(HOST, q(), now=T0) == PAYLOAD
    assert store.get(HOST, q(), now=T0 + dt.timedelta(seconds=900)) == PAYLOAD
    assert store.get(HOST, q(), now=T0 + dt.timedelta(seconds=901)) is None
    assert store.get(HOST, q(), now=T0 - dt.timedelta(seconds=5)) is None  # clock went back
    assert (
        ResponseStore(tmp_path / "s.sqlite3", ttl=0).get(
            HOST, q(), now=T0 + dt.timedelta(seconds=1)
        )
        is None
    )


def test_put_replaces_and_can_make_an_answer_final(store):
    store.put(HOST, q(), "old", final=False, now=T0)
    store.put(HOST, q(), "new", final=True, now=T0 + dt.timedelta(days=1))
    assert store.get(HOST, q(), now=T0 + dt.timedelta(days=30)) == "new"
    assert len(store.entries()) == 1


def test_entries(store):
    store.put(HOST, q("st-b"), PAYLOAD, final=True, now=T0)
    store.put(
        HOST, q("st-a", tz="Asia/Kolkata"), "x" * 10, final=False, now=T0 - dt.timedelta(hours=1)
    )
    entries = store.entries()
    assert [type(e) for e in entries] == [StoreEntry, StoreEntry]
    first, second = entries  # oldest fetch first
    assert first.stream_id == "st-a" and first.final is False and first.size == 10
    assert first.fetched_at == T0 - dt.timedelta(hours=1)
    assert EngagementQuery(**first.query) == q("st-a", tz="Asia/Kolkata")
    assert first.key == f"{HOST} {q('st-a', tz='Asia/Kolkata').key()}"
    assert second.host == HOST and second.final is True
    assert [e.stream_id for e in store.entries(stream_id="st-b")] == ["st-b"]


def test_info(store):
    empty = store.info()
    assert empty["entries"] == 0 and empty["streams"] == {}
    assert empty["oldest_fetch"] is None and empty["newest_fetch"] is None
    store.put(HOST, q("st-1"), PAYLOAD, final=True, now=T0)
    store.put(
        HOST, q("st-1", end="2025-12-02"), PAYLOAD, final=True, now=T0 + dt.timedelta(hours=2)
    )
    store.put(HOST, q("st-2"), PAYLOAD, final=False, now=T0 + dt.timedelta(hours=1))
    info = store.info()
    assert info["path"] == str(store.path)
    assert info["size_bytes"] > 0
    assert info["entries"] == 3 and info["final_entries"] == 2
    assert info["streams"] == {"st-1": 2, "st-2": 1}
    assert dt.datetime.fromisoformat(info["oldest_fetch"]) == T0
    assert dt.datetime.fromisoformat(info["newest_fetch"]) == T0 + dt.timedelta(hours=2)
    assert info["ttl_seconds"] == 900


def test_clear_everything_or_one_stream(store):
    for stream in ("st-1", "st-1", "st-2"):
        store.put(
            HOST, q(stream, end=f"2025-12-0{store.info()['entries'] + 1}"), PAYLOAD, final=True
        )
    assert store.clear(stream_id="st-1") == 2
    assert store.info()["streams"] == {"st-2": 1}
    assert store.clear(stream_id="st-404") == 0
    assert store.clear() == 1
    assert store.info()["entries"] == 0


def test_wal_mode_and_schema(store):
    store.put(HOST, q(), PAYLOAD, final=True)
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        columns = [row[1] for row in conn.execute("PRAGMA table_info(revisions)")]
        assert columns == ["id", *COLUMNS]
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    finally:
        conn.close()


def test_a_corrupt_file_gives_a_clear_error_and_clear_repairs_it(tmp_path):
    path = tmp_path / "responses.sqlite3"
    path.write_bytes(b"this is not a database, just some text " * 200)
    store = ResponseStore(path)
    with pytest.raises(StoreError) as info:
        store.get(HOST, q())
    text = str(info.value)
    assert str(path) in text
    assert "engagement-kit store clear" in text and "ENGAGEMENT_KIT_STORE" in text
    with pytest.raises(StoreError):
        store.info()
    assert store.clear() == 0  # deletes the broken file ...
    store.put(HOST, q(), PAYLOAD, final=True)  # ... and the store works again
    assert store.get(HOST, q()) == PAYLOAD


def test_a_corrupt_file_is_not_deleted_by_clearing_one_stream(tmp_path):
    path = tmp_path / "responses.sqlite3"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreError, match="corrupt"):
        ResponseStore(path).clear(stream_id="st-1")
    assert path.read_bytes() == b"garbage" * 1000


def test_a_directory_or_an_impossible_path_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="is a directory") as info:
        ResponseStore(tmp_path).get(HOST, q())
    assert "ENGAGEMENT_KIT_STORE" in str(info.value)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="a-file") as info:
        ResponseStore(blocker / "sub" / "r.sqlite3").get(HOST, q())
    assert "ENGAGEMENT_KIT_STORE" in str(info.value)


def test_a_store_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "r.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match=r"written by engagement-kit .* or later.*upgrade"):
        ResponseStore(path).get(HOST, q())


def test_default_path(monkeypatch, tmp_path):
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", str(tmp_path / "mine.sqlite3"))
    assert default_store_path() == tmp_path / "mine.sqlite3"
    assert ResponseStore().path == tmp_path / "mine.sqlite3"
    monkeypatch.delenv("ENGAGEMENT_KIT_STORE")
    path = default_store_path()
    assert path.name == "responses.sqlite3" and path.parent.name == "engagement-kit"


def test_naive_now_and_bad_ttl_are_refused(store):
    with pytest.raises(ValueError, match="timezone-aware"):
        store.get(HOST, q(), now=dt.datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="ttl"):
        ResponseStore(store.path, ttl=-1)


def test_threads_share_one_store(store):
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                store.put(HOST, q(f"st-t{n}", end=f"2025-12-{i + 1:02d}"), PAYLOAD, final=True)
                assert store.get(HOST, q(f"st-t{n}", end=f"2025-12-{i + 1:02d}")) == PAYLOAD
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert store.info()["entries"] == 100


def _writer(path: str, worker: int, count: int) -> int:
    """Run in a separate process: ``count`` writes of its own and to one shared key."""
    store = ResponseStore(path)
    for i in range(count):
        day = dt.date(2025, 1, 1) + dt.timedelta(days=i)
        store.put(
            HOST, q(f"st-p{worker}", start=day, end=day), f'{{"w": {worker}, "i": {i}}}', final=True
        )
        store.put(HOST, q("st-shared"), f'{{"w": {worker}, "i": {i}}}', final=False)
    store.close()
    return count


def test_several_processes_write_at_once(tmp_path):
    path = str(tmp_path / "shared.sqlite3")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        done = pool.starmap(_writer, [(path, w, 50) for w in range(4)], chunksize=1)
    assert done == [50, 50, 50, 50]
    store = ResponseStore(path)
    info = store.info()
    assert info["entries"] == 4 * 50 + 1
    assert info["streams"] == {**{f"st-p{w}": 50 for w in range(4)}, "st-shared": 1}
    for w in range(4):
        day = dt.date(2025, 1, 1) + dt.timedelta(days=49)
        assert store.get(HOST, q(f"st-p{w}", start=day, end=day)) == f'{{"w": {w}, "i": 49}}'
    assert store.get(HOST, q("st-shared")).endswith('"i": 49}')


# -- Tests that close the gaps mutation testing found in engagement_kit.store (see benchmarks/MUTATION.md).

HOST_2 = "https://platform.kore.ai"
T0_2 = dt.datetime(2025, 12, 10, 12, tzinfo=dt.UTC)
PAYLOAD_2 = '{"summary": {"uniqueUsers": 2}}'
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
        s.put(HOST_2, QUERY, PAYLOAD_2, final=True, now=T0_2)
        assert s.engine.pool.checkedin() == 1  # one connection, returned after each use
    assert f"sqlite:{path}" not in store_module.open_stores()  # closed on leaving the block
    assert s.get(HOST_2, QUERY, now=T0_2) == PAYLOAD_2  # and reopens on next use
    s.close()


def test_with_block_closes_even_when_the_body_raises(path):
    with pytest.raises(RuntimeError), ResponseStore(path) as s:
        s.put(HOST_2, QUERY, PAYLOAD_2, final=True, now=T0_2)
        raise RuntimeError("boom")
    assert f"sqlite:{path}" not in store_module.open_stores()


def test_a_failed_write_is_rolled_back_and_the_store_stays_usable(path):
    with ResponseStore(path) as s:
        s.put(HOST_2, QUERY, PAYLOAD_2, final=True, now=T0_2)

        def half_done(conn: sa.Connection) -> None:
            conn.exec_driver_sql("DELETE FROM revisions")  # works ...
            conn.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")  # ... then this fails

        with pytest.raises(StoreError, match="cannot write to it") as info:
            s.transaction(half_done)
        assert str(path) in str(info.value)
        assert s.engine.pool.checkedout() == 0  # rolled back and returned, not left open
        assert s.get(HOST_2, QUERY, now=T0_2) == PAYLOAD_2  # the delete was undone
        s.put(HOST_2, QUERY, PAYLOAD_2 + " ", final=True, now=T0_2)  # the next write works
        assert s.get(HOST_2, QUERY, now=T0_2) == PAYLOAD_2 + " "


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_locked_database_is_retried_until_the_lock_is_released(path, monkeypatch):
    s = ResponseStore(path)
    s.put(HOST_2, QUERY, PAYLOAD_2, final=True, now=T0_2)  # create the file and schema
    s.close()
    monkeypatch.setattr(sqlite_file, "BUSY_TIMEOUT_S", 0.001)  # meet "locked" at once
    other = _hold_write_lock(path)
    releases = iter([None, None, other.rollback])  # the lock goes away on the third wait
    sleeps = Sleeps(on_sleep=lambda: (next(releases) or (lambda: None))())
    monkeypatch.setattr(store_module, "time", sleeps)
    with ResponseStore(path) as s:
        s.put(HOST_2, QUERY, "new", final=True, now=T0_2)
        assert s.get(HOST_2, QUERY, now=T0_2) == "new"
    other.close()
    assert sleeps.waits == [0.05, 0.1, 0.2]  # exponential backoff between the attempts


def test_a_lock_that_never_clears_ends_in_a_store_error_after_the_retries(path, monkeypatch):
    s = ResponseStore(path)
    s.put(HOST_2, QUERY, PAYLOAD_2, final=True, now=T0_2)
    s.close()
    monkeypatch.setattr(sqlite_file, "BUSY_TIMEOUT_S", 0.001)
    sleeps = Sleeps()
    monkeypatch.setattr(store_module, "time", sleeps)
    other = _hold_write_lock(path)
    try:
        with ResponseStore(path) as s, pytest.raises(StoreError, match="locked"):
            s.put(HOST_2, QUERY, "new", final=True, now=T0_2)
    finally:
        other.rollback()
        other.close()
    assert len(sleeps.waits) == store_module.LOCK_RETRIES - 1
    assert sleeps.waits[:6] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0]
    assert max(sleeps.waits) == 1.0  # the backoff is capped at a second
    assert ResponseStore(path).get(HOST_2, QUERY, now=T0_2) == PAYLOAD_2  # nothing half-written


def test_other_sqlite_errors_are_not_retried(path, monkeypatch):
    sleeps = Sleeps()
    monkeypatch.setattr(store_module, "time", sleeps)
    with ResponseStore(path) as s:
        with pytest.raises(StoreError, match="no such table"):
            s.write(sa.text("DELETE FROM no_such_table"))
        with pytest.raises(StoreError, match="cannot read it"):
            s.read(sa.text("SELECT * FROM no_such_table"))
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
    assert store_module.is_locked(sqlite3.OperationalError(text)) is locked


def test_a_naive_now_is_refused_with_the_fix():
    with pytest.raises(ValueError) as info:
        store_module.utc(dt.datetime(2025, 12, 10, 12))
    assert str(info.value) == "now must be timezone-aware (e.g. datetime.now(datetime.UTC))"


def test_one_thread_reuses_one_connection(path):
    with ResponseStore(path) as s:
        for _ in range(3):
            s.get(HOST_2, QUERY, now=T0_2)
        s.put(HOST_2, QUERY, PAYLOAD_2, final=True, now=T0_2)
        assert s.engine.pool.checkedin() == 1  # one connection, returned after each use


def test_close_closes_the_connections_other_threads_opened(path):
    s = ResponseStore(path)
    worker = threading.Thread(target=lambda: s.get(HOST_2, QUERY, now=T0_2))
    worker.start()
    worker.join()
    assert s.engine.pool.checkedin() == 1
    s.close()
    assert f"sqlite:{path}" not in store_module.open_stores()


def test_a_directory_that_cannot_be_made_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create its directory") as info:
        ResponseStore(blocker / "sub" / "r.sqlite3").get(HOST_2, QUERY, now=T0_2)
    assert "ENGAGEMENT_KIT_STORE" in str(info.value)


def test_a_failed_schema_set_up_is_rolled_back_and_reported(path, monkeypatch):
    # the first statement works, the second fails: the first must not stay behind
    def broken(conn, found):
        conn.exec_driver_sql("CREATE TABLE responses (key TEXT)")
        conn.exec_driver_sql("CREATE INDEX broken ON nowhere (key)")

    monkeypatch.setattr(store_module.schema, "migrate", broken)
    with pytest.raises(StoreError, match=r"cannot open it \(OperationalError: no such table"):
        ResponseStore(path).get(HOST_2, QUERY, now=T0_2)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0  # nothing half-made
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    conn.close()


def test_a_read_error_names_the_sqlite_error(path):
    with ResponseStore(path) as s, pytest.raises(StoreError) as info:
        s.read(sa.text("SELECT * FROM no_such_table"))
    assert "cannot read it (OperationalError: no such table: no_such_table)" in str(info.value)


def test_info_counts_the_database_file_and_its_log(path):
    with ResponseStore(path) as s:
        s.put(HOST_2, QUERY, PAYLOAD_2 * 1000, final=True, now=T0_2)
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
