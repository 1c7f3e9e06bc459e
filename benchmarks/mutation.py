"""``python -m benchmarks.mutation``: drive mutmut over the package and report the survivors.

``make mutation`` calls ``run``: it lets mutmut generate the mutants (configured in
``pyproject.toml`` under ``[tool.mutmut]``), picks the ones to test (one module with
``--module tidy``, a deterministic sample with ``--every 8``: the mutants whose name hashes to 0
modulo 8, so the same code gives the same sample), runs them with the fast tests at the lowest
CPU priority on one worker, then prints the report: score per file and every survivor by file,
line and changed source line. ``report`` prints the report of the last run again.

mutmut keeps its work in ``mutants/`` (git-ignored); delete it to start from scratch.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import difflib
import json
import os
import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
MUTMUT = Path(sys.executable).with_name("mutmut")
PACKAGE = "engagement_kit"
_NO_MATCH = f"{PACKAGE}.__no_such_mutant__"

#: mutmut's exit codes -> what they mean for the score.
KILLED = {1, 3, 36, -24, 24, 152, 255}  # a failing test, or a timeout (the mutant hangs)
SURVIVED = {0}
NO_TESTS = {5, 33}


def _module(meta: Path) -> str:
    """``mutants/engagement_kit/store/core.py.meta`` -> ``store.core``."""
    return ".".join(meta.relative_to(MUTANTS / PACKAGE).with_suffix("").with_suffix("").parts)


def _metas(module: str | None) -> list[Path]:
    files = [  # skip what mutants/ still holds of code that has since moved
        f
        for f in sorted((MUTANTS / PACKAGE).rglob("*.py.meta"))
        if (ROOT / PACKAGE / f.relative_to(MUTANTS / PACKAGE).with_suffix("")).exists()
    ]
    if module:  # "store" selects store/core.py and the rest of the store package
        files = [f for f in files if f"{_module(f)}.".startswith(f"{module}.")]
    return files


def _results(meta: Path) -> dict[str, int | None]:
    return json.loads(meta.read_text())["exit_code_by_key"]


def in_sample(name: str, every: int) -> bool:
    """Deterministic sample: the mutant's name hashes to 0 modulo ``every``."""
    return every <= 1 or zlib.crc32(name.encode()) % every == 0


def selected(module: str | None, every: int, *, unkilled: bool = False) -> list[str]:
    return [
        name
        for meta in _metas(module)
        for name, code in _results(meta).items()
        if in_sample(name, every) and not (unkilled and code in KILLED)
    ]


def _forget_moved_code() -> None:
    """After code moved to other files (a module split into a package), make mutmut collect
    which tests reach which function afresh: its stats name functions by module, so the tests
    of a moved function would otherwise be unknown and its mutants reported as "no tests"."""
    moved = [
        f
        for f in (MUTANTS / PACKAGE).rglob("*.py.meta")
        if not (ROOT / PACKAGE / f.relative_to(MUTANTS / PACKAGE).with_suffix("")).exists()
    ]
    if not moved:
        return
    print(f"{len(moved)} mutated file(s) no longer exist: collecting the test stats afresh")
    for meta in moved:
        source = meta.with_suffix("")
        for path in (meta, source, source.with_suffix(".py.spans")):
            path.unlink(missing_ok=True)
    (MUTANTS / "mutmut-stats.json").unlink(missing_ok=True)


def _mutmut(*args: str, jobs: int = 1) -> int:
    cmd = ["nice", "-n", "19", str(MUTMUT), "run", "--max-children", str(jobs), *args]
    return subprocess.call(cmd, cwd=ROOT)


# -- where a mutant sits ---------------------------------------------------------------------
def _functions(source: str) -> dict[str, int]:
    """``xǁClassǁmethod`` / ``x_function`` (mutmut's names) -> line of the ``def``."""
    out: dict[str, int] = {}
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out[f"x_{node.name}"] = node.lineno
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    out[f"xǁ{node.name}ǁ{item.name}"] = item.lineno
    return out


def locate(module: str, names: list[str]) -> dict[str, tuple[int, str, str]]:
    """For each mutant: (line in the original file, original line, mutated line)."""
    relative = Path(*module.split("."))
    source = ROOT / PACKAGE / f"{relative}.py"
    if not source.exists():  # left over in mutants/ from code that has since moved
        return {name: (0, "?", "?") for name in names}
    spans = json.loads((MUTANTS / PACKAGE / f"{relative}.py.spans").read_text())["spans"]
    mutated = (MUTANTS / PACKAGE / f"{relative}.py").read_text().splitlines()
    defs = _functions(source.read_text())
    out = {}
    for name in names:
        local = name.removeprefix(f"{PACKAGE}.{module}.")  # -> x_fn__mutmut_3
        function = local.rsplit("__mutmut_", 1)[0]
        orig_span, span = spans.get(f"{function}__mutmut_orig"), spans.get(local)
        if not orig_span or not span or function not in defs:
            out[name] = (0, "?", "?")
            continue
        before = [
            s.replace(f"{function}__mutmut_orig", function)
            for s in mutated[orig_span[0] - 1 : orig_span[1]]
        ]
        after = [s.replace(local, function) for s in mutated[span[0] - 1 : span[1]]]
        line, old, new = 0, "", ""
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=before, b=after).get_opcodes():
            if tag != "equal":
                line = defs[function] + i1
                old = " ".join(s.strip() for s in before[i1:i2])
                new = " ".join(s.strip() for s in after[j1:j2])
                break
        out[name] = (line, old, new)
    return out


# -- the report ------------------------------------------------------------------------------
def report(module: str | None, every: int) -> str:
    lines = [
        f"Mutation report ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"sample: {'every mutant' if every <= 1 else f'crc32(name) % {every} == 0'})",
        "",
        "| file | mutants | tested | killed | survived | no tests | not run | score |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    survivors: list[tuple[str, int, str, str, str]] = []
    total = Counter()
    for meta in _metas(module):
        mod = _module(meta)
        results = {k: v for k, v in _results(meta).items() if in_sample(k, every)}
        c = Counter()
        for code in results.values():
            if code is None:
                c["not run"] += 1
            elif code in KILLED:
                c["killed"] += 1
            elif code in SURVIVED:
                c["survived"] += 1
            elif code in NO_TESTS:
                c["no tests"] += 1
            else:
                c["other"] += 1
        tested = c["killed"] + c["survived"]
        score = f"{100 * c['killed'] / tested:.1f} %" if tested else "-"
        lines.append(
            f"| {PACKAGE}/{mod.replace('.', '/')}.py | {len(results)} | {tested} | {c['killed']} | {c['survived']} "
            f"| {c['no tests']} | {c['not run']} | {score} |"
        )
        total.update(c)
        total["mutants"] += len(results)
        gone = [k for k, v in results.items() if v in SURVIVED or v in NO_TESTS]
        for name, (line, old, new) in locate(mod, gone).items():
            kind = "no tests" if results[name] in NO_TESTS else "survived"
            path = f"{PACKAGE}/{mod.replace('.', '/')}.py"
            survivors.append((path, line, name, old, f"{new}  [{kind}]"))
    tested = total["killed"] + total["survived"]
    score = f"{100 * total['killed'] / tested:.1f} %" if tested else "-"
    lines.append(
        f"| **all** | {total['mutants']} | {tested} | {total['killed']} | {total['survived']} "
        f"| {total['no tests']} | {total['not run']} | **{score}** |"
    )
    lines += ["", "Survivors by file and line (`mutmut show NAME` prints the diff):", ""]
    for path, line, name, old, new in sorted(survivors, key=lambda s: (s[0], s[1], s[2])):
        lines.append(f"- {path}:{line} `{name.rsplit('.', 1)[1]}`")
        lines.append(f"    - `{old[:110]}`")
        lines.append(f"    + `{new[:110]}`")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mutation", description=__doc__)
    parser.add_argument("command", choices=["run", "report"])
    parser.add_argument("--module", help="one module of engagement_kit, e.g. tidy")
    parser.add_argument("--every", type=int, default=1, help="test one mutant in N (sample)")
    parser.add_argument(
        "--unkilled",
        action="store_true",
        help="re-test only the mutants of the selection not killed yet (after adding tests)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once (default 1)")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    if args.command == "run":
        started = time.monotonic()
        _forget_moved_code()
        # 1. generate the mutants and record which tests reach which function; the name
        #    matches nothing, so mutmut stops there (with an error we expect)
        _mutmut(_NO_MATCH, jobs=args.jobs)
        names = selected(args.module, args.every, unkilled=args.unkilled)
        if not names:
            print(f"no mutants for module {args.module!r}", file=sys.stderr)
            return 2
        print(f"testing {len(names)} mutants", flush=True)
        # 2. run the selection (mutmut re-tests explicitly named mutants)
        if args.every <= 1 and not args.unkilled:
            _mutmut(f"{PACKAGE}.{args.module}.*" if args.module else f"{PACKAGE}.*", jobs=args.jobs)
        else:
            _mutmut(*names, jobs=args.jobs)
        print(f"\nmutation run took {(time.monotonic() - started) / 60:.1f} min\n")
    text = report(args.module, args.every)
    (MUTANTS / "report.md").write_text(text + "\n")
    print(text)
    print(f"\n(written to {MUTANTS / 'report.md'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
