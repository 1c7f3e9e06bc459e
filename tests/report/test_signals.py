"""SIGTERM and SIGHUP stop a command and everything it started, as Ctrl-C does.

The end-to-end tests start the real command as a subprocess, wait until it serves (the
dashboard) or runs kernels (the batch report), record its process tree, send the signal to the
command's own process only (as systemd, ``docker stop`` or a CI cleanup do) and check that every
recorded process is gone, the port is closed and no temporary file is left.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from engagement_kit.report.signals import Stopped, stop_on_signals


def test_sighup_and_sigterm_raise_stopped_with_the_conventional_exit_code():
    before = signal.getsignal(signal.SIGHUP)
    with pytest.raises(Stopped) as info, stop_on_signals():
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(5)  # interrupted at once
    assert isinstance(info.value, KeyboardInterrupt)  # Ctrl-C's cleanup runs for it too
    assert info.value.name == "SIGHUP" and info.value.exit_code == 128 + signal.SIGHUP
    assert signal.getsignal(signal.SIGHUP) is before  # restored

    with pytest.raises(Stopped) as info, stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert info.value.exit_code == 143


def test_a_second_signal_does_not_interrupt_the_cleanup():
    cleaned = False
    with pytest.raises(Stopped), stop_on_signals():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # e.g. a second `docker stop`
            time.sleep(0.05)
            cleaned = True
    assert cleaned


def test_outside_the_main_thread_it_changes_nothing():
    before = signal.getsignal(signal.SIGTERM)
    seen = []

    def run():
        with stop_on_signals():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [before]


def _gone(processes, timeout: float = 15.0) -> list:
    """The processes still alive (not zombies) after waiting up to ``timeout`` seconds."""
    import psutil

    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _marked(marker: str) -> list[int]:
    """Processes whose environment carries ``marker``: anything the command started."""
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("EK_TEST_MARKER") == marker:
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


@pytest.mark.slow
def test_a_worker_removes_its_temporary_files_and_exits_even_when_blocked(tmp_path):
    """The worker side: a main thread stuck in a blocking call still exits on SIGTERM."""
    scratch = tmp_path / ".W48.tmp-x.ipynb"
    script = textwrap.dedent(
        f"""
        import select, sys
        from pathlib import Path
        from engagement_kit.report.signals import call_in_worker, remove_on_stop, worker_stops_on_signals

        worker_stops_on_signals()

        def task():
            Path({str(scratch)!r}).write_text("partial")
            remove_on_stop({str(scratch)!r})
            print("ready", flush=True)
            select.select([sys.stdin], [], [], 60)  # blocked in C, like a wait for a kernel

        call_in_worker(task)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert scratch.exists()
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 143
        assert time.monotonic() - started < 5
        assert not scratch.exists()
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_dashboard_stops_with_voila_and_its_kernels(tmp_path, sig):
    import httpx
    import psutil

    marker = uuid.uuid4().hex
    env = {
        **os.environ,
        "ENGAGEMENT_KIT_STORE": str(tmp_path / "store.sqlite3"),
        "EK_TEST_MARKER": marker,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "engagement_kit.cli", "dashboard", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # as a service: no terminal's Ctrl-C reaches it
    )
    try:
        url = None
        deadline = time.monotonic() + 120
        lines = []
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"Dashboard on (http://127\.0\.0\.1:(\d+)/)", line)
            if match:
                url, port = match[1], int(match[2])
        assert url, "".join(lines)
        page = httpx.get(url, timeout=120, trust_env=False)  # runs the notebook in a kernel
        assert page.status_code == 200
        tree = psutil.Process(proc.pid).children(recursive=True)
        commands = [" ".join(p.cmdline()) for p in tree]
        assert any("voila" in c for c in commands), commands
        assert any("ipykernel" in c for c in commands), commands

        proc.send_signal(sig)  # the command's own process only
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, rest
        assert "Stopping the dashboard" in rest
        assert _gone(tree) == []
        assert _marked(marker) == []
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0  # the port is closed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _cmdline(proc) -> list[str]:
    """A process's command line; empty for one that is exiting (a zombie) or gone."""
    import psutil

    try:
        return proc.cmdline()
    except psutil.Error:
        return []


@pytest.mark.slow
def test_batch_report_stops_with_its_workers_and_kernels(tmp_path):
    import psutil

    marker = uuid.uuid4().hex
    out = tmp_path / "reports"
    env = {
        **os.environ,
        "ENGAGEMENT_KIT_STORE": str(tmp_path / "store.sqlite3"),
        "EK_TEST_MARKER": marker,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "engagement_kit.cli", "report", "--demo"]
        + ["--out-dir", str(out), "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        kernels: list = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            tree = psutil.Process(proc.pid).children(recursive=True)
            kernels = [p for p in tree if "ipykernel" in " ".join(_cmdline(p))]
            if kernels:
                break
            time.sleep(0.1)
        assert kernels, "no kernel started"
        time.sleep(1.0)  # into the notebook
        tree = psutil.Process(proc.pid).children(recursive=True)

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 143, rest
        assert "stopped (SIGTERM)" in rest and "Traceback" not in rest
        assert time.monotonic() - started < 10  # stopped, not finished nor killed after 10 s
        assert _gone(tree) == []
        assert _marked(marker) == []
        leftovers = [p for p in Path(out).rglob("*") if p.is_file() and "tmp" in p.name]
        assert leftovers == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
