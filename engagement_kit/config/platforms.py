"""Platform profiles: ``[platform.NAME]`` tables of ``streams.toml``, one per platform host.

A team with bots on several Kore.ai hosts (``platform.kore.ai``, ``de-platform.kore.ai``,
``jp-platform.kore.ai``, an on-premises host), each with its own JWT app, names them once::

    [platform.eu]
    host = "https://de-platform.kore.ai"
    client_id = "${EU_CLIENT_ID}"          # the app's client id (may also be written as is)
    client_secret = "${EU_CLIENT_SECRET}"  # only as a ${NAME} reference
    # token = "${EU_JWT}"                  # or a ready-made token, only as a ${NAME} reference

    [[stream]]
    id = "st-..."
    name = "Support bot (EU)"
    tz = "Europe/Berlin"
    platform = "eu"

A stream without ``platform`` uses the project's settings (``KORE_HOST`` and the credentials of
the environment or ``.env``), as before. ``${NAME}`` is replaced by the environment variable,
else the ``.env`` value, only when a client is built (the same references as ``deliver`` URLs);
a secret written in the file is refused. A profile holds only the written form: its ``repr``,
the papermill parameters and the sidecars carry the profile's name and host, never a secret.

The identity of a stream is its host and id: the same id on two hosts is two streams.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from engagement_kit.config.hosts import normalize_host
from engagement_kit.config.settings import check_table_keys, load_settings, reference_env
from engagement_kit.config.settings import known_secrets as settings_secrets
from engagement_kit.errors import ConfigError

__all__ = [
    "PLATFORM_KEYS",
    "PlatformProfile",
    "known_secrets",
    "parse_platforms",
]

#: The keys of a ``[platform.NAME]`` table.
PLATFORM_KEYS = ("host", "client_id", "client_secret", "token", "label")
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
#: Keys whose value is a secret: only a ``${NAME}`` reference is accepted.
_SECRET_KEYS = ("client_secret", "token")


class PlatformProfile(BaseModel):
    """One ``[platform.NAME]`` table as written (``${NAME}`` references unexpanded).

    Attributes
    ----------
    name : str
        The profile's name (``eu``), what a stream's ``platform =`` says.
    host : str
        The API host, normalised (``https://de-platform.kore.ai``).
    client_id, client_secret, token : str or None
        As written; the secret and the token are ``${NAME}`` references.
    label : str or None
        What the portfolio's *Platform* column shows (``EU (Frankfurt)``); default the name.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    host: str
    client_id: str | None = None
    client_secret: str | None = None
    token: str | None = None
    label: str | None = None

    @property
    def display_name(self) -> str:
        """The region label people read: ``label``, else the profile's name."""
        return self.label or self.name

    @property
    def references(self) -> list[str]:
        """The variables the profile names (``EU_CLIENT_ID``, ``EU_CLIENT_SECRET``)."""
        return [
            n
            for value in (self.client_id, self.client_secret, self.token)
            if value
            for n in _REF.findall(value)
        ]

    def _expand(self, value: str, env: Mapping[str, str], key: str) -> str:
        missing = [n for n in _REF.findall(value) if not env.get(n)]
        if missing:
            raise ConfigError(
                f"platform {self.name}: {key} = ${{{missing[0]}}} is not set; set "
                f"{missing[0]} in the environment or in .env"
            )
        return _REF.sub(lambda m: env[m.group(1)], value).strip()

    def secrets(self, env: Mapping[str, str] | None = None) -> list[str]:
        """The values of the profile's secret references that are set (to mask in output)."""
        env = reference_env() if env is None else env
        found = []
        for key in _SECRET_KEYS:
            value = getattr(self, key)
            if value:
                found += [env[n] for n in _REF.findall(value) if env.get(n)]
        return [v.strip() for v in found if v.strip()]

    def credential_values(
        self, env: Mapping[str, str] | None = None
    ) -> tuple[str | None, str | None, str | None]:
        """``(client_id, client_secret, token)`` with the references replaced by their values.

        Raises
        ------
        ConfigError
            Naming the platform and the variable (never a value) when one is not set.
        """
        env = reference_env() if env is None else env
        if self.token:
            return None, None, self._expand(self.token, env, "token")
        assert self.client_id and self.client_secret  # checked by parse_platforms
        return (
            self._expand(self.client_id, env, "client_id"),
            self._expand(self.client_secret, env, "client_secret"),
            None,
        )

    def __repr__(self) -> str:
        return f"PlatformProfile(name={self.name!r}, host={self.host!r})"

    __str__ = __repr__


def parse_platforms(doc: Mapping[str, Any], file: Path) -> dict[str, PlatformProfile]:
    """The ``[platform.NAME]`` tables of a parsed ``streams.toml``, by name.

    Raises
    ------
    ConfigError
        Naming the file, the platform and the key: an unknown key, no host, no credentials,
        a secret written in the file.
    """
    tables = doc.get("platform", {})
    if not isinstance(tables, Mapping):
        raise ConfigError(
            f"{file}: 'platform' must be [platform.NAME] tables, e.g. [platform.eu] with host, "
            "client_id and client_secret"
        )
    profiles: dict[str, PlatformProfile] = {}
    for name, table in tables.items():
        where = f"{file}: [platform.{name}]"
        if not _NAME.fullmatch(name):
            raise ConfigError(
                f"{where}: the name must be letters, digits, - or _ (at most 40), e.g. eu"
            )
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: expected a table with host, client_id and client_secret")
        check_table_keys(table, PLATFORM_KEYS, where)
        values = {}
        for key in PLATFORM_KEYS:
            value = table.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where}: {key} must be a non-empty string")
            values[key] = value.strip()
        for key in _SECRET_KEYS:
            value = values.get(key)
            if value is not None and not _REF.fullmatch(value):
                upper = f"{name.upper().replace('-', '_')}_{'JWT' if key == 'token' else 'CLIENT_SECRET'}"
                raise ConfigError(
                    f"{where}: {key} is written in the file; put it in the environment or .env "
                    f'and write {key} = "${{{upper}}}" instead'
                )
        if "host" not in values:
            raise ConfigError(f'{where}: host missing; e.g. host = "https://de-platform.kore.ai"')
        try:
            values["host"] = normalize_host(values["host"])
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        has_pair = "client_id" in values and "client_secret" in values
        if "token" in values and ("client_id" in values or "client_secret" in values):
            raise ConfigError(
                f"{where}: give either token or client_id and client_secret, not both"
            )
        if "token" not in values and not has_pair:
            lack = "client_secret" if "client_id" in values else "client_id"
            raise ConfigError(
                f"{where}: {lack} missing; give client_id and client_secret (as ${{NAME}} "
                "references to the environment or .env), or token"
            )
        profiles[name] = PlatformProfile(name=name, **values)
    return profiles


def known_secrets() -> list[str]:
    """Every secret value to keep out of parameters, messages and pages: the settings' (client
    secret, token) and those of the streams file's ``[platform.NAME]`` profiles; ``[]`` for
    what cannot be read."""
    import tomllib

    found = settings_secrets()
    try:
        file = load_settings().streams_file
        if file is not None and file.is_file():
            doc = tomllib.loads(file.read_text(encoding="utf-8"))
            env = reference_env()
            for profile in parse_platforms(doc, file).values():
                found += profile.secrets(env)
    except (ConfigError, OSError, UnicodeDecodeError, ValueError):
        pass
    return list(dict.fromkeys(found))
