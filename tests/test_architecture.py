"""The package's shape: no import cycles, the documented API importable where it always was, every
public submodule an attribute of ``engagement_kit``, modules of a readable size.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import subprocess
import sys

import grimp
import pytest
from conftest import REPO

import engagement_kit as ek

PACKAGE = REPO / "engagement_kit"


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of nodes that reach each other (cycles have > 1 node)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                group.append(other)
                if other == node:
                    break
            groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # imports inside functions count too; only ``if TYPE_CHECKING:`` imports are left out
    return grimp.build_graph("engagement_kit", exclude_type_checking_imports=True)


def test_cycle_finder_finds_a_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert [g for g in _strongly_connected(edges) if len(g) > 1] == [["a", "b", "c"]]


def test_no_import_cycle_between_modules(graph):
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    cycles = [g for g in _strongly_connected(edges) if len(g) > 1]
    assert not cycles, f"modules that import each other: {cycles}"


#: (importer, imported): no chain of imports may lead from the first to the second, so the
#: lower layers stay usable without the higher ones.
def test_every_module_imports_on_its_own():
    """Imported first, in a fresh interpreter, every module loads. grimp's graph has no cycle
    between modules, but Python also runs a package's ``__init__`` before any of its children:
    ``cohort_charts`` imported ``charts._common`` while ``charts/__init__`` imported
    ``cohort_charts`` back, so ``import engagement_kit.cohort_charts`` alone failed."""
    names = sorted(
        m.name
        for m in pkgutil.walk_packages([str(PACKAGE)], "engagement_kit.")
        if not m.name.endswith("__main__")
    )
    script = (
        "import importlib, sys, traceback\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'engagement_kit']:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {exc!r}')\n"
        "print('\\n'.join(failed))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *names], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", done.stdout
    assert len(names) > 100  # the walk found the package's modules


FORBIDDEN_CHAINS = [
    ("engagement_kit.charts", "engagement_kit.report"),
    ("engagement_kit.charts", "engagement_kit.widgets"),
    ("engagement_kit.metrics", "engagement_kit.charts"),
    ("engagement_kit.metrics", "engagement_kit.report"),
    ("engagement_kit.metrics", "engagement_kit.client"),
    ("engagement_kit.tidy", "engagement_kit.client"),
    ("engagement_kit.query", "engagement_kit.client"),
    ("engagement_kit.weeks", "engagement_kit.query"),
    ("engagement_kit.files", "engagement_kit.report"),
    ("engagement_kit.store", "engagement_kit.report"),
    ("engagement_kit.report", "engagement_kit.cli"),
    ("engagement_kit.report", "engagement_kit.delivery"),
]


@pytest.mark.parametrize(("importer", "imported"), FORBIDDEN_CHAINS)
def test_lower_layers_do_not_reach_higher_ones(graph, importer, imported):
    chain = graph.find_shortest_chain(importer=importer, imported=imported, as_packages=True)
    assert chain is None, f"{importer} reaches {imported}: {' -> '.join(chain or ())}"


def test_charts_use_no_private_name_of_metrics():
    for path in (PACKAGE / "charts").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\bmetrics\._|\b_m\._", text), path.name


# -- the public API -----------------------------------------------------------------------------

#: What the README, the notebooks and the docstrings show, and what callers used before the
#: report became a package: each must keep working, from where it was.
DOCUMENTED: dict[str, list[str]] = json.loads(
    (REPO / "tests" / "fixtures" / "public_api.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("module", sorted(DOCUMENTED))
def test_documented_names_import_from_where_they_always_were(module):
    mod = importlib.import_module(module)
    for name in DOCUMENTED[module]:
        assert getattr(mod, name) is not None, f"{module}.{name}"
        exec(f"from {module} import {name}", {})  # the spelling users write


def test_every_public_module_lists_names_that_resolve():
    for info in pkgutil.walk_packages(ek.__path__, "engagement_kit."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        mod = importlib.import_module(info.name)
        for name in getattr(mod, "__all__", ()):
            assert getattr(mod, name) is not None, f"{info.name}.{name}"


def test_report_keeps_the_names_its_callers_used():
    from engagement_kit import report

    assert report.setup_notebook.__module__ == "engagement_kit.report.weekly"
    assert report.chart_mimebundle is ek.charts.chart_mimebundle
    assert report.atomic_write is ek.files.atomic_write
    assert callable(report._run_task) and callable(report._kernel_start_failed)
    with pytest.raises(AttributeError, match="no_such_name"):
        report.no_such_name  # noqa: B018
    assert {"weekly", "batch", "execute", "export", "index"} <= set(dir(report))


def test_every_public_submodule_is_an_attribute():
    """``ek.tidy`` works without ``import engagement_kit.tidy`` first, like ``ek.metrics``."""
    public = {
        info.name
        for info in pkgutil.iter_modules(ek.__path__)
        if not info.name.startswith("_") and info.name != "__main__"
    }
    assert public <= ek._SUBMODULES, f"not reachable as ek.<name>: {public - ek._SUBMODULES}"
    for name in sorted(public):
        # __getattr__ is what runs in a fresh process, where nothing imported them yet
        assert ek.__getattr__(name).__name__ == f"engagement_kit.{name}"
        assert name in dir(ek)


# -- module size ---------------------------------------------------------------------------------

#: Every module stays at about 600 lines at most: a larger one is split by job, as ``client/``,
#: ``cli/``, ``metrics/``, ``tidy/``, ``widgets/``, ``report/`` and ``charts/`` were.
MAX_LINES = 600


def test_modules_stay_readable_in_size():
    too_big = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            too_big[name] = lines
    assert not too_big, f"split these by job (at most {MAX_LINES} lines): {too_big}"
