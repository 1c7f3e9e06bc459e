"""Stopping cleanly: SIGTERM and SIGHUP do what Ctrl-C does, and what we started stops too.

systemd, ``docker stop``, a CI job's cleanup and a closed terminal stop a program with SIGTERM
or SIGHUP, sent to its own process only. Python's default for both is to die at once, without
running a single ``finally``, so the processes the command started (Voilà and its kernels, the
report workers and their kernels) would be orphaned and keep running. Here:

* :func:`stop_on_signals` turns SIGTERM and SIGHUP into :class:`Stopped`, a
  ``KeyboardInterrupt``, so every cleanup written for Ctrl-C runs for them too;
* :func:`stop_pool` stops a process pool's workers and everything they started (their
  notebook kernels run in sessions of their own, so no process-group signal reaches them);
* :func:`worker_stops_on_signals` / :func:`remove_on_stop`: a worker told to stop removes its
  task's temporary files and exits at once, instead of finishing or taking the next task.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

__all__ = [
    "STOP_SIGNALS",
    "Stopped",
    "call_in_worker",
    "remove_on_stop",
    "stop_on_signals",
    "stop_pool",
    "stop_processes",
    "worker_stops_on_signals",
]

#: The signals that stop a command as Ctrl-C does.
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
#: Seconds a process gets to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 10.0

T = TypeVar("T")


class Stopped(KeyboardInterrupt):
    """Raised in the main thread when a stop signal (SIGTERM, SIGHUP) arrives.

    A ``KeyboardInterrupt``, so code that cleans up after Ctrl-C cleans up after it too.

    Attributes
    ----------
    signum : int
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def name(self) -> str:
        """``"SIGTERM"``, ``"SIGHUP"``."""
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """The conventional status of a program stopped by this signal: 128 + its number."""
        return 128 + self.signum


@contextlib.contextmanager
def stop_on_signals(signals: Iterable[int] = STOP_SIGNALS) -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Stopped` in the main thread.

    Only the first signal raises: later ones are ignored while the cleanup runs (with a
    handler, not ``SIG_IGN``, which processes started meanwhile would inherit). The previous
    handlers come back on exit. Outside the main thread this does nothing (Python delivers
    signals to the main thread only).
    """
    wanted = list(signals)
    if threading.current_thread() is not threading.main_thread() or not wanted:
        yield
        return
    stopping = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, handler) for sig in wanted}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


# -- processes ---------------------------------------------------------------------------------
def stop_processes(processes: Iterable[Any], timeout: float = STOP_TIMEOUT) -> list[Any]:
    """SIGTERM each ``psutil.Process``, wait up to ``timeout`` s, SIGKILL the rest.

    Returns
    -------
    list of psutil.Process
        Those that had to be killed.
    """
    import psutil

    procs = []
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
            procs.append(proc)
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=timeout)
    return alive


def _tree(pids: Iterable[int]) -> list[Any]:
    """The processes ``pids`` and all their descendants (``psutil.Process``), parents first."""
    import psutil

    found: dict[int, Any] = {}
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            found.setdefault(pid, proc)
            for child in proc.children(recursive=True):
                found.setdefault(child.pid, child)
        except psutil.Error:
            continue
    return list(found.values())


def stop_pool(pool: ProcessPoolExecutor, timeout: float = STOP_TIMEOUT) -> None:
    """Stop a process pool now: drop the work not started, stop the workers and their
    children (notebook kernels), SIGKILL whatever outlives ``timeout`` seconds.

    The tree is recorded before any signal, so kernels are found although their worker
    exits first. The workers themselves are stopped and waited for through ``multiprocessing``
    (it must reap them: a worker reaped by anyone else looks alive to the pool for ever, and
    its manager thread then never ends). Call ``pool.shutdown()`` afterwards to join the
    pool's threads.
    """
    # the executor's own record of its workers (shutdown() forgets it); psutil follows their
    # children
    workers = dict(getattr(pool, "_processes", None) or {})
    others = [p for p in _tree(workers) if p.pid not in workers]
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers.values():
        with contextlib.suppress(Exception):
            worker.terminate()
    stop_processes(others, timeout=timeout)
    deadline = time.monotonic() + timeout
    for worker in workers.values():
        with contextlib.suppress(Exception):
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                worker.kill()
                worker.join(timeout)


# -- in the workers ----------------------------------------------------------------------------
_worker_watching = threading.Event()
_remove_when_stopped: list[str] = []


def worker_stops_on_signals() -> None:
    """In a worker process (its pool initializer, in the main thread): on SIGTERM or SIGHUP,
    remove the task's temporary files (:func:`remove_on_stop`) and exit at once.

    The worker does not unwind its task: its main thread may be waiting in C for a message
    from a kernel that was just stopped (and nbclient's own cleanup would wait for that
    kernel too), where a Python signal handler never runs. Instead the signal's number
    arrives through :func:`signal.set_wakeup_fd` at a watcher thread, which cleans up and
    exits. SIGINT is left to the parent (Ctrl-C reaches the whole process group): it stops
    the pool, which sends SIGTERM here. Handlers, not ``SIG_IGN``, so the kernels a worker
    starts keep the default actions.
    """

    if os.name != "posix":  # pragma: no cover - the wakeup-fd pipe is POSIX only
        return

    def ignore(signum: int, frame: Any) -> None:
        """The watcher acts; a Python-level handler makes the signal reach the wakeup fd."""

    for sig in (*STOP_SIGNALS, signal.SIGINT):
        signal.signal(sig, ignore)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)

    def watch() -> None:
        while True:
            try:
                data = os.read(read_fd, 1)
            except OSError:  # pragma: no cover - the pipe cannot break while we hold it
                return
            if not data:  # pragma: no cover
                return
            if data[0] in STOP_SIGNALS:
                for path in list(_remove_when_stopped):
                    _remove(path)
                os._exit(128 + data[0])

    threading.Thread(target=watch, name="engagement-kit-stop-watcher", daemon=True).start()
    _worker_watching.set()


def remove_on_stop(path: str | os.PathLike[str]) -> None:
    """Have a stopped worker remove ``path`` (a file or a folder) before it exits.

    Does nothing outside a worker set up by :func:`worker_stops_on_signals`. The list is
    emptied after each task (:func:`call_in_worker`).
    """
    if _worker_watching.is_set():
        _remove_when_stopped.append(os.fspath(path))


def _remove(path: str) -> None:
    import shutil

    with contextlib.suppress(OSError):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def call_in_worker(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` as a worker's task: what it registered with :func:`remove_on_stop`
    is forgotten once it returns (its own ``finally`` blocks removed it)."""
    try:
        return fn(*args)
    finally:
        _remove_when_stopped.clear()
