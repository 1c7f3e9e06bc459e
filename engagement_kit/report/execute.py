"""Running the report notebook: papermill's Python API, kernels on Unix sockets, one retry of a
kernel that failed to start.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import nbformat
import papermill
from nbclient.client import NotebookClient
from papermill.exceptions import PapermillExecutionError
from tenacity import Retrying, retry_if_exception, stop_after_attempt
from traitlets.utils.importstring import import_item

from engagement_kit.config.project import bundled_file
from engagement_kit.report.signals import remove_on_stop
from engagement_kit.report.task import DEFAULT_KERNEL

__all__ = [
    "CELL_TIMEOUT",
    "DEFAULT_KERNEL",
    "KERNEL_ARGUMENTS",
    "NOTEBOOK_RELATIVE",
    "START_TIMEOUT",
    "default_notebook",
    "execute_notebook",
    "ipc_kernel_manager",
    "kernel_start_failed",
]

#: Seconds one notebook cell may run, and a kernel may take to start.
CELL_TIMEOUT = 600
START_TIMEOUT = 60
#: The kernel's own start-up chatter is not ours to show.
KERNEL_ARGUMENTS: tuple[str, ...] = ("--IPKernelApp.log_level=ERROR",)
NOTEBOOK_RELATIVE = Path("notebooks") / "reports" / "weekly_report.ipynb"


def default_notebook() -> Path:
    """The report notebook: the checkout's, else the copy inside the installed package.

    Raises
    ------
    ConfigError
        When neither exists (a broken installation).
    """
    return bundled_file(NOTEBOOK_RELATIVE)


def kernel_start_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is a kernel that failed to start (worth one retry), not a cell error."""
    if isinstance(exc, PapermillExecutionError):
        return False
    text = f"{type(exc).__name__}: {exc}"
    needles = (
        "Address already in use",
        "Kernel died before replying",
        "Kernel didn't respond",
        "DeadKernelError",
        "kernel_info",
    )
    return any(n in text for n in needles)


def ipc_kernel_manager(folder: str) -> type:
    """A kernel manager whose kernel talks over Unix sockets in ``folder``, not TCP ports.

    Parallel papermill runs on TCP race for free ports (``ZMQError: Address already in use``,
    papermill issues 239 and 511); sockets in a private folder per run cannot collide, and
    nothing listens on the network.
    """
    base = NotebookClient.kernel_manager_class.default_value
    if isinstance(base, str):
        base = import_item(base)
    prefix = os.path.join(folder, "kernel")

    def __init__(self: Any, **kwargs: Any) -> None:
        kwargs.setdefault("transport", "ipc")
        kwargs.setdefault("ip", prefix)
        base.__init__(self, **kwargs)

    return type("IpcKernelManager", (base,), {"__init__": __init__})


def execute_notebook(
    notebook: str | os.PathLike[str],
    output: str | os.PathLike[str],
    parameters: Mapping[str, Any],
    *,
    kernel_name: str = DEFAULT_KERNEL,
    on_cell: Callable[[int, int], None] | None = None,
    retries: int = 1,
    km: Any = None,
) -> nbformat.NotebookNode:
    """Run a notebook with papermill's Python API; retry a kernel that failed to start.

    On POSIX systems the kernel talks over Unix sockets in a private temporary folder
    (:func:`ipc_kernel_manager`) instead of TCP ports, so parallel runs cannot race for ports.

    Parameters
    ----------
    notebook, output : path
        Input notebook; where papermill writes the executed one (also when a cell fails).
    parameters : mapping
        Literal papermill parameters (see :func:`report_parameters`).
    on_cell : callable, optional
        ``on_cell(done, total)`` after each code cell (nbclient's ``on_cell_complete`` hook).
    retries : int
        Extra attempts after a kernel start failure (``Address already in use``, kernel died
        before replying). A failing *cell* is never retried.
    km : kernel manager, optional
        A kernel already started (see :mod:`~engagement_kit.report.kernels`): papermill runs the
        notebook in it and leaves it running; the caller shuts it down. Not retried.

    Returns
    -------
    nbformat.NotebookNode
        The executed notebook.

    Raises
    ------
    papermill.PapermillExecutionError
        A cell raised; ``ename`` and ``evalue`` say what.
    """
    state = {"done": 0, "total": 0}

    def on_start(notebook: Any = None, **_: Any) -> None:
        cells = notebook.cells if notebook is not None else []
        state["done"] = 0
        state["total"] = sum(1 for c in cells if c.cell_type == "code" and c.source.strip())
        if on_cell is not None:
            on_cell(0, state["total"])

    def on_complete(**_: Any) -> None:
        state["done"] += 1
        if on_cell is not None:
            on_cell(state["done"], max(state["total"], state["done"]))

    def run(**engine_kwargs: Any) -> nbformat.NotebookNode:
        return papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=dict(parameters),
            kernel_name=kernel_name,
            progress_bar=False,
            log_output=False,
            start_timeout=START_TIMEOUT,
            execution_timeout=CELL_TIMEOUT,
            on_notebook_start=on_start,
            on_cell_complete=on_complete,
            # outputs are complete once the last cell is idle: no need to wait for a
            # graceful kernel exit (which can add seconds)
            shutdown_kernel="immediate",
            # one save at the end (and on a failure) instead of one per cell
            request_save_on_cell_execute=False,
            extra_arguments=list(KERNEL_ARGUMENTS),
            **engine_kwargs,
        )

    if km is not None:
        return run(km=km)
    sockets = tempfile.TemporaryDirectory(prefix="ek-kernel-") if os.name == "posix" else None
    engine_kwargs: dict[str, Any] = {}
    if sockets is not None:
        remove_on_stop(sockets.name)
        engine_kwargs["kernel_manager_class"] = ipc_kernel_manager(sockets.name)
    try:
        for attempt in Retrying(
            stop=stop_after_attempt(retries + 1),
            retry=retry_if_exception(kernel_start_failed),
            reraise=True,
        ):
            with attempt:
                return run(**engine_kwargs)
    finally:
        if sockets is not None:
            sockets.cleanup()
    raise AssertionError("unreachable")  # pragma: no cover
