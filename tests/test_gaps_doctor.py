"""Gaps the mutation run found in ``engagement-kit doctor``: the fixes it tells the user, the
proxy it names, the clock's wording and the table's layout (see benchmarks/MUTATION.md)."""

from __future__ import annotations

import email.utils
import time

from rich.console import Console

from engagement_kit import doctor
from engagement_kit.doctor.network import _proxy_for
from engagement_kit.doctor.remote import _stream_failure
from engagement_kit.errors import ApiConnectionError, ApiError


def _no_proxies(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                 "all_proxy", "NO_PROXY", "no_proxy"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def test_all_proxy_is_the_fallback_when_no_scheme_proxy_is_set(monkeypatch):
    # httpx sends the requests through ALL_PROXY too, so the doctor must say so
    _no_proxies(monkeypatch)
    monkeypatch.setenv("ALL_PROXY", "http://proxy.example.com:3128")
    assert _proxy_for("https", "platform.example.com") == "http://proxy.example.com:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://tls-proxy.example.com:8080")
    assert _proxy_for("https", "platform.example.com") == "http://tls-proxy.example.com:8080"
    monkeypatch.setenv("NO_PROXY", "platform.example.com")
    assert _proxy_for("https", "platform.example.com") is None


def test_no_proxy_settings_means_a_direct_connection(monkeypatch):
    _no_proxies(monkeypatch)
    assert _proxy_for("https", "platform.example.com") is None


def _clock_with_skew(seconds: float) -> doctor.Check:
    now = time.time()
    exchange = doctor._Exchange(now, now, 200)
    exchange.date = email.utils.formatdate(now + seconds, usegmt=True)
    return doctor._clock_check([exchange])


def test_a_clock_hours_off_is_said_in_hours_and_days_off_in_days():
    hours = _clock_with_skew(-5 * 3600)  # the local clock is 5 h ahead of the platform's
    assert hours.status == "fail"
    assert "5.0 h ahead of the platform's" in hours.detail, hours.detail
    days = _clock_with_skew(3 * 86400)
    assert "3.0 days behind the platform's" in days.detail, days.detail
    assert "timedatectl set-ntp true" in days.fix


def test_no_date_header_skips_the_clock_check_and_says_why():
    check = doctor._clock_check([doctor._Exchange(time.time(), time.time(), 200)])
    assert check.status == "skip"
    assert check.detail == "not checked: no answer with a Date header"


def test_a_refused_query_without_a_hint_points_at_the_filters_and_zone():
    check, stop = _stream_failure("stream X", "st-1, 2025-11-03", ApiError("bad", status=400))
    assert check.status == "fail" and "HTTP 400: bad" in check.detail
    assert check.fix == "check the stream's filters and zone"
    assert stop == ""  # the next streams are still asked
    hinted = ApiError("bad", status=400, hint="use a zone like Europe/Berlin")
    assert _stream_failure("stream X", "st-1", hinted)[0].fix == "use a zone like Europe/Berlin"


def test_a_lost_connection_points_at_kore_host_and_stops_the_other_streams():
    check, stop = _stream_failure("stream X", "st-1", ApiConnectionError("connection reset"))
    assert check.status == "fail" and "connection reset" in check.detail
    assert check.fix == "check KORE_HOST and your network"
    assert stop == "the host stopped answering"


def test_the_terminal_table_separates_the_checks_and_folds_long_results():
    url = "https://platform.example.com/" + "x" * 150  # one word longer than the table
    diagnosis = doctor.Diagnosis(
        (
            doctor.Check("settings", "ok", "read .env"),
            doctor.Check("host name", "fail", f"{url} does not resolve", "check KORE_HOST"),
        )
    )
    console = Console(width=80, force_terminal=True, record=True)
    doctor.print_diagnosis(diagnosis, console)
    text = console.export_text()
    lines = text.splitlines()
    body = lines[lines.index(next(line for line in lines if "settings" in line)) :]
    assert any(line.startswith("├") for line in body), text  # a line between two checks
    shown = "".join(line.strip("│ ") for line in lines)
    assert "x" * 150 in shown.replace("│", "").replace(" ", ""), text  # all of it, folded
    assert "…" not in text
    assert max(len(line) for line in lines) <= 80


def test_an_unreachable_network_points_at_kore_host_and_the_network(monkeypatch):
    import errno
    import socket

    from engagement_kit.doctor.network import _connect

    def unreachable(address, timeout=None):
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    check = _connect("https", "platform.example.com", 443, 1.0)
    assert check.status == "fail"
    assert check.detail == "platform.example.com:443: cannot connect (Network is unreachable)"
    assert check.fix == "check KORE_HOST and your network"
