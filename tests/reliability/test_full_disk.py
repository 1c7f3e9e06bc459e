"""A full disk is one sentence (issue 22.6): out of space (or any OSError) while writing a
report, its sidecar, a delivery record or the index, the run ends with its summary and one
sentence naming the file and the cause, and what was there before stays byte-identical.

Two ways: a real tmpfs that fills up (mounted for the test; skipped with the reason where
mounting is not permitted) and ``OSError(ENOSPC)`` injected where the bytes are written.
"""

from __future__ import annotations

import errno
import json
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from engagement_kit.config.streams import StreamConfig
from engagement_kit.errors import WriteError
from engagement_kit.report import write_index
from engagement_kit.report.task import ReportResult
from engagement_kit.store import files

WEEK = "2025-W47"
SIDECAR = {
    "stream_id": "st-a",
    "stream_name": "Alpha Bot",
    "week": WEEK,
    "start": "2025-11-17",
    "end": "2025-11-23",
    "tz": "UTC",
    "kpis": {"unique_users": 10, "new_users": 4, "returning_users": 6},
    "change": {},
}


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KiB tmpfs mounted on a fresh folder; unmounted afterwards."""
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not permitted'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Write a filler file until the disk is full; returns it (delete it to free the space)."""
    filler = folder / "filler.bin"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def written_reports(out: Path) -> Path:
    folder = out / files.stream_slug("Alpha Bot", "st-a")
    folder.mkdir(parents=True)
    (folder / f"{WEEK}.json").write_text(json.dumps(SIDECAR))
    (folder / f"{WEEK}.html").write_text("<html>old page</html>")
    write_index(out)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_the_index_on_a_full_disk_is_one_sentence_and_the_old_index_stays(small_disk):
    out = small_disk / "reports"
    folder = written_reports(out)
    (folder / "2025-W48.json").write_text(json.dumps({**SIDECAR, "week": "2025-W48"}))
    before = (out / "index.html").read_bytes()
    filler = fill(small_disk)
    with pytest.raises(WriteError) as caught:
        write_index(out)
    message = str(caught.value)
    # the first file of the index that did not fit (its catalogue, a history page, the page)
    assert re.fullmatch(
        rf"cannot write {re.escape(str(out))}/\S+: no space left on device \(ENOSPC\); free "
        r"some space and run again \(the file keeps what it held before\)",
        message,
    ), message
    assert isinstance(caught.value, OSError) and caught.value.errno == errno.ENOSPC
    assert (out / "index.html").read_bytes() == before  # byte-identical
    assert not [p for p in out.rglob(".*") if p.name.endswith(".tmp")]  # no temporary file
    filler.unlink()
    write_index(out)  # with space again, the new week shows
    assert "2025-W48" in (out / "index.html").read_text()


def test_a_report_and_its_sidecar_are_written_both_or_neither(small_disk):
    folder = written_reports(small_disk / "reports")
    before = snapshot(folder)
    fill(small_disk)
    big_page = "<html>" + "x" * 600_000 + "</html>"  # larger than what is left
    with pytest.raises(WriteError, match=r"cannot write .*2025-W47\.html: no space left"):
        files.atomic_write_all(
            [(folder / f"{WEEK}.html", big_page), (folder / f"{WEEK}.json", "{}")]
        )
    assert snapshot(folder) == before


def test_the_sidecar_failing_after_the_page_was_staged_leaves_both_old(tmp_path, monkeypatch):
    """Injected: the page stages fine, the sidecar hits ENOSPC; neither file is replaced."""
    folder = written_reports(tmp_path / "reports")
    before = snapshot(folder)
    mkstemp = files.tempfile.mkstemp

    def second_fails(*args, prefix="", **kwargs):
        if ".json." in prefix:  # the sidecar's temporary file
            raise OSError(errno.ENOSPC, "No space left on device")
        return mkstemp(*args, prefix=prefix, **kwargs)

    monkeypatch.setattr(files.tempfile, "mkstemp", second_fails)
    with pytest.raises(WriteError, match=r"2025-W47\.json: no space left on device \(ENOSPC\)"):
        files.atomic_write_all(
            [(folder / f"{WEEK}.html", "<html>new</html>"), (folder / f"{WEEK}.json", "{}")]
        )
    assert snapshot(folder) == before  # the staged page was removed, not renamed in


def test_a_folder_this_user_cannot_write_is_one_sentence_with_its_fix(tmp_path, monkeypatch):
    """Injected EACCES (the tests run as root, who may write anywhere)."""
    (tmp_path / "index.html").write_text("old")

    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path))

    monkeypatch.setattr(files.tempfile, "mkstemp", refused)
    with pytest.raises(WriteError) as caught:
        files.atomic_write(tmp_path / "index.html", "new")
    assert str(caught.value) == (
        f"cannot write {tmp_path / 'index.html'}: permission denied (EACCES); make the folder "
        "writable for this user and run again (the file keeps what it held before)"
    )
    assert (tmp_path / "index.html").read_text() == "old"


def test_a_read_only_file_system_is_one_sentence(small_disk):
    out = small_disk / "reports"
    written_reports(out)
    before = (out / "index.html").read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        with pytest.raises(WriteError, match=r"read-only file system \(EROFS\); write to a"):
            write_index(out)
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert (out / "index.html").read_bytes() == before


def _fake_nb(sidecar):
    import nbformat

    from engagement_kit.report.params import SIDECAR_MIMETYPE

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("report.sidecar_output()")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={SIDECAR_MIMETYPE: sidecar, "text/plain": ""})
    ]
    nb.cells = [cell]
    return nb


def _task(out: Path):
    from engagement_kit.report.task import ReportTask

    return ReportTask(
        key=0,
        parameters={"stream_id": "st-a", "stream_name": "Alpha Bot", "week": WEEK},
        slug=files.stream_slug("Alpha Bot", "st-a"),
        out_dir=str(out),
        notebook="unused.ipynb",
        keep_notebook=False,
    )


@pytest.mark.parametrize("full", ["before the notebook is saved", "before the page is written"])
def test_a_worker_on_a_full_disk_fails_its_stream_in_one_sentence(small_disk, monkeypatch, full):
    """The report worker (kernel replaced by a notebook that is already executed): the disk
    fills up while papermill saves the notebook, or before the page: the old page and sidecar
    stay, and the result says why in words, naming the folder or the file."""
    from engagement_kit.report import worker

    out = small_disk / "reports"
    folder = written_reports(out)
    before = snapshot(folder)
    new = {**SIDECAR, "kpis": {"unique_users": 99}}

    def execute(notebook, output, params, **kwargs):
        if full == "before the notebook is saved":
            fill(small_disk)
        Path(output).write_text(json.dumps({"cells": ["z" * 4096]}))
        fill(small_disk)
        return _fake_nb(new)

    monkeypatch.setattr(worker, "execute_notebook", execute)
    monkeypatch.setattr(worker, "notebook_to_html", lambda nb, title: "<p>" + "y" * 700_000)
    result = worker.run_task(_task(out))  # never raises
    assert result.status == "failed"
    # the first file that did not fit: the notebook (in the folder), the shared chart
    # library of reports/_assets/ or the page
    named = re.escape(str(out)) + (r"/\S+" if full == "before the page is written" else r"/\S+/")
    assert re.match(rf"cannot write {named}: no space left on device \(ENOSPC\)", result.error)
    assert "\n" not in result.error
    after = snapshot(folder)
    assert {k: v for k, v in after.items() if not k.endswith((".ipynb", ".error.json"))} == before
    assert not list(folder.glob(".*.tmp"))


def test_a_report_run_whose_index_does_not_fit_prints_the_summary_then_one_sentence(
    small_disk, monkeypatch
):
    """render_all itself (its worker pool replaced by written results): the summary is
    printed, without an "Index:" line, and the run ends with the index's one sentence."""
    import io

    from rich.console import Console
    from typer.testing import CliRunner

    from engagement_kit.cli import app
    from engagement_kit.report import batch

    out = small_disk / "reports"
    folder = written_reports(out)
    before = (out / "index.html").read_bytes()
    result = ReportResult(
        stream_id="st-a",
        stream_name="Alpha Bot",
        slug=folder.name,
        week=WEEK,
        status="written",
        html=folder / f"{WEEK}.html",
        json=folder / f"{WEEK}.json",
        unique_users=10,
    )
    monkeypatch.setattr(batch, "run_tasks", lambda tasks, **kw: [result])
    (folder / "2025-W48.json").write_text(json.dumps({**SIDECAR, "week": "2025-W48"}))
    fill(small_disk)
    buffer = io.StringIO()
    with pytest.raises(WriteError, match=r"index\.html: no space left on device"):
        batch.render_all(
            [StreamConfig(id="st-a", name="Alpha Bot", tz="UTC")],
            week=WEEK,
            out_dir=out,
            console=Console(file=buffer, width=100),
        )
    printed = buffer.getvalue()
    assert "Alpha Bot" in printed and "written" in printed and "Index:" not in printed
    assert (out / "index.html").read_bytes() == before

    cli = CliRunner().invoke(
        app,
        [
            "report",
            "--demo",
            "--stream",
            "st-a",
            "--tz",
            "UTC",
            "--week",
            WEEK,
            "--out-dir",
            str(out),
        ],
    )
    assert cli.exit_code == 1
    text = " ".join(cli.output.split())
    assert "Alpha Bot" in text and "cannot write" in text and "no space left on device" in text
    assert "Traceback" not in cli.output


def test_send_on_a_full_disk_sends_records_and_says_which_file_it_could_not_write(
    small_disk, tmp_path, monkeypatch
):
    """The message goes out and is recorded (the store is elsewhere); the delivery record and
    the index that do not fit are failed lines of the summary, each one sentence; exit 1."""
    from typer.testing import CliRunner

    from engagement_kit import delivery
    from engagement_kit.cli import app
    from engagement_kit.delivery import transport
    from tests.delivery.test_delivery import _Http

    monkeypatch.setattr(transport, "RETRY_WAIT", 0.0)
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", str(tmp_path / "store.sqlite3"))
    out = small_disk / "reports"
    folder = written_reports(out)
    (folder / f"{WEEK}.delivery.json").write_text('{"old": true}')
    before = snapshot(folder)
    index_before = (out / "index.html").read_bytes()
    hook = _Http()
    try:
        url = f"json://127.0.0.1:{hook.port}/hook"
        toml = tmp_path / "streams.toml"
        toml.write_text(
            f'[[stream]]\nid = "st-a"\nname = "Alpha Bot"\ntz = "UTC"\ndeliver = ["{url}"]\n'
        )
        fill(small_disk)
        result = CliRunner().invoke(
            app,
            ["send", "--config", str(toml), "--week", WEEK, "--out-dir", str(out)],
            env={"COLUMNS": "250"},
        )
    finally:
        hook.stop()
    assert len(hook.requests) == 1  # sent once
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert "sent" in text
    assert f"cannot write {folder / (WEEK + '.delivery.json')}: no space left on device" in text
    assert re.search(rf"cannot write {re.escape(str(out))}/\S+: no space left on device", text)
    assert "index" in text  # the failed line of the index
    assert snapshot(folder) == before and (out / "index.html").read_bytes() == index_before
    with delivery.Ledger(tmp_path / "store.sqlite3") as ledger:
        assert ledger.sent("st-a", WEEK, url, "report") is not None  # not sent again next run


def _one_stream_send(tmp_path, out, url):
    from typer.testing import CliRunner

    from engagement_kit.cli import app

    toml = tmp_path / "streams.toml"
    toml.write_text(
        f'[[stream]]\nid = "st-a"\nname = "Alpha Bot"\ntz = "UTC"\ndeliver = ["{url}"]\n'
    )
    return CliRunner().invoke(
        app,
        ["send", "--config", str(toml), "--week", WEEK, "--out-dir", str(out)],
        env={"COLUMNS": "250"},
    )


@pytest.mark.parametrize("fault", ["read-only", "full"])
def test_a_store_that_cannot_record_stops_send_before_anything_is_sent(
    small_disk, tmp_path, monkeypatch, fault
):
    """The record of what was sent lives on a disk that is read-only, or full: one sentence,
    nothing sent (sent without a record, every later run would send it again)."""
    from engagement_kit.delivery import Ledger, transport
    from tests.delivery.test_delivery import _Http

    monkeypatch.setattr(transport, "RETRY_WAIT", 0.0)
    store = small_disk / "store.sqlite3"
    with Ledger(store) as ledger:  # the store exists, with its tables
        ledger.sent("st-x", WEEK, "json://x", "report")
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", str(store))
    out = tmp_path / "reports"
    written_reports(out)
    if fault == "read-only":
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    else:
        fill(small_disk)
    hook = _Http()
    try:
        result = _one_stream_send(tmp_path, out, f"json://127.0.0.1:{hook.port}/hook")
    finally:
        hook.stop()
        if fault == "read-only":
            subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert hook.requests == [], result.output
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert str(store) in " ".join(result.output.split())


class _FillingHook:
    """A webhook endpoint that fills ``disk`` as it accepts each message: the store's disk is
    full by the time ``send`` records what it sent (after its pre-flight check passed)."""

    def __init__(self, disk: Path) -> None:
        import http.server
        import threading

        self.requests: list[bytes] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                outer.requests.append(self.rfile.read(int(self.headers["Content-Length"] or 0)))
                fill(disk)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_store_filling_up_while_send_records_is_one_line_and_nothing_goes_twice(
    small_disk, tmp_path, monkeypatch
):
    """The store (SQLite) is on a disk that fills up between the pre-flight check and the
    record of the sent message: one line naming the store, no traceback; with the space back,
    the next ``send`` does not send the message again (its claim holds it)."""
    from engagement_kit.delivery import Ledger, transport

    monkeypatch.setattr(transport, "RETRY_WAIT", 0.0)
    store = small_disk / "store.sqlite3"
    with Ledger(store) as ledger:
        ledger.sent("st-x", WEEK, "json://x", "report")
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", str(store))
    out = tmp_path / "reports"
    written_reports(out)
    hook = _FillingHook(small_disk)
    url = f"json://127.0.0.1:{hook.port}/hook"
    try:
        first = _one_stream_send(tmp_path, out, url)
        assert len(hook.requests) == 1, first.output  # it went out, then the record failed
        assert first.exit_code != 0, first.output
        assert "Traceback" not in first.output
        text = " ".join(first.output.split())
        assert str(store) in text and "the disk holding it is full" in text, text
        assert f"st-a {WEEK} report to {url} was sent but could not be recorded" in text, text
        (small_disk / "filler.bin").unlink()  # the space is back
        second = _one_stream_send(tmp_path, out, url)
    finally:
        hook.stop()
    assert len(hook.requests) == 1, second.output  # not sent twice
    assert "Traceback" not in second.output


def test_the_store_full_while_report_records_is_one_line(small_disk, tmp_path, monkeypatch):
    """``report`` fetches into a store whose disk is full: one line naming the store, no
    traceback."""
    from typer.testing import CliRunner

    from engagement_kit.cli import app
    from engagement_kit.store import ResponseStore

    store = small_disk / "store.sqlite3"
    ResponseStore(store).info()  # the store exists, with its tables
    monkeypatch.setenv("ENGAGEMENT_KIT_STORE", str(store))
    fill(small_disk)
    result = CliRunner().invoke(
        app,
        ["report", "--demo", "--stream", "st-demo-it-de", "--week", WEEK,
         "--out-dir", str(tmp_path / "reports")],
        env={"COLUMNS": "250"},
    )  # fmt: skip
    assert "Traceback" not in result.output, result.output
    assert result.exit_code != 0, result.output
    text = " ".join(result.output.split())
    # the demo's store is the configured one's versioned sibling (demo-store.vN.sqlite3)
    assert re.search(rf"response store {re.escape(str(small_disk))}/\S+\.sqlite3", text), text
    assert "the disk holding it is full: free space on it" in text, text
