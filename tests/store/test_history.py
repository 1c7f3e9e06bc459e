"""The store as a record: settling, revisions, lost data, the move, export/import, backup."""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing
import sqlite3
import time as _time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from engagement_kit.cli import app
from engagement_kit.client import EngagementClient
from engagement_kit.client.auth import Credentials
from engagement_kit.config.query import EngagementQuery
from engagement_kit.errors import StoreError
from engagement_kit.store import ResponseStore, default_store_path, legacy_store_path
from engagement_kit.store.history import report_note
from engagement_kit.store.location import adopt_legacy_store
from engagement_kit.store.portable import export_history, import_history, read_history
from engagement_kit.tidy import format_api_date
from tests.builders import FIXTURES

HOST = "https://platform.kore.ai"
STREAM = "st-rec"
W45 = ("2025-11-03", "2025-11-09")  # 2025-W45
#: the instant 2025-W45 ended in UTC
W45_END = dt.datetime(2025, 11, 10, tzinfo=dt.UTC)


def answer(start: str, end: str, per_day: tuple[int, int, int] = (100, 40, 60), unique=None):
    """A valid daily answer: the same numbers every day; ``unique`` overrides the summary."""
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    u, n, r = per_day

    def trend(value: int) -> dict:
        return {"dataPoints": [{"date": format_api_date(d), "users": value} for d in days]}

    return json.dumps(
        {
            "summary": {
                "uniqueUsers": u * len(days) if unique is None else unique,
                "newUsers": n * len(days),
                "returningUsers": r * len(days),
                "avgUniqueUsersPerDay": float(u),
                "avgNewUsersPerDay": float(n),
                "avgReturningUsersPerDay": float(r),
            },
            "uniqueUsersTrend": trend(u),
            "newUsersTrend": trend(n),
            "returningUsersTrend": trend(r),
            "filters": {"aggregationType": "daily", "dataPointsCount": len(days)},
        }
    )


class Platform:
    """A scripted platform on an injected clock: ``platform.body`` is what it answers now."""

    def __init__(self, body: str, now: dt.datetime) -> None:
        self.body = body
        self.now = now
        self.requests = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return httpx.Response(200, text=self.body)

    def client(self, store: ResponseStore) -> EngagementClient:
        return EngagementClient(
            HOST,
            credentials=Credentials("cs-test", "test-secret-0123456789-abcdefghij"),
            store=store,
            transport=httpx.MockTransport(self.handle),
            clock=lambda: self.now.timestamp(),
            sleep=lambda s: None,
        )


def week_query(**kw) -> EngagementQuery:
    return EngagementQuery(**{"stream_id": STREAM, "start": W45[0], "end": W45[1], **kw})


# -- settled before final -------------------------------------------------------------------
def test_an_answer_fetched_an_hour_after_its_range_ended_is_fetched_again_later(store):
    platform = Platform(answer(*W45), W45_END + dt.timedelta(hours=1))
    client = platform.client(store)
    client.fetch(STREAM, *W45)
    client.fetch(STREAM, *W45)
    assert platform.requests == 1  # reused within the freshness window
    assert store.entries()[0].final is False
    platform.now += dt.timedelta(minutes=16)
    client.fetch(STREAM, *W45)
    assert platform.requests == 2  # not settled: asked again after the window
    platform.now = W45_END + dt.timedelta(days=3)
    client.fetch(STREAM, *W45)
    assert platform.requests == 3
    assert store.entries()[0].final is True  # the same answer, now confirmed settled
    assert len(store.revisions(HOST, week_query())) == 1  # identical answers are not duplicated
    platform.now += dt.timedelta(days=400)
    client.fetch(STREAM, *W45)
    assert platform.requests == 3


def test_an_answer_fetched_three_days_after_its_range_ended_is_final(store):
    platform = Platform(answer(*W45), W45_END + dt.timedelta(days=3))
    client = platform.client(store)
    client.fetch(STREAM, *W45)
    platform.now += dt.timedelta(days=3650)
    client.fetch(STREAM, *W45)
    assert platform.requests == 1
    assert store.entries()[0].final is True


def test_settling_is_counted_in_the_querys_zone_and_is_configurable(tmp_path):
    # W45 ends 2025-11-10 00:00 in Honolulu = 10:00 UTC; 47 h after that is not yet settled
    fetched = W45_END + dt.timedelta(hours=10 + 47)
    store = ResponseStore(tmp_path / "a.sqlite3")
    store.put(HOST, week_query(tz="Pacific/Honolulu"), answer(*W45), now=fetched)
    store.put(HOST, week_query(), answer(*W45), now=fetched)  # UTC: 57 h, settled
    finals = {e.query["tz"]: e.final for e in store.entries()}
    assert finals == {"Pacific/Honolulu": False, "UTC": True}
    quick = ResponseStore(tmp_path / "a.sqlite3", settle=dt.timedelta(hours=1))
    assert all(e.final for e in quick.entries())
    with pytest.raises(ValueError, match="settle"):
        ResponseStore(tmp_path / "a.sqlite3", settle=-5)


# -- revisions ------------------------------------------------------------------------------
def test_zeros_for_stored_days_keep_the_stored_numbers_and_record_the_revision(store, caplog):
    platform = Platform(answer(*W45), W45_END + dt.timedelta(days=3))
    client = platform.client(store)
    good = client.fetch(STREAM, *W45)
    platform.body = answer(*W45, per_day=(0, 0, 0))  # the platform no longer keeps W45
    platform.now += dt.timedelta(days=200)
    with caplog.at_level(logging.WARNING, logger="engagement_kit.store"):
        refreshed = client.fetch(STREAM, *W45, refresh=True)
        client.fetch(STREAM, *W45, refresh=True)  # the same zeros again: told only once
    assert platform.requests == 3
    pd.testing.assert_frame_equal(refreshed.trend, good.trend)
    assert refreshed.summary["unique_users"] == 700
    revisions = store.revisions(HOST, week_query())
    assert [r.lossy for r in revisions] == [False, True]
    assert store.get(HOST, week_query(), now=platform.now) == answer(*W45)
    warnings = [r for r in caplog.records if "no users on" in r.getMessage()]
    assert len(warnings) == 1
    assert "2025-11-03" in warnings[0].getMessage() and "store history" in warnings[0].getMessage()
    # all seven lost days are counted, the first three named (mutation gap)
    assert "2025-11-03, 2025-11-04, 2025-11-05 and 4 more" in warnings[0].getMessage()
    assert client.fetch(STREAM, *W45).summary["unique_users"] == 700


def test_a_real_revision_is_used_and_reported(store):
    platform = Platform(answer(*W45, unique=710), W45_END + dt.timedelta(hours=1))
    client = platform.client(store)
    assert client.fetch(STREAM, *W45).summary["unique_users"] == 710
    platform.body = answer(*W45, per_day=(99, 40, 60), unique=702)
    platform.now = W45_END + dt.timedelta(days=7, hours=10)  # the next weekly run
    assert client.fetch(STREAM, *W45).summary["unique_users"] == 702
    revisions = store.revisions(HOST, week_query())
    assert len(revisions) == 2 and not any(r.lossy for r in revisions)
    note = report_note(store, HOST, [week_query()], now=platform.now)
    assert note.settled is True
    assert note.revised == ["the platform revised 2025-W45: unique users 710 → 702"]
    assert "The platform revised 2025-W45: unique users 710 → 702." in note.text()
    later = report_note(store, HOST, [week_query()], now=platform.now + dt.timedelta(days=8))
    assert later.revised == []  # said once, in the next week's report
    history = CliRunner().invoke(
        app, ["store", "history", STREAM, "--week", "2025-W45"], env=_env(store)
    )
    assert history.exit_code == 0, history.output
    text = " ".join(history.stdout.split())
    assert "unique users 710 → 702" in text and "7 days changed" in text
    assert "in use (final)" in text and "earlier answer" in text
    none = CliRunner().invoke(app, ["store", "history", STREAM, "-w", "2025-W44"], env=_env(store))
    assert none.exit_code == 1 and "no stored answers for stream st-rec for 2025-W44" in none.stdout
    bad = CliRunner().invoke(app, ["store", "history", STREAM, "-w", "2025-45"], env=_env(store))
    assert bad.exit_code == 2 and "week" in bad.output and "Traceback" not in bad.output


def _env(store: ResponseStore) -> dict[str, str]:
    return {"ENGAGEMENT_KIT_STORE": str(store.path), "COLUMNS": "200"}


def test_an_unsettled_week_is_named_in_the_note(store):
    store.put(HOST, week_query(), answer(*W45), now=W45_END + dt.timedelta(hours=2))
    note = report_note(store, HOST, [week_query()], now=W45_END + dt.timedelta(hours=2))
    assert note.settled is False and note.unsettled == ["2025-W45"]
    assert "Not all numbers are settled yet (2025-W45" in note.text()[0]
    assert report_note(None, HOST, [week_query()], now=W45_END).settled is None


def test_the_history_says_when_the_answer_in_use_may_still_change(store):
    # fetched two hours after the week ended: the platform may still revise it (mutation gap)
    store.put(HOST, week_query(), answer(*W45), now=W45_END + dt.timedelta(hours=2))
    history = CliRunner().invoke(
        app, ["store", "history", STREAM, "--week", "2025-W45"], env=_env(store)
    )
    assert history.exit_code == 0, history.output
    text = " ".join(history.stdout.split())
    assert "in use (not settled yet)" in text and "(final)" not in text


def test_a_day_in_progress_is_replaced_not_kept_as_history(store):
    today = EngagementQuery(stream_id=STREAM, start="2025-11-12", end="2025-11-12")
    at = dt.datetime(2025, 11, 12, 9, tzinfo=dt.UTC)
    store.put(HOST, today, answer("2025-11-12", "2025-11-12", (5, 1, 4)), now=at)
    store.put(HOST, today, answer("2025-11-12", "2025-11-12", (9, 2, 7)), now=at.replace(hour=15))
    assert len(store.revisions(HOST, today)) == 1
    store.put(HOST, today, answer("2025-11-12", "2025-11-12", (12, 3, 9)), now=at.replace(day=13))
    revisions = store.revisions(HOST, today)
    assert [r.ended for r in revisions] == [False, True]
    assert store.get(HOST, today, now=at.replace(day=13)) == answer(
        "2025-11-12", "2025-11-12", (12, 3, 9)
    )
    # back to an earlier answer: that revision is in use again, not duplicated
    store.put(HOST, today, answer("2025-11-12", "2025-11-12", (9, 2, 7)), now=at.replace(day=14))
    assert len(store.revisions(HOST, today)) == 2
    assert '"uniqueUsers": 9' in store.get(HOST, today, now=at.replace(day=14))


def test_a_schema_1_store_is_migrated_in_place(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(
        """CREATE TABLE responses (key TEXT PRIMARY KEY, host TEXT NOT NULL,
        stream_id TEXT NOT NULL, query TEXT NOT NULL, payload TEXT NOT NULL,
        fetched_at TEXT NOT NULL, final INTEGER NOT NULL);
        PRAGMA user_version = 1;"""
    )
    query = week_query()
    conn.execute(
        "INSERT INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            ResponseStore.key(HOST, query),
            HOST,
            STREAM,
            json.dumps(query.model_dump(mode="json"), sort_keys=True),
            answer(*W45),
            (W45_END + dt.timedelta(days=5)).isoformat(),
            1,
        ),
    )
    conn.commit()
    conn.close()
    store = ResponseStore(path)
    assert store.get(HOST, query, now=W45_END + dt.timedelta(days=900)) == answer(*W45)
    (entry,) = store.entries()
    assert entry.final and entry.fetched_at == W45_END + dt.timedelta(days=5)
    tables = {name for (name,) in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert "responses" not in tables and "revisions" in tables


def test_info_shows_the_oldest_and_newest_day_per_stream(store):
    store.put(HOST, week_query(), answer(*W45), now=W45_END)
    store.put(HOST, week_query(end="2025-11-04"), answer(W45[0], "2025-11-04"), now=W45_END)
    later = EngagementQuery(stream_id="st-b", start="2025-12-01", end="2025-12-07")
    store.put(HOST, later, answer("2025-12-01", "2025-12-07"), now=W45_END)
    info = store.info()
    assert info["days"] == {
        STREAM: ("2025-11-03", "2025-11-09"),
        "st-b": ("2025-12-01", "2025-12-07"),
    }
    assert info["revisions"] == 3 and info["settle_hours"] == 48
    shown = CliRunner().invoke(app, ["store", "info"], env=_env(store))
    assert shown.exit_code == 0, shown.output
    assert "2025-11-03" in shown.stdout and "2025-12-07" in shown.stdout


# -- where it lives -------------------------------------------------------------------------
@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.delenv("ENGAGEMENT_KIT_STORE", raising=False)
    monkeypatch.chdir(tmp_path)  # no project folder (.env) above
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


def _old_store_with_an_answer() -> Path:
    old = legacy_store_path()
    store = ResponseStore(old)
    store.put(HOST, week_query(), answer(*W45), now=W45_END + dt.timedelta(days=3))
    assert Path(f"{old}-wal").exists()  # the answer is still in the write-ahead log
    store.close()
    return old


def test_the_default_store_is_in_the_data_folder_and_moves_there_once(home, caplog):
    assert default_store_path() == home / "data" / "engagement-kit" / "responses.sqlite3"
    old = legacy_store_path()
    assert old == home / "cache" / "engagement-kit" / "responses.sqlite3"
    _old_store_with_an_answer()
    with caplog.at_level(logging.WARNING, logger="engagement_kit.store"):
        store = ResponseStore()
        assert store.get(HOST, week_query()) == answer(*W45)
    assert store.path == default_store_path()
    assert not old.exists() and not Path(f"{old}-wal").exists()
    assert not Path(f"{old}-shm").exists()
    assert [r for r in caplog.records if "moved the response store" in r.getMessage()]
    assert adopt_legacy_store(store.path) is False  # once only


def test_whoever_asks_for_the_default_path_first_gets_the_old_store(home):
    old = _old_store_with_an_answer()
    path = default_store_path()  # e.g. the delivery record, before any ResponseStore
    assert path.is_file() and not old.exists()
    assert ResponseStore().get(HOST, week_query()) == answer(*W45)


def test_a_configured_store_never_takes_the_old_one(home, monkeypatch, tmp_path):
    old = _old_store_with_an_answer()
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", str(tmp_path / "mine.sqlite3"))
    assert ResponseStore().get(HOST, week_query()) is None
    assert old.exists()


def _open_default_store(_: int) -> str | None:
    return ResponseStore().get(HOST, week_query(), now=W45_END + dt.timedelta(days=4))


@pytest.mark.slow
def test_two_processes_starting_at_once_move_it_safely(home):
    old = _old_store_with_an_answer()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        got = pool.map(_open_default_store, [0, 1])
    assert got == [answer(*W45), answer(*W45)]
    assert not old.exists()
    leftovers = [p.name for p in default_store_path().parent.iterdir() if "moving" in p.name]
    assert leftovers == []


# -- export / import / backup ---------------------------------------------------------------
def _filled_store(path: Path) -> ResponseStore:
    store = ResponseStore(path)
    at = W45_END + dt.timedelta(hours=1)
    store.put(HOST, week_query(), answer(*W45, unique=710), now=at)
    store.put(HOST, week_query(), answer(*W45, unique=702), now=at + dt.timedelta(days=3))
    store.put(HOST, week_query(), answer(*W45, (0, 0, 0)), now=at + dt.timedelta(days=300))
    store.put(
        HOST,
        week_query(channels="rtm,msteams", tz="Asia/Kolkata", conversation_type="interactive"),
        answer(*W45, (7, 3, 4)),
        now=at,
    )
    hourly = EngagementQuery(
        stream_id="st-h", start="2025-12-01", end="2025-12-01", aggregation="hourly"
    )
    text = (FIXTURES / "doc_sample_hourly.json").read_text()
    store.put(HOST, hourly.replace(**_fixture_range(text)), text, now=at)
    return store


def _fixture_range(text: str) -> dict:
    from engagement_kit.tidy import parse_response

    dates = parse_response(text, query=None).dates
    return {"start": dates[0].date(), "end": dates[-1].date()}


def _frames(store: ResponseStore) -> dict[str, pd.DataFrame]:
    from engagement_kit.tidy import parse_response

    out = {}
    for key, revisions in store.ranges().items():
        for r in revisions:
            data = parse_response(r.payload, query=r.query)
            out[f"{key} {r.fetched_at}"] = data.trend
    return out


def test_export_wipe_import_gives_back_the_same_history(tmp_path):
    store = _filled_store(tmp_path / "a.sqlite3")
    before = _frames(store)
    done = export_history(store, tmp_path / "export")
    assert done["ranges"] == 3 and done["revisions"] == 5
    history = pd.read_csv(tmp_path / "export" / "history.csv")  # one call
    assert len(history) == done["rows"] == 4 * 7 + 24 * len(_fixture_range_days(store))
    assert {"stream_id", "channels", "fetched_at", "date", "hour", "unique", "in_use"} <= set(
        history.columns
    )
    first_bytes = {
        f: (tmp_path / "export" / f).read_bytes() for f in ("history.csv", "answers.csv")
    }
    info_before = store.info()
    assert store.clear() == 3
    assert import_history(store, tmp_path / "export") == {"read": 5, "added": 5}
    assert import_history(store, tmp_path / "export") == {"read": 5, "added": 0}  # idempotent
    after = _frames(store)
    assert after.keys() == before.keys()
    for key, frame in before.items():
        pd.testing.assert_frame_equal(after[key], frame)
    export_history(store, tmp_path / "again")
    for name, data in first_bytes.items():
        assert (tmp_path / "again" / name).read_bytes() == data  # byte for byte
    info_after = store.info()
    for field in ("entries", "final_entries", "revisions", "streams", "days"):
        assert info_after[field] == info_before[field]
    tidy = read_history(tmp_path / "again")
    assert str(tidy["fetched_at"].dtype) == "datetime64[us, UTC]" or "UTC" in str(
        tidy["fetched_at"].dtype
    )
    assert tidy.loc[tidy["in_use"] & (tidy["stream_id"] == STREAM), "unique"].max() == 100


def _fixture_range_days(store: ResponseStore) -> list:
    (revisions,) = store.ranges(stream_id="st-h").values()
    q = revisions[0].query
    return [q.start + dt.timedelta(days=i) for i in range(q.days)]


def test_the_delivery_record_in_the_stores_file_travels_with_the_export(tmp_path):
    from engagement_kit.delivery import Ledger

    store = _filled_store(tmp_path / "a.sqlite3")
    with Ledger(store.path) as ledger:
        ledger.record("st-h", "2025-W45", "mailto://${SMTP_USER}@x", "report", "abc123")
        ledger.set_firings("st-h", "2025-W45", ["drop"])
    export_history(store, tmp_path / "export")
    assert (tmp_path / "export" / "tables" / "deliveries.csv").is_file()
    fresh = ResponseStore(tmp_path / "b.sqlite3")
    import_history(fresh, tmp_path / "export")
    import_history(fresh, tmp_path / "export")  # twice: nothing doubles
    with Ledger(fresh.path) as ledger:
        sent = ledger.sent("st-h", "2025-W45", "mailto://${SMTP_USER}@x", "report")
        assert sent is not None and sent[0] == "abc123"
        assert ledger.last_fired("st-h", "2025-W46") == {"drop": "2025-W45"}
    rows = sqlite3.connect(fresh.path).execute("SELECT count(*) FROM deliveries").fetchone()
    assert rows == (1,)


def test_import_into_a_store_that_moved_on_keeps_its_answer_in_use(tmp_path):
    store = _filled_store(tmp_path / "a.sqlite3")
    export_history(store, tmp_path / "export")
    other = ResponseStore(tmp_path / "b.sqlite3")
    newer = answer(*W45, unique=705)
    other.put(HOST, week_query(), newer, now=W45_END + dt.timedelta(days=10))
    assert import_history(other, tmp_path / "export")["added"] == 5
    assert other.get(HOST, week_query(), now=W45_END + dt.timedelta(days=11)) == newer
    assert len(other.revisions(HOST, week_query())) == 4


def test_import_refuses_a_damaged_file_without_writing(tmp_path, store):
    export_history(_filled_store(tmp_path / "a.sqlite3"), tmp_path / "export")
    answers = tmp_path / "export" / "answers.csv"
    frame = pd.read_csv(answers, dtype=str, keep_default_na=False)
    frame.loc[2, "payload"] = '{"summary": 1}'
    frame.to_csv(answers, index=False)
    with pytest.raises(StoreError, match=r"line 4.*nothing was imported"):
        import_history(store, tmp_path / "export")
    assert store.info()["revisions"] == 0
    with pytest.raises(StoreError, match="store export"):
        import_history(store, tmp_path / "nowhere")


def test_export_refuses_to_replace_a_more_complete_export(tmp_path):
    store = _filled_store(tmp_path / "a.sqlite3")
    export_history(store, tmp_path / "export")
    before = (tmp_path / "export" / "answers.csv").read_bytes()
    store.clear(stream_id="st-h")  # this store now lacks one range the export holds
    with pytest.raises(StoreError, match=r"holds 1 answers this store does not have.*st-h"):
        export_history(store, tmp_path / "export")
    assert (tmp_path / "export" / "answers.csv").read_bytes() == before
    assert export_history(store, tmp_path / "export", force=True)["revisions"] == 4
    import_history(store, tmp_path / "export")
    assert export_history(store, tmp_path / "export")["revisions"] == 4  # nothing lacking now


def test_export_and_import_commands(tmp_path):
    store = _filled_store(tmp_path / "a.sqlite3")
    runner = CliRunner()
    result = runner.invoke(app, ["store", "export", str(tmp_path / "out")], env=_env(store))
    assert result.exit_code == 0, result.output
    assert "3 ranges, 5 answers" in " ".join(result.stdout.split())
    fresh = {"ENGAGEMENT_KIT_STORE": str(tmp_path / "b.sqlite3"), "COLUMNS": "200"}
    result = runner.invoke(app, ["store", "import", str(tmp_path / "out")], env=fresh)
    assert result.exit_code == 0 and "5 were new" in result.stdout
    bad = runner.invoke(app, ["store", "import", str(tmp_path / "missing")], env=fresh)
    assert bad.exit_code == 1 and "store export" in bad.output and "Traceback" not in bad.output


def _writer(path: str, worker: int, count: int) -> None:
    store = ResponseStore(path)
    for i in range(count):
        day = (dt.date(2025, 1, 1) + dt.timedelta(days=i)).isoformat()
        q = EngagementQuery(stream_id=f"st-w{worker}", start=day, end=day)
        store.put(HOST, q, answer(day, day, (i + 1, 1, i)), now=W45_END)
    store.close()


def _days_held(path: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT stream_id, first_day FROM revisions ORDER BY 1, 2").fetchall()
    finally:
        conn.close()
    held: dict[str, list[str]] = {}
    for sid, day in rows:
        held.setdefault(sid, []).append(day)
    return held


@pytest.mark.slow
def test_a_backup_taken_while_three_processes_write_holds_every_committed_answer(tmp_path):
    path = tmp_path / "live.sqlite3"
    store = ResponseStore(path)
    store.info()  # create the schema before the writers start
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_writer, args=(str(path), w, 60)) for w in range(3)]
    for p in writers:
        p.start()
    backups = []
    deadline = _time.monotonic() + 60
    while any(p.is_alive() for p in writers) and _time.monotonic() < deadline:
        committed = store.info()["revisions"]  # committed before this backup began
        target = store.backup(tmp_path / f"backup-{len(backups)}.sqlite3")
        backups.append((target, committed))
        _time.sleep(0.05)
    for p in writers:
        p.join(timeout=60)
        assert p.exitcode == 0
    backups.append((store.backup(tmp_path / "final.sqlite3"), 180))
    assert len(backups) >= 3  # at least two were taken while the writers ran
    for target, committed in backups:
        held = _days_held(target)
        assert sum(len(days) for days in held.values()) >= committed
        for days in held.values():  # each writer commits in order: a backup holds a prefix
            expected = [
                (dt.date(2025, 1, 1) + dt.timedelta(days=i)).isoformat() for i in range(len(days))
            ]
            assert days == expected
        copy = ResponseStore(target)
        assert copy.info()["revisions"] == sum(len(d) for d in held.values())
        copy.close()
    final = ResponseStore(tmp_path / "final.sqlite3")
    assert final.info()["streams"] == {"st-w0": 60, "st-w1": 60, "st-w2": 60}
    q = EngagementQuery(stream_id="st-w2", start="2025-03-01", end="2025-03-01")
    assert final.get(HOST, q) == answer("2025-03-01", "2025-03-01", (60, 1, 59))


def test_backup_refuses_the_store_itself_and_a_folder(store, tmp_path):
    store.put(HOST, week_query(), answer(*W45))
    with pytest.raises(StoreError, match="the store itself"):
        store.backup(store.path)
    with pytest.raises(StoreError, match="directory"):
        store.backup(tmp_path)
    result = CliRunner().invoke(
        app, ["store", "backup", str(tmp_path / "b.sqlite3")], env=_env(store)
    )
    assert result.exit_code == 0, result.output
    assert ResponseStore(tmp_path / "b.sqlite3").get(HOST, week_query()) == answer(*W45)


# -- the weekly report ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("hours_after", "expected"),
    [
        (2, "Not all numbers are settled yet (2025-W45, 2025-W45 hourly"),
        (80, "All numbers are settled"),
    ],
)
def test_the_weekly_report_footer_says_whether_its_numbers_were_settled(
    tmp_path, hours_after, expected
):
    from engagement_kit.demo import DemoPlatform, demo_client
    from engagement_kit.report import load_weekly

    now = (W45_END + dt.timedelta(hours=5 + hours_after)).timestamp()  # New York is UTC-5
    client = demo_client(
        store=ResponseStore(tmp_path / "s.sqlite3"),
        platform=DemoPlatform(clock=lambda: now),
        clock=lambda: now,
    )
    report = load_weekly("st-demo-hr-us", "2025-W45", tz="America/New_York", client=client)
    footer = report.footer().data
    assert expected in footer
    assert "revised" not in footer
