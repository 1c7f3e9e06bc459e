"""The dashboard serves only its own origin: a request whose ``Host`` (or ``Origin``) is not the
address the dashboard serves gets 403, the page, its files and the kernel websocket alike.

Why: Voilà sets jupyter_server's ``allow_remote_access`` to ``True`` in its tornado settings
(``voila/app.py``, ``init_settings``), so jupyter_server's own ``check_host`` (which with
``allow_remote_access = False`` admits only loopback addresses and ``local_hostnames``) never
runs, and its static and query handlers are plain tornado handlers that check nothing. A page
on any site could then rebind its name to 127.0.0.1 (DNS rebinding) and read or drive the
Explorer, which shows the user's platform data. Binding to 127.0.0.1 alone does not stop that:
the browser sends the attacker's name as ``Host`` and as ``Origin``.

So the Voilà process (see :data:`engagement_kit.explorer.dashboard._VOILA_MAIN`) calls
:func:`protect` before it starts: every request goes through :func:`request_allowed` before
tornado picks its handler, and jupyter_server's own check is switched back on as a second
wall. This module imports nothing of ours, so Voilà loads it from its file without importing
the Explorer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

#: The names the dashboard answers to: its own address on the loopback interface.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")

_HOST = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<name>[^:\[\]]+))(?::(?P<port>\d{1,5}))?$")


def _split(host: str) -> tuple[str, int | None] | None:
    match = _HOST.match(host.strip().lower())
    if match is None:
        return None
    name = match.group("v6") or match.group("name") or ""
    port = match.group("port")
    return name.rstrip("."), int(port) if port else None


def _is_address(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(host: str | None, port: int, names: Iterable[str] = LOOPBACK_NAMES) -> bool:
    """``Host`` names one of ``names`` (and, when it carries a port, ``port``)."""
    if not host:
        return False
    parts = _split(host)
    if parts is None:
        return False
    name, given = parts
    return name in set(names) and given in (None, port)


def origin_allowed(origin: str | None, port: int, names: Iterable[str] = LOOPBACK_NAMES) -> bool:
    """No ``Origin`` (not a cross-site request), or exactly ``http://<name>:<port>``."""
    if origin is None:
        return True
    if not origin.lower().startswith("http://"):
        return False  # "null" (a sandboxed frame, a file:// page), https, anything else
    parts = _split(origin[len("http://") :])
    if parts is None:
        return False
    name, given = parts
    return name in set(names) and given == port


def request_allowed(headers: Any, port: int, names: Iterable[str] = LOOPBACK_NAMES) -> bool:
    """Whether a request with these headers may reach the dashboard at all."""
    names = tuple(names)
    return host_allowed(headers.get("Host"), port, names) and origin_allowed(
        headers.get("Origin"), port, names
    )


def protect(port: int, names: Iterable[str] = LOOPBACK_NAMES) -> None:
    """In the Voilà process, before it starts: refuse (403) every request that
    :func:`request_allowed` refuses, and turn jupyter_server's host check back on."""
    import tornado.web
    from voila.app import Voila

    allowed = tuple(names)

    class Refused(tornado.web.RequestHandler):
        def prepare(self) -> None:
            self.set_status(403)
            self.finish(
                f"403: this dashboard answers only at http://127.0.0.1:{port}/ "
                f"(or localhost); this request came for another Host or Origin\n"
            )

    find_handler = tornado.web.Application.find_handler

    def guarded(self: Any, request: Any, **kwargs: Any) -> Any:
        if not request_allowed(request.headers, port, allowed):
            return self.get_handler_delegate(request, Refused)
        return find_handler(self, request, **kwargs)

    tornado.web.Application.find_handler = guarded  # type: ignore[method-assign]

    init_settings = Voila.init_settings

    def settings(self: Any) -> Any:
        values = init_settings(self)
        values["allow_remote_access"] = False
        values["local_hostnames"] = [n for n in allowed if not _is_address(n)]
        return values

    Voila.init_settings = settings
