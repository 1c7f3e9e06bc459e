"""``python -m benchmarks``: measure the toolkit side by side with its baselines; write RESULTS.md.

Each benchmark module has ``run() -> list[dict]``; every dict is one line of the results table
with at least ``what``, ``baseline``, ``baseline_seconds``, ``ours_seconds``, ``ratio``, ``target``,
``met`` (True/False/None) and ``runs``. Ratios are measured side by side in one run, because these
machines are shared and noisy. ``python -m benchmarks parse import`` runs a subset: its rows
replace the section of RESULTS.md that the same subset wrote last time (or are added as a new
section), and every other row and note of the file stays.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
import time
import traceback
from pathlib import Path

from ._util import machine

ORDER = [
    "parse",
    "fetch",
    "demo",
    "report",
    "import",
    "memory",
    "backfill",
    "scale",
    "install",
    "store",
]
HERE = Path(__file__).resolve().parent


def _fmt_seconds(value: object) -> str:
    if not isinstance(value, int | float):
        return str(value) if value is not None else ""
    if value >= 1:
        return f"{value:.2f} s"
    return f"{value * 1000:.1f} ms"


def _fmt_ratio(value: object) -> str:
    return f"{value:.2f}×" if isinstance(value, int | float) else ""


def _with_section(text: str, names: list[str], lines: list[str]) -> str:
    """``text`` with the section of this subset replaced by ``lines`` (or appended)."""
    start, end = f"<!-- bench: {' '.join(names)} -->", f"<!-- /bench: {' '.join(names)} -->"
    body = "\n".join(["## " + lines[0].lstrip("# ") + f": {' '.join(names)}", *lines[1:]])
    section = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        return before + section + rest.split(end, 1)[1]
    return text.rstrip("\n") + "\n\n" + section + "\n"


def main(argv: list[str]) -> int:
    names = argv or ORDER
    rows: list[dict] = []
    failures: list[str] = []
    for name in names:
        t0 = time.perf_counter()
        print(f"== {name} ...", flush=True)
        try:
            module = importlib.import_module(f"benchmarks.bench_{name}")
            for row in module.run():
                row.setdefault("group", name)
                rows.append(row)
                print(
                    f"   {row['what']}: ours {_fmt_seconds(row.get('ours_seconds'))}, "
                    f"baseline {_fmt_seconds(row.get('baseline_seconds'))}, "
                    f"ratio {_fmt_ratio(row.get('ratio'))} (target {row.get('target', '')})",
                    flush=True,
                )
        except Exception:  # a broken benchmark is reported, the others still run
            failures.append(f"{name}: {traceback.format_exc(limit=3)}")
            print(failures[-1], file=sys.stderr)
        print(f"   ({time.perf_counter() - t0:.0f} s)", flush=True)

    m = machine()
    lines = [
        "# Benchmark results",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `make bench` (`python -m benchmarks`).",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}; {m['os']}",
        f"- Python {m['python']}; {m['versions']}",
        "- Ratios are ours ÷ baseline, both measured in this one run, interleaved where possible;",
        "  medians of repeated runs, spread given as min–max. The machine is shared: expect noise.",
        "",
        "| # | what | baseline | baseline time | ours | ratio | target | met | runs | spread |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows, 1):
        met = {True: "yes", False: "**no**", None: "n/a"}[r.get("met")]
        lines.append(
            f"| {i} | {r['what']} | {r.get('baseline', '')} | {_fmt_seconds(r.get('baseline_seconds'))} "
            f"| {_fmt_seconds(r.get('ours_seconds'))} | {_fmt_ratio(r.get('ratio'))} "
            f"| {r.get('target', '')} | {met} | {r.get('runs', '')} | {r.get('spread', '')} |"
        )
    notes = [r for r in rows if r.get("note")]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {r['what']}: {r['note']}" for r in notes]
    if failures:
        lines += ["", "## Benchmarks that failed to run", "", "```", *failures, "```"]
    results = HERE / "RESULTS.md"
    if argv and results.is_file():
        results.write_text(_with_section(results.read_text(), argv, lines))
    else:
        results.write_text("\n".join(lines) + "\n")
    print(f"wrote {HERE / 'RESULTS.md'}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
