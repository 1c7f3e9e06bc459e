"""``engagement-kit report --config FILE`` with platform profiles, end to end: the console
script in a subprocess, two demo servers on loopback with different credentials, the streams
file outside the project folder (the report kernels find their profile through
``ENGAGEMENT_KIT_STREAMS``), real kernels through papermill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engagement_kit.client import EngagementClient
from engagement_kit.client.auth import Credentials
from engagement_kit.demo import running_server
from engagement_kit.report.weekly import load_weekly
from engagement_kit.store.files import stream_slug
from tests.report.test_platforms import EU, HR, HR_EU, US, WEEK, _platform

pytestmark = pytest.mark.slow

STREAMS = """
[platform.us]
host = "{us}"
client_id = "${{US_CLIENT_ID}}"
client_secret = "${{US_CLIENT_SECRET}}"

[platform.eu]
host = "{eu}"
label = "EU (Frankfurt)"
client_id = "${{EU_CLIENT_ID}}"
client_secret = "${{EU_CLIENT_SECRET}}"

[[stream]]
id = "st-demo-hr-us"
name = "PeopleFirst HR"
tz = "America/New_York"
platform = "us"

[[stream]]
id = "st-demo-hr-us"
name = "PeopleFirst HR"
tz = "America/New_York"
platform = "eu"
"""


def test_report_config_with_profiles_each_sidecar_its_platforms_numbers_no_secret(tmp_path):
    home, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KORE_", "ENGAGEMENT_KIT_"))}
    env["COLUMNS"] = "200"
    with (
        running_server(platform=_platform(US, (HR,))) as us,
        running_server(platform=_platform(EU, (HR_EU,))) as eu,
    ):
        (home / ".env").write_text(
            f"US_CLIENT_ID={US[0]}\nUS_CLIENT_SECRET={US[1]}\n"
            f"EU_CLIENT_ID={EU[0]}\nEU_CLIENT_SECRET={EU[1]}\n"
            f"ENGAGEMENT_KIT_STORE={home / 'store.sqlite3'}\n"
        )
        config = elsewhere / "streams.toml"  # not the project's: the kernels must be told
        config.write_text(STREAMS.format(us=us.url, eu=eu.url))
        script = Path(sys.executable).with_name("engagement-kit")
        done = subprocess.run(
            [str(script), "report", "--config", str(config), "--week", WEEK, "--jobs", "2"],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        expected = {}
        for key, server, creds, stream in (("us", us, US, HR), ("eu", eu, EU, HR_EU)):
            with EngagementClient(
                server.url, credentials=Credentials(*creds), store=False
            ) as client:
                expected[key] = load_weekly(
                    stream.id, WEEK, tz=stream.tz, source="platform", client=client
                ).sidecar()
        hosts = {"us": us.url, "eu": eu.url}
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-2000:]
    reports = home / "reports"
    folders = {
        "us": stream_slug("PeopleFirst HR", HR.id),
        "eu": stream_slug("PeopleFirst HR eu", HR.id),
    }
    for key, folder in folders.items():
        sidecar = json.loads((reports / folder / f"{WEEK}.json").read_text())
        assert sidecar["kpis"] == expected[key]["kpis"], key  # its own platform's numbers
        assert (sidecar["platform"], sidecar["host"]) == (key, hosts[key])
    assert expected["us"]["kpis"]["unique_users"] != expected["eu"]["kpis"]["unique_users"]
    portfolio = json.loads((reports / "portfolio.json").read_text())
    assert {r["slug"]: r["platform"] for r in portfolio["rows"]} == {
        folders["us"]: "us",
        folders["eu"]: "EU (Frankfurt)",
    }
    secrets = [US[1], EU[1]]
    for file in list(reports.rglob("*")) + list(home.glob("*.ipynb")):
        if file.is_file():
            data = file.read_bytes()
            assert not any(s.encode() in data for s in secrets), file
    assert not any(s in output for s in secrets)
