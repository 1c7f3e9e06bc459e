"""The scheduled GitHub workflow and the cron recipe, checked as far as they can be here."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from engagement_kit.weeks import iso_week_label, last_complete_week, today_in

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "weekly-report.yml"
SECRET_REF = re.compile(r"\$\{\{\s*secrets\.([A-Z_]+)\s*\}\}")
#: The README's cron recipe runs at the same time as the workflow (12:00 UTC on Mondays).
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
    readme = (WORKFLOW.parents[2] / "README.md").read_text()
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


def test_store_persists_between_runs_inside_the_workspace(workflow):
    store = workflow["jobs"]["report"]["env"]["ENGAGEMENT_KIT_STORE"]
    assert store.startswith("${{ github.workspace }}/")
    folder = store.removeprefix("${{ github.workspace }}/").split("/")[0]
    restore = _step(workflow, "actions/cache/restore")
    save = _step(workflow, "actions/cache/save")
    assert len(restore) == 1 and len(save) == 1
    assert restore[0]["with"]["path"] == save[0]["with"]["path"] == folder
    key = save[0]["with"]["key"]
    assert "${{ github.run_id }}" in key, "cache keys are immutable: each run saves a new one"
    assert restore[0]["with"]["key"] == key
    prefix = key.split("${{")[0]
    assert restore[0]["with"]["restore-keys"].strip() == prefix
    assert save[0].get("if") == "always()"
    steps = _steps(workflow)
    names = [s.get("uses", s.get("run", "")) for s in steps]
    run_index = next(i for i, s in enumerate(steps) if "engagement-kit report" in s.get("run", ""))
    assert names.index(restore[0]["uses"]) < run_index < names.index(save[0]["uses"])


def test_reports_uploaded_as_an_artifact(workflow):
    upload = _step(workflow, "actions/upload-artifact")
    assert len(upload) == 1
    assert upload[0]["with"]["path"].rstrip("/") == "reports"
    assert upload[0].get("if") == "always()", "upload the reports that worked even if one failed"
