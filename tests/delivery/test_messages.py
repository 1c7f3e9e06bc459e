"""Tests that close the gaps mutation testing found in engagement_kit.delivery.messages (see
benchmarks/MUTATION.md): what an email, a chat message and a webhook carry, built from a sidecar
without running a report (the end-to-end delivery tests are slow and not in the fast suite)."""

from __future__ import annotations

import email
import email.policy
import json

import pytest

from engagement_kit.delivery.messages import (
    Attachment,
    Email,
    WeekReport,
    alert_text,
    chart_specs,
    chat_text,
    email_message,
    json_text,
    to_mime,
)

PAGE = """<html><body>
<div class="ek-chart" id="c1" aria-label="New and returning users per day">x</div>
<script type="application/json" id="c1-spec">{"mark": "bar", "data": {"values": []}}</script>
<div class="ek-chart" id="c2" aria-label="Broken &amp; skipped">x</div>
<script type="application/json" id="c2-spec">{not json</script>
<div class="ek-chart" aria-label="No id">x</div>
</body></html>"""


def sidecar(**changes):
    data = {
        "stream_id": "st-1",
        "week": "2025-W49",
        "start": "2025-12-01",
        "end": "2025-12-07",
        "tz": "Europe/Berlin",
        "generated_at": "2025-12-08T06:00:00+00:00",
        "kpis": {
            "unique_users": 1500,
            "new_users": 600,
            "returning_users": 900,
            "avg_unique_users_per_day": 250.25,
            "returning_share": 0.6,
            "stickiness": 0.1234,
        },
        "previous_kpis": {
            "unique_users": 1000,
            "new_users": 700,
            "returning_users": 300,
            "avg_unique_users_per_day": 200.0,
            "returning_share": 0.3,
            "stickiness": 0.1234,
        },
        "change": {
            "unique_users": {"change": 500, "pct_change": 0.5},
            "new_users": {"change": -100, "pct_change": -1 / 7},
            "returning_users": {"change": 600, "pct_change": 2.0},
            "avg_unique_users_per_day": {"change": 50.25, "pct_change": 0.25125},
            "returning_share": {"change": 0.3, "pct_change": 1.0},
            "stickiness": {"change": 0.0, "pct_change": 0.0},
        },
        "anomalies": [
            {
                "date": "2025-12-03",
                "metric": "new",
                "value": 90,
                "low": 10,
                "high": 40.4,
                "direction": "up",
            },
            {
                "date": "2025-12-05",
                "metric": "returning",
                "value": 1,
                "low": 5,
                "high": 9,
                "direction": "down",
            },
        ],
        "checks": [
            {"level": "info", "answer": "daily", "message": "all fine"},
            {"level": "warning", "answer": "hourly", "message": "a <gap> on Tuesday"},
        ],
        "alerts": [],
    }
    data.update(changes)
    return data


def week_report(tmp_path, name="Support & Sales", slug="support", week="2025-W49", **changes):
    page = tmp_path / f"{slug}-{week}.html"
    page.write_text(PAGE, encoding="utf-8")
    return WeekReport(
        stream_id="st-1",
        stream_name=name,
        slug=slug,
        week=week,
        sidecar=sidecar(week=week, **changes),
        html_path=page,
        link=f"https://reports.example/{slug}/{week}.html",
    )


# -- chart specs in a page -------------------------------------------------------------------
def test_chart_specs_reads_each_chart_by_its_title_and_skips_broken_or_unnamed_ones():
    specs = chart_specs(PAGE)
    assert specs == {"New and returning users per day": {"mark": "bar", "data": {"values": []}}}


# -- the email ---------------------------------------------------------------------------------
def test_email_body_has_headline_kpi_table_unusual_days_checks_and_link(tmp_path):
    report = week_report(tmp_path)
    mail = email_message([report])
    body = mail.html
    assert "Support &amp; Sales: 2025-W49" in body
    assert "2025-12-01 to 2025-12-07, Europe/Berlin" in body
    assert "1,500 unique users this week, up 50.0 % from 1,000 the week before." in body
    # the KPI table: every row, this week, the week before and the change in its colour
    for kpi in ("unique_users", "new_users", "returning_users", "avg_unique_users_per_day"):
        assert f'data-kpi="{kpi}"' in body
    row = body.split('data-kpi="new_users"')[1].split("</tr>")[0]
    assert (
        ">600<" in row and ">700<" in row and "color:#b42318" in row and ">−100 (−14.3 %)<" in row
    )
    row = body.split('data-kpi="returning_users"')[1].split("</tr>")[0]
    assert "color:#1a7f37" in row and ">+600 (+200.0 %)<" in row
    row = body.split('data-kpi="stickiness"')[1].split("</tr>")[0]
    assert "color:#5f6b7a" in row and ">12.3 %<" in row and ">0.0 pp (0.0 %)<" in row
    row = body.split('data-kpi="returning_share"')[1].split("</tr>")[0]
    assert ">60.0 %<" in row and ">30.0 %<" in row and ">+30.0 pp (+100.0 %)<" in row
    assert ">250.2<" in body.split('data-kpi="avg_unique_users_per_day"')[1].split("</tr>")[0]
    for head in ("This week", "Week before", "Change"):
        assert f">{head}</th>" in body
    # unusual days, each with its range and direction
    assert "No unusual days" not in body
    assert "2025-12-03" in body and "10–40" in body and "higher than usual" in body
    assert "2025-12-05" in body and "5–9" in body and "lower than usual" in body
    # only the checks that did not pass, escaped
    assert "hourly answer: a &lt;gap&gt; on Tuesday" in body
    assert "all fine" not in body and "Every data check passed" not in body
    # the page attached as it is, and linked
    assert f'href="{report.link}"' in body
    assert "attached (support-2025-W49.html)" in body
    assert [(f.name, f.mimetype) for f in mail.files] == [("support-2025-W49.html", "text/html")]
    assert mail.files[0].data == report.html_path.read_bytes()
    assert mail.subject == "Weekly report: Support & Sales, 2025-W49: 1,500 users (+50.0 %)"
    assert mail.text == chat_text([report])[1]
    assert "Alerts (" not in body
    # the page's new-vs-returning chart as an inline PNG (the page has no peak-hours chart)
    assert [(i.name, i.mimetype) for i in mail.images] == [
        ("support-new-vs-returning.png", "image/png")
    ]
    assert mail.images[0].data.startswith(b"\x89PNG")
    assert 'src="cid:support-new-vs-returning.png" alt="New and returning users per day"' in body
    assert mail.attachments == mail.images + mail.files


def test_a_page_sharing_its_chart_libraries_is_attached_with_them_inlined(tmp_path):
    """The recipient of an email (or of a dry run's .eml) has no reports/_assets/ folder."""
    folder = tmp_path / "reports" / "support"
    folder.mkdir(parents=True)
    assets = tmp_path / "reports" / "_assets"
    assets.mkdir()
    (assets / "vega-1-vega-lite-1-vega-embed-1-abc.js").write_text("window.vegaEmbed=LIB;\n")
    shared = PAGE.replace(
        "<body>",
        '<head><script id="ek-vega-bundle" src="../_assets/vega-1-vega-lite-1-vega-embed-1-abc.js">'
        "</script></head><body>",
    )
    report = week_report(folder)
    report.html_path.write_text(shared, encoding="utf-8")
    mail = email_message([report])
    attached = mail.files[0].data.decode()
    assert '<script id="ek-vega-bundle">\nwindow.vegaEmbed=LIB;\n</script>' in attached
    assert "src=" not in attached and attached.count("window.vegaEmbed=") == 1
    assert report.html_path.read_text(encoding="utf-8") == shared  # the page itself unchanged
    assert [i.name for i in mail.images] == ["support-new-vs-returning.png"]
    part = next(
        p
        for p in email.message_from_bytes(to_mime(mail), policy=email.policy.default).walk()
        if p.get_filename() == "support-2025-W49.html"
    )
    assert part.get_payload(decode=True).decode() == attached


def test_email_of_a_quiet_week_says_so(tmp_path):
    report = week_report(tmp_path, anomalies=[], checks=[{"level": "info", "message": "ok"}])
    body = email_message([report]).html
    assert "No unusual days this week." in body
    assert "Every data check passed." in body


@pytest.mark.parametrize(
    ("kpis", "previous", "change", "headline"),
    [
        ({}, {}, {}, "The platform gave no user count for this week."),
        ({"unique_users": 10}, {}, {}, "10 unique users this week."),
        (
            {"unique_users": 8},
            {"unique_users": 10},
            {"unique_users": {"pct_change": -0.2}},
            "8 unique users this week, down 20.0 % from 10 the week before.",
        ),
        (
            {"unique_users": 10},
            {"unique_users": 10},
            {"unique_users": {"pct_change": 0.0}},
            "10 unique users this week, unchanged from 10 the week before.",
        ),
        (
            {"unique_users": 12},
            {"unique_users": 10},
            {},
            "12 unique users this week, up from 10 the week before.",
        ),
    ],
)
def test_headline_words_the_change(tmp_path, kpis, previous, change, headline):
    report = week_report(tmp_path, kpis=kpis, previous_kpis=previous, change=change)
    assert headline in email_message([report]).html
    assert chat_text([report])[1].splitlines()[0] == f"Support & Sales, 2025-W49: {headline}"


def test_alerts_flag_the_subject_and_open_the_body(tmp_path):
    alerts = [{"message": "new users <fell> 30 %"}, {"message": "returning fell"}]
    report = week_report(tmp_path, alerts=alerts)
    mail = email_message([report])
    assert mail.subject.startswith("[2 alerts] Weekly report: Support & Sales, 2025-W49")
    assert "<strong>Alerts (2)</strong>" in mail.html
    assert "<li>new users &lt;fell&gt; 30 %</li>" in mail.html
    one = week_report(tmp_path, alerts=alerts[:1])
    assert email_message([one]).subject.startswith("[1 alert] Weekly report")


def test_digest_has_one_section_per_stream_and_names_the_weeks(tmp_path):
    a = week_report(tmp_path)
    b = week_report(
        tmp_path, name="Billing", slug="billing", week="2025-W48", alerts=[{"message": "x"}]
    )
    mail = email_message([a, b])
    assert mail.subject == "[1 alert] Weekly reports, 2025-W48, 2025-W49: 2 streams"
    assert mail.html.count("<hr>") == 1
    assert "Support &amp; Sales: 2025-W49" in mail.html and "Billing: 2025-W48" in mail.html
    assert [f.name for f in mail.files] == ["support-2025-W49.html", "billing-2025-W48.html"]
    with pytest.raises(ValueError, match="at least one report"):
        email_message([])


def test_mime_message_has_text_html_related_images_and_attachments():
    mail = Email(
        subject="Weekly report: Ünïcode, 2025-W49: 1,500 users (+50.0 %)",
        html='<p><img src="cid:s-chart.png"></p>',
        text="plain words",
        images=(Attachment("s-chart.png", b"\x89PNG fake", "image/png"),),
        files=(Attachment("s-2025-W49.html", b"<html>page</html>", "text/html"),),
    )
    raw = to_mime(mail, sender="Reports <r@example.org>", to=["a@example.org", "b@example.org"])
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == mail.subject
    assert msg["From"] == "Reports <r@example.org>"
    assert msg["To"] == "a@example.org, b@example.org"
    assert msg.get_body(("plain",)).get_content().strip() == "plain words"
    assert "cid:s-chart.png" in msg.get_body(("html",)).get_content()
    parts = {p.get_filename(): p for p in msg.walk() if p.get_filename()}
    assert parts["s-chart.png"].get_content_type() == "image/png"
    assert parts["s-chart.png"]["Content-ID"] == "<s-chart.png>"
    assert parts["s-chart.png"].get_payload(decode=True) == b"\x89PNG fake"
    assert parts["s-2025-W49.html"].get_content_type() == "text/html"
    assert parts["s-2025-W49.html"].get_content_disposition() == "attachment"
    assert b"<html>page</html>" in parts["s-2025-W49.html"].get_payload(decode=True)
    default = email.message_from_bytes(to_mime(mail), policy=email.policy.default)
    assert default["From"] == "engagement-kit <engagement-kit@localhost>"
    assert default["To"] == "undisclosed-recipients:;"


# -- chat, webhook, alerts --------------------------------------------------------------------
def test_chat_text_lists_three_kpis_with_changes_alerts_and_the_link(tmp_path):
    report = week_report(tmp_path, alerts=[{"message": "new users fell"}, {}])
    title, body = chat_text([report])
    assert title == "[2 alerts] Weekly report: Support & Sales, 2025-W49: 1,500 users (+50.0 %)"
    assert body.splitlines()[1:] == [
        "- Unique users: 1,500, +500 (+50.0 %) from 1,000",
        "- New users: 600, −100 (−14.3 %) from 700",
        "- Returning users: 900, +600 (+200.0 %) from 300",
        "! ALERT new users fell",
        "! ALERT ",
        f"Full report: {report.link}",
    ]
    two = chat_text([report, week_report(tmp_path, name="Billing")])[1]
    assert two.count("Full report:") == 2 and "\n\nBilling, 2025-W49:" in two


def test_json_text_is_the_sidecar_or_a_list_of_them(tmp_path):
    report = week_report(tmp_path)
    title, body = json_text([report])
    assert title == chat_text([report])[0]
    assert json.loads(body) == report.sidecar
    other = week_report(tmp_path, name="Billing", kpis={"unique_users": 3})
    _, body = json_text([report, other])
    assert json.loads(body) == {"reports": [report.sidecar, other.sidecar]}


def test_alert_text_has_one_line_per_alert_and_the_link(tmp_path):
    report = week_report(tmp_path)
    title, body = alert_text(report, [{"message": "new users fell"}, {"message": "quiet"}])
    assert title == "Alerts: Support & Sales, 2025-W49"
    assert body == f"! new users fell\n! quiet\nFull report: {report.link}"
    title, body = alert_text(report, [{}])
    assert title == "Alert: Support & Sales, 2025-W49"
    assert body.splitlines()[0] == "! "


def test_content_hash_ignores_only_the_generation_time(tmp_path):
    a = week_report(tmp_path)
    b = week_report(tmp_path, generated_at="2030-01-01T00:00:00+00:00")
    c = week_report(tmp_path, kpis={"unique_users": 1501})
    assert a.content_hash == b.content_hash != c.content_hash
    assert len(a.content_hash) == 64
    assert a.alerts == [] and week_report(tmp_path, alerts=None).alerts == []
