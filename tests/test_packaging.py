"""The project's promises about itself: public API, lazy imports, dependency lists in step."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import yaml

import engagement_kit as ek
from tests.builders import REPO


def test_all_is_sorted_and_every_name_resolves():
    assert ek.__all__ == sorted(ek.__all__)
    for name in ek.__all__:
        assert getattr(ek, name) is not None, name
    assert set(ek.__all__) <= set(dir(ek))


def test_unknown_attribute_is_an_attribute_error():
    try:
        ek.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_import_is_light():
    code = (
        "import sys, engagement_kit; "
        "heavy = [m for m in ('altair', 'ipywidgets', 'papermill', 'nbconvert', 'nbformat', "
        "'httpx', 'pandas') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _requirement_bounds(reqs: list[str]) -> dict[str, str]:
    out = {}
    for req in reqs:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[a-z,]+\])?\s*>=\s*([0-9][0-9a-z.]*)", req.strip())
        assert m, f"every dependency needs a lower bound: {req!r}"
        out[m.group(1).lower()] = m.group(2)
    return out


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = _requirement_bounds(project["dependencies"] + [r for e in extras.values() for r in e])
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    have = _requirement_bounds([d for d in conda if not d.startswith(("python", "pip"))])
    have.update(_requirement_bounds([d for d in conda if d.startswith("python-dotenv")]))
    assert have == wanted
    assert {"pip": ["-e ."]} in env["dependencies"]
    assert "conda-forge" in env["channels"]


def test_ruff_lint_and_format_are_clean():
    ruff = [sys.executable, "-m", "ruff"]
    lint = subprocess.run([*ruff, "check", "."], cwd=REPO, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout[-2000:]
    fmt = subprocess.run(
        [*ruff, "format", "--check", "engagement_kit", "tests", "benchmarks"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout[-2000:]
