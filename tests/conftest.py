"""Shared test set-up: an isolated store, a clean environment, the reference fixtures, a free
port, demo clients on a fixed clock and the demo platform served over HTTP."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.builders import FIXTURES, REPO, quick_demo_client  # noqa: F401  (the root folder and the samples)
from tests.builders import free_port as _os_free_port

settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=40, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True, scope="session")
def _isolated_session_env(tmp_path_factory: pytest.TempPathFactory):
    """The same isolation for module- and session-scoped fixtures, which run before any
    function-scoped one: without it a module's reports drew on the developer's own rate-limit
    budget (~/.cache/engagement-kit/ratelimit.sqlite3), shared by every test run on the machine,
    and waited there for a free slot once parallel runs had used the hour's budget."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("KORE_") or name == "ENGAGEMENT_KIT_HOME":
                patch.delenv(name)
        session_dir = tmp_path_factory.mktemp("session-store")
        patch.setenv("ENGAGEMENT_KIT_STORE", str(session_dir / "responses.sqlite3"))
        patch.setenv("ENGAGEMENT_KIT_RATELIMIT_DB", str(session_dir / "ratelimit.sqlite3"))
        yield


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """No test sees the developer's credentials, host, store or rate-limit budget."""
    for name in list(os.environ):
        if name.startswith("KORE_") or name == "ENGAGEMENT_KIT_HOME":
            monkeypatch.delenv(name)
    store_dir = tmp_path_factory.mktemp("store")
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", str(store_dir / "responses.sqlite3"))
    # the rate-limit budget shared between processes: one per test, not the developer's
    monkeypatch.setenv("ENGAGEMENT_KIT_RATELIMIT_DB", str(store_dir / "ratelimit.sqlite3"))
    yield


@pytest.fixture
def fixture_payload():
    """Load one of the reference page's sample answers: ``fixture_payload("daily")``."""

    def load(kind: str) -> dict:
        return json.loads((FIXTURES / f"doc_sample_{kind}.json").read_text())

    return load


@pytest.fixture
def store(tmp_path: Path):
    """A fresh :class:`ResponseStore` in the test's own folder, closed afterwards."""
    from engagement_kit.store import ResponseStore

    s = ResponseStore(tmp_path / "responses.sqlite3")
    yield s
    s.close()


@pytest.fixture
def free_port() -> int:
    """A free TCP port on 127.0.0.1 (from the OS, never a fixed one)."""
    return _os_free_port()


@pytest.fixture
def demo_at():
    """``demo_at(now, store=False, platform=None, **options)``: a demo client standing still at
    ``now`` that never waits (:func:`tests.builders.quick_demo_client`); closed after the test."""
    clients = []

    def make(now: float, **kwargs):
        client = quick_demo_client(now, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def demo_server():
    """The demo platform served over HTTP on a free loopback port for the test (a
    :class:`~engagement_kit.demo.server.DemoServer`: ``.url``, ``.stats``); stopped afterwards.
    Tests that need faults or another platform use ``running_server(...)`` themselves."""
    from engagement_kit.demo import running_server

    with running_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL server for the session (``tests/postgres.py``); skipped with the
    reason when PostgreSQL is not installed (``.ci/run`` installs Debian's package)."""
    from tests.postgres import pg_bin, running_postgres

    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it")
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server, request) -> str:
    """A fresh, empty database on the session's server for this test: its ``postgresql://`` URL
    (with the test role's password, which no output may show)."""
    import re
    import subprocess

    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40] + f"_{os.getpid()}"
    base = postgres_server["url"]
    subprocess.run(
        [
            "psql",
            base,
            "-q",
            "-c",
            f'DROP DATABASE IF EXISTS "{name}"',
            "-c",
            f'CREATE DATABASE "{name}"',
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return base.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path: Path) -> str:
    """The store on each backend: a SQLite file in the test's folder, then a fresh PostgreSQL
    database (skipped with the reason when PostgreSQL is not installed)."""
    if request.param == "sqlite":
        return str(tmp_path / "responses.sqlite3")
    return request.getfixturevalue("postgres_url")
