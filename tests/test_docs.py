"""The documentation keeps up with the code (as sqlite-utils' ``test_docs.py`` does).

Every command of ``engagement-kit`` is in docs/cli.md, every ``streams.toml`` key in
docs/streams-toml.md, every module of the package in docs/architecture.md's table and on an API
reference page, every page in mkdocs.yml's nav, the layer drawing is import-linter's contract,
and the site builds with ``mkdocs build --strict`` (slow) without a web font or a CDN.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import pkgutil
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

import engagement_kit
from engagement_kit.cli import app
from engagement_kit.config.streams import DELIVERY_KEYS, StreamConfig
from engagement_kit.delivery.plan import DEFAULTS_KEYS
from engagement_kit.delivery.rules import AlertRule
from tests.builders import REPO

DOCS = REPO / "docs"
ARCHITECTURE = DOCS / "architecture.md"
MKDOCS_YML = REPO / "mkdocs.yml"


# -- helpers ---------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """mkdocs.yml with its ``!!python/name:`` tags read as plain strings (nothing imported)."""


_Loader.add_multi_constructor(
    "tag:yaml.org,2002:python/", lambda loader, suffix, node: f"python/{suffix}"
)


def _mkdocs_config() -> dict[str, Any]:
    return yaml.load(MKDOCS_YML.read_text(encoding="utf-8"), Loader=_Loader)


def _nav_files(nav: Any) -> list[str]:
    """Every page a nav (nested lists of ``title: page`` mappings or bare pages) points to."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in _nav_files(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_files(value)]
    return []


def _pages() -> list[str]:
    return sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))


def _table_keys(text: str) -> list[str]:
    """The first column of a Markdown table's rows when it is one code span: ``| `key` |``."""
    return re.findall(r"^\| `([^`]+)` \|", text, flags=re.MULTILINE)


def _sections(text: str) -> dict[str, str]:
    """A page's ``## `` sections by heading."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {heading.strip(): body for heading, body in zip(parts[1::2], parts[2::2], strict=True)}


def _commands() -> list[str]:
    """Every command path of ``engagement-kit``: ``report``, ``store``, ``store info``, ..."""
    found: list[str] = []

    def walk(group: Any, prefix: str) -> None:
        # a group has ``commands`` (typer's own click is vendored: no isinstance on click's)
        for name, command in group.commands.items():
            if command.hidden:
                continue
            path = f"{prefix}{name}"
            found.append(path)
            if getattr(command, "commands", None) is not None:
                walk(command, path + " ")

    walk(typer.main.get_command(app), "")
    return sorted(found)


def _modules() -> list[tuple[str, bool]]:
    """Every module of the package as (dotted name, is a package), the package itself first."""
    found = [("engagement_kit", True)]
    for info in pkgutil.walk_packages(engagement_kit.__path__, "engagement_kit."):
        found.append((info.name, info.ispkg))
    return found


def _module_path(name: str, ispkg: bool) -> str:
    """How docs/architecture.md's table names a module: ``client/core.py``, ``client/``."""
    parts = name.split(".")[1:]
    if not parts:
        return "__init__.py"
    return "/".join(parts) + ("/" if ispkg else ".py")


def _reference_blocks() -> dict[str, str]:
    """``::: module`` lines of the API reference pages: module -> page."""
    blocks: dict[str, str] = {}
    for page in sorted((DOCS / "api").glob("*.md")):
        for name in re.findall(r"^::: ([\w.]+)\s*$", page.read_text(encoding="utf-8"), re.M):
            blocks[name] = page.name
    return blocks


# -- the site's pages --------------------------------------------------------------------------


def test_every_page_is_in_the_nav() -> None:
    nav = _nav_files(_mkdocs_config()["nav"])
    missing = sorted(set(_pages()) - set(nav))
    assert not missing, f"add these pages to mkdocs.yml's nav: {missing}"


def test_the_nav_points_only_to_pages_that_exist() -> None:
    nav = _nav_files(_mkdocs_config()["nav"])
    assert len(nav) == len(set(nav)), "a page appears twice in the nav"
    assert sorted(set(nav) - set(_pages())) == []


def test_the_site_fetches_nothing_at_build_or_read_time() -> None:
    config = _mkdocs_config()
    assert config["theme"]["name"] == "material"
    assert config["theme"]["font"] is False  # no Google Fonts
    assert config["strict"] is True
    plugins = {p if isinstance(p, str) else next(iter(p)) for p in config["plugins"]}
    assert {"search", "mkdocstrings"} <= plugins
    assert not plugins & {"social", "privacy", "optimize"}  # they download or call out


def test_readme_is_short_and_its_links_resolve() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    links = re.findall(r"\]\((?!https?://|#)([^)#\s]+)(?:#[^)]*)?\)", readme)
    assert links, "README links to the docs"
    assert [link for link in links if not (REPO / link).exists()] == []
    for page in ("docs/reliability.md", "docs/speed.md", "docs/architecture.md"):
        assert f"({page})" in readme


# -- every command, key and module is documented -----------------------------------------------


def test_the_command_walk_finds_groups_and_subcommands() -> None:
    commands = _commands()
    assert {"report", "doctor", "store", "store info", "store export"} <= set(commands)


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_in_the_command_line_page(command: str) -> None:
    rows = _table_keys((DOCS / "cli.md").read_text(encoding="utf-8"))
    assert f"engagement-kit {command}" in rows, (
        f"docs/cli.md: add a row | `engagement-kit {command}` | what it does |"
    )


def test_the_command_line_page_names_no_command_that_is_gone() -> None:
    rows = _table_keys((DOCS / "cli.md").read_text(encoding="utf-8"))
    documented = {row.removeprefix("engagement-kit ") for row in rows}
    assert documented - set(_commands()) == set()


#: streams.toml's tables, each with the section of docs/streams-toml.md that lists its keys.
STREAMS_TOML_KEYS = {
    "`[[stream]]`: one stream each": set(StreamConfig.model_fields) | set(DELIVERY_KEYS),
    "`[defaults]`: for every stream that does not say otherwise": set(DEFAULTS_KEYS),
    "`[[stream.alert]]` and `[[defaults.alert]]`: one alert rule each": set(AlertRule.model_fields),
}


@pytest.mark.parametrize("section", sorted(STREAMS_TOML_KEYS))
def test_every_streams_toml_key_is_documented(section: str) -> None:
    sections = _sections((DOCS / "streams-toml.md").read_text(encoding="utf-8"))
    assert section in sections, f"docs/streams-toml.md has no section ## {section}"
    documented = set(_table_keys(sections[section]))
    keys = STREAMS_TOML_KEYS[section]
    assert keys - documented == set(), f"undocumented keys of {section}"
    assert documented - keys == set(), f"documented keys that the code does not read: {section}"


def test_the_key_sets_come_from_the_code() -> None:
    """The test reads the keys from the models, so a new field cannot slip past it."""
    stream_keys = STREAMS_TOML_KEYS["`[[stream]]`: one stream each"]
    assert {"id", "name", "tz", "cohorts", "deliver", "alert"} <= stream_keys
    assert {"digest", "link"} <= set(DEFAULTS_KEYS)
    assert {"kpi", "rule", "value", "cooldown_weeks"} <= set(AlertRule.model_fields)


@pytest.mark.parametrize(("module", "ispkg"), _modules())
def test_every_module_has_a_line_in_the_architecture_page(module: str, ispkg: bool) -> None:
    rows = _table_keys(ARCHITECTURE.read_text(encoding="utf-8"))
    path = _module_path(module, ispkg)
    assert path in rows, f"docs/architecture.md: add a row | `{path}` | its job | for {module}"


def test_the_architecture_page_names_no_module_that_is_gone() -> None:
    rows = _table_keys(ARCHITECTURE.read_text(encoding="utf-8"))
    known = {_module_path(name, ispkg) for name, ispkg in _modules()}
    assert [row for row in rows if row not in known] == []


@pytest.mark.parametrize(
    "module",
    [name for name, _ in _modules() if not any(p.startswith("_") for p in name.split("."))],
)
def test_every_public_module_is_in_the_api_reference(module: str) -> None:
    blocks = _reference_blocks()
    if module == "engagement_kit":  # the public names: a table on the reference's first page
        assert "`EngagementClient`" in (DOCS / "api" / "index.md").read_text(encoding="utf-8")
        return
    assert module in blocks, f"add ::: {module} to its page under docs/api/"


def test_every_public_name_is_on_the_reference_index() -> None:
    index = (DOCS / "api" / "index.md").read_text(encoding="utf-8")
    missing = [n for n in engagement_kit.__all__ if n != "__version__" and f"`{n}`" not in index]
    assert missing == [], "docs/api/index.md: add these names of engagement_kit.__all__"


def test_the_api_reference_names_only_modules_that_exist() -> None:
    # found, not imported: ``cli/__main__`` would run the command
    assert [m for m in _reference_blocks() if importlib.util.find_spec(m) is None] == []


def test_every_layer_package_has_a_reference_page() -> None:
    layers = [
        "config",
        "client",
        "store",
        "tidy",
        "metrics",
        "charts",
        "explorer",
        "report",
        "delivery",
        "doctor",
        "demo",
        "cli",
    ]
    nav = _nav_files(_mkdocs_config()["nav"])
    for layer in layers:
        assert f"api/{layer}.md" in nav
        assert f"::: engagement_kit.{layer}\n" in (DOCS / "api" / f"{layer}.md").read_text()


# -- the layer drawing is the import contract --------------------------------------------------


def _contract_layers() -> list[list[str]]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(
        c for c in pyproject["tool"]["importlinter"]["contracts"] if c["type"] == "layers"
    )
    return [
        [name.strip().removeprefix("engagement_kit.") for name in re.split(r"[|:]", level)]
        for level in contract["layers"]
    ]


def _drawn_layers() -> tuple[set[str], set[tuple[str, str]]]:
    """The nodes and ``a --> b`` edges of the mermaid block under ``## The layers``."""
    section = _sections(ARCHITECTURE.read_text(encoding="utf-8"))["The layers"]
    block = re.search(r"```mermaid\n(.*?)```", section, flags=re.DOTALL)
    assert block, "docs/architecture.md: ## The layers has no mermaid drawing"
    nodes: set[str] = set()
    edges: set[tuple[str, str]] = set()
    for line in block[1].splitlines():
        if node := re.match(r"\s*(\w+)\[", line):
            nodes.add(node[1])
        elif "-->" in line:
            upper, lower = (side.split("&") for side in line.split("-->"))
            edges |= {(a.strip(), b.strip()) for a in upper for b in lower}
    return nodes, edges


def test_the_layer_drawing_is_the_import_contract() -> None:
    levels = _contract_layers()
    nodes, edges = _drawn_layers()
    assert nodes == {name for level in levels for name in level}
    expected = {(a, b) for upper, lower in itertools.pairwise(levels) for a in upper for b in lower}
    assert edges == expected


# -- the site builds ---------------------------------------------------------------------------


@pytest.mark.slow
def test_the_site_builds_strictly_and_offline(tmp_path: Path) -> None:
    pytest.importorskip(
        "mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'"
    )
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "WARNING" not in done.stderr, done.stderr[-4000:]
    html = {p: p.read_text(encoding="utf-8") for p in site.rglob("*.html")}
    assert len(html) >= len(_pages())
    for path, text in html.items():
        assert "fonts.googleapis.com" not in text, path
        assert "fonts.gstatic.com" not in text, path
    # the API reference is rendered from the docstrings, and the Sphinx roles became links
    client_page = (site / "api" / "client.html").read_text(encoding="utf-8")
    assert 'id="engagement_kit.client.core.EngagementClient"' in client_page
    assert ":class:<code>" not in client_page and ":func:<code>" not in client_page
    assert "::</p>" not in (site / "api" / "delivery.html").read_text(encoding="utf-8")
    assert 'href="config.html#engagement_kit.config.query.EngagementQuery"' in client_page
