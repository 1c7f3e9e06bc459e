"""Small helpers shared by the benchmarks: timing with medians and spread, machine facts."""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata


def timeit(fn: Callable[[], object], *, runs: int = 20, warmup: int = 2) -> list[float]:
    """Run ``fn`` ``warmup`` times untimed, then ``runs`` times; return the seconds of each run."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def interleaved(
    fns: dict[str, Callable[[], object]], *, runs: int = 15, warmup: int = 1
) -> dict[str, list[float]]:
    """Time several functions in alternation (a, b, a, b, …) so machine noise hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    out: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            out[name].append(time.perf_counter() - t0)
    return out


def time_without_gc(fn: Callable[[], object]) -> float:
    """Seconds of one call of ``fn``, collected garbage first and the collector off (as timeit)."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def summary(samples: list[float]) -> dict[str, float]:
    """Median, min, max and run count of a list of seconds."""
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "runs": len(samples),
    }


def fresh_process_seconds(code: str, *, runs: int = 9) -> list[float]:
    """Wall time of ``python -c code`` in fresh processes (startup included)."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        out.append(time.perf_counter() - t0)
    return out


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
            mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    versions = []
    for pkg in ("engagement-kit", "pandas", "numpy", "httpx", "altair", "papermill", "nbconvert"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{pkg} {metadata.version(pkg)}")
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": ", ".join(versions),
    }
