"""The checks run in order (see :mod:`engagement_kit.doctor`)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from engagement_kit.doctor.local import check_settings, check_store, check_streams, stream_label
from engagement_kit.doctor.model import (
    DEFAULT_TIMEOUT,
    OK,
    Check,
    Diagnosis,
    Exchange,
    skipped_check,
)
from engagement_kit.doctor.network import (
    check_connects,
    check_resolves,
    proxy_for,
    without_credentials,
)
from engagement_kit.doctor.remote import ask_streams, check_accepted, check_clock, check_mint


def diagnose(
    *,
    config: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Callable[[], float] = time.time,
) -> Diagnosis:
    """Run every check in order (see the module docstring) and return them all.

    Parameters
    ----------
    config : path, optional
        The ``streams.toml`` to check (default the project folder's).
    timeout : float
        Seconds for each network step.
    clock : callable
        The local clock (POSIX seconds); for tests.

    Returns
    -------
    Diagnosis
    """
    checks: list[Check] = []
    add = checks.append

    # 1. settings -----------------------------------------------------------------------------
    settings, host, credentials, settings_check = check_settings()
    add(settings_check)
    streams, streams_check = check_streams(config, settings)
    add(streams_check)

    # 3-4. the way to the host ------------------------------------------------------------------
    reachable = False
    if host is None:
        add(skipped_check("host name", "no usable KORE_HOST (see settings)"))
        add(skipped_check("TLS handshake", "no usable KORE_HOST (see settings)"))
    else:
        parts = urlsplit(host)
        hostname = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        proxy = proxy_for(parts.scheme, hostname)
        if proxy:
            where = f"through the proxy {without_credentials(proxy)}"
            add(Check("host name", OK, f"{hostname}: resolved by the proxy ({where})"))
            add(Check("TLS handshake", OK, f"{where}: checked by the stream requests below"))
            reachable = True
        else:
            resolved = check_resolves(hostname, port)
            add(resolved)
            if resolved.status == OK:
                connected = check_connects(parts.scheme, hostname, port, timeout)
                add(connected)
                reachable = connected.status == OK
            else:
                add(skipped_check("TLS handshake", "the host name does not resolve"))

    # 5. the token ------------------------------------------------------------------------------
    minted = False
    if credentials is None:
        add(skipped_check("token minted", "no credentials (see settings)"))
    else:
        token_check = check_mint(credentials, clock)
        add(token_check)
        minted = token_check.status == OK

    # 6-8. the platform: one request per stream -------------------------------------------------
    exchanges: list[Exchange] = []
    accepted_at = len(checks)
    add(skipped_check("token accepted", "not asked"))  # replaced below
    if host is None or credentials is None or not minted:
        why = "the checks above failed"
        checks.extend(skipped_check(stream_label(s), why) for s in streams)
    elif not reachable:
        checks.extend(skipped_check(stream_label(s), f"{host} cannot be reached") for s in streams)
    else:
        checks.extend(ask_streams(host, credentials, streams, timeout, clock, exchanges))
    clock_check = check_clock(exchanges)
    checks[accepted_at] = check_accepted(exchanges, streams, clock_check, reachable)
    add(clock_check)

    # 9. the store ------------------------------------------------------------------------------
    add(check_store())
    return Diagnosis(tuple(checks))
