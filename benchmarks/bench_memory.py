"""7. Peak memory of a report run for the largest demo stream.

Runs ``engagement-kit report --demo --stream <largest>`` in a fresh process and samples the
resident memory (RSS) of its whole process tree (runner, worker process, notebook kernel) every
20 ms with psutil; reports the peak of the sum, and the largest single process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import psutil

from engagement_kit.demo import DEMO_STREAMS

WEEK = "2025-W48"


def _tree_rss(proc: psutil.Process) -> tuple[int, int]:
    total = biggest = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for p in procs:
        try:
            rss = p.memory_info().rss
        except psutil.Error:
            continue
        total += rss
        biggest = max(biggest, rss)
    return total, biggest


def run() -> list[dict]:
    stream = DEMO_STREAMS[0]
    exe = os.path.join(os.path.dirname(sys.executable), "engagement-kit")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ENGAGEMENT_KIT_STORE": os.path.join(tmp, "store.sqlite3")}
        cmd = [exe, "report", "--demo", "--stream", stream.id, "--week", WEEK, "--out-dir", tmp]
        t0 = time.perf_counter()
        child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proc = psutil.Process(child.pid)
        peak_total = peak_single = 0
        while child.poll() is None:
            total, biggest = _tree_rss(proc)
            peak_total, peak_single = max(peak_total, total), max(peak_single, biggest)
            time.sleep(0.02)
        seconds = time.perf_counter() - t0
        if child.returncode != 0:
            raise RuntimeError(f"report exited with {child.returncode}")
    mib = 1024 * 1024
    return [
        {
            "what": f"peak memory of `engagement-kit report --demo --stream {stream.id}` (cold store)",
            "baseline": "",
            "baseline_seconds": None,
            "ours_seconds": seconds,
            "ratio": None,
            "target": "(measured, no target)",
            "met": None,
            "runs": 1,
            "spread": f"peak RSS {peak_total / mib:,.0f} MiB for the process tree, largest process {peak_single / mib:,.0f} MiB",
        }
    ]
