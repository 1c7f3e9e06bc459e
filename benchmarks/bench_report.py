"""Weekly reports: one stream's report against the floor of the same path; a 12-stream batch.

1. One stream end to end (papermill runs the report notebook, nbconvert renders the offline
   HTML, sidecar and page written atomically: ``report.worker.run_task``, what each worker
   does) against the floor: an empty two-cell notebook through the *same* papermill + nbconvert
   path in a fresh kernel, in the same process (imports and the Vega bundle warm for both).
   "ours" forks its kernel from a zygote (``report.zygote``) inside the timed run, as a batch
   worker does; the zygote itself starts with the process, as a batch's starts before its
   workers.
   "cold" is the same report in a fresh kernel (how every report ran before). Target: ≤ 2×.
2. The marginal cost of one more report in a 12-stream demo batch with ``jobs=2``
   (``render_all``, worker processes, warm kernels, progress and index included):
   (T(12 streams) − T(1 stream)) ÷ 11, against the same floor. Target: ≤ 1×. The same batch
   with fresh kernels (``warm=False``) is measured beside it; so is the peak memory of the batch.

The response store is warm after the warm-up runs (closed weeks are never fetched twice), as in
a weekly run after the first one: the single report's warm-up fills it for its stream, an
untimed batch of every demo stream for the others (without it, the first timed 12-stream batch
also fetched two streams' history, and that counted as marginal report cost). Runs alternate so
machine noise hits all sides alike.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path

import psutil

from engagement_kit.report import batch
from engagement_kit.report import task as report_task
from engagement_kit.store import files as report_files

from ._util import interleaved, summary

TARGET_SINGLE = 2.0
TARGET_MARGINAL = 1.0
BATCH_STREAMS = 12
WEEK = "2025-W48"


def _row(what: str, baseline: str, base: list[float], ours: list[float], target: float) -> dict:
    b, o = summary(base), summary(ours)
    ratio = o["median"] / b["median"]
    return {
        "what": what,
        "baseline": baseline,
        "baseline_seconds": b["median"],
        "ours_seconds": o["median"],
        "ratio": ratio,
        "target_ratio": target,
        "target": f"≤ {target}×",
        "met": ratio <= target,
        "runs": o["runs"],
        "spread": (
            f"ours {o['min']:.2f}–{o['max']:.2f} s, baseline {b['min']:.2f}–{b['max']:.2f} s"
        ),
    }


def _cell_seconds(path: Path) -> float:
    """Seconds papermill recorded inside the code cells of an executed notebook."""
    import json

    nb = json.loads(path.read_text())
    return sum(
        (c.get("metadata", {}).get("papermill", {}) or {}).get("duration") or 0.0
        for c in nb["cells"]
        if c["cell_type"] == "code"
    )


class _PeakMemory:
    """Peak memory of this process and its children, sampled in a thread every 50 ms.

    RSS summed over processes counts the pages forked kernels share with their zygote once per
    process (an upper bound); PSS (proportional set size, Linux) splits shared pages fairly.
    """

    def __init__(self) -> None:
        self.rss = self.pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            rss = pss = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    info = proc.memory_full_info()
                except psutil.Error:
                    continue
                rss += info.rss
                pss += getattr(info, "pss", info.rss)
            self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)
            time.sleep(0.05)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(*, single_runs: int = 5, batch_runs: int = 3) -> list[dict]:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from engagement_kit import report
    from engagement_kit.config.streams import StreamConfig
    from engagement_kit.demo import DEMO_STREAMS
    from engagement_kit.report.kernels import WarmKernel
    from engagement_kit.report.worker import run_task
    from engagement_kit.report.zygote import Zygote

    home = Path(tempfile.mkdtemp(prefix="bench-report-"))
    previous_store = os.environ.get("ENGAGEMENT_KIT_STORE")
    os.environ["ENGAGEMENT_KIT_STORE"] = str(home / "store.sqlite3")
    batch.init_worker(None)  # this process plays a worker: same import set-up
    zygote = Zygote()
    try:
        configs = [StreamConfig(id=s.id, name=s.name, tz=s.tz) for s in DEMO_STREAMS]

        # -- 1. one stream vs an empty notebook through the same path ------------------------
        empty = new_notebook(
            cells=[
                new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                new_code_cell("x"),
            ]
        )
        empty.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        empty_path = home / "empty.ipynb"
        nbformat.write(empty, empty_path)
        notebook = report.default_notebook()
        params = report.report_parameters(configs[0], WEEK)
        task = report_task.ReportTask(
            key=0,
            parameters=params,
            slug=report_files.stream_slug(configs[0].name, configs[0].id),
            out_dir=str(home / "single"),
            notebook=str(notebook),
            keep_notebook=True,
            self_contained=True,  # as the floor's page: the same bytes written
        )
        kept = Path(task.out_dir) / task.slug / f"{WEEK}.ipynb"
        in_cells: dict[str, list[float]] = {"ours": [], "cold": []}

        def floor() -> None:
            nb = report.execute_notebook(empty_path, home / "empty-out.ipynb", {"x": 2})
            page = report.notebook_to_html(nb, title="empty")
            report_files.atomic_write(home / "empty.html", page)

        def one_report(warm: bool):
            def go() -> None:
                kernel = WarmKernel(zygote=zygote) if warm else None
                try:
                    if kernel is not None and not kernel.ready():
                        raise RuntimeError(f"warm kernel failed: {kernel.error}")
                    result = run_task(task, km=kernel.km if kernel else None)
                finally:
                    if kernel is not None:
                        kernel.discard()
                if not result.ok:
                    raise RuntimeError(result.error)
                in_cells["ours" if warm else "cold"].append(_cell_seconds(kept))

            return go

        single = interleaved(
            {"floor": floor, "ours": one_report(True), "cold": one_report(False)},
            runs=single_runs,
            warmup=1,
        )
        html = Path(task.out_dir) / task.slug / f"{WEEK}.html"
        size_kb = html.stat().st_size / 1024
        row1 = _row(
            "one stream's report end to end (papermill + nbconvert + files, in one process), "
            "kernel forked with the imports done",
            "empty notebook through the same papermill + nbconvert path, fresh kernel",
            single["floor"],
            single["ours"],
            TARGET_SINGLE,
        )
        cold = summary(single["cold"])
        row1["note"] = (
            f"report page {size_kb:,.0f} KB (Vega bundle inlined once). Beside it, the same "
            f"report in a fresh kernel (every report before warm kernels): median "
            f"{cold['median']:.2f} s = {cold['median'] / row1['baseline_seconds']:.2f}× the "
            f"floor. Time inside the notebook's cells (median): "
            f"{summary(in_cells['ours'])['median']:.2f} s with the forked kernel, "
            f"{summary(in_cells['cold'])['median']:.2f} s in a fresh one (its first cell "
            "imports pandas, altair and the toolkit; load_weekly imports httpx and pydantic)"
        )

        # -- 2. the marginal report of a 12-stream batch, two jobs ---------------------------
        many = [
            StreamConfig(id=s.id, name=f"{s.name} ({i + 1})", tz=s.tz)
            for i in range(BATCH_STREAMS)
            for s in [DEMO_STREAMS[i % len(DEMO_STREAMS)]]
        ]

        def batch_run(streams, warm: bool, name: str, memory: _PeakMemory | None = None):
            real = batch.run_tasks

            def go() -> None:
                batch.run_tasks = lambda tasks, **kw: real(tasks, **kw, warm=warm)
                try:
                    with memory or contextlib.nullcontext():
                        results = report.render_all(
                            streams, week=WEEK, out_dir=home / name, jobs=2, quiet=True
                        )
                finally:
                    batch.run_tasks = real
                if report.exit_code(results):
                    raise RuntimeError([r.error for r in results if not r.ok])

            return go

        # untimed: every demo stream's weeks into the store (see the module docstring)
        report.render_all(
            many[: len(DEMO_STREAMS)], week=WEEK, out_dir=home / "warm-up", jobs=2, quiet=True
        )
        batches = interleaved(
            {
                "one": batch_run(many[:1], True, "one"),
                "twelve": batch_run(many, True, "twelve"),
                "twelve_cold": batch_run(many, False, "twelve_cold"),
            },
            runs=batch_runs,
            warmup=0,
        )
        # peak memory in one more run of each batch, untimed: the sampler reads every process's
        # smaps 20 times a second (about 5 ms of CPU per process each time), which on two cores
        # slowed the 12-stream batch (more processes) more than the one-stream batch
        peak = {"twelve": _PeakMemory(), "twelve_cold": _PeakMemory()}
        batch_run(many, True, "twelve", peak["twelve"])()
        batch_run(many, False, "twelve_cold", peak["twelve_cold"])()
        floor_s = summary(single["floor"])["median"]
        marginal = [
            (t12 - t1) / (BATCH_STREAMS - 1)
            for t1, t12 in zip(batches["one"], batches["twelve"], strict=True)
        ]
        marginal_cold = [
            (t12 - t1) / (BATCH_STREAMS - 1)
            for t1, t12 in zip(batches["one"], batches["twelve_cold"], strict=True)
        ]
        row2 = _row(
            f"marginal cost of one more report in a {BATCH_STREAMS}-stream demo batch, "
            "render_all(jobs=2), warm kernels: (T12 − T1) ÷ 11",
            "empty-notebook floor (row above)",
            single["floor"],
            marginal,
            TARGET_MARGINAL,
        )
        mib = 1024 * 1024
        t12, t1 = summary(batches["twelve"]), summary(batches["one"])
        mc = summary(marginal_cold)["median"]
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        row2["note"] = (
            f"{BATCH_STREAMS} streams in {t12['median']:.1f} s, one in {t1['median']:.1f} s "
            f"(median of {t12['runs']}); with fresh kernels instead the marginal report costs "
            f"{mc:.2f} s = {mc / floor_s:.2f}× the floor. Peak memory of the whole process "
            f"tree during a warm 12-stream batch (one more run, untimed): PSS {peak['twelve'].pss / mib:,.0f} MiB "
            f"(RSS summed {peak['twelve'].rss / mib:,.0f} MiB, which counts the pages forked "
            f"kernels share with their zygote once each); fresh kernels: PSS "
            f"{peak['twelve_cold'].pss / mib:,.0f} MiB. {os.cpu_count()} cores, load average "
            f"{load} at the end: the machine was shared with other test runs"
        )
        return [row1, row2]
    finally:
        zygote.close()
        if previous_store is None:
            os.environ.pop("ENGAGEMENT_KIT_STORE", None)
        else:
            os.environ["ENGAGEMENT_KIT_STORE"] = previous_store
