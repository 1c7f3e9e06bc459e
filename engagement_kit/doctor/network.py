"""The way to the host: proxies, the host name (DNS) and the TLS handshake."""

from __future__ import annotations

import socket
import ssl
import urllib.request
from urllib.parse import urlsplit

import httpx

from engagement_kit.doctor.model import FAIL, OK, Check


def proxy_for(scheme: str, hostname: str) -> str | None:
    """The proxy httpx would use for this host (from ``HTTPS_PROXY`` and friends), if any."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(hostname):
        return None
    return proxy


def without_credentials(url: str) -> str:
    """A proxy URL without the user and password it may carry."""
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return url
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def check_resolves(hostname: str, port: int) -> Check:
    try:
        infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return Check(
            "host name",
            FAIL,
            f"{hostname} does not resolve ({exc})",
            "check KORE_HOST for a typo and the region (e.g. https://platform.kore.ai), then "
            "your network, VPN or DNS",
        )
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    shown = ", ".join(addresses[:3]) + (" …" if len(addresses) > 3 else "")
    return Check("host name", OK, f"{hostname} → {shown}")


def check_connects(scheme: str, hostname: str, port: int, timeout: float) -> Check:
    name = "TLS handshake"
    where = f"{hostname}:{port}"
    try:
        with socket.create_connection((hostname, port), timeout=timeout) as sock:
            if scheme != "https":
                return Check(
                    name,
                    OK,
                    f"{where} answers; plain http:// to a loopback demo or test server, so "
                    "there is no TLS to check",
                )

            context = httpx.create_ssl_context()  # what the client verifies with
            with context.wrap_socket(sock, server_hostname=hostname) as tls:
                version = tls.version() or "TLS"
                cert = tls.getpeercert() or {}
    except ssl.SSLCertVerificationError as exc:
        return Check(
            name,
            FAIL,
            f"{where}: the certificate is not trusted ({exc.verify_message or exc})",
            "check that KORE_HOST is the platform's API host; if your company inspects TLS, "
            "point SSL_CERT_FILE at its CA bundle",
        )
    except ssl.SSLError as exc:
        return Check(
            name,
            FAIL,
            f"{where}: TLS failed ({exc.reason or exc})",
            "check that KORE_HOST is the platform's https:// API host and that nothing on "
            "the way (proxy, firewall) intercepts the connection",
        )
    except ConnectionRefusedError:
        fix = (
            "nothing listens there: check the port in KORE_HOST, or start the server "
            "(engagement-kit serve-demo for the demo platform)"
            if scheme == "http"
            else "check KORE_HOST (host and port) and that a firewall lets you reach it"
        )
        return Check(name, FAIL, f"{where}: connection refused", fix)
    except TimeoutError:
        return Check(
            name,
            FAIL,
            f"{where}: no answer within {timeout:g} s",
            "check your network, firewall or VPN; behind a proxy, set HTTPS_PROXY",
        )
    except OSError as exc:
        return Check(
            name,
            FAIL,
            f"{where}: cannot connect ({exc.strerror or exc})",
            "check KORE_HOST and your network",
        )
    until = cert.get("notAfter")
    expires = f", certificate valid until {until}" if until else ""
    return Check(name, OK, f"{where}: {version}{expires}")
