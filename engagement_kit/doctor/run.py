"""The checks run in order (see :mod:`engagement_kit.doctor`)."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from engagement_kit.client.auth import Credentials
from engagement_kit.config.streams import StreamConfig
from engagement_kit.doctor.local import check_settings, check_store, check_streams, stream_label
from engagement_kit.doctor.model import (
    DEFAULT_TIMEOUT,
    FAIL,
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
from engagement_kit.errors import ConfigError


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

    default = [s for s in streams if not s.platform]
    profiled = [s for s in streams if s.platform]
    if profiled and not default and settings is not None:
        # every stream names a platform: the project's own host and credentials are not used
        if settings_check.status != OK:
            checks[0] = Check("settings", OK, "not used: every stream names a [platform.NAME]")
    else:
        checks.extend(_platform_checks(host, credentials, default, timeout, clock))
    checks.extend(_profile_checks(config, settings, profiled, timeout, clock))

    # 9. the store ------------------------------------------------------------------------------
    add(check_store())
    return Diagnosis(tuple(checks))


def _platform_checks(
    host: str | None,
    credentials: Credentials | None,
    streams: Sequence[StreamConfig],
    timeout: float,
    clock: Callable[[], float],
    prefix: str = "",
) -> list[Check]:
    """Checks 3-8 for one platform: the way to its host, its token, one request per stream, the
    clock. ``prefix`` names the platform in each row (``"platform eu / host name"``); empty for
    the project's own settings."""
    checks: list[Check] = []

    def add(check: Check) -> None:
        checks.append(dataclasses.replace(check, name=prefix + check.name) if prefix else check)

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
        rows = [skipped_check(stream_label(s), why) for s in streams]
    elif not reachable:
        rows = [skipped_check(stream_label(s), f"{host} cannot be reached") for s in streams]
    else:
        rows = ask_streams(host, credentials, streams, timeout, clock, exchanges)
    for row in rows:
        add(row)
    clock_check = check_clock(exchanges)
    accepted = check_accepted(exchanges, streams, clock_check, reachable)
    checks[accepted_at] = dataclasses.replace(accepted, name=prefix + accepted.name)
    add(clock_check)
    return checks


def _profile_checks(
    config: str | os.PathLike[str] | None,
    settings: Any,
    streams: Sequence[StreamConfig],
    timeout: float,
    clock: Callable[[], float],
) -> list[Check]:
    """Each ``[platform.NAME]`` profile the streams name, checked once (its settings, then
    checks 3-8 on its host with its app's credentials), each row named ``platform NAME / ...``."""
    if not streams:
        return []
    from engagement_kit.client.auth import credentials_for
    from engagement_kit.config.streams import load_platforms

    path = config if config is not None else (settings.streams_file if settings else None)
    try:
        profiles = load_platforms(path) if path is not None else {}
    except ConfigError as exc:  # already reported by the streams.toml check
        return [Check("platforms", FAIL, "cannot read them", str(exc), True)]
    checks: list[Check] = []
    for name in dict.fromkeys(s.platform for s in streams):
        mine = [s for s in streams if s.platform == name]
        prefix = f"platform {name} / "
        profile = profiles.get(name or "")
        if profile is None:  # pragma: no cover - load_streams refuses it
            continue
        credentials = None
        try:
            credentials = credentials_for(profile)
            shown = (
                f"client id {credentials.client_id} + secret (not shown)"
                if credentials.client_id is not None
                else "a ready-made token (not shown)"
            )
            checks.append(Check(prefix + "settings", OK, f"{profile.host}; {shown}"))
        except ConfigError as exc:
            checks.append(Check(prefix + "settings", FAIL, profile.host, str(exc), True))
        checks.extend(_platform_checks(profile.host, credentials, mine, timeout, clock, prefix))
    return checks
