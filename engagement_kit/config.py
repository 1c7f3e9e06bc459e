"""Settings from the environment, ``.env`` and ``streams.toml``; read lazily, never at import.

Environment variables (an optional ``.env`` in the current directory supplies defaults; the real
environment wins; ``.env.example`` lists them):

``KORE_HOST``
    The platform's API host, e.g. ``https://platform.kore.ai`` (or a regional/on-prem host).
``KORE_CLIENT_ID`` + ``KORE_CLIENT_SECRET``, or ``KORE_JWT``
    The app's credentials (see :mod:`engagement_kit.auth`).
``ENGAGEMENT_KIT_STORE``
    Where the response store lives (see :mod:`engagement_kit.store`).

``streams.toml`` lists the streams a batch report covers, one ``[[stream]]`` table each::

    [[stream]]
    id = "st-1234abcd-..."          # the app's stream id (General Settings page)
    name = "Support bot"            # display name in reports
    tz = "Asia/Kolkata"             # IANA zone the platform aggregates in
    conversation_type = "interactive"   # optional: all | interactive | non_interactive
    conversation_status = "closed"      # optional: all | active | closed
    channels = ["rtm", "msteams"]       # optional: a name or a list; default every channel
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .errors import ConfigError, InvalidQueryError
from .query import EngagementQuery

__all__ = [
    "Settings",
    "StreamConfig",
    "load_env",
    "load_streams",
    "normalize_host",
    "settings_from_env",
]

ENV_FILE = ".env"
ENV_EXAMPLE = ".env.example"
STREAMS_EXAMPLE = "streams.example.toml"
_LOOPBACK_NAMES = {"localhost"}


def load_env(
    env: Mapping[str, str] | None = None, *, dotenv: bool | str | os.PathLike[str] = True
) -> dict[str, str]:
    """The effective settings: ``.env`` values overridden by the environment.

    Parameters
    ----------
    env : mapping, optional
        The environment to read (default ``os.environ``).
    dotenv : bool or path
        ``True`` reads ``.env`` in the current directory when it exists; a path reads that
        file (which must exist); ``False`` reads no file.

    Returns
    -------
    dict
        Variable name → value; empty values are dropped (an empty variable counts as unset).
    """
    merged: dict[str, str] = {}
    if dotenv:
        path = Path(ENV_FILE) if dotenv is True else Path(dotenv)
        if dotenv is not True and not path.is_file():
            raise ConfigError(f"{path}: no such settings file; copy {ENV_EXAMPLE} to create it")
        if path.is_file():
            from dotenv import dotenv_values

            try:
                values = dotenv_values(path)
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"{path}: cannot read it ({exc.__class__.__name__}); fix or delete the file"
                ) from exc
            merged.update({k: v for k, v in values.items() if v})
    source = os.environ if env is None else env
    merged.update({k: v for k, v in source.items() if v})
    return merged


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
            "host) or pass host="
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


@dataclass(frozen=True)
class Settings:
    """Connection settings read from the environment (never holds a secret).

    Attributes
    ----------
    host : str
        The normalised API host, e.g. ``https://platform.kore.ai``.
    store_path : str or None
        ``ENGAGEMENT_KIT_STORE`` when set.
    """

    host: str
    store_path: str | None = None


def host_from_env(
    env: Mapping[str, str] | None = None, *, dotenv: bool | str | os.PathLike[str] = True
) -> str:
    """``KORE_HOST`` from the environment or ``.env``, normalised.

    Raises
    ------
    ConfigError
        Naming ``KORE_HOST`` when it is not set.
    """
    values = load_env(env, dotenv=dotenv)
    host = values.get("KORE_HOST")
    if not host:
        raise ConfigError(
            "no platform host: set KORE_HOST=https://platform.kore.ai (or your regional/on-prem "
            f"host) in the environment or in {ENV_FILE} (see {ENV_EXAMPLE}), or pass host="
        )
    try:
        return normalize_host(host)
    except ConfigError as exc:
        raise ConfigError(f"KORE_HOST: {exc}") from exc


def settings_from_env(
    env: Mapping[str, str] | None = None, *, dotenv: bool | str | os.PathLike[str] = True
) -> Settings:
    """Read :class:`Settings` from the environment and ``.env`` (at call time)."""
    values = load_env(env, dotenv=dotenv)
    return Settings(
        host=host_from_env(values, dotenv=False),
        store_path=values.get("ENGAGEMENT_KIT_STORE"),
    )


class StreamConfig(BaseModel):
    """One stream of ``streams.toml``: which app, its display name, zone and filters.

    Values are validated and normalised exactly as :class:`~engagement_kit.query.EngagementQuery`
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
            from .channels import _channel_list

            data["channels_breakdown"] = tuple(_channel_list(data["channels_breakdown"]))
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
        field, a duplicate id.
    """
    file = Path(path)
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

    unknown = sorted(set(doc) - {"stream"})
    if unknown:
        raise ConfigError(
            f"{file}: unknown top-level key(s) {', '.join(unknown)}; the file holds only "
            "[[stream]] tables"
        )
    entries = doc.get("stream")
    if not entries:
        raise ConfigError(
            f"{file}: no streams; add at least one [[stream]] table with id, name and tz "
            f"(see {STREAMS_EXAMPLE})"
        )
    if not isinstance(entries, list):
        raise ConfigError(f"{file}: 'stream' must be [[stream]] tables, not a single value")

    streams: list[StreamConfig] = []
    seen: dict[str, int] = {}
    for number, entry in enumerate(entries, start=1):
        label = f"{file}: stream #{number}"
        if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            label += f" ({entry['id']})"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{label}: expected a [[stream]] table")
        try:
            stream = StreamConfig(**entry)
        except ConfigError as exc:
            raise ConfigError(f"{label}: {exc}") from exc
        if stream.id in seen:
            raise ConfigError(
                f"{label}: field id: {stream.id!r} is already used by stream #{seen[stream.id]}; "
                "each stream may appear once"
            )
        seen[stream.id] = number
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
    if err.get("type") == "extra_forbidden":
        allowed = ", ".join(StreamConfig.model_fields)
        return f"field {loc}: unknown field; the fields are {allowed}"
    if not loc:  # raised by the model validator: the message starts with the field
        return f"field {msg}"
    return f"field {loc}: {msg}"


def project_file(relative: str | os.PathLike[str]) -> tuple[Path | None, list[Path]]:
    """Find a file of the project checkout (e.g. a notebook): beside the package, else in cwd.

    Returns
    -------
    (Path or None, list of Path)
        The file found (or ``None``) and the places that were tried, for the error message.
    """
    candidates = list(
        dict.fromkeys([Path(__file__).resolve().parents[1] / relative, Path.cwd() / relative])
    )
    found = next((path for path in candidates if path.is_file()), None)
    return found, candidates
