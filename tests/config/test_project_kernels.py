"""A project folder as users meet it: kernels started elsewhere in it read its ``.env``.

* a Jupyter kernel whose working folder is ``notebooks/explore/`` of a project with ``.env`` at
  its root (pointing at the demo platform over real HTTP) fetches through
  ``ek.EngagementClient()`` and lists the project's streams in ``ek.Explorer()``, with no
  ``KORE_*`` or ``ENGAGEMENT_KIT_*`` variable in its environment;
* ``engagement-kit report`` run inside a project whose ``.env`` alone names the store: the
  report kernel writes to that store.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.builders import demo_dotenv

pytestmark = pytest.mark.slow

STREAMS_TOML = """\
[[stream]]
id = "st-demo-hr-us"
name = "HR helpdesk"
tz = "America/New_York"

[[stream]]
id = "st-demo-retail-in"
name = "Retail assistant"
tz = "Asia/Kolkata"
"""


def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("KORE_", "ENGAGEMENT_KIT_")):
            monkeypatch.delenv(name)


def _project(root: Path, env_lines: list[str]) -> Path:
    (root / "notebooks" / "explore").mkdir(parents=True)
    (root / ".env").write_text("\n".join(env_lines) + "\n")
    (root / "streams.toml").write_text(STREAMS_TOML)
    return root


def test_a_kernel_in_notebooks_explore_reads_the_projects_dotenv(
    demo_server, tmp_path, monkeypatch
):
    _clean_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)  # the kernel gets its own working folder below
    server = demo_server
    root = _project(
        tmp_path / "project",
        demo_dotenv(server.url, "ENGAGEMENT_KIT_STORE=store.sqlite3").splitlines(),
    )
    code = """\
import json, os
import engagement_kit as ek
client = ek.EngagementClient()
data = client.fetch("st-demo-retail-in", "2025-11-24", "2025-11-30", tz="Asia/Kolkata")
explorer = ek.Explorer(background=False)
print(json.dumps({
    "cwd": os.getcwd(),
    "env": sorted(k for k in os.environ if k.startswith(("KORE_", "ENGAGEMENT_KIT_"))),
    "host": client.host,
    "unique": int(data.summary["unique_users"]),
    "explorer_host": explorer.client.host,
    "streams": [s.id for s in explorer.streams],
    "store": str(client.store.path),
}))
"""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    cwd = root / "notebooks" / "explore"
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(cwd)}}).execute()
    requests, url = server.stats.requests, server.url
    out = json.loads(nb.cells[0].outputs[0]["text"])
    assert Path(out["cwd"]) == cwd.resolve()
    assert out["env"] == []  # nothing set: everything came from the project's .env
    assert out["host"] == out["explorer_host"] == url
    assert out["unique"] == 4111  # the demo platform's answer for that week, over HTTP
    assert requests >= 1
    assert out["streams"] == ["st-demo-hr-us", "st-demo-retail-in"]
    assert Path(out["store"]) == root.resolve() / "store.sqlite3"
    assert (root / "store.sqlite3").is_file()


def test_report_kernels_write_to_the_store_named_only_in_dotenv(tmp_path, monkeypatch):
    _clean_environment(monkeypatch)
    root = _project(tmp_path / "project", ["ENGAGEMENT_KIT_STORE=history/answers.sqlite3"])
    inside = root / "somewhere" / "deeper"
    inside.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KORE_", "ENGAGEMENT_KIT_"))}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "engagement_kit.cli",
            "report",
            "--demo",
            "--stream",
            "st-demo-hr-us",
            "--week",
            "2025-W47",
            "--jobs",
            "1",
        ],
        cwd=inside,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # demo answers go to the demo's own store beside the one .env names, never into it
    store = root / "history" / "demo-answers.v2.sqlite3"  # named with the demo answers' version
    assert store.is_file(), "the report kernel did not use the store folder of .env"
    with sqlite3.connect(store) as db:
        streams = {row[0] for row in db.execute("SELECT stream_id FROM revisions")}
    assert streams == {"st-demo-hr-us"}
    real = root / "history" / "answers.sqlite3"
    if real.is_file():
        with sqlite3.connect(real) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            if "responses" in tables:
                assert db.execute("SELECT count(*) FROM responses").fetchone()[0] == 0
    # the reports go to the project's reports/, not to the folder the command ran in
    assert list((root / "reports").glob("*/2025-W47.html"))
    assert not (inside / "reports").exists()
