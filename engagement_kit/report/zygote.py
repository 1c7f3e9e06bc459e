"""Kernels forked from a process that has already imported the toolkit, pandas, altair and
ipykernel, so a report kernel starts in a fraction of a second with its imports done.

One *zygote* process per worker imports everything once (:data:`PRELOAD`), then waits for
requests on its stdin. For each kernel it forks: the child starts a new session, takes the
environment and folder it was given, and runs ``IPKernelApp`` on the connection file that
jupyter_client wrote; nothing was ever executed in the zygote but imports, so every kernel
starts clean and runs exactly one notebook before it is shut down.

Only the standard library here: a worker starts its zygote before anything else.
:class:`~engagement_kit.report.kernels.ZygoteProvisioner` is the jupyter_client side.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import threading
from typing import Any

__all__ = ["PRELOAD", "Zygote"]

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
    "engagement_kit.sources",
    "engagement_kit.client",
    "engagement_kit.demo",
    # imported on first use by load_weekly and the report's cells: once here, not per kernel
    "engagement_kit.checks",
    "engagement_kit.echo",
    "engagement_kit.ranges",
    "engagement_kit.sessions",
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
    """The zygote: import :data:`PRELOAD`, then fork one kernel per request line on stdin.

    A request is ``{"argv": [...], "env": {...}, "cwd": "..."}``; the answer is the kernel's
    pid on a line of stdout. Ends when stdin closes.
    """
    import importlib

    from engagement_kit._quick import skip_slow_optional_imports

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
    requests, answers = sys.stdin, sys.stdout
    answers.write("ready\n")
    answers.flush()
    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                _kernel_child(request)
            finally:
                os._exit(0)
        answers.write(f"{pid}\n")
        answers.flush()


def _kernel_child(request: dict[str, Any]) -> None:  # pragma: no cover - in the forked child
    os.setsid()  # its own process group: killing the kernel never touches the zygote
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the kernel's own subprocesses need it
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # the zygote's stdin/stdout are the request pipe: never touch them
        os.dup2(devnull, fd)
    os.environ.clear()
    os.environ.update(request["env"])
    if request.get("cwd"):
        os.chdir(request["cwd"])
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(argv=request["argv"])


class Zygote:
    """The zygote process of one worker: started at once, asked for kernels later."""

    def __init__(self) -> None:
        code = "from engagement_kit.report.zygote import main; main()"
        self._process = subprocess.Popen(
            # the last word names what its forks are (ps, and tests looking for kernels)
            [sys.executable, "-c", code, "ipykernel-zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self._lock = threading.Lock()
        self._ready = False

    @property
    def pid(self) -> int:
        """The zygote's process id (its kernels' parent)."""
        return self._process.pid

    def spawn(self, argv: list[str], env: dict[str, str], cwd: str | None) -> int:
        """Fork a kernel running ``IPKernelApp`` with ``argv``; its pid.

        Raises
        ------
        RuntimeError
            When the zygote has exited (the caller starts a kernel the usual way).
        """
        assert self._process.stdin is not None and self._process.stdout is not None
        with self._lock:
            if not self._ready:
                if self._process.stdout.readline().strip() != "ready":
                    raise RuntimeError("the kernel zygote failed to start")
                self._ready = True
            request = {"argv": argv, "env": env, "cwd": cwd}
            try:
                self._process.stdin.write(json.dumps(request) + "\n")
                self._process.stdin.flush()
                answer = self._process.stdout.readline().strip()
            except (BrokenPipeError, OSError) as exc:
                raise RuntimeError(f"the kernel zygote stopped: {exc}") from exc
        if not answer.isdigit():
            raise RuntimeError("the kernel zygote stopped")
        return int(answer)

    def close(self) -> None:
        """Stop the zygote at once: it holds nothing but imports (its kernels have their own
        sessions and are shut down apart)."""
        with contextlib.suppress(Exception):
            if self._process.stdin is not None:
                self._process.stdin.close()
        with contextlib.suppress(Exception):
            self._process.terminate()
            self._process.wait(timeout=2)
        if self._process.poll() is None:
            self._process.kill()
