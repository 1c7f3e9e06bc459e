"""The one database layer of the store: opening it, its connections, locking, retries, errors.

Every table of the store (:mod:`engagement_kit.store.schema`) is reached through
:class:`Database`, on either backend, with SQLAlchemy Core:

* **SQLite** (the default): a file path. WAL mode, a 30 s busy timeout, ``synchronous =
  NORMAL``; reads run in deferred transactions (readers never wait for a writer), writes in
  short ``BEGIN IMMEDIATE`` transactions (the write lock is taken first, so a busy database
  fails before any work) that are retried while the file is locked.
* **PostgreSQL**: a ``postgresql://`` URL (psycopg 3). ``${NAME}`` in the URL is filled from
  the environment over the project's ``.env``; without a password in the URL, libpq's own
  ``PGPASSWORD`` / ``~/.pgpass`` apply. Writes are ``READ COMMITTED`` transactions retried on
  a serialization failure or deadlock; the schema is created and migrated under an advisory lock.

The URL is shown with its password masked (:func:`mask_url`) everywhere: errors, logs,
``store info``, ``doctor``. Any database error leaves here as one
:class:`~engagement_kit.errors.StoreError` sentence naming the store, the cause and the fix.

SQLite files handled as files (the rate budget's file for pyrate-limiter's SQLite bucket, the
online backup, moving the old default store, reading a corrupt file's record) go through
:mod:`engagement_kit.store.sqlite_file`, the only module that calls ``sqlite3.connect``, with
the same pragmas.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc

from engagement_kit.errors import StoreError
from engagement_kit.store import schema
from engagement_kit.store.sqlite_file import BUSY_TIMEOUT_S, copy_sqlite, sqlite_pragmas

__all__ = [
    "CorruptStoreError",
    "Database",
    "NewerStoreError",
    "is_url",
    "mask_url",
    "open_stores",
    "utc",
]

logger = logging.getLogger("engagement_kit.store")

LOCK_RETRIES = 20
_FIX = (
    "delete it or run `engagement-kit store clear`; set ENGAGEMENT_KIT_STORE to use another store"
)
_URL = re.compile(r"^(postgres|postgresql)(\+\w+)?://", re.IGNORECASE)
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class CorruptStoreError(StoreError):
    """The file exists but is not a readable engagement-kit database."""


class NewerStoreError(StoreError):
    """The store was written by a newer engagement-kit (its schema is newer than this one's)."""


def utc(now: dt.datetime | None) -> dt.datetime:
    """``now`` in UTC (default: the current time); a naive datetime is refused."""
    if now is None:
        return dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (e.g. datetime.now(datetime.UTC))")
    return now.astimezone(dt.UTC)


# -- where the store is -----------------------------------------------------------------------
def is_url(location: object) -> bool:
    """Whether ``location`` is a PostgreSQL URL (else it is a SQLite file path)."""
    return isinstance(location, str) and bool(_URL.match(location.strip()))


def mask_url(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` in it shown as ``***``."""
    return re.sub(r"(\w+(?:\+\w+)?://[^:/@\s]*:)[^@\s]*@", r"\1***@", str(text))


def _env() -> dict[str, str]:
    from engagement_kit.config.settings import reference_env

    return reference_env()


def _sqlalchemy_url(url: str, env: Mapping[str, str] | None = None) -> sa.URL:
    """The SQLAlchemy URL of a ``postgresql://`` store URL, its ``${NAME}`` references filled."""
    values = _env() if env is None and _REF.search(url) else (env or {})

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise StoreError(
                f"store URL {mask_url(url)}: ${{{name}}} is not set; set {name} in the "
                "environment or the project's .env"
            )
        from urllib.parse import quote

        return quote(values[name], safe="")

    filled = _REF.sub(fill, url.strip())
    try:
        parsed = sa.make_url(filled)
    except sa_exc.ArgumentError as exc:
        raise StoreError(
            f"store URL {mask_url(url)}: not a valid URL; write it as "
            "postgresql://user@host:5432/dbname"
        ) from exc
    return parsed.set(drivername="postgresql+psycopg")


#: Seconds to wait for a PostgreSQL server to answer a connection before giving up (a server
#: that accepts TCP and says nothing would otherwise hold ``send`` forever). libpq's own
#: ``PGCONNECT_TIMEOUT`` or ``?connect_timeout=N`` in the URL take precedence.
CONNECT_TIMEOUT_S = 10


def connect_args(url: sa.URL) -> dict[str, Any]:
    """psycopg's connect arguments for ``url``: a bounded connect timeout unless the URL or
    libpq's environment (``PGCONNECT_TIMEOUT``) sets one."""
    if "connect_timeout" in url.query or os.environ.get("PGCONNECT_TIMEOUT"):
        return {}
    return {"connect_timeout": CONNECT_TIMEOUT_S}


def is_locked(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) in ("40001", "40P01"):  # serialization / deadlock
        return True
    text = str(orig).lower()
    return isinstance(orig, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _postgres_fix(text: str, fix: str) -> str:
    """The fix for a PostgreSQL error, from libpq's / the server's message (lower case)."""
    if "permission denied" in text or "read-only transaction" in text:
        return (
            "this database role may only read: grant it INSERT, UPDATE and DELETE on the "
            "store's tables (GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "
            "ROLE), or set ENGAGEMENT_KIT_STORE to a role that can write"
        )
    if "password authentication failed" in text or "no password supplied" in text:
        return (
            "give the role's password as ${NAME} in the URL (set in the environment or .env), "
            "in PGPASSWORD, or in ~/.pgpass (mode 600)"
        )
    if "does not exist" in text and "database" in text:
        return "create the database (createdb NAME) or correct the database name in the URL"
    if any(
        word in text
        for word in ("connection refused", "timeout expired", "timed out", "could not translate")
        + ("connection failed", "server closed the connection", "no route to host")
    ):
        return (
            "check that the PostgreSQL server is running and reachable from this machine "
            "(host and port in the URL), or set ENGAGEMENT_KIT_STORE to another store"
        )
    return fix


# -- engines: one per store and process -------------------------------------------------------
_engines: dict[tuple[str, int], sa.Engine] = {}
_engines_lock = threading.Lock()


def _sqlite_engine(path: Path) -> sa.Engine:
    engine = sa.create_engine(
        sa.URL.create("sqlite+pysqlite", database=str(path)),
        connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun below, not by the driver
        sqlite_pragmas(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get("ek_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def open_stores() -> list[str]:
    """The stores this process has open (``sqlite:<path>`` or the URL, password masked)."""
    with _engines_lock:
        return [mask_url(key) for key, pid in _engines if pid == os.getpid()]


def _engine(key: str, make: Callable[[], sa.Engine]) -> sa.Engine:
    with _engines_lock:
        engine = _engines.get((key, os.getpid()))
        if engine is None:
            engine = _engines[(key, os.getpid())] = make()
        return engine


class Database:
    """The store (a SQLite file or a PostgreSQL database) and its connections.

    Parameters
    ----------
    location : str or Path, optional
        A file path (SQLite) or a ``postgresql://`` URL; default ``ENGAGEMENT_KIT_STORE``,
        else ``responses.sqlite3`` in the user data folder (see
        :mod:`engagement_kit.store.location`). Nothing is touched until first use.
    """

    def __init__(self, location: str | os.PathLike[str] | None = None) -> None:
        from engagement_kit.store.location import default_store_location, store_is_configured

        self._adopt = location is None and not store_is_configured()
        if location is None:
            location = default_store_location(adopt=False)
        self.url: str | None = str(location).strip() if is_url(location) else None
        #: The SQLite file (``None`` for a PostgreSQL store).
        self.path: Path | None = None if self.url else Path(location).expanduser()
        self._ready = False
        self._ready_lock = threading.Lock()

    # -- naming -----------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return "postgresql" if self.url else "sqlite"

    @property
    def location(self) -> str | Path:
        """What the store was opened from: the file path, or the URL as given (``${NAME}``
        references unexpanded; may hold a password: show :attr:`shown` instead)."""
        return self.url if self.url else self.path  # type: ignore[return-value]

    @property
    def shown(self) -> str:
        """The store for people: the file path, or the URL with its password masked."""
        return mask_url(self.url) if self.url else str(self.path)

    def _mask(self, text: str) -> str:
        text = mask_url(text)
        if self.url:
            with contextlib.suppress(StoreError):
                password = _sqlalchemy_url(self.url).password
                if password:
                    text = text.replace(str(password), "***")
        return text

    def error(self, exc: BaseException, doing: str, fix: str = _FIX) -> StoreError:
        """One sentence: the store, what could not be done, the cause, the fix."""
        orig = getattr(exc, "orig", None) or exc
        cause = f"{orig.__class__.__name__}: {str(orig).strip().splitlines()[0] if str(orig).strip() else ''}"
        text = str(orig).lower()
        if self.url:
            fix = _postgres_fix(text, fix)
        elif "readonly" in text or "read-only" in text or "permission denied" in text:
            fix = (
                "it is read-only for this user: make the file and its folder writable "
                "(chown/chmod) or set ENGAGEMENT_KIT_STORE to a store you can write"
            )
        elif "database or disk is full" in text or "no space left" in text:
            fix = (
                "the disk holding it is full: free space on it, or set ENGAGEMENT_KIT_STORE to "
                "a store on another disk"
            )
        elif "unable to open database file" in text:
            fix = (
                "its folder cannot be written or does not exist: make the folder writable or "
                "set ENGAGEMENT_KIT_STORE to a store you can write"
            )
        return StoreError(
            self._mask(f"response store {self.shown}: cannot {doing} ({cause}); {fix}")
        )

    # -- engine and schema ------------------------------------------------------------------
    @property
    def engine(self) -> sa.Engine:
        """The process's engine for this store (its schema checked and migrated once)."""
        if self.url:
            url = _sqlalchemy_url(self.url)
            engine = _engine(
                url.render_as_string(hide_password=False),
                lambda: sa.create_engine(
                    url,
                    pool_pre_ping=True,
                    pool_size=2,
                    max_overflow=8,
                    connect_args=connect_args(url),
                ),
            )
        else:
            engine = _engine(f"sqlite:{self.path}", self._open_sqlite)
        if not self._ready:
            with self._ready_lock:
                if not self._ready:
                    self._check_schema(engine)
                    self._ready = True
        return engine

    def _open_sqlite(self) -> sa.Engine:
        assert self.path is not None
        if self.path.is_dir():
            raise StoreError(
                f"response store {self.path}: is a directory, not a database file; "
                "set ENGAGEMENT_KIT_STORE to a file path such as ~/engagement/responses.sqlite3"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self.error(exc, "create its directory") from exc
        if self._adopt:
            self._adopt = False
            from engagement_kit.store.location import adopt_legacy_store

            try:
                adopt_legacy_store(self.path)
            except OSError as exc:
                logger.warning("could not move the old response store: %s", exc)
        return _sqlite_engine(self.path)

    def found_schema(self, conn: sa.Connection) -> tuple[int, str]:
        """(schema number, the release that wrote it) of the store as it is (0: empty)."""
        version, by = 0, ""
        if conn.dialect.name == "sqlite":
            version = int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0)
        if sa.inspect(conn).has_table("store_meta"):
            meta = {name: value for name, value in conn.execute(sa.select(schema.store_meta))}
            version = max(version, int(meta.get("schema", 0)))
            by = meta.get("written_by", "")
        return version, by

    def _check_schema(self, engine: sa.Engine) -> None:
        from engagement_kit import __version__

        def newer(version: int, by: str) -> NewerStoreError:
            return NewerStoreError(
                f"response store {self.shown}: written by engagement-kit {by or 'a newer release'} "
                f"or later (store schema {version}; this engagement-kit {__version__} reads "
                f"schema {schema.SCHEMA_VERSION}): upgrade engagement-kit "
                "(pip install -U engagement-kit), or set ENGAGEMENT_KIT_STORE to another store; "
                "the store was not changed"
            )

        def migrate() -> None:
            with self._begin(engine, write=True) as conn:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7210328)")
                version, by = self.found_schema(conn)  # another process may have won
                if version > schema.SCHEMA_VERSION:
                    raise newer(version, by)
                schema.migrate(conn, version)
                upsert = schema.dialect_insert(conn, schema.store_meta)
                for name, value in (
                    ("schema", str(schema.SCHEMA_VERSION)),
                    ("written_by", __version__),
                ):
                    conn.execute(
                        upsert.values(name=name, value=value).on_conflict_do_update(
                            index_elements=["name"], set_={"value": value}
                        )
                    )
                if conn.dialect.name == "sqlite":
                    conn.exec_driver_sql(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")
                if version and version < schema.SCHEMA_VERSION:
                    logger.info(
                        "response store %s: migrated from schema %d to %d",
                        self.shown,
                        version,
                        schema.SCHEMA_VERSION,
                    )

        try:
            with self._begin(engine) as conn:
                version, by = self.found_schema(conn)
            if version > schema.SCHEMA_VERSION:
                raise newer(version, by)
            if version < schema.SCHEMA_VERSION:
                self.retry(migrate)
        except StoreError:
            raise
        except sa_exc.OperationalError as exc:
            raise self.error(exc, "open it") from exc
        except sa_exc.DatabaseError as exc:
            raise CorruptStoreError(
                self._mask(
                    f"response store {self.shown}: not a database or corrupt "
                    f"({getattr(exc, 'orig', exc).__class__.__name__}: {getattr(exc, 'orig', exc)}); {_FIX}"
                )
            ) from exc
        except sa_exc.SQLAlchemyError as exc:
            raise self.error(exc, "open it") from exc

    @contextlib.contextmanager
    def _begin(self, engine: sa.Engine, *, write: bool = False) -> Iterator[sa.Connection]:
        with engine.connect() as conn:
            if write:
                conn.execution_options(ek_write=True)
            with conn.begin():
                yield conn

    # -- work -------------------------------------------------------------------------------
    def retry(self, operation: Callable[[], Any]) -> Any:
        """Run ``operation`` again while the database reports itself locked or busy (SQLite) or a
        serialization failure or deadlock (PostgreSQL)."""
        delay = 0.05
        for attempt in range(LOCK_RETRIES):
            try:
                return operation()
            except sa_exc.DBAPIError as exc:
                if not is_locked(exc) or attempt == LOCK_RETRIES - 1:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")  # pragma: no cover

    def _run(self, work: Callable[[sa.Connection], Any], *, write: bool, doing: str) -> Any:
        engine = self.engine

        def once() -> Any:
            with self._begin(engine, write=write) as conn:
                return work(conn)

        try:
            return self.retry(once)
        except StoreError:
            raise
        except sa_exc.SQLAlchemyError as exc:
            raise self.error(exc, doing) from exc

    def read(self, statement: Any) -> list[tuple[Any, ...]]:
        """The rows of one ``SELECT`` (a SQLAlchemy statement), as tuples."""
        return self._run(
            lambda conn: [tuple(row) for row in conn.execute(statement)],
            write=False,
            doing="read it",
        )

    def transaction(self, work: Callable[[sa.Connection], Any]) -> Any:
        """Run ``work(conn)`` in one write transaction (all or nothing; retried when locked)."""
        return self._run(work, write=True, doing="write to it")

    def write(self, *statements: Any) -> None:
        """Run statements in one transaction (all or nothing)."""

        def work(conn: sa.Connection) -> None:
            for statement in statements:
                conn.execute(statement)

        self.transaction(work)

    @staticmethod
    def lock(conn: sa.Connection, name: str) -> None:
        """Serialise the rest of ``conn``'s write transaction with every other one that locks
        ``name`` (PostgreSQL: a transaction-scoped advisory lock; SQLite's ``BEGIN IMMEDIATE``
        already serialises writers)."""
        if conn.dialect.name == "postgresql":
            import hashlib

            key = int(hashlib.sha256(name.encode()).hexdigest()[:15], 16)
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))

    def insert(self, table: sa.Table) -> Any:
        """This backend's ``INSERT`` into ``table`` (with ``on_conflict_do_nothing`` /
        ``on_conflict_do_update``)."""
        from sqlalchemy.dialects import postgresql, sqlite

        if self.url:
            return postgresql.insert(table)
        return sqlite.insert(table)

    def check_writable(self) -> None:
        """Raise :class:`StoreError` (one sentence with the fix) unless the store can record
        now: its folder and file writable (SQLite), a write transaction allowed, schema current."""
        if self.path is not None:
            folder = self.path.parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
                fd, probe = tempfile.mkstemp(prefix=".ek-probe-", dir=folder)
                os.close(fd)
                os.remove(probe)
            except OSError as exc:
                raise StoreError(
                    f"response store {self.shown}: its folder {folder} cannot be written "
                    f"({exc.__class__.__name__}: {exc.strerror or exc}); make the folder writable "
                    "for this user or set ENGAGEMENT_KIT_STORE to a store you can write"
                ) from exc
        self._run(
            lambda conn: conn.execute(
                sa.update(schema.store_meta)
                .where(schema.store_meta.c.name == "schema")
                .values(value=schema.store_meta.c.value)
            ),
            write=True,
            doing="record in it",
        )

    def size_bytes(self) -> int:
        """The store's size on disk (file plus write-ahead log, or the PostgreSQL database)."""
        if self.url:
            return int(
                self.read(sa.select(sa.func.pg_database_size(sa.func.current_database())))[0][0]
            )
        size = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                size += os.path.getsize(f"{self.path}{suffix}")
        return size

    def pg_environment(self) -> dict[str, str]:
        """libpq's variables for the PostgreSQL store (for ``pg_dump``: no password on its
        command line)."""
        url = _sqlalchemy_url(self.url or "")
        env = {**os.environ}
        for name, value in (
            ("PGHOST", url.host),
            ("PGPORT", url.port),
            ("PGUSER", url.username),
            ("PGPASSWORD", url.password),
            ("PGDATABASE", url.database),
        ):
            if value is not None:
                env[name] = str(value)
        return env

    def backup_sqlite(self, target: Path) -> None:
        """Online backup of the SQLite store into the file ``target``."""
        raw = self.engine.raw_connection()
        try:
            self.retry(lambda: copy_sqlite(raw.driver_connection, target))  # type: ignore[arg-type]
        finally:
            raw.close()

    def close(self) -> None:
        """Close this process's connections to the store (they reopen on next use)."""
        key = f"sqlite:{self.path}" if self.path is not None else None
        with _engines_lock:
            for (name, pid), engine in list(_engines.items()):
                if pid != os.getpid():
                    continue
                if key is None:
                    with contextlib.suppress(StoreError):
                        if name != _sqlalchemy_url(self.url or "").render_as_string(
                            hide_password=False
                        ):
                            continue
                elif name != key:
                    continue
                engine.dispose()
                del _engines[(name, pid)]
        self._ready = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
