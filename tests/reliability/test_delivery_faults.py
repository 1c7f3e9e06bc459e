"""Delivery under faults, as real processes: ``engagement-kit send`` stopped with SIGTERM or
killed with SIGKILL while a destination hangs, and two runs writing one index at once.

Each test runs the real command line in a subprocess against loopback servers that accept and
never answer (:class:`tests.delivery.loopback.BadServer`).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from engagement_kit.delivery import Ledger
from engagement_kit.store.files import stream_slug
from tests.delivery.loopback import BadServer

WEEK = "2025-W47"
STREAM = ("st-a", "Alpha Bot")


def _written(out: Path, stream=STREAM) -> Path:
    folder = out / stream_slug(stream[1], stream[0])
    folder.mkdir(parents=True, exist_ok=True)
    sidecar = {
        "stream_id": stream[0],
        "stream_name": stream[1],
        "week": WEEK,
        "kpis": {"unique_users": 10, "new_users": 4, "returning_users": 6},
        "change": {},
    }
    (folder / f"{WEEK}.json").write_text(json.dumps(sidecar))
    (folder / f"{WEEK}.html").write_text("<html>page</html>")
    return folder


def _send(tmp_path: Path, url: str, *extra: str) -> subprocess.Popen:
    out = tmp_path / "reports"
    _written(out)
    toml = tmp_path / "streams.toml"
    toml.write_text(
        f'[[stream]]\nid = "{STREAM[0]}"\nname = "{STREAM[1]}"\ntz = "UTC"\ndeliver = ["{url}"]\n'
    )
    env = {
        **os.environ,
        "ENGAGEMENT_KIT_STORE": str(tmp_path / "store.sqlite3"),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "engagement_kit.cli", "send", "--config", str(toml)]
        + ["--week", WEEK, "--out-dir", str(out), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(predicate, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.05)


def _attempts_of(proc: subprocess.Popen) -> list[psutil.Process]:
    """The forked attempt(s) of a running send: children with the same command line."""
    parent = psutil.Process(proc.pid)
    return [c for c in parent.children() if c.cmdline() == parent.cmdline()]


@pytest.fixture
def silent():
    server = BadServer("silent")
    yield server
    server.stop()


def test_sigterm_during_a_hanging_send_stops_at_once_kills_the_attempt_and_frees_the_claim(
    tmp_path, silent
):
    url = f"json://127.0.0.1:{silent.port}/hook"
    proc = _send(tmp_path, url, "--deadline", "120")
    try:
        _wait_for(lambda: silent.connections >= 1 and _attempts_of(proc))
        (attempt,) = _attempts_of(proc)
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.monotonic() - start < 10  # not the 120 s deadline
    assert proc.returncode == 128 + signal.SIGTERM, output
    assert "Traceback" not in output
    assert not attempt.is_running() or attempt.status() == psutil.STATUS_ZOMBIE
    with Ledger(tmp_path / "store.sqlite3") as ledger:
        assert ledger.sent(STREAM[0], WEEK, url, "report") is None
        again = ledger.claim(STREAM[0], WEEK, url, "report")  # the next run may claim it now
        assert again.status == "claimed", again


def test_sigkill_of_send_leaves_no_attempt_that_could_still_deliver(tmp_path, silent):
    url = f"json://127.0.0.1:{silent.port}/hook"
    proc = _send(tmp_path, url, "--deadline", "120")
    try:
        _wait_for(lambda: silent.connections >= 1 and _attempts_of(proc))
        (attempt,) = _attempts_of(proc)
        proc.kill()  # SIGKILL: no cleanup runs in the parent
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    _gone, alive = psutil.wait_procs([attempt], timeout=5)
    assert alive == [], "the orphaned attempt lives on and could still send"


def _index_many(out: str, times: int) -> None:
    from engagement_kit.report import write_index

    for _ in range(times):
        write_index(out)


def test_two_runs_writing_one_index_at_once_leave_a_whole_index(tmp_path):
    out = tmp_path / "reports"
    for n in range(6):
        _written(out, (f"st-{n}", f"Bot {n}"))
    ctx = multiprocessing.get_context("spawn")
    runs = [ctx.Process(target=_index_many, args=(str(out), 15)) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=300)
    assert [run.exitcode for run in runs] == [0, 0]
    page = (out / "index.html").read_text()
    assert page.rstrip().endswith("</html>")
    for n in range(6):
        assert f"Bot {n}" in page
    assert [p for p in out.rglob("*.tmp")] == []
