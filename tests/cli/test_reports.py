"""One stream, one number, one story: a configured stream run through ``report --config``,
``report --stream ID`` (the project's streams.toml), ``send --dry-run``, the index and the
Explorer gives the same numbers in the same words; a rule added after the report is honoured."""

from __future__ import annotations

import datetime as dt
import json
import re

from typer.testing import CliRunner

from engagement_kit import formatting as f
from engagement_kit.cli import app

runner = CliRunner()
WEEK = "2025-W47"
HR = "st-demo-hr-us"
STREAMS = f"""
[defaults]
link = "https://intranet.example.com/engagement/"

[[stream]]
id = "{HR}"
name = "PeopleFirst HR Helpdesk (US)"
tz = "America/New_York"
conversation_type = "interactive"
conversation_status = "closed"
deliver = ["mmost://127.0.0.1:9/never"]
"""
RULE = """
[[stream.alert]]
name = "Returning share high"
kpi = "returning_share"
rule = "above"
value = "1%"
"""


def _words(sidecar, kpi):
    change = sidecar["change"][kpi]
    return (
        f.kpi_text(kpi, sidecar["kpis"][kpi]),
        f.kpi_text(kpi, sidecar["previous_kpis"][kpi]),
        f.change_text(kpi, change["change"], change["pct_change"]),
    )


def test_one_configured_stream_tells_one_story_everywhere(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    streams = project / "streams.toml"
    streams.write_text(STREAMS, encoding="utf-8")
    monkeypatch.chdir(project)
    monkeypatch.setenv("ENGAGEMENT_KIT_HOME", str(project))  # the project's streams.toml
    monkeypatch.setenv("COLUMNS", "300")
    out = project / "reports"

    by_config = runner.invoke(
        app, ["report", "--demo", "--config", str(streams), "--week", WEEK, "--jobs", "1"]
    )
    assert by_config.exit_code == 0, by_config.output

    def stream_folders(root):  # reports/_assets/ holds the shared chart bundle
        return [p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")]

    (folder,) = stream_folders(out)
    first = json.loads((folder / f"{WEEK}.json").read_text())
    assert first["tz"] == "America/New_York" and first["stream_note"] == ""
    assert first["filters"]["conversation_type"] == "interactive"

    # --stream ID of the project's streams.toml: the same stream with all its settings
    by_id = runner.invoke(app, ["report", "--demo", "--stream", HR, "--week", WEEK])
    assert by_id.exit_code == 0, by_id.output
    assert stream_folders(out) == [folder]  # one folder, one index row
    second = json.loads((folder / f"{WEEK}.json").read_text())
    for key in ("kpis", "previous_kpis", "change", "filters", "tz", "stream_name"):
        assert second[key] == first[key], key
    index = (out / "index.html").read_text()
    assert len(re.findall(r'<tr class="stream-row"', index)) == 1
    users = f.count_text(second["kpis"]["unique_users"])
    pct = second["change"]["unique_users"]["pct_change"]
    assert f"<td>{users}</td>" in index and f.signed_percent(pct) in index
    assert f"{users} users  {f.signed_percent(pct)}" in " ".join(by_id.output.split("\n"))

    # a flag beside the id overrides one setting, and says so
    utc = runner.invoke(
        app,
        ["report", "--demo", "--stream", HR, "--week", WEEK,
         "--tz", "UTC", "--out-dir", str(tmp_path / "utc")],
    )  # fmt: skip
    assert utc.exit_code == 0, utc.output
    assert "tz from the command line" in " ".join(utc.output.split())
    (utc_folder,) = stream_folders(tmp_path / "utc")
    utc_page = (utc_folder / f"{WEEK}.html").read_text()
    assert "tz from the command line" in utc_page
    assert json.loads((utc_folder / f"{WEEK}.json").read_text())["tz"] == "UTC"

    # a rule added after the report: send --dry-run evaluates the rules in force
    streams.write_text(STREAMS + RULE, encoding="utf-8")
    sent = runner.invoke(
        app, ["send", "--config", str(streams), "--week", WEEK, "--out-dir", str(out), "--dry-run"]
    )
    assert sent.exit_code == 0, sent.output
    said = " ".join(sent.output.split())
    assert "the rules in force fire Returning share high; the page showed none" in said
    value, previous, change = _words(second, "returning_share")
    assert f"Returning share {value}, {change} from {previous}" in said
    for kpi, label in (("unique_users", "Unique users"), ("new_users", "New users")):
        value, previous, change = _words(second, kpi)
        assert f"- {label}: {value}, {change} from {previous}" in said

    # the Explorer on the same stream (from streams.toml) and week
    from engagement_kit.config.streams import load_streams
    from engagement_kit.demo import demo_client
    from engagement_kit.explorer import Explorer

    with demo_client() as client:
        explorer = Explorer(
            client, streams=load_streams(streams), today=dt.date(2025, 12, 3), background=False
        )
        explorer.start.value = dt.date.fromisoformat(second["start"])
        explorer.end.value = dt.date.fromisoformat(second["end"])
        assert explorer.load()
        panel = explorer.panels["kpis"].value
    page = (folder / f"{WEEK}.html").read_text()
    for kpi in ("unique_users", "new_users", "returning_share", "stickiness"):
        value, previous, change = _words(second, kpi)
        for surface in (page, panel):
            assert f">{value}<" in surface and f">{previous}<" in surface and change in surface
