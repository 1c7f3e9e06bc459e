"""Sending one message through Apprise, tried again with exponential backoff (tenacity)."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential

if TYPE_CHECKING:
    from engagement_kit.delivery.outbox import OutgoingMessage

#: Tries per destination (the first and the retries) and the first backoff wait in seconds
#: (doubling each time, at most :data:`MAX_WAIT`). :func:`send_with_retry` reads them here, so
#: a test that shortens the waits patches ``engagement_kit.delivery.transport``.
ATTEMPTS = 3
RETRY_WAIT = 2.0
MAX_WAIT = 60.0


def send_once(url: str, message: OutgoingMessage) -> tuple[bool, str]:
    """One Apprise call; ``(ok, why)`` with Apprise's warnings as the reason."""
    import apprise
    from apprise.attachment.memory import AttachMemory

    asset = apprise.AppriseAsset(
        app_id="engagement-kit",
        app_desc="engagement-kit weekly reports",
        image_url_mask="",  # no Apprise icon fetched from the internet into cards and chats
        image_url_logo="",
    )
    sender = apprise.Apprise(asset=asset)
    if not sender.add(url):
        return False, "not a valid Apprise URL (check its scheme and fields)"
    attach = [AttachMemory(content=d, name=n, mimetype=m) for n, d, m in message.attachments]
    fmt = apprise.NotifyFormat.HTML if message.body_format == "html" else apprise.NotifyFormat.TEXT
    result = sender.notify(
        body=message.body, title=message.title, body_format=fmt, attach=attach or None
    )
    if result:
        return True, ""
    reasons = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR")]
    return False, "; ".join(dict.fromkeys(reasons)) or "the destination did not accept it"


def send_with_retry(url: str, message: OutgoingMessage) -> tuple[bool, str, int]:
    """:func:`send_once` with exponential backoff; ``(ok, why, attempts)``."""
    tries = {"n": 0}

    def attempt() -> tuple[bool, str]:
        tries["n"] += 1
        try:
            return send_once(url, message)
        except Exception as exc:  # a plugin bug must not stop the other destinations
            return False, f"{type(exc).__name__}: {exc}"

    retrying = Retrying(
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_exponential(multiplier=RETRY_WAIT, max=MAX_WAIT),
        retry=retry_if_result(lambda r: not r[0]),
        retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
    )
    ok, why = retrying(attempt)
    return ok, why, tries["n"]


@contextlib.contextmanager
def quiet_apprise() -> Any:
    """Keep Apprise's own log lines (which may name a URL or a user) out of our logs and
    terminal; its warnings reach the summary through the result, masked."""
    logger = logging.getLogger("apprise")
    propagate = logger.propagate
    handler = logging.NullHandler()
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
