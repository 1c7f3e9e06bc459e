"""The host check and the stream model; read lazily, never at import.

The settings (``KORE_HOST``, credentials, ``ENGAGEMENT_KIT_STORE``) are one model,
:class:`~engagement_kit.config.settings.Settings`, read from the environment and the project folder's
``.env`` (see :mod:`engagement_kit.config.settings` for how the project folder is found).

:class:`StreamConfig` is the one stream model: the entries of ``streams.toml``, the Explorer's
stream picker and the demo streams. ``streams.toml`` lists the streams a batch report covers, one ``[[stream]]`` table each::

    [[stream]]
    id = "st-1234abcd-..."          # the app's stream id (General Settings page)
    name = "Support bot"            # display name in reports
    tz = "Asia/Kolkata"             # IANA zone the platform aggregates in
    conversation_type = "interactive"   # optional: all | interactive | non_interactive
    conversation_status = "closed"      # optional: all | active | closed
    channels = "rtm"                    # optional: one channel; default every channel
    channels_breakdown = ["rtm", "msteams"]  # optional: channels compared side by side
    cohorts = true                      # optional: a Cohorts section in the weekly report
    platform = "eu"                     # optional: a [platform.eu] profile (host + credentials)

Without ``platform`` a stream uses the project's settings (``KORE_HOST`` and credentials); see
:mod:`engagement_kit.config.platforms` for the profiles. A stream's identity is its host and id.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, ValidationError, model_validator

from engagement_kit.config.hosts import normalize_host
from engagement_kit.config.platforms import PlatformProfile, parse_platforms
from engagement_kit.config.query import EngagementQuery, channel_list
from engagement_kit.config.settings import STREAMS_EXAMPLE, Settings, load_settings
from engagement_kit.errors import ConfigError, InvalidQueryError

__all__ = [
    "NamedStream",
    "Settings",
    "StreamConfig",
    "configured_streams",
    "host_from_env",
    "load_platforms",
    "load_settings",
    "load_streams",
    "name_stream",
    "normalize_host",
]

#: Keys of a [[stream]] table that belong to delivery (see :mod:`engagement_kit.delivery`).
DELIVERY_KEYS = frozenset({"deliver", "alert", "deadline"})


def host_from_env(
    env: Mapping[str, str] | None = None, *, dotenv: bool | str | os.PathLike[str] = True
) -> str:
    """``KORE_HOST`` from the :class:`~engagement_kit.config.settings.Settings`, normalised.

    Raises
    ------
    ConfigError
        Naming ``KORE_HOST`` and where it was looked for when it is not set.
    """
    settings = load_settings(env, dotenv=dotenv)
    if not settings.host:
        raise ConfigError(
            "no platform host: set KORE_HOST=https://platform.kore.ai (or your regional/on-prem "
            f"host) in {settings.where()}, or give --host"
        )
    try:
        return normalize_host(settings.host)
    except ConfigError as exc:
        raise ConfigError(f"KORE_HOST: {exc}") from exc


class StreamConfig(BaseModel):
    """One stream of ``streams.toml``: which app, its display name, zone and filters.

    Values are validated and normalised exactly as :class:`~engagement_kit.config.query.EngagementQuery`
    does (by building one), so ``conversation_type = "Non Interactive"`` is accepted and stored
    as ``"non_interactive"``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    tz: str
    conversation_type: str = "all"
    conversation_status: str = "all"
    channels: tuple[str, ...] = ()
    #: Channels compared side by side (a *Channels* tab and report section); one request each.
    channels_breakdown: tuple[str, ...] = ()
    #: Channel names offered as hints in the Explorer (a demo stream's channels); not a filter.
    known_channels: tuple[str, ...] = ()
    #: True retention from the session history (getSessions, needs the "Bot Sessions" scope):
    #: the weekly report gets a *Cohorts* section (:mod:`engagement_kit.report.cohorts`) and
    #: ``engagement-kit doctor`` cross-checks a recent week (see :mod:`engagement_kit.metrics.cohorts`).
    #: A TOML ``true``/``false`` only (``"yes"`` or ``1`` is refused, not guessed).
    cohorts: StrictBool = False
    #: The ``[platform.NAME]`` profile the stream lives on; ``None``: the project's settings.
    platform: str | None = None

    @property
    def key(self) -> str:
        """The stream's identity within a project: ``platform/id`` (or the id alone on the
        project's own platform), so the same id on two platforms is two streams."""
        return f"{self.platform}/{self.id}" if self.platform else self.id

    @classmethod
    def from_stream(cls, stream: Any) -> StreamConfig:
        """A :class:`StreamConfig` from a mapping or any object with ``id``, ``name``, ``tz``
        (and optionally the filters; a demo stream's ``channel_names`` become hints).

        Raises
        ------
        ConfigError
            Naming the field that is missing or wrong.
        """
        if isinstance(stream, StreamConfig):
            return stream
        if isinstance(stream, Mapping):
            data = dict(stream)
        else:
            fields = (
                "id",
                "name",
                "tz",
                "conversation_type",
                "conversation_status",
                "channels_breakdown",
                "platform",
            )
            data = {k: getattr(stream, k) for k in fields if getattr(stream, k, None) is not None}
            hints = getattr(stream, "channel_names", ())
            if hints:  # a demo stream: its ``channels`` is a traffic mix, not a filter
                data["known_channels"] = tuple(hints)
            elif getattr(stream, "channels", None):
                data["channels"] = stream.channels
        channels = data.get("channels")
        if isinstance(channels, str):
            data["channels"] = [c.strip() for c in channels.split(",") if c.strip()]
        return cls(**data)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(_describe_validation(exc)) from None

    @model_validator(mode="before")
    @classmethod
    def _validate_like_a_query(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        missing = [name for name in ("id", "name", "tz") if name not in data]
        if missing:
            raise ValueError(f"{missing[0]}: missing (every stream needs id, name and tz)")
        today = dt.date.today()
        query = EngagementQuery(  # raises InvalidQueryError naming the field
            stream_id=data["id"],
            start=today,
            end=today,
            tz=data["tz"],
            conversation_type=data.get("conversation_type", "all"),
            conversation_status=data.get("conversation_status", "all"),
            channels=data.get("channels"),
        )
        if len(query.channels) > 1:
            raise ValueError(
                f"channels: {', '.join(query.channels)} are several channels, but the API "
                "filters by one per request; give one channel, or list them in "
                "channels_breakdown to compare them"
            )
        data.update(
            id=query.stream_id,
            tz=query.tz,
            conversation_type=query.conversation_type,
            conversation_status=query.conversation_status,
            channels=query.channels,
        )
        if data.get("channels_breakdown"):
            data["channels_breakdown"] = tuple(channel_list(data["channels_breakdown"]))
        name = data["name"]
        if isinstance(name, str):
            data["name"] = name.strip()
            if not data["name"]:
                raise ValueError("name: empty; give the stream a display name")
        return data

    def filters(self) -> dict[str, Any]:
        """The keyword arguments for :meth:`EngagementClient.fetch`: tz and the filters."""
        return {
            "tz": self.tz,
            "conversation_type": self.conversation_type,
            "conversation_status": self.conversation_status,
            "channels": list(self.channels) or None,
        }

    def query(
        self, start: dt.date | str, end: dt.date | str, *, aggregation: str = "daily"
    ) -> EngagementQuery:
        """An :class:`EngagementQuery` for this stream over ``start``..``end``."""
        return EngagementQuery(
            stream_id=self.id, start=start, end=end, aggregation=aggregation, **self.filters()
        )


_STREAM_KEY_FIELD = {"stream_id": "id"}


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        raw = file.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{file}: not found; copy {STREAMS_EXAMPLE} to {file.name} and list your streams "
            "as [[stream]] tables (id, name, tz)"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read it ({exc.strerror or exc})") from exc
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text ({exc.reason}); save it as UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    unknown = sorted(set(doc) - {"stream", "defaults", "platform"})
    if unknown:
        raise ConfigError(
            f"{file}: unknown top-level key(s) {', '.join(unknown)}; the file holds only "
            "[[stream]] tables, [platform.NAME] tables and a [defaults] table"
        )
    return doc


def load_platforms(path: str | os.PathLike[str] = "streams.toml") -> dict[str, PlatformProfile]:
    """The ``[platform.NAME]`` profiles of a ``streams.toml`` file, by name (may be empty).

    Raises
    ------
    ConfigError
        As :func:`load_streams`, and naming the platform and key of a bad profile.
    """
    file = Path(path)
    return parse_platforms(_read_toml(file), file)


def load_streams(path: str | os.PathLike[str] = "streams.toml") -> list[StreamConfig]:
    """Read the ``[[stream]]`` tables of a ``streams.toml`` file.

    Returns
    -------
    list of StreamConfig
        In file order.

    Raises
    ------
    ConfigError
        Naming the file, the stream entry (number and id) and the field when something is wrong:
        a missing file, a TOML syntax error, no ``[[stream]]`` tables, an unknown or invalid
        field, a ``platform`` with no ``[platform.NAME]`` table, the same id twice on one host.
    """
    file = Path(path)
    doc = _read_toml(file)
    platforms = parse_platforms(doc, file)
    entries = doc.get("stream")
    if not entries:
        raise ConfigError(
            f"{file}: no streams; add at least one [[stream]] table with id, name and tz "
            f"(see {STREAMS_EXAMPLE})"
        )
    if not isinstance(entries, list):
        raise ConfigError(f"{file}: 'stream' must be [[stream]] tables, not a single value")

    streams: list[StreamConfig] = []
    seen: dict[tuple[str, str], int] = {}
    for number, entry in enumerate(entries, start=1):
        label = f"{file}: stream #{number}"
        if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            label += f" ({entry['id']})"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{label}: expected a [[stream]] table")
        try:  # deliver/alert/deadline: engagement_kit.delivery
            stream = StreamConfig(**{k: v for k, v in entry.items() if k not in DELIVERY_KEYS})
        except ConfigError as exc:
            raise ConfigError(f"{label}: {exc}") from exc
        if stream.platform is not None and stream.platform not in platforms:
            known = ", ".join(platforms) or "none"
            raise ConfigError(
                f"{label}: field platform: {stream.platform!r} has no [platform.{stream.platform}] "
                f"table (platforms in the file: {known}); add one with host, client_id and "
                "client_secret, or remove platform to use the project's settings"
            )
        # identity = host + id: the project's own host is "" here (it is not known yet)
        host = platforms[stream.platform].host if stream.platform else ""
        if (host, stream.id) in seen:
            raise ConfigError(
                f"{label}: field id: {stream.id!r} is already used by stream "
                f"#{seen[(host, stream.id)]} on the same platform; each stream may appear once"
            )
        seen[(host, stream.id)] = number
        streams.append(stream)
    return streams


def _describe_validation(exc: ValidationError) -> str:
    """One line naming the field of a :class:`StreamConfig` (``field tz: ...``)."""
    err = exc.errors()[0]
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, InvalidQueryError):
        field = _STREAM_KEY_FIELD.get(inner.field or "", inner.field) or "entry"
        message = str(inner)
        if inner.field and message.startswith(f"{inner.field}:"):
            message = message[len(inner.field) + 1 :].strip()
        return f"field {field}: {message}"
    loc = ".".join(str(p) for p in err.get("loc", ()))
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if err.get("type") == "bool_type":
        return (
            f"field {loc}: {err.get('input')!r} is not true or false; write {loc} = true "
            "(a TOML boolean, without quotes)"
        )
    if err.get("type") == "extra_forbidden":
        allowed = ", ".join(StreamConfig.model_fields)
        return f"field {loc}: unknown field; the fields are {allowed}"
    if not loc:  # raised by the model validator: the message starts with the field
        return f"field {msg}"
    return f"field {loc}: {msg}"


def project_streams(settings: Settings | None = None) -> list[StreamConfig]:
    """The streams of the project's ``streams.toml``.

    Raises
    ------
    ConfigError
        When the project has no ``streams.toml``, naming where it was looked for.
    """
    settings = settings if settings is not None else load_settings()
    path = settings.streams_file
    if path is None:
        project = settings.project
        if project is not None and project.root is not None:
            raise ConfigError(
                f"no streams: {project.root / 'streams.toml'} does not exist; copy "
                f"{STREAMS_EXAMPLE} there (or run `engagement-kit init`) and list your streams"
            )
        where = project.where() if project is not None else "no project folder"
        raise ConfigError(f"no streams.toml found: {where}")
    return load_streams(path)


# -- one way to name a stream -------------------------------------------------------------------

#: The settings a command-line flag can override, and the flag that names each.
OVERRIDE_FLAGS: dict[str, str] = {
    "name": "--name",
    "tz": "--tz",
    "conversation_type": "--conversation-type",
    "conversation_status": "--conversation-status",
    "channels": "--channels",
}


@dataclasses.dataclass(frozen=True)
class NamedStream:
    """A stream named by its id: its settings, and where each came from.

    Attributes
    ----------
    config : StreamConfig
    configured : bool
        The id is in the project's ``streams.toml`` (or the ``--config`` file, or the demo).
    overridden : tuple of str
        Settings taken from the command line instead (``"tz"``, ``"conversation_type"``, ...).
    where : str
        The file the stream was found in (``"streams.toml"``).
    """

    config: StreamConfig
    configured: bool
    overridden: tuple[str, ...] = ()
    where: str = "streams.toml"

    def note(self) -> str:
        """Where the settings came from, for the report's header and the summary: empty when
        all from ``streams.toml``, ``"tz from the command line"``, or ``"ad hoc: not in
        streams.toml; settings from the command line"``."""
        if not self.configured:
            return f"ad hoc: not in {self.where}; settings from the command line"
        if not self.overridden:
            return ""
        names = ", ".join(f.replace("_", " ") for f in self.overridden)
        return f"from {self.where}; {names} from the command line"


def configured_streams(
    config: str | os.PathLike[str] | None = None,
) -> tuple[list[StreamConfig], str]:
    """The streams an id is looked up in, and their file's name: ``config`` when given, else
    the project's ``streams.toml`` (none when the project has none)."""
    if config is not None:
        return load_streams(config), Path(config).name
    settings = load_settings()
    if settings.streams_file is None:
        return [], "streams.toml"
    return load_streams(settings.streams_file), "streams.toml"


def name_stream(
    stream_id: str,
    streams: Sequence[StreamConfig],
    *,
    where: str = "streams.toml",
    **overrides: Any,
) -> NamedStream:
    """The stream ``stream_id`` means: its entry in ``streams`` with every setting, each
    override that is not ``None`` replacing one setting (and named in :meth:`NamedStream.note`).

    An id that is not configured is an ad-hoc stream: it needs ``tz`` (no silent UTC); its
    name defaults to the id and its filters to all.

    Raises
    ------
    ConfigError
        An unconfigured id without ``tz``, in the command line's words (``--tz``).
    """
    unknown = set(overrides) - set(OVERRIDE_FLAGS)
    if unknown:
        raise TypeError(f"name_stream: unknown setting {sorted(unknown)[0]!r}")
    given = {k: v for k, v in overrides.items() if v is not None and v != ""}
    if isinstance(given.get("channels"), str):
        given["channels"] = channel_list(given["channels"])
    base = next((s for s in streams if s.id == stream_id.strip()), None)
    if base is not None:
        changed = tuple(k for k, v in given.items() if _setting(base, k) != _normalised(k, v))
        data = {**base.model_dump(), **given}
        return NamedStream(_with_flags(data, given), True, changed, where)
    if "tz" not in given:
        configured = f"is not in {where}" if streams else f"is not configured (no {where})"
        raise ConfigError(
            f"stream {stream_id} {configured}: give its time zone with --tz (for example "
            "--tz Europe/Berlin), or add the stream to streams.toml"
        )
    data = {"id": stream_id, "name": given.pop("name", None) or stream_id.strip(), **given}
    return NamedStream(_with_flags(data, given), False, tuple(given), where)


def _with_flags(data: dict[str, Any], given: Mapping[str, Any]) -> StreamConfig:
    """``StreamConfig(**data)``; a bad value from the command line is named by its flag
    (``--tz: 'Mars/Base' is not an IANA time-zone name ...``)."""
    try:
        return StreamConfig(**data)
    except ConfigError as exc:
        text = str(exc)
        for key in given:
            if text.startswith(f"field {key}"):
                raise ConfigError(OVERRIDE_FLAGS[key] + text[len(f"field {key}") :]) from None
        raise


def _setting(config: StreamConfig, key: str) -> Any:
    value = getattr(config, key)
    return tuple(value) if isinstance(value, list | tuple) else value


def _normalised(key: str, value: Any) -> Any:
    if key == "channels":
        return tuple(value)
    if key in ("conversation_type", "conversation_status") and isinstance(value, str):
        return value.strip().lower().replace(" ", "_").replace("-", "_")
    return value.strip() if isinstance(value, str) else value
