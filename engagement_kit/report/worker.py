"""One stream's report in a worker process: execute the notebook, render the page, write the
files atomically. Never raises: a failure becomes a ``ReportResult`` with one readable sentence.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from papermill.exceptions import PapermillExecutionError

from engagement_kit import __version__
from engagement_kit.errors import EngagementError, ReportError, WriteError
from engagement_kit.report.execute import execute_notebook, kernel_start_failed
from engagement_kit.report.export import notebook_to_html, write_assets
from engagement_kit.report.params import SIDECAR_MIMETYPE, kernel_environment, one_sentence
from engagement_kit.report.signals import remove_on_stop
from engagement_kit.report.task import ReportResult, ReportTask, emit
from engagement_kit.store.files import (
    atomic_write,
    atomic_write_all,
    inside,
    sweep_stale_temp_files,
    write_error,
)

__all__ = ["describe_error", "run_task", "sidecar_from"]


def _toolkit_error_names() -> frozenset[str]:
    import engagement_kit.errors as errors

    return frozenset(
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, EngagementError)
    )


def _user_sentence(text: str) -> str:
    """A toolkit error as a user reads it: its message and its fix (the hint on the next
    line) in one line, without the request URL."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return ""
    first = re.sub(r" \(POST [^)]*\)", "", lines[0])
    if len(lines) > 1:
        first = first.rstrip(".") + ". " + " ".join(lines[1:])
    return first


def describe_error(exc: BaseException, folder: Path | None = None) -> str:
    """A one-sentence, secret-free description of why a report failed: for the toolkit's
    own errors the platform's words and the fix, without the exception class or the URL (an
    ``OSError`` that names no file, such as papermill saving onto a full disk, names
    ``folder``)."""
    if isinstance(exc, PapermillExecutionError):
        if exc.ename in _toolkit_error_names():
            return one_sentence(_user_sentence(exc.evalue))
        return one_sentence(f"{exc.ename}: {exc.evalue}")
    if isinstance(exc, WriteError):
        return one_sentence(str(exc))
    if isinstance(exc, OSError) and (exc.filename or folder is not None):
        return one_sentence(str(write_error(exc.filename or f"{folder}{os.sep}", exc)))
    if isinstance(exc, EngagementError):
        return one_sentence(_user_sentence(str(exc)))
    if kernel_start_failed(exc):
        return one_sentence(
            f"the notebook kernel failed to start twice ({type(exc).__name__}: {exc})"
        )
    return one_sentence(f"{type(exc).__name__}: {exc}")


def sidecar_from(nb: Any) -> dict[str, Any]:
    """The one sidecar output (:data:`SIDECAR_MIMETYPE`) of an executed report notebook.

    Raises
    ------
    ReportError
        When there is none, or more than one.
    """
    found = [
        out["data"][SIDECAR_MIMETYPE]
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if SIDECAR_MIMETYPE in out.get("data", {})
    ]
    if len(found) != 1:
        raise ReportError(
            f"the report notebook emitted {len(found)} sidecar outputs instead of 1; its last "
            "cell must display report.sidecar_output()"
        )
    return dict(found[0])


def _on_platform(error: str, params: dict[str, Any]) -> str:
    """The error sentence, naming the stream's platform profile when it has one (a wrong secret
    on one platform fails that platform's streams: the reader must see which)."""
    name = params.get("platform")
    if not name or error.startswith(f"platform {name}"):
        return error
    host = params.get("host") or ""
    where = f"platform {name}{f' ({host})' if host else ''}"
    status = next((code for code in ("401", "403") if f"HTTP {code}" in error), None)
    if status is not None:
        names = "its client id and secret"
        with contextlib.suppress(Exception):  # the sentence without the names rather than none
            from engagement_kit.data_source import platform_profile

            if params.get("source") == "platform":
                names = " and ".join(platform_profile(name).references) or names
        what = "refused the credentials" if status == "401" else "refused this stream"
        return one_sentence(
            f"{where} {what} (HTTP {status}); check {names} in the environment or .env and "
            f"that the app may read stream {params.get('stream_id')}"
        )
    return one_sentence(f"{where}: {error}")


def _now_utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_report(
    stream_dir: Path, week: str, stream_id: str, page: str, sidecar: dict[str, Any]
) -> tuple[Path, Path]:
    """The page and its sidecar, both or neither (a full disk leaves the old pair intact);
    never over the report of another stream."""
    json_path = stream_dir / f"{week}.json"
    try:
        owner = json.loads(json_path.read_text(encoding="utf-8")).get("stream_id")
    except (OSError, ValueError, AttributeError):
        owner = None
    if owner and owner != stream_id:
        raise ReportError(
            f"{json_path} is the report of stream {owner!r}; it is not replaced by the report "
            f"of {stream_id!r} (two streams must not share one folder)"
        )
    html_path, json_path = atomic_write_all(
        [
            (stream_dir / f"{week}.html", page),
            (json_path, json.dumps(sidecar, indent=2, ensure_ascii=False)),
        ]
    )
    return html_path, json_path


def _record_failure(
    stream_dir: Path,
    week: str,
    base: dict[str, Any],
    tmp_nb: Path,
    error: str,
    params: dict[str, Any],
) -> Path | None:
    """Keep the executed notebook as ``<week>.failed.ipynb`` and write ``<week>.error.json``,
    as far as the disk allows (a full disk must not hide the error itself)."""
    failed_nb: Path | None = None
    with contextlib.suppress(OSError):
        if tmp_nb.exists() and tmp_nb.stat().st_size > 0:
            failed_nb = stream_dir / f"{week}.failed.ipynb"
            os.replace(tmp_nb, failed_nb)
    with contextlib.suppress(OSError):  # WriteError too: the result carries the error
        atomic_write(
            stream_dir / f"{week}.error.json",
            json.dumps(
                {
                    **{k: base[k] for k in ("stream_id", "stream_name", "week")},
                    "platform": params.get("platform") or "",
                    "error": error,
                    "notebook": failed_nb.name if failed_nb else None,
                    "failed_at": _now_utc(),
                    "toolkit_version": __version__,
                },
                indent=2,
                ensure_ascii=False,
            ),
        )
    return failed_nb


def _execute_and_render(
    task: ReportTask, tmp_nb: Path, *, km: Any, on_cell: Callable[[int, int], None]
) -> tuple[dict[str, Any], str]:
    """Run the notebook into ``tmp_nb``; its sidecar (checked) and the report's HTML page."""
    params = task.parameters
    week = params["week"]
    with kernel_environment():
        nb = execute_notebook(
            task.notebook, tmp_nb, params, kernel_name=task.kernel_name, on_cell=on_cell, km=km
        )
    sidecar = sidecar_from(nb)
    if sidecar.get("stream_id") != params["stream_id"] or sidecar.get("week") != week:
        raise ReportError("the notebook reported another stream or week than asked")
    assets_src = None
    if not task.self_contained:  # the folder's shared copy, written once
        asset = write_assets(task.out_dir)
        assets_src = f"../{asset.parent.name}/{quote(asset.name)}"
    page = notebook_to_html(
        nb, title=f"Weekly report: {params['stream_name']}, {week}", assets_src=assets_src
    )
    return sidecar, page


def _keep_and_tidy(task: ReportTask, stream_dir: Path, tmp_nb: Path) -> Path | None:
    """After a written report: keep the executed notebook if asked (its path, else ``None``)
    and remove what a failed run of the same week left."""
    week = task.parameters["week"]
    kept: Path | None = None
    if task.keep_notebook:
        kept = stream_dir / f"{week}.ipynb"
        os.replace(tmp_nb, kept)
    for stale in (f"{week}.failed.ipynb", f"{week}.error.json"):
        with contextlib.suppress(FileNotFoundError):
            (stream_dir / stale).unlink()
    return kept


def run_task(task: ReportTask, *, km: Any = None) -> ReportResult:
    """Execute the notebook, render HTML, write files atomically. Never raises.

    Parameters
    ----------
    km : kernel manager, optional
        A warm kernel to run the notebook in (see :mod:`~engagement_kit.report.kernels`); the
        caller discards it afterwards. Default: papermill starts a fresh kernel.
    """
    started = time.perf_counter()
    params = task.parameters
    week = params["week"]
    base = {
        "stream_id": params["stream_id"],
        "stream_name": params["stream_name"],
        "slug": task.slug,
        "week": week,
    }
    stream_dir = inside(Path(task.out_dir), task.slug)
    try:
        stream_dir.mkdir(parents=True, exist_ok=True)
        sweep_stale_temp_files(stream_dir)
        fd, tmp_name = tempfile.mkstemp(dir=stream_dir, prefix=f".{week}.tmp-", suffix=".ipynb")
    except OSError as exc:  # a read-only or full reports folder: this stream fails, in words
        emit(task.key, -1, 1)
        error = one_sentence(str(write_error(exc.filename or stream_dir, exc)))
        return ReportResult(**base, status="failed", error=error)
    os.close(fd)
    tmp_nb = Path(tmp_name)
    remove_on_stop(tmp_nb)  # a SIGTERM'd worker exits without unwinding (see stopping.py)
    tmp_nb.chmod(0o644)
    total_steps = {"n": 0}

    def on_cell(done: int, total: int) -> None:
        total_steps["n"] = total + 1  # + rendering the HTML
        emit(task.key, done, total + 1)

    try:
        try:
            sidecar, page = _execute_and_render(task, tmp_nb, km=km, on_cell=on_cell)
            html_path, json_path = _write_report(
                stream_dir, week, params["stream_id"], page, sidecar
            )
        except Exception as exc:
            error = _on_platform(describe_error(exc, stream_dir), params)
            failed_nb = _record_failure(stream_dir, week, base, tmp_nb, error, params)
            emit(task.key, -1, max(total_steps["n"], 1))
            return ReportResult(
                **base,
                status="failed",
                notebook=failed_nb,
                error=error,
                seconds=time.perf_counter() - started,
            )
        kept = _keep_and_tidy(task, stream_dir, tmp_nb)
        emit(task.key, total_steps["n"] or 1, total_steps["n"] or 1)
        unique = sidecar.get("kpis", {}).get("unique_users")
        change = sidecar.get("change", {}).get("unique_users", {}).get("pct_change")
        return ReportResult(
            **base,
            status="written",
            html=html_path,
            json=json_path,
            notebook=kept,
            unique_users=unique if isinstance(unique, int) else None,
            change=float(change) if isinstance(change, int | float) else None,
            seconds=time.perf_counter() - started,
            data_status=str(sidecar.get("status") or "ok"),
            stream_note=str(sidecar.get("stream_note") or ""),
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_nb.unlink()
