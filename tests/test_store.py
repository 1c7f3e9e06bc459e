"""ResponseStore: hits, finality and TTL, info/clear/entries, corruption, concurrent writers."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sqlite3
import threading

import pytest

from engagement_kit.config.query import EngagementQuery
from engagement_kit.errors import StoreError
from engagement_kit.store import ResponseStore, StoreEntry, default_store_path
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
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
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
    with pytest.raises(StoreError, match="newer engagement-kit"):
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
