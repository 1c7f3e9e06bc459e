"""The dashboard launcher: Voilà's command line, our offline template, the served notebook.

Most checks are pure (command, environment, the notebook cut, errors before anything starts).
One test starts the real Voilà on a free loopback port, asks for the page over HTTP (a kernel
runs the notebook), checks the page links nothing outside the server and shows no code, and
that leaving the context manager ends Voilà and its kernels (the whole process group). The
browser-side checks live in ``test_browser_dashboard.py``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from pathlib import Path

import pytest

from engagement_kit.errors import ConfigError, EngagementError
from engagement_kit.explorer import dashboard
from engagement_kit.explorer.dashboard import DashboardError, app_notebook, running_dashboard
from engagement_kit.explorer.dashboard_app import AppSource, app_source
from tests.builders import REPO

TEMPLATE = dashboard.TEMPLATE_ROOT / "voila" / "templates" / dashboard.TEMPLATE_NAME
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _option(command: list[str], name: str) -> str:
    values = [arg.split("=", 1)[1] for arg in command if arg.startswith(f"--{name}=")]
    assert len(values) == 1, f"--{name} given {len(values)} times"
    return values[0]


def test_voila_command_binds_loopback_preheats_and_never_opens_a_browser(tmp_path):
    command = dashboard.voila_command(tmp_path / "app.ipynb", port=8870)
    assert command[0] == sys.executable
    assert str(tmp_path / "app.ipynb") in command
    assert "--no-browser" in command
    assert _option(command, "Voila.ip") == "127.0.0.1"
    assert _option(command, "port") == "8870"
    assert _option(command, "Voila.port_retries") == "0"  # a taken port fails, never moves
    assert _option(command, "template") == "ek_dashboard"
    assert _option(command, "strip_sources") == "True"
    assert _option(command, "show_tracebacks") == "False"
    assert _option(command, "preheat_kernel") == "True"
    assert _option(command, "pool_size") == "1"
    assert _option(command, "KernelManager.transport") == "ipc"  # no kernel TCP ports
    assert not any("0.0.0.0" in arg for arg in command)


def test_environment_puts_our_template_first_and_applies_changes(monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", "/somewhere/else")
    monkeypatch.setenv("EK_TEST_DROP_ME", "x")
    env = dashboard.voila_environment({"EK_TEST_DROP_ME": None, "EK_TEST_ADDED": "1"})
    assert env["JUPYTER_PATH"].split(os.pathsep) == [
        str(dashboard.TEMPLATE_ROOT),
        "/somewhere/else",
    ]
    assert "EK_TEST_DROP_ME" not in env and env["EK_TEST_ADDED"] == "1"
    assert os.environ["EK_TEST_DROP_ME"] == "x"  # ours is untouched


def test_template_is_where_voila_looks_and_links_nothing_outside():
    assert json.loads((TEMPLATE / "conf.json").read_text())["base_template"] == "lab"
    page = (TEMPLATE / "index.html.j2").read_text()
    css = (TEMPLATE / "ek_dashboard.css").read_text()
    for text in (page, css):
        assert not re.search(r"(https?:)?//[\w.-]+\.\w+/", text), "a URL in the template"
        assert "@import" not in text
    assert "{{ super.super() }}" in page  # skips Voilà's block with the CDN links


def test_the_blocks_we_override_still_exist_upstream():
    """An upgrade of Voilà or nbconvert that renames a block must fail here, not go online."""
    from jupyter_core.paths import jupyter_path

    def upstream(*parts: str) -> str:
        for root in jupyter_path():
            path = Path(root, *parts)
            if path.is_file():
                return path.read_text()
        raise AssertionError(f"{'/'.join(parts)} not found on the Jupyter path")

    voila_lab = upstream("voila", "templates", "lab", "index.html.j2")
    nbconvert_lab = upstream("nbconvert", "templates", "lab", "index.html.j2")
    ours = (TEMPLATE / "index.html.j2").read_text()
    assert "{%- extends 'voila/templates/lab/index.html.j2' -%}" in ours
    assert "extends 'nbconvert/templates/lab/index.html.j2'" in voila_lab
    for block in re.findall(r"{%-? block (\w+)", ours):
        assert re.search(rf"{{%-? block {block}\b", voila_lab + nbconvert_lab), block
    # what we remove is still there upstream (else the override is dead code: revisit it)
    voila_css = voila_lab.split("block notebook_css", 1)[1].split("endblock notebook_css", 1)[0]
    assert "cdn.jsdelivr.net/npm/@fortawesome" in voila_css
    assert "spinner.macro.html.j2" in voila_lab and "static/voila-style.js" in voila_css
    assert "mermaid_js(" in nbconvert_lab


def _notebook(cells: list[dict]) -> dict:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3"}, "widgets": {"state": {"big": 1}}},
        "cells": cells,
    }


def _md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text: str, *, widget: bool = False) -> dict:
    outputs = [{"output_type": "display_data", "data": {"text/plain": "x"}, "metadata": {}}]
    if widget:
        outputs[0]["data"][WIDGET_VIEW] = {"model_id": "abc"}
    return {
        "cell_type": "code",
        "metadata": {},
        "source": text,
        "execution_count": 3,
        "outputs": outputs,
    }


def test_app_notebook_is_title_line_panel_then_the_guide(tmp_path):
    source = tmp_path / "nb.ipynb"
    original = _notebook(
        [
            _md("# Title: how to run this notebook"),
            _md("## Guide"),
            _code("import x"),
            _code("panel", widget=True),
            _md("## From code"),
            _code("panel.kpis"),
        ]
    )
    source.write_text(json.dumps(original))
    nb = app_notebook(source)
    title, code, *guide = nb["cells"]
    assert title["source"].startswith(f"# {dashboard.APP_TITLE}\n\n")
    assert "built-in demo platform" in title["source"]  # where the data comes from
    assert code["cell_type"] == "code" and code["outputs"] == []
    assert code["source"].endswith("app_explorer(demo=True, streams=None)")
    assert [c["source"] for c in guide] == ["## Guide"]
    assert "widgets" not in nb["metadata"]
    assert nb["metadata"]["title"] == dashboard.APP_TITLE
    assert nb["metadata"]["kernelspec"] == {"name": "python3"}
    assert json.loads(source.read_text()) == original  # the source file is not touched


def test_app_notebook_names_the_platform_and_streams_file(tmp_path):
    source = tmp_path / "nb.ipynb"
    source.write_text(json.dumps(_notebook([_md("# T"), _code("panel", widget=True)])))
    app = AppSource(demo=False, host="https://bots.example", streams=tmp_path / "s.toml")
    title, code = app_notebook(source, app)["cells"]
    assert "https://bots.example" in title["source"] and "s.toml" in title["source"]
    assert f"app_explorer(demo=False, streams={str(tmp_path / 's.toml')!r})" in code["source"]


def test_the_real_explore_notebook_gives_an_app_page_without_running_instructions():
    nb = app_notebook(dashboard.default_notebook())
    text = "\n".join("".join(c["source"]) for c in nb["cells"])
    assert "How to use the controls" in text
    for instruction in ("Run All", "make lab", "Run ▸", "setup_notebook", "today="):
        assert instruction not in text
    assert [c["cell_type"] for c in nb["cells"]].count("code") == 1


def test_app_source_is_demo_without_settings_and_checks_real_settings_up_front(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert app_source() == AppSource(demo=True)
    (tmp_path / ".env").write_text("KORE_HOST=https://bots.example\nKORE_JWT=a.b.c\n")
    with pytest.raises(ConfigError, match=r"streams\.toml"):
        app_source()  # real settings but no streams: said before Voilà starts
    (tmp_path / "streams.toml").write_text('[[stream]]\nid = "st-a"\nname = "A"\ntz = "UTC"\n')
    assert app_source() == AppSource(
        demo=False, host="https://bots.example", streams=tmp_path / "streams.toml"
    )
    assert app_source(demo=True) == AppSource(demo=True)
    page = json.dumps(app_notebook(dashboard.default_notebook(), app_source()))
    assert "a.b.c" not in page and "KORE_JWT" not in page  # no secret in the served notebook
    (tmp_path / ".env").write_text("KORE_HOST=https://bots.example\n")
    with pytest.raises(ConfigError, match="KORE_CLIENT_ID"):
        app_source()


def test_default_notebook_is_the_explore_notebook_of_this_checkout():
    assert dashboard.default_notebook() == REPO / "notebooks" / "explore" / "01_explore.ipynb"


def test_a_missing_notebook_is_a_config_error_naming_the_path(tmp_path):
    missing = tmp_path / "nowhere" / "01_explore.ipynb"
    with (
        pytest.raises(ConfigError, match=re.escape(str(missing))),
        running_dashboard(notebook=missing),
    ):
        pass  # pragma: no cover - never reached
    with pytest.raises(ConfigError, match="nowhere"):
        app_notebook(missing)


def test_a_file_that_is_not_a_notebook_is_a_config_error(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match=r"bad\.ipynb"):
        app_notebook(bad)
    bad.write_text(json.dumps({"cells": "no"}))
    with pytest.raises(ConfigError, match="not a Jupyter notebook"):
        app_notebook(bad)


def test_a_taken_port_is_refused_before_voila_starts():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(DashboardError, match=f"port {port} .* in use.*--port") as info,
            running_dashboard(port=port),
        ):
            pass  # pragma: no cover - never reached
    assert isinstance(info.value, EngagementError)
    with pytest.raises(ConfigError, match="not a TCP port"), running_dashboard(port=70000):
        pass  # pragma: no cover - never reached


@pytest.mark.slow
def test_running_dashboard_serves_an_offline_page_and_stops_the_whole_group(tmp_path):
    import httpx
    import psutil

    env = {"ENGAGEMENT_KIT_STORE": str(tmp_path / "store.sqlite3")}
    with running_dashboard(env=env, timeout=60, demo=True) as running:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", running.url)
        assert running.notebook.parent != dashboard.default_notebook().parent
        with httpx.Client(trust_env=False, timeout=90) as client:
            page = client.get(running.url).text
        pgid = running.process.pid
        assert os.getpgid(pgid) == pgid and os.getpgid(pgid) != os.getpgrp()
        kernels = psutil.Process(pgid).children(recursive=True)
        assert kernels, "no kernel rendered the page"
    assert running.process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)  # Voilà's process group is gone
    assert [k.pid for k in kernels if k.is_running() and k.status() != "zombie"] == []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", running.port))  # the port is free again

    assert "Engagement explorer" in page and "built-in demo platform" in page
    assert "ek_dashboard" in page  # our template served it
    external = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//[^"'\s>]+""", page)
    assert external == []
    assert not re.search(r"""import\(\s*["']https?://""", page)
    assert "fontawesome" not in page.lower()
    for code in ("import engagement_kit", "explorer.load()"):
        assert code not in page  # sources stripped


def test_without_voila_the_dashboard_says_how_to_install_it_in_one_sentence(monkeypatch):
    """Voilà is the ``dashboard`` extra: a plain install (``make report``) leaves it out."""
    import importlib.util

    from typer.testing import CliRunner

    from engagement_kit.cli import app

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "voila" else real(name, *a)
    )
    with (
        pytest.raises(DashboardError, match=r"pip install 'engagement-kit\[dashboard\]'"),
        running_dashboard(port=None),
    ):
        pass  # pragma: no cover - never reached
    result = CliRunner().invoke(app, ["dashboard", "--port", "0"])
    assert result.exit_code != 0
    text = " ".join(result.output.split())
    assert "the dashboard needs Voilà" in text and "engagement-kit[dashboard]" in text
    assert "Traceback" not in result.output
