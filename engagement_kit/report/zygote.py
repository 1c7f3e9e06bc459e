"""Kernels forked from a process that has already imported the toolkit, pandas, altair and
ipykernel, so a report kernel starts in a fraction of a second with its imports done.

One *zygote* process per batch imports everything once (:data:`PRELOAD`), then waits for
requests on a Unix socket in a private folder: the batch starts it before its worker
processes, which reach it through a :class:`ZygoteLink` (one zygote for all workers: its
imports are paid once, and all kernels share its memory pages). For each kernel it forks: the
child starts a new session, takes the environment and folder it was given, and runs
``IPKernelApp`` on the connection file that jupyter_client wrote; nothing was ever executed in
the zygote but imports, so every kernel starts clean and runs exactly one notebook before it
is shut down. The zygote lives as long as its stdin stays open (its owner's pipe).

Only the standard library here: the zygote process imports this module first.
:class:`~engagement_kit.report.kernels.ZygoteProvisioner` is the jupyter_client side.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

__all__ = ["PRELOAD", "START_SECONDS", "Zygote", "ZygoteLink"]

#: How long a kernel request waits for a zygote that is still importing.
START_SECONDS = 120

#: What the zygote imports before it forks kernels (nothing is run that leaves state behind
#: but modules): the quick-import switch first, then what the report notebook needs.
PRELOAD: tuple[str, ...] = (
    "engagement_kit.charts",
    "altair",
    "pandas",
    "IPython.display",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "engagement_kit.report.weekly",
    "engagement_kit.data_source",
    "engagement_kit.client",
    "engagement_kit.demo",
    # imported on first use by load_weekly and the report's cells: once here, not per kernel
    "engagement_kit.metrics.checks",
    "engagement_kit.client.filter_echo",
    "engagement_kit.client.ranges",
    "engagement_kit.client.sessions",
    # what every kernel imports as it starts (its debugger: debugpy, pydevd) or when altair
    # turns a DataFrame into a chart (narwhals): about 0.1 s per kernel
    "ipykernel.debugger",
    "IPython.core.debugger",
    "IPython.core.completerlib",
    "IPython.extensions.storemagic",
    "narwhals._pandas_like.dataframe",
    "narwhals._pandas_like.namespace",
    "narwhals._interchange.dataframe",
    "pandas.core.methods.to_dict",
    "bdb",
)


def main() -> None:  # pragma: no cover - runs in the zygote process (tested through kernels)
    """The zygote: listen on the Unix socket named by ``argv[1]``, import :data:`PRELOAD`, then
    fork one kernel per connection.

    A connection sends one request line ``{"argv": [...], "env": {...}, "cwd": "..."}`` and
    gets the kernel's pid as one line back. Connections made while the imports run wait in the
    socket's backlog. Ends when stdin closes (its owner closed it, or died), and then stops
    the kernels it forked that still run.
    """
    import importlib
    import select
    import socket

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sys.argv[1])
    server.listen(64)

    from engagement_kit.charts.fast_import import skip_slow_optional_imports

    skip_slow_optional_imports()
    for name in PRELOAD:
        importlib.import_module(name)
    import altair
    import pandas

    # build altair's schema validator once, before forking (every kernel inherits it)
    altair.Chart(pandas.DataFrame({"x": [1]})).mark_point().encode(x="x:Q").to_dict()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels are reaped by the system
    # what the imports left is permanent: collect it once, then move it out of the collector's
    # reach (gc.freeze, meant for fork servers). A kernel's collections then never walk the
    # imported heap (tens of ms each), nor write to its pages, which stay shared with the
    # zygote instead of being copied into every kernel.
    gc.collect()
    gc.freeze()
    kernels: list[int] = []
    while True:
        readable, _, _ = select.select([sys.stdin, server], [], [])
        if sys.stdin in readable and not sys.stdin.readline():
            break  # stdin closed: the owner is done
        if server not in readable:
            continue
        connection, _ = server.accept()
        with connection, connection.makefile("rwb") as stream:
            request = json.loads(stream.readline())
            pid = os.fork()
            if pid == 0:
                try:
                    server.close()
                    connection.close()
                    _kernel_child(request)
                finally:
                    os._exit(0)
            kernels.append(pid)
            with contextlib.suppress(OSError):
                stream.write(f"{pid}\n".encode())
                stream.flush()
    for pid in kernels:  # normally all shut down already; a stopped batch may leave some
        if _is_child(pid):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)


def _is_child(pid: int) -> bool:  # pragma: no cover - in the zygote
    """Whether ``pid`` still is a process this one forked (Linux; elsewhere kernels notice
    their parent is gone and exit by themselves)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[1:2] == [str(os.getpid()).encode()]


def _kernel_child(request: dict[str, Any]) -> None:  # pragma: no cover - in the forked child
    os.setsid()  # its own process group: killing the kernel never touches the zygote
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the kernel's own subprocesses need it
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # the zygote's stdin is its owner's pipe: never touch it
        os.dup2(devnull, fd)
    os.environ.clear()
    os.environ.update(request["env"])
    if request.get("cwd"):
        os.chdir(request["cwd"])
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(argv=request["argv"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's process took the number
        return False
    return True


@dataclasses.dataclass(frozen=True)
class ZygoteLink:
    """How a worker process asks a zygote it does not own for kernels (picklable).

    Attributes
    ----------
    address : str
        The zygote's Unix socket.
    pid : int
        The zygote's process id (its kernels' parent).
    """

    address: str
    pid: int

    def spawn(self, argv: list[str], env: dict[str, str], cwd: str | None) -> int:
        """Fork a kernel running ``IPKernelApp`` with ``argv``; its pid.

        Waits while the zygote still imports (up to :data:`START_SECONDS`).

        Raises
        ------
        RuntimeError
            When the zygote has exited or does not answer (the caller starts a kernel the usual
            way).
        """
        import socket

        deadline = time.monotonic() + START_SECONDS
        request = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode() + b"\n"
        while True:
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                client.connect(self.address)
                break
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                client.close()  # not listening yet, or gone
                if not _alive(self.pid) or time.monotonic() > deadline:
                    raise RuntimeError("the kernel zygote failed to start") from exc
                time.sleep(0.05)
        with client:
            client.settimeout(max(1.0, deadline - time.monotonic()))
            try:
                client.sendall(request)
                answer = client.makefile("rb").readline().strip()
            except OSError as exc:
                raise RuntimeError(f"the kernel zygote stopped: {exc}") from exc
        if not answer.isdigit():
            raise RuntimeError("the kernel zygote stopped")
        return int(answer)

    def close(self) -> None:
        """Nothing to do: the zygote's owner stops it."""


class Zygote:
    """A zygote process, started at once and asked for kernels later; this object owns it.

    Worker processes that share it get :meth:`link`.
    """

    def __init__(self) -> None:
        self._folder = tempfile.mkdtemp(prefix="ek-zygote-")
        address = os.path.join(self._folder, "socket")
        code = "from engagement_kit.report.zygote import main; main()"
        self._process = subprocess.Popen(
            # the last word names what its forks are (ps, and tests looking for kernels)
            [sys.executable, "-c", code, address, "ipykernel-zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._link = ZygoteLink(address, self._process.pid)

    @property
    def pid(self) -> int:
        """The zygote's process id (its kernels' parent)."""
        return self._process.pid

    def link(self) -> ZygoteLink:
        """What another process needs to ask this zygote for kernels."""
        return self._link

    def spawn(self, argv: list[str], env: dict[str, str], cwd: str | None) -> int:
        """Fork a kernel running ``IPKernelApp`` with ``argv``; its pid (see
        :meth:`ZygoteLink.spawn`)."""
        return self._link.spawn(argv, env, cwd)

    def close(self) -> None:
        """Stop the zygote and any kernel of it still running: it holds nothing but imports."""
        with contextlib.suppress(Exception):
            if self._process.stdin is not None:
                self._process.stdin.close()  # the zygote stops its kernels and exits
        with contextlib.suppress(Exception):
            self._process.wait(timeout=2)
        if self._process.poll() is None:
            self._process.kill()
        shutil.rmtree(self._folder, ignore_errors=True)
