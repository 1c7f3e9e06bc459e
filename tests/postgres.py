"""A throwaway PostgreSQL server for the tests that need one (the team store, issue 28).

Debian's ``postgresql`` package (``.ci/run`` installs it) gives ``initdb`` and ``pg_ctl``; the
server runs from a temporary folder on a free loopback port and is stopped at the end of the
session. PostgreSQL refuses to run as root, so as root (CI, these machines) it runs as the
``postgres`` user the package creates. Without the binaries, the tests that need it are skipped
with that reason, never passed silently.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.builders import free_port

#: The password of the test role: the tests check it never shows in any output.
TEST_PASSWORD = "pg-test-canary-5f3a9c"


def pg_bin() -> Path | None:
    """The folder of ``pg_ctl`` (Debian keeps it under /usr/lib/postgresql/N/bin), or None."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


def _as_server_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


@contextlib.contextmanager
def running_postgres(*, fsync: bool = False) -> Iterator[dict[str, str | int]]:
    """Start a server; yield ``host``, ``port``, ``user``, ``password``, ``dbname``, ``url``.
    ``fsync=True`` commits to disk as a real server does (the benchmarks); tests skip it."""
    bindir = pg_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="ek-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    root.chmod(0o700)
    pwfile = root / "pw"
    pwfile.write_text(TEST_PASSWORD)
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres", "postgres")
    port = free_port()
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    subprocess.run(
        _as_server_user(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "ek",
                "--pwfile",
                str(pwfile),
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        **run,
    )
    pwfile.unlink()
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} -c fsync={'on' if fsync else 'off'}"
    subprocess.run(
        _as_server_user(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(root / "log"),
                "-w",
                "start",
            ]
        ),
        **run,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.1)
        yield {
            "host": "127.0.0.1",
            "port": port,
            "user": "ek",
            "password": TEST_PASSWORD,
            "dbname": "postgres",
            "url": f"postgresql://ek:{TEST_PASSWORD}@127.0.0.1:{port}/postgres",
        }
    finally:
        subprocess.run(
            _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)
