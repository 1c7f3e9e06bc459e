"""The package's shape: no import cycles, the documented API importable where it always was, every
public submodule an attribute of ``engagement_kit``, modules of a readable size.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

import engagement_kit as ek
from tests.builders import REPO

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


def test_every_module_imports_on_its_own():
    """Imported first, in a fresh interpreter, every module loads. grimp's graph has no cycle
    between modules, but Python also runs a package's ``__init__`` before any of its children:
    ``cohort_charts`` imported ``charts._common`` while ``charts/__init__`` imported
    ``cohort_charts`` back, so ``import engagement_kit.charts.cohorts`` alone failed."""
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


def test_the_layers_hold():
    """import-linter's contracts in pyproject.toml: each layer imports only those below it, and
    only the places that choose a data source import the demo platform."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports_command; lint_imports_command()",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout or "broken" not in done.stdout.lower(), done.stdout[-3000:]


# -- private names -------------------------------------------------------------------------------
# The underscore means private: a ``_name`` is used only in its own module (a ``_module`` only
# inside its package), and an ``_attribute`` only by its own class (``self._x``, ``cls._x``).

#: Underscore attributes that are other libraries' public protocols, not our privates.
FOREIGN_PROTOCOLS = {
    "_replace",  # namedtuple / urllib's SplitResult
    "_asdict",  # namedtuple / SQLAlchemy rows
    "_fields",
    "_repr_mimebundle_",  # IPython's display protocol
    "_load_env_vars",  # pydantic-settings' hook, overridden (super()._load_env_vars)
    "_exit",  # os._exit, the standard library's
    "_getframe",  # sys._getframe
}

#: Reads of another library's internals that a test needs, with the reason.
FOREIGN_INTERNALS = {
    # the TLS test checks the context httpx's pool really uses (there is no public way)
    ("tests/reliability/test_hostile.py", "client.http._transport._pool._ssl_context"),
    ("tests/reliability/test_hostile.py", "client.http._transport._pool"),
    ("tests/reliability/test_hostile.py", "client.http._transport"),
}


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_uses(root: Path) -> list[str]:
    """Every cross-module ``_name`` import and outside read of an ``_attribute`` under ``root``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        where = path.relative_to(REPO).as_posix()
        package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "engagement_kit"
            ):
                module = node.module or ""
                names = [a.name for a in node.names if _is_private(a.name)]
                if names:
                    found.append(f"{where}:{node.lineno} imports {names} from {module}")
                parts = module.split(".")
                for i, part in enumerate(parts):
                    owner = ".".join(parts[:i])
                    if _is_private(part) and not package.startswith(owner):
                        found.append(f"{where}:{node.lineno} imports {module} from outside {owner}")
            elif isinstance(node, ast.Attribute) and _is_private(node.attr):
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                    continue
                if node.attr in FOREIGN_PROTOCOLS:
                    continue
                text = f"{ast.unparse(owner)}.{node.attr}"
                if (where, text) not in FOREIGN_INTERNALS:
                    found.append(f"{where}:{node.lineno} reads {text}")
    return found


def test_no_module_uses_another_modules_private_names():
    assert _private_uses(PACKAGE) == []


def test_no_test_or_benchmark_uses_private_names_of_the_package():
    assert _private_uses(REPO / "tests") + _private_uses(REPO / "benchmarks") == []


def test_the_private_name_check_finds_each_kind(tmp_path, monkeypatch):
    sample = tmp_path / "pkg" / "sample.py"
    sample.parent.mkdir()
    sample.write_text(
        "from engagement_kit.client.http_status import _hidden\n"
        "from engagement_kit.charts._common import chart_title\n"
        "client._clock()\nself._ok\nrow._asdict()\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    found = _private_uses(tmp_path / "pkg")
    assert len(found) == 3, found
    assert "['_hidden']" in found[0] and "outside engagement_kit.charts" in found[1]
    assert "client._clock" in found[2]


# -- the public API -----------------------------------------------------------------------------


def test_all_lists_exactly_the_public_names():
    """As httpx's test_exported_members: ``__all__`` is what ``dir()`` shows without an
    underscore, every name in it resolves, and each class or function says it is ours."""
    assert sorted(dir(ek)) == sorted(ek.__all__)
    for name in ek.__all__:
        value = getattr(ek, name)
        assert value is not None, name
        module = getattr(value, "__module__", None) or getattr(value, "__name__", "")
        if not isinstance(value, str):
            assert module.startswith("engagement_kit"), (name, module)


def test_the_public_api_is_small_and_names_each_thing_once():
    namespaces = {"charts", "delivery", "errors", "metrics", "report", "store"}
    assert namespaces <= set(ek.__all__)
    assert len(ek.__all__) <= 24, ek.__all__
    for gone in ("cohort_charts", "StreamChoice", "widgets", "sources", "files"):
        assert gone not in ek.__all__
        with pytest.raises(AttributeError):
            getattr(ek, gone)


def test_star_import_loads_only_the_public_namespaces():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from engagement_kit import *; "
            "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('engagement_kit.')}))",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(eval(done.stdout))
    assert {"cli", "doctor", "dashboard"}.isdisjoint(loaded), loaded


def test_every_public_module_lists_names_that_resolve():
    for info in pkgutil.walk_packages(ek.__path__, "engagement_kit."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        mod = importlib.import_module(info.name)
        for name in getattr(mod, "__all__", ()):
            assert getattr(mod, name) is not None, f"{info.name}.{name}"


def test_the_report_namespace_lazily_loads_its_own_names():
    from engagement_kit import report

    assert report.load_weekly.__module__ == "engagement_kit.report.weekly"
    assert "setup_notebook" not in report.__all__  # one setup_notebook: engagement_kit.charts
    assert not [n for n in report.__all__ if n.startswith("_")]
    with pytest.raises(AttributeError, match="no_such_name"):
        report.no_such_name  # noqa: B018
    assert {"weekly", "batch", "execute", "export", "index"} <= set(dir(report))


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


#: A function's body (signature and docstring left out: a Typer command's options and a numpy
#: docstring say what it takes, not what it does) stays at most this many lines; a longer one
#: is split into the steps it reads as, or a registry (``metrics.checks.CHECKS``).
MAX_FUNCTION_LINES = 80


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    first = body[0]
    docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    if docstring and isinstance(first.value.value, str) and len(body) > 1:  # type: ignore[attr-defined]
        body = body[1:]
    assert node.end_lineno is not None
    return node.end_lineno - body[0].lineno + 1


def test_functions_stay_readable_in_length():
    too_long = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = _body_lines(node)
                if lines > MAX_FUNCTION_LINES:
                    too_long[f"{path.relative_to(PACKAGE).as_posix()}:{node.name}"] = lines
    assert not too_long, f"split these (at most {MAX_FUNCTION_LINES} lines of body): {too_long}"


def test_the_length_counts_the_body_only():
    source = (
        'def f(\n    a,\n    b,\n):\n    """Doc.\n\n    More.\n    """\n    x = 1\n    return x\n'
    )
    (node,) = ast.parse(source).body
    assert isinstance(node, ast.FunctionDef) and _body_lines(node) == 2


#: The top level holds the package's entry, its errors and two small modules every layer
#: shares; everything else lives in the package of its layer.
TOP_LEVEL = {"__init__.py", "_lazy.py", "errors.py", "formatting.py", "data_source.py"}


def test_only_the_entry_and_the_shared_modules_sit_at_the_top():
    assert {p.name for p in PACKAGE.glob("*.py")} == TOP_LEVEL


# -- types -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_mypy_is_clean_on_the_package():
    """``make lint`` runs mypy with pyproject.toml's [tool.mypy]; so does this test, for CI."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(REPO / ".mypy_cache")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Success: no issues found" in done.stdout


def _unannotated(fn: object, where: str) -> list[str]:
    try:
        signature = inspect.signature(fn)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return []
    missing = [
        f"{where}({p.name})"
        for p in signature.parameters.values()
        if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty
    ]
    if signature.return_annotation is inspect.Signature.empty:
        missing.append(f"{where} -> ?")
    return missing


def test_the_public_api_is_fully_annotated():
    """Every function of ``engagement_kit.__all__`` and every public method of its classes has
    annotated parameters and return (JupyterLab's completion and mypy read them)."""
    missing = []
    for name in ek.__all__:
        obj = getattr(ek, name)
        if inspect.ismodule(obj):
            continue
        if not inspect.isclass(obj):
            missing += _unannotated(obj, name)
            continue
        for attr, member in vars(obj).items():
            if attr.startswith("_") and attr != "__init__":
                continue
            fn = (
                member.fget if isinstance(member, property) else getattr(member, "__func__", member)
            )
            if inspect.isfunction(fn) and fn.__module__.startswith("engagement_kit"):
                missing += _unannotated(fn, f"{name}.{attr}")
    assert missing == []


def test_the_package_says_it_is_typed():
    assert (PACKAGE / "py.typed").is_file()  # PEP 561; package-data ships it
