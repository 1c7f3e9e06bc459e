"""A first run on a fresh clone (issue 25): ``make report`` installs what reports need and
nothing else, ``make test`` adds the test tools to the same ``.venv``.

In a throwaway clone of this repository's last commit (in the temporary folder, with its own
``.venv``; pip's cache makes it feasible): the time of ``make report`` (create the venv, install,
write the demo reports), the size of ``.venv`` after it, whether any test tool, JupyterLab or
Voilà is importable there, then the size after ``make test``'s install steps (the stamps of the
``dev``, ``lab`` and ``dashboard`` extras; the suite itself is not run). ``EK_BENCH_INSTALL=0``
skips it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
TOOLS = ("pytest", "playwright", "ruff", "mutmut", "hypothesis", "nbval", "jupyterlab", "voila")


def _size_mib(folder: Path) -> float:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total / 1024 / 1024


def _make(clone: Path, *targets: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KORE_", "ENGAGEMENT_KIT_"))}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    env["ENGAGEMENT_KIT_STORE"] = str(clone / "store.sqlite3")
    t0 = time.perf_counter()
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(clone), *targets],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if done.returncode:
        raise RuntimeError(f"make {' '.join(targets)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - t0


def run() -> list[dict]:
    if os.environ.get("EK_BENCH_INSTALL", "1") == "0":
        return []
    home = Path(tempfile.mkdtemp(prefix="bench-install-"))
    try:
        clone = home / "clone"
        subprocess.run(["git", "clone", "-q", str(HERE), str(clone)], check=True)
        seconds = _make(clone, "report")
        python = clone / ".venv" / "bin" / "python"
        probe = "import importlib.util as u, sys; print(' '.join(m for m in sys.argv[1:] if u.find_spec(m)))"
        found = subprocess.run(
            [str(python), "-c", probe, *TOOLS], capture_output=True, text=True, check=True
        ).stdout.split()
        report_mib = _size_mib(clone / ".venv")
        stamp = ".venv/.installed-stamp"
        extra = _make(clone, *(f"{stamp}-{e}" for e in ("dev", "lab", "dashboard")))
        test_mib = _size_mib(clone / ".venv")
        return [
            {
                "what": "make report on a fresh clone (python -m venv, pip install -e ., the 3 "
                "demo reports), its own .venv, pip's cache warm",
                "baseline": "",
                "ours_seconds": seconds,
                "target": "(measured)",
                "met": None,
                "runs": 1,
                "spread": f"then make test's installs (dev, lab, dashboard): {extra:.0f} s more",
            },
            {
                "what": ".venv after make report vs after make test's installs",
                "baseline": f"after make test: {test_mib:,.0f} MiB",
                "ours_seconds": f"{report_mib:,.0f} MiB",
                "ratio": report_mib / test_mib,
                "target": "no test tool, JupyterLab or Voilà after make report",
                "met": not found,
                "runs": 1,
                "spread": "importable after make report: "
                + (", ".join(found) or "none of " + ", ".join(TOOLS)),
            },
        ]
    finally:
        shutil.rmtree(home, ignore_errors=True)
