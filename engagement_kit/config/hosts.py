"""API hosts: the one check and normal form of a platform host (``KORE_HOST``, a
``[platform.NAME]`` profile's ``host``, ``--host``)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from engagement_kit.errors import ConfigError

__all__ = ["normalize_host"]

_LOOPBACK_NAMES = {"localhost"}


def normalize_host(host: str) -> str:
    """Check and normalise an API host to ``scheme://host[:port]`` without a trailing slash.

    ``platform.kore.ai`` becomes ``https://platform.kore.ai``. Only ``https://`` is accepted,
    except for loopback hosts (``localhost``, ``127.0.0.0/8``, ``::1``), which may use
    ``http://`` (the demo platform and local test servers).

    Raises
    ------
    ConfigError
        For an empty host, another scheme, plain ``http://`` to a non-loopback host, a path,
        query or credentials in the URL.
    """
    if not isinstance(host, str) or not host.strip():
        raise ConfigError(
            "host: empty; set KORE_HOST=https://platform.kore.ai (or your regional/on-prem "
            "host), or give --host"
        )
    text = host.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ConfigError(f"host: {host!r} is not a valid URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if not hostname:
        raise ConfigError(f"host: {host!r} has no host name; use e.g. https://platform.kore.ai")
    if parts.username or parts.password:
        raise ConfigError(
            "host: credentials in the URL are not allowed; give the host only and put the "
            "credentials in KORE_CLIENT_ID/KORE_CLIENT_SECRET or KORE_JWT"
        )
    if parts.path.strip("/") or parts.query or parts.fragment:
        shown = f"{scheme}://{parts.netloc}{parts.path}"  # the query may hold a token: not shown
        raise ConfigError(
            f"host: {shown!r} has a path or query; give only the host, e.g. "
            "https://platform.kore.ai (the API path is added for you)"
        )
    if scheme == "http":
        if not _is_loopback(hostname):
            raise ConfigError(
                f"host: {host!r} uses plain http://, which would send the token unencrypted; "
                "use https:// (plain http:// is allowed only for localhost/127.0.0.1/[::1])"
            )
    elif scheme != "https":
        raise ConfigError(f"host: {host!r} must start with https:// (got {scheme}://)")
    netloc = parts.netloc.lower()
    return f"{scheme}://{netloc}"


def _is_loopback(hostname: str) -> bool:
    name = hostname.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
