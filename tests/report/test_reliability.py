"""Batch reports under stress: a host that fails for one stream, hostile names, canary
credentials, parallel report processes on one store, and a run killed mid-way.

One module-scoped batch (report runs cost seconds each) through the command users run,
``engagement-kit report --config streams.toml --host ... --jobs 2``: three demo streams served
over loopback HTTP (the kernels mint their tokens from ``KORE_CLIENT_ID`` and a canary
``KORE_CLIENT_SECRET`` in their environment), two report processes sharing one store, display
names full of markup, path tricks, a NUL byte and a papermill-parameter injection attempt, and
a platform whose host fails every request for one stream. (``test_report_run.py`` covers the
unknown-stream failure and the ``KORE_JWT`` path.)

Then a second run of one stream is SIGKILLed (the runner, its worker and the kernel) while its
kernel is writing new answers into the store: the previous report, the index and the store
must stay intact and readable.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from engagement_kit import report
from engagement_kit.config.query import EngagementQuery
from engagement_kit.config.streams import StreamConfig
from engagement_kit.demo import DemoPlatform, running_server
from engagement_kit.demo.platform import error_response
from engagement_kit.store import ResponseStore
from engagement_kit.store import files as report_files
from engagement_kit.tidy import parse_response

pytestmark = pytest.mark.slow

WEEK = "2025-W48"
CANARY_ID = "cs-canary-reports-0001"
CANARY_SECRET = f"canary-secret-{uuid.uuid4().hex}"
DOWN = "st-demo-retail-in"  # the stream whose host keeps failing


PWNED = "pwned"  # the file the injection attempt would create in the working folder
INJECTION = f'x"; open("{PWNED}", "w").write("1"); y = "'
STREAMS = [
    StreamConfig(
        id="st-demo-it-de", name="<script>alert('it')</script> ../../outside", tz="Europe/Berlin"
    ),
    StreamConfig(
        id="st-demo-hr-us",
        name=f'{INJECTION}"><img src=x onerror=alert(1)> %2e%2e/%2e%2e nul\x00 ' + "z" * 2000,
        tz="America/New_York",
    ),
    StreamConfig(id=DOWN, name="Retail (host down)", tz="Asia/Kolkata"),
]


class Platform(DemoPlatform):
    """The canary app's platform: records every token; one stream's host always fails."""

    def __init__(self) -> None:
        super().__init__(client_id=CANARY_ID, client_secret=CANARY_SECRET)
        self.tokens: set[str] = set()

    def handle(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("auth")
        if token:
            self.tokens.add(token)
        if f"/bot/{DOWN}/" in request.url.path:
            return error_response(500, "Internal Server Error: upstream host is down")
        return super().handle(request)


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def is_in(path: Path, folder: Path) -> bool:
    return folder == path or folder in path.parents


def toml_file(path: Path, streams: list[StreamConfig]) -> Path:
    """A streams.toml for ``streams`` (JSON string escapes are valid TOML basic strings)."""
    tables = [
        f"[[stream]]\nid = {json.dumps(s.id)}\nname = {json.dumps(s.name)}\ntz = {json.dumps(s.tz)}\n"
        for s in streams
    ]
    path.write_text("\n".join(tables), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Run ``engagement-kit report`` on the three streams once; yield what the tests look at."""
    home = tmp_path_factory.mktemp("reliability-reports")
    out = home / "reports"
    store = home / "store.sqlite3"
    config = toml_file(home / "streams.toml", STREAMS)
    files_beside = sorted(p for p in home.parent.iterdir() if not p.is_dir())
    env = {k: v for k, v in os.environ.items() if not k.startswith("KORE_")}
    env.update(
        ENGAGEMENT_KIT_STORE=str(store),
        KORE_CLIENT_ID=CANARY_ID,
        KORE_CLIENT_SECRET=CANARY_SECRET,  # the kernels mint their tokens from it
        COLUMNS="200",  # rich's summary table: room for the error sentence
    )
    platform = Platform()
    with running_server(platform=platform) as server:
        command = [sys.executable, "-m", "engagement_kit.cli", "report", "--config", str(config)]
        command += ["--host", server.url, "--week", WEEK, "--out-dir", str(out), "--jobs", "2"]
        started = time.perf_counter()
        run = subprocess.run(
            command, env=env, cwd=home, capture_output=True, text=True, timeout=300
        )
        seconds = time.perf_counter() - started
        yield {
            "home": home,
            "out": out,
            "store": store,
            "config": config,
            "run": run,
            "console": run.stdout + run.stderr,
            "platform": platform,
            "server": server,
            "env": env,
            "seconds": seconds,
            "files_beside": files_beside,
            "slugs": [report_files.stream_slug(s.name, s.id) for s in STREAMS],
        }


def test_the_others_are_written_the_failed_host_is_reported_exit_status_1(batch):
    run, out = batch["run"], batch["out"]
    assert run.returncode == 1, run.stderr
    good, hostile, down = (out / slug for slug in batch["slugs"])
    for folder in (good, hostile):
        assert (folder / f"{WEEK}.html").is_file() and (folder / f"{WEEK}.json").is_file()
        assert not (folder / f"{WEEK}.error.json").exists()
    error = json.loads((down / f"{WEEK}.error.json").read_text())
    assert error["stream_id"] == DOWN
    assert error["error"].startswith("HTTP 500: Internal Server Error")  # no exception class
    assert "POST" not in error["error"] and "\n" not in error["error"]
    assert not (down / f"{WEEK}.html").exists()
    index = (out / "index.html").read_text()
    assert "Retail (host down)" in index and "HTTP 500: Internal Server Error" in index
    assert index.count('class="stream-row"') == 3
    console = batch["console"]
    assert "failed" in console and "HTTP 500" in console and "written" in console
    assert batch["seconds"] < 120


def test_no_file_is_written_outside_the_output_folder(batch):
    home, out, store = batch["home"], batch["out"], batch["store"]
    allowed = {batch["config"], store, Path(f"{store}-wal"), Path(f"{store}-shm")}
    stray = [p for p in all_files(home) if not is_in(p, out) and p not in allowed]
    assert stray == []
    assert sorted(p for p in home.parent.iterdir() if not p.is_dir()) == batch["files_beside"]
    assert list(home.parent.rglob("outside*")) == []  # "../../outside" stayed in a slug
    assert not (home / PWNED).exists()  # the parameter injection stayed a string
    # the streams' folders, and the shared chart bundle and the index's catalogue
    slugs = sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith("_"))
    assert slugs == sorted(batch["slugs"])
    assert all(set(s) <= set("abcdefghijklmnopqrstuvwxyz0123456789-") for s in slugs)
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("_")) == [
        "_assets",
        "_catalogue",
    ]
    root = out.resolve()
    folders = [root / "_assets", root / "_catalogue"]
    folders += [root / s for s in slugs] + [root / s / "history" for s in slugs]
    for path in all_files(out):
        assert path.resolve().parent in (root, *folders), path


def test_hostile_names_are_escaped_in_every_html_page(batch):
    out = batch["out"]
    pages = [p for p in all_files(out) if p.suffix == ".html"]
    # two reports, the index, the portfolio, and each of the three streams' history (newest
    # weeks, the year)
    assert len(pages) == 4 + 3 * 2
    assert out / "portfolio.html" in pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "<script>alert" not in text and "<img src=x" not in text, page.name
    for stream, slug in zip(STREAMS[:2], batch["slugs"][:2], strict=True):
        text = (out / slug / f"{WEEK}.html").read_text(encoding="utf-8")
        assert "&lt;script&gt;alert(" in text or "&lt;img src=x" in text
        sidecar = json.loads((out / slug / f"{WEEK}.json").read_text(encoding="utf-8"))
        assert sidecar["stream_name"] == stream.name  # the data keeps the name as given
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(" in index and "&lt;img src=x" in index


def test_the_canary_secret_and_the_kernels_tokens_are_in_no_file(batch):
    tokens = batch["platform"].tokens
    assert len(tokens) >= 3  # the kernels minted tokens from the canary secret and used them
    secrets = [CANARY_SECRET, *tokens]
    for path in all_files(batch["home"]):
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{path.name} holds a secret"
    for secret in secrets:
        assert secret not in batch["console"]


def test_two_report_processes_left_one_complete_store(batch):
    with sqlite3.connect(batch["store"]) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = ResponseStore(batch["store"])
    entries = store.entries()
    assert {e.stream_id for e in entries} == {"st-demo-it-de", "st-demo-hr-us"}
    for entry in entries:
        query = EngagementQuery(**entry.query)
        parse_response(store.get(entry.host, query), query=query)
    store.close()
    assert "locked" not in batch["console"]


RUNNER = """
import sys
from engagement_kit.config.streams import StreamConfig
from engagement_kit.report import render_report

stream = StreamConfig(id="st-demo-it-de", name=sys.argv[1], tz="Europe/Berlin")
render_report(stream, week=sys.argv[2], out_dir=sys.argv[3], source="platform",
              host=sys.argv[4], weeks_of_history=30, quiet=True)
print("finished", flush=True)
"""


def descendants(pid: int) -> list[int]:
    """Every process started (directly or not) by ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def count_rows(store: Path) -> int:
    with sqlite3.connect(store, timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM revisions").fetchone()[0]


def test_a_run_killed_mid_way_leaves_the_previous_report_and_the_store_intact(batch):
    out, store, server = batch["out"], batch["store"], batch["server"]
    first = STREAMS[0]
    before = {p: p.read_bytes() for p in all_files(out)}
    rows_before = count_rows(store)
    server.latency_ms = 150  # slow answers: the kill lands while the kernel fetches and stores
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, first.name, WEEK, str(out), server.url],
        env=batch["env"],
        cwd=batch["home"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    killed: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if count_rows(store) > rows_before:  # the killed run has written to the store
                break
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode(errors="replace")
        tree = [process.pid, *descendants(process.pid)]
        for pid in tree:  # the runner, its worker process and the kernel (own session)
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
    finally:
        server.latency_ms = 0
        if process.poll() is None:
            process.kill()
        process.wait(30)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL and len(killed) >= 3
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in killed):
        time.sleep(0.05)  # reaped by init

    # the previous report and the index: byte for byte what they were
    for path, data in before.items():
        assert path.read_bytes() == data, path.name
    new = [p for p in all_files(out) if p not in before]
    assert all(p.name.startswith(".") for p in new), new  # only hidden temporary files
    # the store: a valid database, every answer complete, the killed run's answers included
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert count_rows(store) > rows_before
    reader = ResponseStore(store)
    for entry in reader.entries():
        query = EngagementQuery(**entry.query)
        parse_response(reader.get(entry.host, query), query=query)
    reader.close()
    # and the index can be rebuilt from what is there: the same three rows
    page = report.write_index(out).read_text(encoding="utf-8")
    assert page.count('class="stream-row"') == 3
