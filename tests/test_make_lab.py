"""``make lab`` works as root too (containers, cloud notebook VMs): JupyterLab refuses root
without ``--allow-root``, so the target adds it, and says so, only when run as root."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.builders import REPO, free_port

MAKE = shutil.which("make")
pytestmark = pytest.mark.slow  # runs make (a subprocess)


def _make(*args: str, **kwargs) -> subprocess.CompletedProcess:
    assert MAKE, "make is needed to run `make lab` (the README's way in)"
    return subprocess.run(
        [MAKE, "--no-print-directory", "-C", str(REPO), *args],
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


@pytest.mark.parametrize(("uid", "flag"), [("0", True), ("1000", False)])
def test_allow_root_is_added_only_as_root(uid, flag):
    # STAMP= : only the command line, no install step
    result = _make("-n", "lab", "STAMP=", f"USER_ID={uid}")
    assert result.returncode == 0, result.stderr
    lab = [line for line in result.stdout.splitlines() if "jupyter lab" in line]
    assert len(lab) == 1 and "--notebook-dir=notebooks" in lab[0]
    assert ("--allow-root" in lab[0]) is flag
    assert ("Running as root: adding --allow-root" in result.stdout) is flag


def test_dashboard_needs_no_root_flag():
    result = _make("-n", "dashboard", "STAMP=", "USER_ID=0")
    assert result.returncode == 0, result.stderr
    assert "engagement-kit dashboard" in result.stdout and "allow-root" not in result.stdout


def test_make_lab_starts_jupyterlab_as_this_user(tmp_path):
    """As root (CI, containers) this is the case that used to stop at once."""
    port = free_port()
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    args = (
        f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --ServerApp.port_retries=0"
    )
    proc = subprocess.Popen(
        [MAKE or "make", "--no-print-directory", "-C", str(REPO), "lab", "STAMP="]
        + [f"BIN={bin_dir}", f"LAB_ARGS={args}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    output = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if re.search(rf"http://127\.0\.0\.1:{port}/lab", line):
                break
        text = "".join(output)
        assert f"127.0.0.1:{port}/lab" in text, text
        assert "Running as root is not recommended" not in text
        assert ("Running as root: adding --allow-root" in text) is (os.getuid() == 0)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
