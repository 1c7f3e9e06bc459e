"""Sending one message through Apprise, tried again with exponential backoff (tenacity), each
attempt within a wall-clock deadline.

Apprise's timeouts (``cto``/``rto``, smtplib's ``timeout``) bound each socket operation, not a
request: a server that trickles one byte every two seconds, or a name that never resolves,
keeps a call going for as long as it likes. So each attempt runs in a forked child process
that the parent kills (SIGKILL) at the deadline: a killed attempt can never finish later and
send behind our back, and it counts as failed. The child also dies with its parent (Linux's
parent-death signal) and on its own alarm a little after the deadline, so a ``send`` that is
itself killed (SIGKILL) leaves no attempt running. It is not tried again in the same run (the
server may have taken the message before it stopped answering); the next run tries it again,
as for any failure. Where ``fork`` does not exist (Windows) the attempt runs in a thread that
is abandoned at the deadline.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import signal
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any

from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential

if TYPE_CHECKING:
    from engagement_kit.delivery.outbox import OutgoingMessage

#: Tries per destination (the first and the retries) and the first backoff wait in seconds
#: (doubling each time, at most :data:`MAX_WAIT`). :func:`send_with_retry` reads them here, so
#: a test that shortens the waits (or the deadline) patches ``engagement_kit.delivery.transport``.
ATTEMPTS = 3
RETRY_WAIT = 2.0
MAX_WAIT = 60.0
#: Seconds one attempt of one destination may take, whatever the server does (the default of
#: ``deadline`` in ``streams.toml`` and ``--deadline``).
DEADLINE = 60.0


def _sender(url: str) -> Any:
    """An ``Apprise`` object holding ``url``, or ``None`` when Apprise cannot parse it."""
    import apprise

    asset = apprise.AppriseAsset(
        app_id="engagement-kit",
        app_desc="engagement-kit weekly reports",
        image_url_mask="",  # no Apprise icon fetched from the internet into cards and chats
        image_url_logo="",
    )
    sender = apprise.Apprise(asset=asset)
    return sender if sender.add(url) else None


def send_once(url: str, message: OutgoingMessage, sender: Any = None) -> tuple[bool, str]:
    """One Apprise call; ``(ok, why)`` with Apprise's warnings as the reason."""
    import apprise
    from apprise.attachment.memory import AttachMemory

    sender = sender if sender is not None else _sender(url)
    if sender is None:
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


def _guarded_send(url: str, message: OutgoingMessage, sender: Any) -> tuple[bool, str]:
    try:
        return send_once(url, message, sender)
    except Exception as exc:  # a plugin bug must not stop the other destinations
        return False, f"{type(exc).__name__}: {exc}"


def deadline_text(seconds: float) -> str:
    shown = f"{seconds:g}"
    return (
        f"no complete answer within {shown} s (the deadline; the server accepted the "
        "connection but did not finish), not tried again in this run; raise deadline = in "
        "streams.toml or --deadline if the destination is only slow"
    )


def _attempt(url: str, message: OutgoingMessage, deadline: float) -> tuple[bool, str, bool]:
    """One attempt that ends within ``deadline`` seconds: ``(ok, why, timed_out)``."""
    sender = _sender(url)  # parse in the parent: no network, and the plugins load once here
    if sender is None:
        return False, "not a valid Apprise URL (check its scheme and fields)", False
    if not hasattr(os, "fork"):  # pragma: no cover - Windows
        return _attempt_in_thread(url, message, sender, deadline)
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # 3.12+ warns about fork in a threaded process: the
        warnings.simplefilter("ignore", DeprecationWarning)  # child only sends, then _exits
        pid = os.fork()
    if pid == 0:  # the child: send, report, exit without running the parent's cleanups
        code = 0
        try:
            os.close(read_end)
            _die_with_parent()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(int(deadline) + 2)  # even with its parent gone it ends
            os.write(write_end, pickle.dumps(_guarded_send(url, message, sender)))
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    chunks: list[bytes] = []
    ends = time.monotonic() + deadline
    try:
        while True:
            left = ends - time.monotonic()
            if left <= 0:
                return False, deadline_text(deadline), True
            ready, _, _ = select.select([read_end], [], [], left)
            if not ready:
                continue
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # done or not: it never outlives the attempt
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        os.close(read_end)
    try:
        ok, why = pickle.loads(b"".join(chunks))
    except Exception:
        return False, "the sending process stopped without an answer", False
    return bool(ok), str(why), False


def _die_with_parent() -> None:
    """In the child (Linux): SIGKILL when the parent dies, so a ``send`` killed with SIGKILL
    leaves no attempt behind that could still deliver the message later."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before the call
            os._exit(1)


def _attempt_in_thread(  # pragma: no cover - Windows
    url: str, message: OutgoingMessage, sender: Any, deadline: float
) -> tuple[bool, str, bool]:
    result: list[tuple[bool, str]] = []
    worker = threading.Thread(
        target=lambda: result.append(_guarded_send(url, message, sender)), daemon=True
    )
    worker.start()
    worker.join(deadline)
    if not result:
        return False, deadline_text(deadline), True
    return result[0][0], result[0][1], False


def send_with_retry(
    url: str, message: OutgoingMessage, deadline: float | None = None
) -> tuple[bool, str, int]:
    """:func:`send_once` with exponential backoff, each attempt within ``deadline`` seconds
    (default :data:`DEADLINE`); ``(ok, why, attempts)``. An attempt that ran out of time is
    not tried again."""
    seconds = DEADLINE if deadline is None else deadline
    tries = {"n": 0}

    def attempt() -> tuple[bool, str, bool]:
        tries["n"] += 1
        return _attempt(url, message, seconds)

    retrying = Retrying(
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_exponential(multiplier=RETRY_WAIT, max=MAX_WAIT),
        retry=retry_if_result(lambda r: not r[0] and not r[2]),
        retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
    )
    ok, why, _ = retrying(attempt)
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
