"""The one database layer: schema versions (old files migrate, newer stores are refused and
never deleted), a corrupt file's repair, on SQLite and PostgreSQL where it applies."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from engagement_kit.cli import app
from engagement_kit.config.query import EngagementQuery
from engagement_kit.delivery.ledger import Ledger
from engagement_kit.errors import StoreError
from engagement_kit.store import ResponseStore
from engagement_kit.store.database import NewerStoreError, mask_url
from engagement_kit.store.schema import SCHEMA_VERSION, store_meta

HOST = "https://bots.example.com"
QUERY = EngagementQuery(stream_id="st-1", start="2025-11-17", end="2025-11-23")

#: The store file as engagement-kit 0.1.0 (schema 2) wrote it: revisions, host limits, session
#: tables and the delivery record, each made by its own module.
V2_SQL = """
CREATE TABLE revisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, host TEXT NOT NULL,
    stream_id TEXT NOT NULL, query TEXT NOT NULL, first_day TEXT NOT NULL,
    last_day TEXT NOT NULL, range_end TEXT NOT NULL, payload TEXT NOT NULL,
    digest TEXT NOT NULL, fetched_at TEXT NOT NULL, seen_at TEXT NOT NULL,
    ended INTEGER NOT NULL, lossy INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL DEFAULT 1,
    UNIQUE (key, digest));
CREATE INDEX revisions_key ON revisions (key, seen_at);
CREATE INDEX revisions_stream ON revisions (stream_id, first_day);
CREATE TABLE host_limits (host TEXT NOT NULL, aggregation TEXT NOT NULL,
    max_days INTEGER NOT NULL, learned_at TEXT NOT NULL, PRIMARY KEY (host, aggregation));
CREATE TABLE deliveries (stream_id TEXT NOT NULL, week TEXT NOT NULL,
    destination TEXT NOT NULL, kind TEXT NOT NULL, content_hash TEXT NOT NULL,
    sent_at TEXT NOT NULL, PRIMARY KEY (stream_id, week, destination, kind));
CREATE TABLE alert_firings (stream_id TEXT NOT NULL, rule TEXT NOT NULL, week TEXT NOT NULL,
    fired_at TEXT NOT NULL, PRIMARY KEY (stream_id, rule, week));
PRAGMA user_version = 2;
"""


def _v2_file(path) -> None:
    from engagement_kit.store.schema import revision_row

    conn = sqlite3.connect(path)
    conn.executescript(V2_SQL)
    row = revision_row(
        f"{HOST} {QUERY.key()}", HOST, QUERY, '{"ok": 1}', "2025-12-01T00:00:00+00:00",
        "2025-12-01T00:00:00+00:00", True, False,
    )  # fmt: skip
    conn.execute(
        f"INSERT INTO revisions ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        tuple(row.values()),
    )
    conn.execute(
        "INSERT INTO deliveries VALUES ('st-1', '2025-W47', 'mailto://a@b', 'report', 'h', 't')"
    )
    conn.commit()
    conn.close()


def test_a_store_written_by_the_previous_release_is_migrated_in_place(tmp_path):
    path = tmp_path / "responses.sqlite3"
    _v2_file(path)
    store = ResponseStore(path)
    assert store.revisions(HOST, QUERY)[0].payload == '{"ok": 1}'
    assert Ledger(path).sent("st-1", "2025-W47", "mailto://a@b", "report") == ("h", "t")
    assert dict(store.read(sa.select(store_meta)))["schema"] == str(SCHEMA_VERSION)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert {"claims", "session_windows", "first_seen", "store_meta"} <= tables


def _newer(store_location: str) -> None:
    store = ResponseStore(store_location)
    store.put(HOST, QUERY, '{"ok": 1}', final=True)
    store.write(
        sa.update(store_meta).where(store_meta.c.name == "schema").values(value="99"),
        sa.update(store_meta).where(store_meta.c.name == "written_by").values(value="9.1.0"),
    )
    store.close()


def test_a_newer_store_is_reported_as_such_and_clear_refuses_it(store_location, monkeypatch):
    _newer(store_location)
    with pytest.raises(NewerStoreError) as info:
        ResponseStore(store_location).get(HOST, QUERY)
    text = str(info.value)
    assert "written by engagement-kit 9.1.0 or later" in text and "upgrade" in text
    assert "corrupt" not in text and "store clear" not in text
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", store_location)
    result = CliRunner().invoke(app, ["store", "clear", "--yes"])
    assert result.exit_code != 0 and "upgrade" in result.output
    assert "Traceback" not in result.output
    # nothing was deleted: the answer is still there once the number is put back
    raw = sa.create_engine(
        store_location.replace("postgresql://", "postgresql+psycopg://")
        if "://" in store_location
        else f"sqlite:///{store_location}"
    )
    with raw.begin() as conn:
        conn.execute(
            sa.update(store_meta)
            .where(store_meta.c.name == "schema")
            .values(value=str(SCHEMA_VERSION))
        )
        assert conn.execute(sa.text("SELECT count(*) FROM revisions")).scalar() == 1
    raw.dispose()


def test_clear_of_a_corrupt_file_copies_it_aside_and_keeps_what_was_sent(tmp_path):
    path = tmp_path / "responses.sqlite3"
    ledger = Ledger(path)
    ledger.record("st-1", "2025-W47", "mailto://a@b", "report", "h")
    ledger.close()
    # a file SQLite cannot open as a database at all
    path.write_bytes(b"garbage that is not a database " * 50)
    store = ResponseStore(path)
    with pytest.raises(StoreError, match="corrupt"):
        store.get(HOST, QUERY)
    assert store.clear() == 0
    assert store.set_aside is not None and store.set_aside.read_bytes().startswith(b"garbage")
    assert store.set_aside.parent == path.parent and ".corrupt-" in store.set_aside.name
    store.put(HOST, QUERY, '{"ok": 1}', final=True)  # a working store again


def test_clear_of_a_damaged_file_keeps_the_readable_delivery_record(tmp_path, monkeypatch):
    """A store the check cannot read (as with a damaged page) whose delivery record can still
    be read: ``clear`` keeps that record in the new store."""
    path = tmp_path / "responses.sqlite3"
    ledger = Ledger(path)
    ledger.record("st-1", "2025-W47", "mailto://a@b", "report", "h")
    ledger.close()
    from engagement_kit.store import database

    real = database.Database.found_schema

    def broken(self, conn):
        raise sa.exc.DatabaseError(
            "SELECT", {}, sqlite3.DatabaseError("database disk image is malformed")
        )

    calls = {"n": 0}

    def once_broken(self, conn):
        calls["n"] += 1
        return broken(self, conn) if calls["n"] == 1 else real(self, conn)

    monkeypatch.setattr(database.Database, "found_schema", once_broken)
    store = ResponseStore(path)
    assert store.clear() == 0
    assert store.set_aside is not None and store.set_aside.exists()
    assert Ledger(path).sent("st-1", "2025-W47", "mailto://a@b", "report")[0] == "h"


def test_the_url_is_shown_with_its_password_masked(postgres_url):
    from tests.postgres import TEST_PASSWORD

    store = ResponseStore(postgres_url)
    assert TEST_PASSWORD not in store.shown and "***" in store.shown
    assert TEST_PASSWORD not in repr(store)
    assert TEST_PASSWORD not in str(store.info())
    bad = ResponseStore(postgres_url.rsplit("/", 1)[0] + "/no_such_db")
    with pytest.raises(StoreError) as info:
        bad.get(HOST, QUERY)
    assert TEST_PASSWORD not in str(info.value) and "no_such_db" in str(info.value)
    assert mask_url("postgresql://u:p%40ss@h/db") == "postgresql://u:***@h/db"


# -- credentials: no password in the URL, and never one in any output (issue 28.1) -------------
def _cli(args, env, cwd):
    import os
    import subprocess
    import sys

    from tests.builders import REPO

    clean = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    done = subprocess.run(
        [sys.executable, "-c", "from engagement_kit.cli import main; main()", "-v", *args],
        env={**clean, "PYTHONPATH": str(REPO), "COLUMNS": "250", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("source", ["pgpass", "pgpassfile", "pgpassword", "env", "dotenv"])
def test_a_password_from_libpq_or_a_reference_works_and_is_never_shown(
    postgres_url, tmp_path, source
):
    """The URL carries no password (libpq's ``~/.pgpass``, ``PGPASSFILE``, ``PGPASSWORD``) or a
    ``${VAR}`` filled from the environment or the project's ``.env``: ``store info``, ``doctor``
    and a failing store's error (``-v``: the logs too) work and never show the password."""
    from tests.postgres import TEST_PASSWORD

    home = tmp_path / "home"
    project = tmp_path / "project"
    home.mkdir()
    project.mkdir()
    env = {"HOME": str(home), "ENGAGEMENT_KIT_HOME": str(project)}
    bare = postgres_url.replace(f":{TEST_PASSWORD}@", "@")
    url = bare
    if source in ("pgpass", "pgpassfile"):
        passfile = home / ".pgpass" if source == "pgpass" else tmp_path / "elsewhere.pgpass"
        passfile.write_text(f"127.0.0.1:*:*:ek:{TEST_PASSWORD}\n")
        passfile.chmod(0o600)  # libpq ignores a password file others can read
        if source == "pgpassfile":
            env["PGPASSFILE"] = str(passfile)
    elif source == "pgpassword":
        env["PGPASSWORD"] = TEST_PASSWORD
    else:
        url = postgres_url.replace(f":{TEST_PASSWORD}@", ":${TEAM_DB_PASSWORD}@")
        if source == "env":
            env["TEAM_DB_PASSWORD"] = TEST_PASSWORD
        else:
            (project / ".env").write_text(f"TEAM_DB_PASSWORD={TEST_PASSWORD}\n")
    env["ENGAGEMENT_KIT_STORE"] = url

    code, output = _cli(["store", "info"], env, project)
    assert code == 0 and "postgresql" in output, output
    assert "Traceback" not in output
    assert TEST_PASSWORD not in output

    code, output = _cli(["doctor"], env, project)
    assert "store" in output and "is writable (postgresql)" in output, output
    assert TEST_PASSWORD not in output

    # an error (a database that does not exist) names the store, never the password
    env["ENGAGEMENT_KIT_STORE"] = url.rsplit("/", 1)[0] + "/no_such_db"
    code, output = _cli(["store", "info"], env, project)
    assert code != 0 and "no_such_db" in output, output
    assert "Traceback" not in output
    assert TEST_PASSWORD not in output


def test_without_any_password_the_store_says_so_in_one_sentence(postgres_url, tmp_path):
    """No password anywhere (an empty HOME, no PGPASSWORD): one sentence, no traceback."""
    from tests.postgres import TEST_PASSWORD

    home = tmp_path / "home"
    home.mkdir()
    bare = postgres_url.replace(f":{TEST_PASSWORD}@", "@")
    code, output = _cli(
        ["store", "info"], {"HOME": str(home), "ENGAGEMENT_KIT_STORE": bare}, tmp_path
    )
    assert code != 0 and "Traceback" not in output, output
    assert "response store postgresql://ek@127.0.0.1" in output
    assert "password" in output.lower()
