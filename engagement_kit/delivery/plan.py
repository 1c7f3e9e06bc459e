"""The delivery plan: ``streams.toml``'s ``deliver``/``alert`` keys and ``[defaults]``, per stream."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Sequence
from pathlib import Path

from engagement_kit.config.settings import check_table_keys, reference_env
from engagement_kit.config.streams import StreamConfig, load_streams
from engagement_kit.delivery.destinations import Destination, check_destination
from engagement_kit.delivery.rules import AlertRule, parse_rules
from engagement_kit.errors import ConfigError

#: The longest deadline allowed: one message's attempts must end well before another process
#: may take over its claim (``ENGAGEMENT_KIT_CLAIM_TIMEOUT``, 15 minutes by default).
MAX_DEADLINE = 600.0
DEFAULTS_KEYS = ("deliver", "alert", "digest", "link", "deadline")


@dataclasses.dataclass(frozen=True)
class StreamPlan:
    """One stream's destinations and alert rules (its own, else the ``[defaults]``)."""

    config: StreamConfig
    deliver: tuple[Destination, ...]
    alerts: tuple[AlertRule, ...]
    #: Seconds each attempt of each of its destinations may take (None: the default).
    deadline: float | None = None

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
    #: ``[defaults]``' ``digest``: the default of every destination that does not say; each
    #: destination's own is :attr:`Destination.digest`.
    digest: bool = False
    link: str | None = None
    #: ``--deadline``: seconds for every destination, over ``streams.toml``'s ``deadline``.
    deadline: float | None = None

    def stream(self, stream_id: str) -> StreamPlan | None:
        return next((s for s in self.streams if s.id == stream_id), None)

    def deadline_for(self, stream_ids: Sequence[str]) -> float:
        """Seconds one attempt may take for a message of these streams: ``--deadline``, else
        the longest of their ``deadline`` (a stream's own, else ``[defaults]``), else
        :data:`transport.DEADLINE` (60)."""
        from engagement_kit.delivery import transport

        if self.deadline:
            return self.deadline
        found = [s.deadline for i in stream_ids if (s := self.stream(i)) and s.deadline]
        return max(found) if found else transport.DEADLINE

    @property
    def digest_destinations(self) -> set[str]:
        """The destinations (as written) that get one digest for the run."""
        return {d.template for s in self.streams for d in s.deliver if d.digest}

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


def _destinations(value: object, where: str, digest: bool = False) -> tuple[Destination, ...]:
    if isinstance(value, str | dict):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"{where}: deliver must be a list of Apprise URLs")
    return tuple(check_destination(u, where, digest=digest) for u in value)


def _deadline(value: object, where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= MAX_DEADLINE
    ):
        raise ConfigError(
            f"{where}: deadline must be the seconds one attempt of a destination may take, a "
            f"number above 0 and at most {MAX_DEADLINE:g}, e.g. deadline = 60"
        )
    return float(value)


def load_plan(path: str | os.PathLike[str] = "streams.toml") -> DeliveryPlan:
    """Read the streams and their ``deliver``/``alert`` keys, and ``[defaults]``.

    Raises
    ------
    ConfigError
        Naming the file, the stream or ``[defaults]``, and the field.
    """
    file = Path(path)
    configs = load_streams(file)  # every stream error, with the file's wording
    doc = tomllib.loads(file.read_text(encoding="utf-8"))
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError(f"{file}: [defaults] must be a table")
    where = f"{file}: [defaults]"
    check_table_keys(defaults, DEFAULTS_KEYS, where)
    digest = defaults.get("digest", False)
    if not isinstance(digest, bool):
        raise ConfigError(f"{where}: digest must be true or false")
    default_deliver = _destinations(defaults.get("deliver", []), where, digest)
    default_alerts = parse_rules(defaults.get("alert"), where=where)
    link = defaults.get("link")
    if link is not None and (not isinstance(link, str) or not link.strip()):
        raise ConfigError(f"{where}: link must be the URL (or folder) where reports/ is published")
    default_deadline = _deadline(defaults["deadline"], where) if "deadline" in defaults else None
    streams = []
    for number, (config, entry) in enumerate(zip(configs, doc["stream"], strict=True), start=1):
        label = f"{file}: stream #{number} ({config.id})"
        deadline = _deadline(entry["deadline"], label) if "deadline" in entry else default_deadline
        deliver = (
            _destinations(entry["deliver"], label, digest)
            if "deliver" in entry
            else default_deliver
        )
        rules = parse_rules(entry["alert"], where=label) if "alert" in entry else default_alerts
        for rule in rules:
            for url in rule.deliver or ():
                check_destination(url, f"{label}: alert {rule.name!r}")
        streams.append(StreamPlan(config, deliver, rules, deadline))
    plan = DeliveryPlan(tuple(streams), digest=digest, link=link.strip() if link else None)
    _check_schemes(plan.destinations, file)
    _check_one_id_per_delivery(plan, file)
    return plan


def _check_one_id_per_delivery(plan: DeliveryPlan, file: Path) -> None:
    """Delivery records what it sent and which alerts fired by stream id: the same id on two
    platforms (two streams) with destinations or rules would share that record, so refuse it."""
    seen: dict[str, StreamPlan] = {}
    for stream in plan.streams:
        first = seen.setdefault(stream.id, stream)
        if first is stream:
            continue
        if first.deliver or first.alerts or stream.deliver or stream.alerts:
            raise ConfigError(
                f"{file}: stream {stream.id} is listed on two platforms "
                f"({first.config.platform or 'the project settings'} and "
                f"{stream.config.platform or 'the project settings'}) and has deliver or alert "
                "keys; delivery keeps one record per stream id, so deliver only one of them "
                "(or give the other deliver = [] and no alert rules)"
            )


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


def plan_for(
    configs: Sequence[StreamConfig] | None,
    config_file: str | os.PathLike[str] | None,
    *,
    send: bool,
    dry_run: bool,
    stream_ids: Sequence[str] | None = None,
    deadline: float | None = None,
) -> DeliveryPlan:
    """The plan of ``config_file`` (or of ``configs`` without delivery), checked for sending.

    When sending for real, every ``${NAME}`` must be set (fail before the long report run).
    ``deadline`` (``--deadline``) overrides every stream's ``deadline``.

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
    if deadline is not None:
        if not 0 < deadline <= MAX_DEADLINE:
            raise ConfigError(
                f"--deadline {deadline:g}: give the seconds one attempt of a destination may "
                f"take, above 0 and at most {MAX_DEADLINE:g} (default 60)"
            )
        plan = dataclasses.replace(plan, deadline=float(deadline))
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
                f"[defaults] {where} (see the page 'Delivery and alerts' of the docs)"
            )
        if not dry_run:
            env = reference_env()
            for d in plan.destinations:
                d.resolve(env)
    return plan
