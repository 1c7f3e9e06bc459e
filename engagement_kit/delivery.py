"""Delivery: send the written weekly reports and their alerts by email, chat or webhook.

Destinations are **Apprise** URLs (``mailto://``, ``mailtos://``, ``slack://``, ``workflows://``
(Microsoft Teams), ``mmost://``, ``discord://``, ``json://``, ``form://``, …), listed in
``streams.toml``::

    [defaults]                       # for every stream without its own
    deliver = ["mailtos://reports:${SMTP_PASSWORD}@smtp.example.com?to=team@example.com"]
    digest = false                   # true: one message per destination and run
    link = "https://intranet.example.com/engagement/"   # where reports/ is published

    [[stream]]
    id = "st-..."
    name = "Support bot"
    tz = "Asia/Kolkata"
    deliver = ["json://hooks.example.com/engagement", "mmost://chat.example.com/${MM_HOOK}"]

Secrets never live in the TOML: ``${NAME}`` is replaced by the environment variable (or the
``.env`` value) when sending, a password written into a URL is refused, and every message,
summary line, ``.delivery.json`` and error shows the URL as written (the ``${NAME}`` reference),
with any value of a referenced variable masked as ``***``.

What goes where (see :mod:`engagement_kit.messages`): an email gets the HTML body with inline
charts and the report attached; ``json://``/``jsons://`` gets the sidecar JSON; every other
destination a short text. What was sent is recorded in the response store's SQLite file
(:class:`Ledger`), so running again sends nothing twice unless ``resend=True``. A destination
that fails is tried again with exponential backoff (tenacity); it never stops the others.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import re
import sqlite3
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .alerts import AlertRule, evaluate, fired_alerts, parse_rules, put_banner, simulate
from .errors import ConfigError, StoreError
from .messages import WeekReport, alert_text, chat_text, email_message, json_text, to_mime

if TYPE_CHECKING:
    from rich.console import Console

    from .config import StreamConfig

__all__ = [
    "ATTEMPTS",
    "DeliveryPlan",
    "Destination",
    "Ledger",
    "Outcome",
    "apply_alerts",
    "backtest",
    "deliver",
    "load_plan",
    "mask",
]

#: Tries per destination (the first and the retries) and the first backoff wait in seconds
#: (doubling each time, at most :data:`MAX_WAIT`).
ATTEMPTS = 3
RETRY_WAIT = 2.0
MAX_WAIT = 60.0
EMAIL_SCHEMES = ("mailto", "mailtos")
JSON_SCHEMES = ("json", "jsons")
DEFAULTS_KEYS = ("deliver", "alert", "digest", "link")
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
#: Query parameters of Apprise URLs that carry a secret (they must be ${NAME} references).
_SECRET_PARAMS = frozenset(
    {"pass", "password", "pwd", "token", "secret", "apikey", "api_key", "key", "sig", "signature"}
)


# =============================================================================================
# Destinations and secrets
# =============================================================================================


@dataclasses.dataclass(frozen=True)
class Destination:
    """One Apprise URL as written in ``streams.toml`` (``${NAME}`` references unexpanded).

    The written form is what is shown and recorded: it never holds a secret.
    """

    template: str

    @property
    def scheme(self) -> str:
        match = _SCHEME.match(self.template)
        return match.group(1).lower() if match else ""

    @property
    def kind(self) -> str:
        """``email``, ``json`` or ``chat`` (every other Apprise service: a short text)."""
        if self.scheme in EMAIL_SCHEMES:
            return "email"
        if self.scheme in JSON_SCHEMES:
            return "json"
        return "chat"

    def addresses(self) -> tuple[str, list[str]]:
        """An email destination's ``from=`` and ``to=`` as written (for the ``.eml``)."""
        from urllib.parse import parse_qs, urlsplit

        query = parse_qs(urlsplit(self.template).query)
        sender = (query.get("from") or [""])[0]
        to = [a for v in query.get("to", []) for a in re.split(r"[,\s]+", v) if a]
        return sender, to

    @property
    def references(self) -> list[str]:
        return _REF.findall(self.template)

    def resolve(self, env: Mapping[str, str]) -> str:
        """The URL with every ``${NAME}`` replaced by its value (quoted inside user:password).

        Raises
        ------
        ConfigError
            Naming the variable (never a value) when one is not set.
        """
        missing = [n for n in self.references if not env.get(n)]
        if missing:
            raise ConfigError(
                f"{self.template}: ${{{missing[0]}}} is not set; set {missing[0]} in the "
                "environment or in .env"
            )
        userinfo_end = _userinfo_end(self.template)

        def value(match: re.Match[str]) -> str:
            text = env[match.group(1)]
            return quote(text, safe="") if match.start() < userinfo_end else text

        url = _REF.sub(value, self.template)
        if self.kind == "email" and not re.search(r"[?&]inline=", url):
            url += ("&" if "?" in url else "?") + "inline=yes"  # charts as cid: images
        return url


def _userinfo_end(url: str) -> int:
    """Index of the ``@`` ending the user:password part of ``url`` (-1 when there is none)."""
    match = _SCHEME.match(url)
    start = match.end() if match else 0
    end = len(url)
    for sep in ("/", "?", "#"):
        i = url.find(sep, start)
        if i != -1:
            end = min(end, i)
    return url.rfind("@", start, end)


def check_destination(url: object, where: str) -> Destination:
    """Validate one ``deliver`` entry; refuse a password written into the file."""
    if not isinstance(url, str) or not _SCHEME.match(url.strip()):
        raise ConfigError(
            f"{where}: {url!r} is not an Apprise URL; write e.g. "
            '"mailtos://user:${SMTP_PASSWORD}@smtp.example.com?to=team@example.com"'
        )
    url = url.strip()
    at = _userinfo_end(url)
    if at != -1:
        userinfo = url[_SCHEME.match(url).end() : at]  # type: ignore[union-attr]
        if ":" in userinfo:
            password = userinfo.split(":", 1)[1]
            if password and not _REF.fullmatch(password):
                shown = url[: at - len(password)] + "***" + url[at:]
                raise ConfigError(
                    f"{where}: {shown}: the password is written in the file; put it in the "
                    "environment or .env and write a reference instead, e.g. "
                    "mailtos://user:${SMTP_PASSWORD}@smtp.example.com"
                )
    from urllib.parse import parse_qsl, urlsplit

    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key.lower() in _SECRET_PARAMS and value and not _REF.fullmatch(value):
            raise ConfigError(
                f"{where}: {_REF.sub('', url).split('?')[0]}?...: the {key}= value is written in "
                f"the file; put it in the environment or .env and write {key}=${{NAME}} instead"
            )
    return Destination(url)


def reference_env() -> dict[str, str]:
    """Where ``${NAME}`` values come from: the environment over the project folder's ``.env``
    (the file :mod:`engagement_kit.settings` reads; every variable of it, not only ours)."""
    from .settings import find_project

    values: dict[str, str] = {}
    env_file = find_project().env_file
    if env_file is not None:
        from dotenv import dotenv_values

        try:
            values.update({k: v for k, v in dotenv_values(env_file).items() if v})
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{env_file}: cannot read it ({exc.__class__.__name__}); fix or delete the file"
            ) from exc
    values.update({k: v for k, v in os.environ.items() if v})
    return values


def mask(text: str, env: Mapping[str, str], destinations: Iterable[Destination] = ()) -> str:
    """``text`` with the value of every variable the destinations reference replaced by ***."""
    names = {n for d in destinations for n in d.references}
    values = sorted(
        {v for n in names if (v := env.get(n)) and len(v) >= 3}
        | {quote(v, safe="") for n in names if (v := env.get(n)) and len(v) >= 3},
        key=len,
        reverse=True,
    )
    for value in values:
        text = text.replace(value, "***")
    return text


# =============================================================================================
# The plan: streams.toml's delivery keys
# =============================================================================================


@dataclasses.dataclass(frozen=True)
class StreamPlan:
    """One stream's destinations and alert rules (its own, else the ``[defaults]``)."""

    config: StreamConfig
    deliver: tuple[Destination, ...]
    alerts: tuple[AlertRule, ...]

    @property
    def id(self) -> str:
        return self.config.id

    def alert_destinations(self, rule_name: str) -> tuple[Destination, ...]:
        rule = next((r for r in self.alerts if r.name == rule_name), None)
        if rule is not None and rule.deliver is not None:
            return tuple(Destination(u) for u in rule.deliver)
        return self.deliver


@dataclasses.dataclass(frozen=True)
class DeliveryPlan:
    """What ``streams.toml`` says about delivery: per stream, plus ``digest`` and ``link``."""

    streams: tuple[StreamPlan, ...]
    digest: bool = False
    link: str | None = None

    def stream(self, stream_id: str) -> StreamPlan | None:
        return next((s for s in self.streams if s.id == stream_id), None)

    @property
    def destinations(self) -> list[Destination]:
        found: dict[str, Destination] = {}
        for s in self.streams:
            for d in s.deliver:
                found.setdefault(d.template, d)
            for r in s.alerts:
                for u in r.deliver or ():
                    found.setdefault(u, Destination(u))
        return list(found.values())

    @classmethod
    def without_delivery(cls, configs: Sequence[StreamConfig]) -> DeliveryPlan:
        """A plan with no destinations and no rules (``--demo``/``--stream`` without a file)."""
        return cls(tuple(StreamPlan(c, (), ()) for c in configs))


def _destinations(value: object, where: str) -> tuple[Destination, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"{where}: deliver must be a list of Apprise URLs")
    return tuple(check_destination(u, where) for u in value)


def load_plan(path: str | os.PathLike[str] = "streams.toml") -> DeliveryPlan:
    """Read the streams and their ``deliver``/``alert`` keys, and ``[defaults]``.

    Raises
    ------
    ConfigError
        Naming the file, the stream or ``[defaults]``, and the field.
    """
    from .config import load_streams

    file = Path(path)
    configs = load_streams(file)  # every stream error, with the file's wording
    doc = tomllib.loads(file.read_text(encoding="utf-8"))
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError(f"{file}: [defaults] must be a table")
    unknown = sorted(set(defaults) - set(DEFAULTS_KEYS))
    if unknown:
        raise ConfigError(
            f"{file}: [defaults]: unknown key(s) {', '.join(unknown)}; the keys are "
            + ", ".join(DEFAULTS_KEYS)
        )
    where = f"{file}: [defaults]"
    default_deliver = _destinations(defaults.get("deliver", []), where)
    default_alerts = parse_rules(defaults.get("alert"), where=where)
    digest = defaults.get("digest", False)
    if not isinstance(digest, bool):
        raise ConfigError(f"{where}: digest must be true or false")
    link = defaults.get("link")
    if link is not None and (not isinstance(link, str) or not link.strip()):
        raise ConfigError(f"{where}: link must be the URL (or folder) where reports/ is published")
    streams = []
    for number, (config, entry) in enumerate(zip(configs, doc["stream"], strict=True), start=1):
        label = f"{file}: stream #{number} ({config.id})"
        deliver = _destinations(entry["deliver"], label) if "deliver" in entry else default_deliver
        rules = parse_rules(entry["alert"], where=label) if "alert" in entry else default_alerts
        for rule in rules:
            for url in rule.deliver or ():
                check_destination(url, f"{label}: alert {rule.name!r}")
        streams.append(StreamPlan(config, deliver, rules))
    plan = DeliveryPlan(tuple(streams), digest=digest, link=link.strip() if link else None)
    _check_schemes(plan.destinations, file)
    return plan


def _check_schemes(destinations: Sequence[Destination], file: Path) -> None:
    """Every destination's scheme is an Apprise service (a typo fails now, not on Monday)."""
    if not destinations:
        return
    from apprise.manager_plugins import NotificationManager

    known = set(NotificationManager().schemas())
    for d in destinations:
        if d.scheme not in known:
            hint = (
                " (Microsoft Teams: Apprise retired msteams://; use workflows://)"
                if d.scheme == "msteams"
                else ""
            )
            raise ConfigError(
                f"{file}: {d.template}: Apprise has no {d.scheme}:// service{hint}; see "
                "https://github.com/caronc/apprise/wiki for the URL of each service"
            )


# =============================================================================================
# The ledger: what was sent and which alerts fired, in the store's SQLite file
# =============================================================================================

_LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    stream_id    TEXT NOT NULL,
    week         TEXT NOT NULL,
    destination  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    sent_at      TEXT NOT NULL,
    PRIMARY KEY (stream_id, week, destination, kind)
);
CREATE TABLE IF NOT EXISTS alert_firings (
    stream_id TEXT NOT NULL,
    rule      TEXT NOT NULL,
    week      TEXT NOT NULL,
    fired_at  TEXT NOT NULL,
    PRIMARY KEY (stream_id, rule, week)
);
"""


class Ledger:
    """Sent messages and fired alerts, in two tables of the response store's file.

    ``destination`` is the URL as written in ``streams.toml`` (``${NAME}`` unexpanded), so no
    secret is stored. ``engagement-kit store clear`` deletes answers only, not this record.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        from .store import default_store_path

        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                conn.execute("PRAGMA busy_timeout = 30000")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(_LEDGER_SCHEMA)
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(
                    f"delivery record in {self.path}: cannot open it ({type(exc).__name__}: "
                    f"{exc}); set ENGAGEMENT_KIT_STORE to a writable file"
                ) from exc
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sent(
        self, stream_id: str, week: str, destination: str, kind: str
    ) -> tuple[str, str] | None:
        """``(content_hash, sent_at)`` when this was sent already."""
        row = (
            self._db()
            .execute(
                "SELECT content_hash, sent_at FROM deliveries WHERE stream_id = ? AND week = ? "
                "AND destination = ? AND kind = ?",
                (stream_id, week, destination, kind),
            )
            .fetchone()
        )
        return (row[0], row[1]) if row else None

    def record(
        self, stream_id: str, week: str, destination: str, kind: str, content_hash: str
    ) -> None:
        self._db().execute(
            "INSERT OR REPLACE INTO deliveries VALUES (?, ?, ?, ?, ?, ?)",
            (stream_id, week, destination, kind, content_hash, _now()),
        )

    def last_fired(self, stream_id: str, before_week: str) -> dict[str, str]:
        """Rule name → the latest week before ``before_week`` in which it fired."""
        rows = (
            self._db()
            .execute(
                "SELECT rule, week FROM alert_firings WHERE stream_id = ?",
                (stream_id,),
            )
            .fetchall()
        )
        key = _week_key
        out: dict[str, str] = {}
        for rule, week in rows:
            if key(week) < key(before_week) and (rule not in out or key(week) > key(out[rule])):
                out[rule] = week
        return out

    def set_firings(self, stream_id: str, week: str, rules: Iterable[str]) -> None:
        """The rules that fired for this stream and week (replacing an earlier evaluation)."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "DELETE FROM alert_firings WHERE stream_id = ? AND week = ?", (stream_id, week)
            )
            db.executemany(
                "INSERT INTO alert_firings VALUES (?, ?, ?, ?)",
                [(stream_id, r, week, _now()) for r in rules],
            )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _week_key(week: str) -> tuple[int, int]:
    year, number = week.split("-W")
    return int(year), int(number)


# =============================================================================================
# Alerts on written reports
# =============================================================================================


def apply_alerts(
    plan: DeliveryPlan, reports: Iterable[tuple[str, Path, Path]], ledger: Ledger
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Evaluate each stream's rules on its new report; write ``alerts`` into the sidecar and
    the banner into the page; record the firings (for the cooldown).

    Parameters
    ----------
    reports : iterable of (stream_id, html path, json path)
        Reports just written.

    Returns
    -------
    dict
        ``(stream_id, week)`` → the fired alerts.
    """
    from .files import atomic_write

    fired: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for stream_id, html_path, json_path in reports:
        try:
            sidecar = json.loads(json_path.read_text(encoding="utf-8"))
            week = str(sidecar["week"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a sidecar the runner wrote: nothing to evaluate
        stream = plan.stream(stream_id)
        rules = stream.alerts if stream else ()
        evaluations = evaluate(rules, sidecar, ledger.last_fired(stream_id, week))
        alerts = fired_alerts(evaluations)
        ledger.set_firings(stream_id, week, [a["name"] for a in alerts])
        sidecar["alerts"] = alerts
        atomic_write(json_path, json.dumps(sidecar, indent=2, ensure_ascii=False))
        page = html_path.read_text(encoding="utf-8")
        new_page = put_banner(page, alerts)
        if new_page != page:
            atomic_write(html_path, new_page)
        fired[(stream_id, week)] = alerts
    return fired


# =============================================================================================
# Sending
# =============================================================================================


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One message to one destination: what happened.

    Attributes
    ----------
    streams : tuple of str
        The stream ids the message covers (several for a digest).
    week : str
    destination : str
        The URL as written (no secret).
    kind : {"report", "digest", "alerts"}
    status : {"sent", "skipped", "failed", "dry-run"}
    detail : str
    """

    streams: tuple[str, ...]
    week: str
    destination: str
    kind: str
    status: str
    detail: str = ""


@dataclasses.dataclass
class _Message:
    reports: list[WeekReport]
    destination: Destination
    kind: str
    title: str = ""
    body: str = ""
    body_format: str = "text"
    attachments: list[tuple[str, bytes, str]] = dataclasses.field(default_factory=list)
    email: Any = None

    @property
    def content_hash(self) -> str:
        """The numbers' hash of each report (and the alert lines, for an alert message)."""
        parts = [
            self.kind,
            *(r.content_hash for r in self.reports),
            self.body * (self.kind == "alerts"),
        ]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    @property
    def week(self) -> str:
        return ", ".join(sorted({r.week for r in self.reports}))


def _send_once(url: str, message: _Message) -> tuple[bool, str]:
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


def _send_with_retry(url: str, message: _Message) -> tuple[bool, str, int]:
    """:func:`_send_once` with exponential backoff; ``(ok, why, attempts)``."""
    from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential

    tries = {"n": 0}

    def attempt() -> tuple[bool, str]:
        tries["n"] += 1
        try:
            return _send_once(url, message)
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
def _quiet_apprise() -> Any:
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


def find_reports(
    plan: DeliveryPlan,
    out_dir: Path,
    weeks: Mapping[str, str],
) -> tuple[list[WeekReport], list[Outcome]]:
    """The written report of each stream's week; an outcome ``failed`` for a missing one."""
    from .files import stream_slug

    found, missing = [], []
    for stream_id, week in weeks.items():
        stream = plan.stream(stream_id)
        if stream is None:
            continue
        slug = stream_slug(stream.config.name, stream.id)
        json_path = out_dir / slug / f"{week}.json"
        html_path = out_dir / slug / f"{week}.html"
        if not (json_path.is_file() and html_path.is_file()):
            missing.append(
                Outcome(
                    (stream_id,),
                    week,
                    "-",
                    "report",
                    "failed",
                    f"no report for {week} in {out_dir / slug}; run engagement-kit report first",
                )
            )
            continue
        try:
            sidecar = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            missing.append(
                Outcome(
                    (stream_id,), week, "-", "report", "failed", f"{json_path}: unreadable ({exc})"
                )
            )
            continue
        link = (
            f"{plan.link.rstrip('/')}/{quote(slug)}/{quote(week)}.html"
            if plan.link
            else str(html_path.resolve())
        )
        found.append(
            WeekReport(stream_id, stream.config.name, slug, week, sidecar, html_path, link)
        )
    return found, missing


def _plan_messages(plan: DeliveryPlan, reports: Sequence[WeekReport]) -> list[_Message]:
    messages: list[_Message] = []
    if plan.digest:
        by_dest: dict[str, list[WeekReport]] = {}
        dests: dict[str, Destination] = {}
        for r in reports:
            for d in plan.stream(r.stream_id).deliver:  # type: ignore[union-attr]
                by_dest.setdefault(d.template, []).append(r)
                dests[d.template] = d
        messages += [_Message(rs, dests[t], "digest") for t, rs in by_dest.items()]
    else:
        for r in reports:
            messages += [_Message([r], d, "report") for d in plan.stream(r.stream_id).deliver]  # type: ignore[union-attr]
    for r in reports:
        stream = plan.stream(r.stream_id)
        per_dest: dict[str, tuple[Destination, list[dict[str, Any]]]] = {}
        for alert in r.alerts:
            for d in stream.alert_destinations(str(alert.get("name"))):  # type: ignore[union-attr]
                per_dest.setdefault(d.template, (d, []))[1].append(alert)
        for d, alerts in per_dest.values():
            title, body = alert_text(r, alerts)
            messages.append(_Message([r], d, "alerts", title, body))
    return messages


def _fill(message: _Message, emails: dict[tuple[str, ...], Any]) -> None:
    """Build the message's content for its destination's kind (each email once per run)."""
    if message.kind == "alerts":
        return
    kind = message.destination.kind
    if kind == "email":
        key = tuple(f"{r.stream_id} {r.week}" for r in message.reports)
        if key not in emails:
            emails[key] = email_message(message.reports)
        email_ = emails[key]
        message.email = email_
        message.title, message.body, message.body_format = email_.subject, email_.html, "html"
        message.attachments = [(a.name, a.data, a.mimetype) for a in email_.attachments]
    elif kind == "json":
        message.title, message.body = json_text(message.reports)
    else:
        message.title, message.body = chat_text(message.reports)


def deliver(
    plan: DeliveryPlan,
    out_dir: str | os.PathLike[str],
    weeks: Mapping[str, str],
    *,
    dry_run: bool = False,
    resend: bool = False,
    ledger: Ledger | None = None,
    env: Mapping[str, str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """Send each stream's report of the given week (and its alerts) to its destinations.

    Parameters
    ----------
    weeks : mapping
        Stream id → ISO week whose written report to send.
    dry_run : bool
        Send nothing: print what would go where (``echo``), and write each email as
        ``<out_dir>/<stream>/<week>.eml`` (``digest-<week>.eml`` for a digest).
    resend : bool
        Send again what the ledger says was sent.
    env : mapping, optional
        Where ``${NAME}`` values come from (default: the environment over ``.env``).

    Returns
    -------
    list of Outcome
        Also written, per report, to ``<stream>/<week>.delivery.json`` (not on a dry run), and
        the index is refreshed.
    """
    from .files import atomic_write
    from .report import write_index

    out = Path(out_dir)
    env = reference_env() if env is None else env
    echo = echo or (lambda text: None)
    reports, outcomes = find_reports(plan, out, weeks)
    messages = _plan_messages(plan, reports)
    owns = ledger is None
    ledger = Ledger() if ledger is None else ledger
    all_dests = plan.destinations

    emails: dict[tuple[str, ...], Any] = {}

    def safe(text: str) -> str:
        return mask(text, env, all_dests)

    try:
        with _quiet_apprise():
            for message in messages:
                outcomes.append(
                    _deliver_one(message, ledger, out, env, safe, dry_run, resend, echo, emails)
                )
    finally:
        if owns:
            ledger.close()
    if not dry_run:
        _write_delivery_files(out, reports, outcomes, atomic_write)
        write_index(out)
    return outcomes


def _deliver_one(
    message: _Message,
    ledger: Ledger,
    out: Path,
    env: Mapping[str, str],
    safe: Callable[[str], str],
    dry_run: bool,
    resend: bool,
    echo: Callable[[str], None],
    emails: dict[tuple[str, ...], Any],
) -> Outcome:
    dest = message.destination
    ids = tuple(r.stream_id for r in message.reports)
    kind = message.kind
    if not resend:
        pending = [
            r for r in message.reports if not ledger.sent(r.stream_id, r.week, dest.template, kind)
        ]
        if not pending:
            first = message.reports[0]
            sent_hash, at = ledger.sent(first.stream_id, first.week, dest.template, kind) or (
                "",
                "",
            )
            note = f"already sent {at}"
            if kind != "alerts" and sent_hash != first.content_hash:
                note += "; the report's numbers changed since (--resend sends the new version)"
            return Outcome(ids, message.week, dest.template, kind, "skipped", note)
        if kind == "digest":
            message.reports = pending
            ids = tuple(r.stream_id for r in pending)
    try:
        url = dest.resolve(env)
    except ConfigError as exc:
        if not dry_run:
            return Outcome(ids, message.week, dest.template, kind, "failed", safe(str(exc)))
        url = ""
    try:
        _fill(message, emails)
    except Exception as exc:  # e.g. an unreadable report: this message only
        return Outcome(
            ids, message.week, dest.template, kind, "failed", safe(f"{type(exc).__name__}: {exc}")
        )
    if dry_run:
        where = ""
        if message.email is not None:
            name = (
                f"{message.reports[0].slug}/{message.reports[0].week}.eml"
                if kind == "report"
                else f"digest-{message.reports[0].week}.eml"
            )
            from .files import atomic_write

            sender, to = dest.addresses()
            eml = atomic_write(out / name, to_mime(message.email, sender=sender, to=to))
            where = f"; email written to {eml}"
        note = "" if url else " (a referenced variable is not set: it would fail)"
        echo(safe(f"would send {kind} '{message.title}' to {dest.template}{note}{where}"))
        if dest.kind == "chat" or kind == "alerts":
            echo(safe("    " + message.body.replace("\n", "\n    ")))
        return Outcome(
            ids, message.week, dest.template, kind, "dry-run", safe(message.title + where)
        )
    ok, why, tries = _send_with_retry(url, message)
    if not ok:
        detail = f"{why} (after {tries} attempt{'s' if tries != 1 else ''})"
        return Outcome(ids, message.week, dest.template, kind, "failed", safe(detail))
    for r in message.reports:
        done = message.content_hash if kind == "alerts" else r.content_hash
        ledger.record(r.stream_id, r.week, dest.template, kind, done)
    note = f" after {tries} attempts" if tries > 1 else ""
    return Outcome(ids, message.week, dest.template, kind, "sent", safe(message.title + note))


def _write_delivery_files(
    out: Path, reports: Sequence[WeekReport], outcomes: Sequence[Outcome], write: Callable
) -> None:
    """``<stream>/<week>.delivery.json``: the latest outcome per destination and kind."""
    for r in reports:
        path = out / r.slug / f"{r.week}.delivery.json"
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
            entries = {(e["destination"], e["kind"]): e for e in current.get("deliveries", [])}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            entries = {}
        for o in outcomes:
            if r.stream_id in o.streams and r.week in o.week.split(", "):
                if o.status == "skipped" and (o.destination, o.kind) in entries:
                    continue
                entries[(o.destination, o.kind)] = {
                    "destination": o.destination,
                    "kind": o.kind,
                    "status": o.status,
                    "detail": o.detail,
                    "at": _now(),
                }
        write(
            path,
            json.dumps(
                {"stream_id": r.stream_id, "week": r.week, "deliveries": list(entries.values())},
                indent=2,
                ensure_ascii=False,
            ),
        )


def exit_code(outcomes: Sequence[Outcome]) -> int:
    """1 when any delivery failed, else 0."""
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def summary_table(outcomes: Sequence[Outcome], plan: DeliveryPlan) -> Any:
    """A rich table of the outcomes: streams, week, kind, destination, status, detail."""
    from rich.table import Table
    from rich.text import Text

    names = {s.id: s.config.name for s in plan.streams}
    table = Table(title="Delivery", header_style="bold")
    for col in ("stream", "week", "kind", "destination", "status", "detail"):
        table.add_column(col, overflow="fold")
    styles = {"sent": "green", "failed": "bold red", "skipped": "dim", "dry-run": "yellow"}
    for o in outcomes:
        table.add_row(
            Text(", ".join(names.get(s, s) for s in o.streams)),
            Text(o.week),
            Text(o.kind),
            Text(o.destination),
            Text(o.status, style=styles.get(o.status, "")),
            Text(o.detail),
        )
    return table


# =============================================================================================
# Backtest
# =============================================================================================


def backtest(
    plan: DeliveryPlan,
    weeks: int = 12,
    *,
    source: str = "demo",
    host: str | None = None,
    end_week: str | None = None,
    stream_ids: Sequence[str] | None = None,
    client: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """For each rule, the weeks of the last ``weeks`` in which it would have fired.

    Each week's numbers are computed exactly as the report computes them
    (:func:`engagement_kit.report.load_weekly`, from the store and the platform), and the rules
    are run oldest week first with their cooldown, starting with no earlier firing.

    Returns
    -------
    list of dict
        ``stream_id``, ``stream_name``, ``rule`` (name), ``describe``, ``weeks`` (evaluated,
        oldest first), ``fired`` (weeks).
    """
    from .report import load_weekly
    from .sources import client_for
    from .weeks import last_complete_week, week_labels

    if not isinstance(weeks, int) or isinstance(weeks, bool) or weeks < 1:
        raise ConfigError(f"--backtest: {weeks!r} must be a whole number of weeks >= 1")
    streams = [s for s in plan.streams if s.alerts and (not stream_ids or s.id in set(stream_ids))]
    owns = client is None
    client = client_for(source, host) if client is None else client
    rows: list[dict[str, Any]] = []
    total = sum(weeks for _ in streams)
    done = 0
    try:
        for stream in streams:
            labels = week_labels(end_week or last_complete_week(stream.config.tz), weeks)
            sidecars = []
            for label in labels:
                c = stream.config
                weekly = load_weekly(
                    c.id,
                    label,
                    stream_name=c.name,
                    tz=c.tz,
                    conversation_type=c.conversation_type,
                    conversation_status=c.conversation_status,
                    channels=list(c.channels) or None,
                    source=source,
                    host=host,
                    weeks_of_history=1,
                    client=client,
                )
                sidecars.append(weekly.sidecar())
                done += 1
                if progress is not None:
                    progress(done, total)
            fired = simulate(stream.alerts, sidecars)
            for rule in stream.alerts:
                rows.append(
                    {
                        "stream_id": stream.id,
                        "stream_name": stream.config.name,
                        "rule": rule.name,
                        "describe": rule.describe(),
                        "cooldown_weeks": rule.cooldown_weeks,
                        "weeks": labels,
                        "fired": fired[rule.name],
                    }
                )
    finally:
        if owns:
            client.close()
    return rows


# =============================================================================================
# The commands' glue (kept here so cli.py only calls in)
# =============================================================================================


def plan_for(
    configs: Sequence[StreamConfig] | None,
    config_file: str | os.PathLike[str] | None,
    *,
    send: bool,
    dry_run: bool,
    stream_ids: Sequence[str] | None = None,
) -> DeliveryPlan:
    """The plan of ``config_file`` (or of ``configs`` without delivery), checked for sending.

    When sending for real, every ``${NAME}`` must be set (fail before the long report run).

    Raises
    ------
    ConfigError
        No destinations while sending, an unknown ``--stream``, an unset variable.
    """
    if config_file is not None:
        plan = load_plan(config_file)
        if configs is not None:  # --config with filters from the command line: same streams
            ids = {c.id for c in configs}
            plan = dataclasses.replace(plan, streams=tuple(s for s in plan.streams if s.id in ids))
    else:
        plan = DeliveryPlan.without_delivery(configs or ())
    if stream_ids:
        known = {s.id for s in plan.streams}
        unknown = [s for s in stream_ids if s not in known]
        if unknown:
            raise ConfigError(
                f"--stream {unknown[0]}: not in {config_file}; its streams are "
                + ", ".join(sorted(known))
            )
        plan = dataclasses.replace(
            plan, streams=tuple(s for s in plan.streams if s.id in set(stream_ids))
        )
    if send:
        if not plan.destinations:
            where = (
                f"in {config_file}"
                if config_file is not None
                else "in streams.toml and pass --config streams.toml (--demo and --stream alone "
                "have no destinations)"
            )
            raise ConfigError(
                'nothing to send to: add deliver = ["mailtos://..."] to the streams or to '
                f"[defaults] {where} (see README, Delivery and alerts)"
            )
        if not dry_run:
            env = reference_env()
            for d in plan.destinations:
                d.resolve(env)
    return plan


def after_reports(
    results: Sequence[Any],
    plan: DeliveryPlan,
    out_dir: str | os.PathLike[str],
    *,
    send: bool,
    dry_run: bool,
    resend: bool,
    console: Console,
) -> int:
    """After ``report``: the alerts of the new reports, then (``--send``) their delivery.

    Returns
    -------
    int
        The delivery's exit status (0 when nothing was to be sent).
    """
    from .report import write_index

    written = [r for r in results if r.ok and r.html is not None and r.json is not None]
    with Ledger() as ledger:
        fired = apply_alerts(plan, [(r.stream_id, r.html, r.json) for r in written], ledger)
        write_index(out_dir)
        for (stream_id, week), alerts in fired.items():
            for a in alerts:
                console.print(
                    f"alert {stream_id} {week}: {a['message']}", markup=False, style="red"
                )
        if not (send or dry_run):
            return 0
        weeks = {r.stream_id: r.week for r in written}
        outcomes = _deliver_and_show(plan, out_dir, weeks, dry_run, resend, console, ledger)
    return exit_code(outcomes)


def _deliver_and_show(
    plan: DeliveryPlan,
    out_dir: str | os.PathLike[str],
    weeks: Mapping[str, str],
    dry_run: bool,
    resend: bool,
    console: Console,
    ledger: Ledger | None = None,
) -> list[Outcome]:
    """:func:`deliver`, printing each dry-run message, or the summary table after a real run."""
    outcomes = deliver(
        plan,
        out_dir,
        weeks,
        dry_run=dry_run,
        resend=resend,
        ledger=ledger,
        echo=lambda t: console.print(t, markup=False, highlight=False),
    )
    if not dry_run:
        console.print(summary_table(outcomes, plan))
    return outcomes


def send_written(
    plan: DeliveryPlan,
    out_dir: str | os.PathLike[str],
    *,
    week: str | None,
    stream_ids: Sequence[str] | None,
    dry_run: bool,
    resend: bool,
    console: Console,
) -> list[Outcome]:
    """``engagement-kit send``: deliver written reports of ``week`` (default: each stream's
    last complete week)."""
    from .weeks import ended_week

    weeks = {
        s.id: ended_week(week, s.config.tz)
        for s in plan.streams
        if s.deliver or any(r.deliver for r in s.alerts)
    }
    return _deliver_and_show(plan, out_dir, weeks, dry_run, resend, console)


def print_alerts(
    plan: DeliveryPlan,
    *,
    backtest: int | None,
    stream_ids: Sequence[str] | None,
    week: str | None,
    demo: bool,
    host: str | None,
    console: Console,
) -> None:
    """``engagement-kit alerts``: the rules, or where they would have fired."""
    from rich.table import Table

    if not any(s.alerts for s in plan.streams):
        raise ConfigError(
            "no alert rules: add [[stream.alert]] tables (or [[defaults.alert]]) with name, kpi, "
            "rule and value (see README, Delivery and alerts)"
        )
    if backtest is None:
        table = Table("stream", "rule", "fires when", "cooldown", "sent to", title="Alert rules")
        for s in plan.streams:
            for r in s.alerts:
                dests = s.alert_destinations(r.name)
                table.add_row(
                    s.config.name,
                    r.name,
                    r.describe(),
                    f"{r.cooldown_weeks} weeks",
                    "\n".join(d.template for d in dests) or "-",
                )
        console.print(table)
        return
    from rich.progress import Progress

    if demo and host:
        raise ConfigError("--host is for a real platform; --demo uses the built-in demo platform")
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("computing past weeks", total=None)
        rows = backtest_fn(
            plan,
            backtest,
            source="demo" if demo else "platform",
            host=host,
            end_week=week,
            stream_ids=stream_ids,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    table = Table(
        "stream",
        "rule",
        "fires when",
        "cooldown",
        "fired in",
        title=f"Backtest: last {backtest} weeks",
    )
    for row in rows:
        fired = ", ".join(row["fired"]) or "never"
        table.add_row(
            row["stream_name"],
            row["rule"],
            row["describe"],
            f"{row['cooldown_weeks']} weeks",
            f"{fired} ({len(row['fired'])} of {len(row['weeks'])} weeks, "
            f"{row['weeks'][0]} to {row['weeks'][-1]})",
        )
    console.print(table)


backtest_fn = backtest
