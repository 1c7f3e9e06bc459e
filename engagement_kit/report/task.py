"""What travels between the parent and a worker process: one stream's job (:class:`ReportTask`),
its outcome (:class:`ReportResult`) and progress messages. Light: no pandas, no papermill.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_KERNEL", "ReportResult", "ReportTask", "emit", "set_progress_queue"]

DEFAULT_KERNEL = "python3"


@dataclasses.dataclass(frozen=True)
class ReportResult:
    """What happened to one stream's report.

    Attributes
    ----------
    stream_id, stream_name, slug, week : str
    status : {"written", "failed"}
    html, json, notebook : Path or None
        The files written (``notebook``: the executed notebook when kept, or
        ``<week>.failed.ipynb`` after a failure).
    error : str or None
        One readable sentence (never a secret) when the report failed.
    unique_users : int or None
    change : float or None
        Week-over-week change of unique users as a fraction (0.25 = +25 %).
    seconds : float
    """

    stream_id: str
    stream_name: str
    slug: str
    week: str
    status: str
    html: Path | None = None
    json: Path | None = None
    notebook: Path | None = None
    error: str | None = None
    unique_users: int | None = None
    change: float | None = None
    seconds: float = 0.0
    #: ``"no_data"`` when the platform reports no users at all for the week (see
    #: :attr:`engagement_kit.report.weekly.WeeklyReport.status`), else ``"ok"``.
    data_status: str = "ok"
    #: Where the stream's settings came from when not all from streams.toml.
    stream_note: str = ""

    @property
    def ok(self) -> bool:
        """Whether the HTML and JSON were written."""
        return self.status == "written"


@dataclasses.dataclass(frozen=True)
class ReportTask:
    """One stream's job, as sent to a worker process (picklable, no secret)."""

    key: int
    parameters: dict[str, Any]
    slug: str
    out_dir: str
    notebook: str
    keep_notebook: bool
    kernel_name: str = DEFAULT_KERNEL
    #: Inline the chart libraries into the page instead of sharing ``out_dir/_assets/``.
    self_contained: bool = False


# progress plumbing: each worker process gets the parent's queue from the pool initializer and
# sends (key, done, total) messages; done = -1 means the stream failed.
_progress_queue: Any = None


def set_progress_queue(queue: Any) -> None:
    """Where :func:`emit` sends this process's progress messages (``None``: nowhere)."""
    global _progress_queue
    _progress_queue = queue


def emit(key: int, done: int, total: int) -> None:
    """Send ``(key, done, total)`` to the parent's progress bars; never raises."""
    if _progress_queue is not None:
        with contextlib.suppress(Exception):
            _progress_queue.put((key, done, total))
