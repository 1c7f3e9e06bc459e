"""Platform profiles end to end: three demo servers on loopback, each with its own app.

The project's ``.env`` points at the US server (the project's own settings); ``streams.toml``
names an EU profile (the same stream id as the US stream: two streams) and a JP profile whose
secret is wrong. Real kernels through papermill, as in production.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os

import pytest

from engagement_kit import report
from engagement_kit.client import EngagementClient
from engagement_kit.client.auth import Credentials
from engagement_kit.config.streams import load_platforms, load_streams
from engagement_kit.demo import DemoPlatform, get_stream, running_server
from engagement_kit.report.weekly import load_weekly
from engagement_kit.store.files import stream_slug

pytestmark = pytest.mark.slow

WEEK = "2025-W47"
US = ("cs-us-app", "us-secret-canary-0xA11CE-padded-to-32-bytes")
EU = ("cs-eu-app", "eu-secret-canary-0xB0B-padded-to-32-bytes-long")
JP = ("cs-jp-app", "jp-secret-canary-0xC0DE-padded-to-32-bytes-long")
JP_WRONG = "jp-wrong-secret-canary-0xDEAD-padded-to-32-bytes"
HR = get_stream("st-demo-hr-us")
#: the same stream id on the EU host, with other traffic: other numbers
HR_EU = dataclasses.replace(HR, new_users_per_day=55.0, growth_per_year=0.3)
IT = get_stream("st-demo-it-de")

STREAMS = """
[platform.eu]
host = "{eu}"
label = "EU (Frankfurt)"
client_id = "${{EU_CLIENT_ID}}"
client_secret = "${{EU_CLIENT_SECRET}}"

[platform.jp]
host = "{jp}"
client_id = "${{JP_CLIENT_ID}}"
client_secret = "${{JP_CLIENT_SECRET}}"

[[stream]]
id = "st-demo-hr-us"
name = "PeopleFirst HR"
tz = "America/New_York"

[[stream]]
id = "st-demo-hr-us"
name = "PeopleFirst HR"
tz = "America/New_York"
platform = "eu"

[[stream]]
id = "st-demo-it-de"
name = "Servicedesk IT"
tz = "Europe/Berlin"
platform = "jp"
"""


def _platform(creds, streams):
    return DemoPlatform(
        client_id=creds[0], client_secret=creds[1], streams=streams, rate_limit=False
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Render the three streams once; yield (results, project folder, console, servers)."""
    from rich.console import Console

    home = tmp_path_factory.mktemp("platforms")
    console = io.StringIO()
    with (
        pytest.MonkeyPatch.context() as mp,
        running_server(platform=_platform(US, (HR, IT))) as us,
        running_server(platform=_platform(EU, (HR_EU,))) as eu,
        running_server(platform=_platform(JP, (IT,))) as jp,
    ):
        for name in list(os.environ):
            if name.startswith(("KORE_", "ENGAGEMENT_KIT_")):
                mp.delenv(name)
        (home / ".env").write_text(
            f"KORE_HOST={us.url}\nKORE_CLIENT_ID={US[0]}\nKORE_CLIENT_SECRET={US[1]}\n"
            f"EU_CLIENT_ID={EU[0]}\nEU_CLIENT_SECRET={EU[1]}\n"
            f"JP_CLIENT_ID={JP[0]}\nJP_CLIENT_SECRET={JP_WRONG}\n"
            f"ENGAGEMENT_KIT_STORE={home / 'store.sqlite3'}\n"
        )
        (home / "streams.toml").write_text(STREAMS.format(eu=eu.url, jp=jp.url))
        mp.chdir(home)
        results = report.render_all(
            load_streams(home / "streams.toml"),
            week=WEEK,
            out_dir=home / "reports",
            jobs=2,
            source="platform",
            console=Console(file=console, width=200, color_system=None),
        )
        servers = {"us": (us.url, US), "eu": (eu.url, EU), "jp": (jp.url, JP)}
        expected = {}
        for key, stream in (("us", HR), ("eu", HR_EU)):
            url, creds = servers[key]
            with EngagementClient(url, credentials=Credentials(*creds), store=False) as client:
                expected[key] = load_weekly(
                    stream.id, WEEK, tz=stream.tz, source="platform", client=client
                ).sidecar()
        yield results, home, console.getvalue(), servers, expected


US_FOLDER = stream_slug("PeopleFirst HR", HR.id)
EU_FOLDER = stream_slug("PeopleFirst HR eu", HR.id)  # the same bot in two regions: two folders
IT_FOLDER = stream_slug("Servicedesk IT", IT.id)


def test_each_stream_has_its_own_platforms_numbers(run):
    results, home, _, servers, expected = run
    by_slug = {r.slug: r for r in results}
    assert set(by_slug) == {US_FOLDER, EU_FOLDER, IT_FOLDER}
    us = json.loads((home / "reports" / US_FOLDER / f"{WEEK}.json").read_text())
    eu = json.loads((home / "reports" / EU_FOLDER / f"{WEEK}.json").read_text())
    assert us["kpis"] == expected["us"]["kpis"]
    assert eu["kpis"] == expected["eu"]["kpis"]
    assert us["kpis"]["unique_users"] != eu["kpis"]["unique_users"]  # two streams, one id
    assert (us["platform"], us["host"]) == ("", servers["us"][0])
    assert (eu["platform"], eu["host"]) == ("eu", servers["eu"][0])
    assert (us["platform_label"], eu["platform_label"]) == ("", "EU (Frankfurt)")


def test_the_portfolio_shows_the_profiles_label_else_the_host(run):
    from engagement_kit.report.portfolio import portfolio_rows

    _, home, _, _, _ = run
    rows = {r["slug"]: r["platform"] for r in portfolio_rows(home / "reports")}
    assert rows[EU_FOLDER] == "EU (Frankfurt)"  # the profile's label
    assert rows[US_FOLDER] == "127.0.0.1"  # no profile: the host's name


def test_a_wrong_secret_fails_only_its_platform_naming_it(run):
    results, _, _console, servers, _ = run
    status = {r.slug: r.status for r in results}
    assert status == {US_FOLDER: "written", EU_FOLDER: "written", IT_FOLDER: "failed"}
    (failed,) = [r for r in results if r.status == "failed"]
    assert failed.error == (
        f"platform jp ({servers['jp'][0]}) refused the credentials (HTTP 401); check "
        "JP_CLIENT_ID and JP_CLIENT_SECRET in the environment or .env and that the app may "
        "read stream st-demo-it-de"
    )
    assert "Traceback" not in failed.error


def test_the_store_keeps_each_host_apart(run):
    import sqlite3

    _, home, _, servers, _ = run
    with sqlite3.connect(home / "store.sqlite3") as db:
        rows = set(db.execute("SELECT DISTINCT host, stream_id FROM revisions"))
    assert {(servers["us"][0], HR.id), (servers["eu"][0], HR.id)} <= rows


def test_no_secret_in_any_file_or_output(run):
    _, home, console, _, _ = run
    secrets = [US[1], EU[1], JP[1], JP_WRONG]
    for file in (home / "reports").rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert not any(s.encode() in data for s in secrets), file
    assert not any(s in console for s in secrets)
    assert "PeopleFirst HR" in console


def test_profiles_are_read_from_the_file(run):
    _, home, _, servers, _ = run
    profiles = load_platforms(home / "streams.toml")
    assert {n: p.host for n, p in profiles.items()} == {
        "eu": servers["eu"][0],
        "jp": servers["jp"][0],
    }
    assert EU[1] not in repr(profiles) and "EU_CLIENT_SECRET" in profiles["eu"].client_secret
    assert (profiles["eu"].display_name, profiles["jp"].display_name) == ("EU (Frankfurt)", "jp")
