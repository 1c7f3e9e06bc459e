# ruff: noqa: F811 - the fixtures imported from test_delivery are used by name
"""The portfolio digest (``digest = true``): one email for the run over real SMTP (aiosmtpd on
loopback): alerts first, the portfolio table with text-bar sparklines, links, no script, SVG
or image; the same as text for chat."""

from __future__ import annotations

import email
import email.policy
import json
import re
from html.parser import HTMLParser

import pytest

from engagement_kit import delivery
from engagement_kit.delivery.digest import digest_text
from engagement_kit.delivery.messages import WeekReport
from tests.delivery.test_delivery import (  # noqa: F401 - fixtures used by name
    ENV,
    HR,
    IT,
    SECRET,
    WEEK,
    hook,
    mail_url,
    no_wait,
    smtp,
    streams_toml,
)

pytestmark = pytest.mark.slow


class _Rows(HTMLParser):
    """Text of each cell of each ``<tr data-slug=...>`` row, and every tag name seen."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.tags: set[str] = set()
        self.links: list[str] = []
        self._slug: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "a":
            self.links.append(attrs.get("href", ""))
        if tag == "tr" and "data-slug" in attrs:
            self._slug = attrs["data-slug"]
            self.rows[self._slug] = []
        elif tag == "td" and self._slug:
            self._cell = []

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None and self._slug:
            self.rows[self._slug].append("".join(self._cell))
            self._cell = None
        elif tag == "tr":
            self._slug = None


def _on_two_platforms(out):
    """The IT bot's report as if it came from the ``eu`` profile, with an alert fired."""
    path = next(out.glob(f"servicedesk-*/{WEEK}.json"))
    data = json.loads(path.read_text())
    data.update(platform="eu", host="https://de-platform.kore.ai")
    data["alerts"] = [{"name": "drop", "message": "Unique users fell 30 % <below> the floor"}]
    path.write_text(json.dumps(data))
    return {p.parent.name: json.loads(p.read_text()) for p in out.glob(f"*/{WEEK}.json")}


def test_the_digest_email_is_the_portfolio_table_alerts_first(out, tmp_path, smtp, no_wait):
    sidecars = _on_two_platforms(out)
    path = streams_toml(tmp_path, [mail_url(smtp)], [mail_url(smtp)], extra="digest = true")
    # the IT stream's rule in force (send evaluates the rules, not only the stored alerts)
    rule = '[[stream.alert]]\nname = "drop"\nkpi = "unique_users"\nrule = "above"\nvalue = 0\n'
    path.write_text(path.read_text() + rule)
    plan = delivery.load_plan(path)
    outcomes = delivery.deliver(plan, out, {HR[0]: WEEK, IT[0]: WEEK}, env=ENV)
    # one digest for the run, the fired alert inside it (not also on its own)
    assert [(o.kind, o.status, len(o.streams)) for o in outcomes] == [("digest", "sent", 2)]
    assert len(smtp.messages) == 1
    assert all(SECRET.encode() not in raw for raw in smtp.messages)
    found = [email.message_from_bytes(r, policy=email.policy.default) for r in smtp.messages]
    (msg,) = [m for m in found if "Portfolio" in m["Subject"]]
    assert msg["Subject"] == f"[1 alert] Portfolio, {WEEK}: 2 streams on 2 platforms"
    assert [p.get_content_type() for p in msg.walk() if not p.is_multipart()] == [
        "text/plain",
        "text/html",
    ]  # no image, no attachment
    html = msg.get_body(("html",)).get_content()
    parsed = _Rows()
    parsed.feed(html)
    assert not {"script", "svg", "img", "style"} & parsed.tags  # reads in any mail client
    assert html.index("Alerts (1)") < html.index("<table")  # alerts first
    assert "30 % &lt;below&gt; the floor" in html
    # rows largest first, the sidecars' numbers, text bars of 12 weeks, links to the reports
    order = sorted(sidecars, key=lambda s: -sidecars[s]["kpis"]["unique_users"])
    assert list(parsed.rows) == order
    for slug, cells in parsed.rows.items():
        data = sidecars[slug]
        assert cells[0] == data["stream_name"]
        assert cells[1] == (data.get("platform") or "demo.engagement-kit.invalid")
        assert cells[2] == f"{data['kpis']['unique_users']:,}"
        assert cells[4] == f"{data['kpis']['new_users']:,}"
        assert cells[5] == f"{data['kpis']['returning_share'] * 100:.1f} %"
        assert re.fullmatch(r"[+−]?\d+\.\d pp", cells[6])
        assert len(cells[7]) == 12 and set(cells[7]) <= set("▁▂▃▄▅▆▇█")
        assert cells[8] == str(len(data.get("alerts") or []))
        link = f"https://intranet.example.com/engagement/{slug}/{WEEK}.html"
        assert link in parsed.links
    assert "do not add up across bots" in html
    text = msg.get_body(("plain",)).get_content()
    alert = text.index("Servicedesk IT Bot (Berlin) (eu): Unique users fell")
    assert alert < text.index("PeopleFirst HR Helpdesk (US)")  # alerts first, in text too


def test_the_digest_as_text_for_chat(out):
    _on_two_platforms(out)
    reports = [
        WeekReport(
            d["stream_id"], d["stream_name"], p.parent.name, WEEK, d, p.with_suffix(".html"), "L"
        )
        for p in out.glob(f"*/{WEEK}.json")
        for d in [json.loads(p.read_text())]
    ]
    title, body = digest_text(reports)
    lines = body.splitlines()
    assert title.startswith("[1 alert] Portfolio")
    assert lines[0].startswith("! ALERT") and "unique users do not add up" in lines[-1]
    assert len(lines) == 2 + len(reports)


def test_one_id_on_two_platforms_with_delivery_is_refused_in_one_sentence(tmp_path):
    from engagement_kit.errors import ConfigError

    path = tmp_path / "streams.toml"
    path.write_text(
        '[defaults]\ndeliver = ["json://127.0.0.1:9/x"]\n'
        '[platform.eu]\nhost = "https://de-platform.kore.ai"\ntoken = "${EU_JWT}"\n'
        '[[stream]]\nid = "st-1"\nname = "Bot"\ntz = "UTC"\n'
        '[[stream]]\nid = "st-1"\nname = "Bot EU"\ntz = "UTC"\nplatform = "eu"\n'
    )
    with pytest.raises(ConfigError) as err:
        delivery.load_plan(path)
    assert "stream st-1 is listed on two platforms (the project settings and eu)" in str(err.value)
    path.write_text(
        path.read_text().replace('[defaults]\ndeliver = ["json://127.0.0.1:9/x"]\n', "")
    )
    assert len(delivery.load_plan(path).streams) == 2  # without delivery: two streams, fine


_RULE = '[[stream.alert]]\nname = "drop"\nkpi = "unique_users"\nrule = "above"\nvalue = 0\n'


def _digest_and_per_stream(tmp_path, smtp, hook):
    """Both streams go to a digest email destination (``digest = true`` on that destination
    only) and to a per-stream webhook; the IT stream's rule fires."""
    digest = '{ url = "' + mail_url(smtp) + '", digest = true }'
    webhook = f"json://127.0.0.1:{hook.port}/stream"
    path = streams_toml(tmp_path, ["@D", webhook], ["@D", webhook])
    path.write_text(path.read_text().replace('"@D"', digest) + _RULE)
    return delivery.load_plan(path), webhook


def test_digest_on_one_destination_alerts_inside_it_sent_once(out, tmp_path, smtp, hook, no_wait):
    _on_two_platforms(out)
    plan, webhook = _digest_and_per_stream(tmp_path, smtp, hook)
    assert plan.digest is False and plan.digest_destinations == {mail_url(smtp)}
    weeks = {HR[0]: WEEK, IT[0]: WEEK}
    outcomes = delivery.deliver(plan, out, weeks, env=ENV)
    assert sorted((o.kind, o.destination, o.status, o.streams) for o in outcomes) == sorted(
        [
            ("digest", mail_url(smtp), "sent", (HR[0], IT[0])),
            ("report", webhook, "sent", (HR[0],)),
            ("report", webhook, "sent", (IT[0],)),
            ("alerts", webhook, "sent", (IT[0],)),  # the per-stream one gets it on its own
        ]
    )
    # the digest destination: exactly one message, both streams, the alert first
    (raw,) = smtp.messages
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    html = msg.get_body(("html",)).get_content()
    parsed = _Rows()
    parsed.feed(html)
    assert len(parsed.rows) == 2 and msg["Subject"].startswith("[1 alert] Portfolio")
    assert html.index("Alerts (1)") < html.index("<table")
    assert "30 % &lt;below&gt; the floor" in html
    # the per-stream destination: its two reports and the alert
    assert len(hook.requests) == 3
    bodies = [json.loads(b)["message"] for _, b, _ in hook.requests]
    (alert,) = [m for m in bodies if not m.startswith("{")]  # the two sidecars and the alert
    assert "30 % <below> the floor" in alert
    assert all(SECRET.encode() not in r for r in smtp.messages)
    # a second run sends nothing again, the digest skipped as one message
    again = delivery.deliver(plan, out, weeks, env=ENV)
    assert sorted((o.kind, o.status) for o in again) == sorted(
        [("digest", "skipped"), ("report", "skipped"), ("report", "skipped"), ("alerts", "skipped")]
    )
    assert len(smtp.messages) == 1 and len(hook.requests) == 3


def test_a_digest_recorded_per_stream_before_the_upgrade_is_not_sent_again(
    out, tmp_path, smtp, hook, no_wait
):
    from engagement_kit.delivery.ledger import DIGEST_KEY, Ledger

    plan, _ = _digest_and_per_stream(tmp_path, smtp, hook)
    with Ledger() as ledger:  # the rows an earlier release wrote: one per stream of the digest
        for stream in (HR[0], IT[0]):
            ledger.record(stream, WEEK, mail_url(smtp), "digest", "old")
    outcomes = delivery.deliver(plan, out, {HR[0]: WEEK, IT[0]: WEEK}, env=ENV)
    (digest,) = [o for o in outcomes if o.kind == "digest"]
    assert digest.status == "skipped" and "already sent" in digest.detail
    assert smtp.messages == []
    with Ledger() as ledger:
        assert ledger.sent(DIGEST_KEY, WEEK, mail_url(smtp), "digest") is None


def test_a_deliver_table_names_url_and_digest_only(tmp_path):
    from engagement_kit.errors import ConfigError

    path = streams_toml(tmp_path, ["json://127.0.0.1:9/x"], [])
    path.write_text(
        path.read_text().replace(
            '["json://127.0.0.1:9/x"]', '[{ url = "json://127.0.0.1:9/x", digst = true }]'
        )
    )
    with pytest.raises(ConfigError, match=r"a deliver table takes url and digest.*not digst"):
        delivery.load_plan(path)
