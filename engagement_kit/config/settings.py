"""The one settings model: environment, the project's ``.env`` and defaults, read together.

Where settings come from, highest priority first:

1. the process environment (``KORE_HOST=... engagement-kit report``);
2. the ``.env`` file of the **project folder**;
3. defaults (no host, no credentials, the store's default place).

The project folder is found like git finds its repository: ``ENGAGEMENT_KIT_HOME`` when set
(``engagement-kit --project DIR`` sets it), else the nearest folder, starting at the current
one and walking up, that holds a ``.env`` or a ``streams.toml``. So a notebook kernel started
in ``notebooks/explore/`` reads the ``.env`` at the project's root, as does a report kernel or
the dashboard (they are started with ``ENGAGEMENT_KIT_HOME`` set to the project folder; no
setting, and never a secret, travels as a notebook parameter).

The variables (``.env.example`` lists them):

``KORE_HOST``
    The platform's API host, e.g. ``https://platform.kore.ai``.
``KORE_CLIENT_ID`` + ``KORE_CLIENT_SECRET``, or ``KORE_JWT``
    The app's credentials; the secret and the token are :class:`~pydantic.SecretStr`, so they
    never show in a ``repr`` or an error message.
``ENGAGEMENT_KIT_STORE``
    The response store: a file (SQLite; a relative path counts from the project folder) or a
    ``postgresql://`` URL (a team's store; ``${NAME}`` references are filled from the
    environment or ``.env``); see :mod:`engagement_kit.store` and docs/store.md.
``ENGAGEMENT_KIT_CLAIM_TIMEOUT``
    Seconds after which a message claimed by a ``send`` that never finished is claimed again
    (default 900; see docs/delivery.md).
``ENGAGEMENT_KIT_HOME``
    The project folder (only from the environment: it says where ``.env`` is).
``ENGAGEMENT_KIT_STREAMS``
    The streams file when it is not the project's ``streams.toml`` (``report --config FILE``
    sets it for its report kernels, which read their stream's ``[platform.NAME]`` profile there).
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from engagement_kit.errors import ConfigError

__all__ = [
    "ENV_EXAMPLE",
    "ENV_FILE",
    "HOME_ENV",
    "STREAMS_EXAMPLE",
    "STREAMS_FILE",
    "Project",
    "Settings",
    "check_table_keys",
    "find_project",
    "load_settings",
]

ENV_FILE = ".env"
ENV_EXAMPLE = ".env.example"
STREAMS_FILE = "streams.toml"
STREAMS_EXAMPLE = "streams.example.toml"
#: The variable naming the project folder explicitly (``--project DIR`` sets it).
HOME_ENV = "ENGAGEMENT_KIT_HOME"
#: The variable naming a streams file other than the project's ``streams.toml``.
STREAMS_ENV = "ENGAGEMENT_KIT_STREAMS"
_MARKERS = (ENV_FILE, STREAMS_FILE)

# the mapping that stands in for os.environ while load_settings(env=...) builds a Settings
_ENVIRONMENT: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "engagement_kit_environment", default=None
)


class Project:
    """The project folder and the files of it that exist.

    Attributes
    ----------
    root : Path or None
        The project folder, or ``None`` when none was found (then the current folder is used
        for relative paths and nothing is read from a file).
    explicit : bool
        Whether it came from ``ENGAGEMENT_KIT_HOME`` rather than the walk up.
    searched : list of Path
        The folders looked at, nearest first (for error messages).
    """

    __slots__ = ("explicit", "root", "searched")

    def __init__(self, root: Path | None, *, explicit: bool, searched: list[Path]) -> None:
        self.root = root
        self.explicit = explicit
        self.searched = searched

    @property
    def folder(self) -> Path:
        """The project folder, or the current folder when there is none."""
        return self.root if self.root is not None else Path.cwd()

    @property
    def env_file(self) -> Path | None:
        """The project's ``.env`` when it exists."""
        path = self.folder / ENV_FILE
        return path if self.root is not None and path.is_file() else None

    @property
    def streams_file(self) -> Path | None:
        """The project's ``streams.toml`` when it exists."""
        path = self.folder / STREAMS_FILE
        return path if self.root is not None and path.is_file() else None

    def where(self) -> str:
        """Where settings files were looked for, for an error message."""
        if self.root is not None:
            how = f"{HOME_ENV}" if self.explicit else "found from the current folder"
            return f"project folder {self.root} ({how})"
        start = self.searched[0] if self.searched else Path.cwd()
        return (
            f"no {ENV_FILE} or {STREAMS_FILE} in {start} or any folder above it: run "
            f"`engagement-kit init` there (or copy {ENV_EXAMPLE} to {ENV_FILE}), or set "
            f"{HOME_ENV} / pass --project DIR"
        )

    def __repr__(self) -> str:
        return f"Project(root={self.root!r}, explicit={self.explicit})"


def find_project(
    start: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Project:
    """The project folder: ``$ENGAGEMENT_KIT_HOME``, else the nearest folder with ``.env`` or
    ``streams.toml`` from ``start`` (default the current folder) upwards.

    Raises
    ------
    ConfigError
        When ``ENGAGEMENT_KIT_HOME`` names something that is not a folder.
    """
    environ = os.environ if env is None else env
    home = (environ.get(HOME_ENV) or "").strip()
    if home:
        root = Path(home).expanduser().resolve()
        if not root.is_dir():
            raise ConfigError(
                f"{HOME_ENV}={home}: not a folder; point it at your project folder (the one "
                f"with {ENV_FILE} and {STREAMS_FILE}) or unset it"
            )
        return Project(root, explicit=True, searched=[root])
    here = Path(start if start is not None else Path.cwd()).resolve()
    searched = []
    for folder in (here, *here.parents):
        searched.append(folder)
        if any((folder / marker).is_file() for marker in _MARKERS):
            return Project(folder, explicit=False, searched=searched)
    return Project(None, explicit=False, searched=searched)


class _MappingEnvSource(EnvSettingsSource):
    """The environment source, reading a given mapping instead of ``os.environ``."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        mapping = _ENVIRONMENT.get()
        if mapping is None:
            return super()._load_env_vars()
        return {k: v for k, v in mapping.items() if v}


class Settings(BaseSettings):
    """Every setting of the toolkit, read once from the environment and the project's ``.env``.

    Build it with :func:`load_settings`. Secrets are :class:`~pydantic.SecretStr`: call
    ``.get_secret_value()`` only where the secret is used (signing a token).
    """

    model_config = SettingsConfigDict(
        extra="ignore", env_ignore_empty=True, case_sensitive=True, frozen=True
    )

    host: str | None = Field(None, validation_alias="KORE_HOST")
    client_id: str | None = Field(None, validation_alias="KORE_CLIENT_ID")
    client_secret: SecretStr | None = Field(None, validation_alias="KORE_CLIENT_SECRET")
    jwt: SecretStr | None = Field(None, validation_alias="KORE_JWT")
    store: str | None = Field(None, validation_alias="ENGAGEMENT_KIT_STORE")
    streams: str | None = Field(None, validation_alias=STREAMS_ENV)
    #: Seconds after which an unfinished claim on a message (its sender died) is taken over.
    claim_timeout: float = Field(900.0, gt=0, validation_alias="ENGAGEMENT_KIT_CLAIM_TIMEOUT")
    #: Where the settings were read from (not a setting itself).
    project: Any = Field(None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        env = _MappingEnvSource(
            settings_cls, case_sensitive=True, env_ignore_empty=True, env_parse_none_str=None
        )
        return (init_settings, env, dotenv_settings)

    # -- derived values ---------------------------------------------------------------------
    @property
    def env_file(self) -> Path | None:
        """The ``.env`` that was read, if any."""
        return self.project.env_file if self.project is not None else None

    @property
    def streams_file(self) -> Path | None:
        """``ENGAGEMENT_KIT_STREAMS`` when set, else the project's ``streams.toml`` when it
        exists."""
        if self.streams:
            path = Path(self.streams.strip()).expanduser()
            if not path.is_absolute() and self.project is not None:
                path = self.project.folder / path
            return path
        return self.project.streams_file if self.project is not None else None

    @property
    def store_path(self) -> Path | None:
        """``ENGAGEMENT_KIT_STORE`` as a path (relative ones count from the project folder)."""
        if not self.store or self.store_url:
            return None
        path = Path(self.store.strip()).expanduser()
        if not path.is_absolute() and self.project is not None:
            path = self.project.folder / path
        return path

    @property
    def store_url(self) -> str | None:
        """``ENGAGEMENT_KIT_STORE`` when it is a ``postgresql://`` URL (a team's store), as
        written (``${NAME}`` references unexpanded)."""
        import re

        if self.store and re.match(r"^\s*postgres(ql)?(\+\w+)?://", self.store, re.IGNORECASE):
            return self.store.strip()
        return None

    @property
    def has_platform(self) -> bool:
        """Whether any platform setting is present (host or credentials): the user means the
        real platform, not the demo."""
        return bool(self.host or self.client_id or self.client_secret or self.jwt)

    def where(self) -> str:
        """Where these settings were looked for: the environment and the ``.env`` (or why not)."""
        if self.env_file is not None:
            return f"the environment or {self.env_file}"
        project = self.project
        if project is not None and project.root is not None:
            return (
                f"the environment or {project.root / ENV_FILE} (not there yet: copy "
                f"{ENV_EXAMPLE} or run `engagement-kit init`)"
            )
        return f"the environment ({project.where() if project is not None else 'no project'})"


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    dotenv: bool | str | os.PathLike[str] = True,
    start: str | os.PathLike[str] | None = None,
) -> Settings:
    """Read the :class:`Settings` now: the environment over the project's ``.env``.

    Parameters
    ----------
    env : mapping, optional
        The environment to read (default ``os.environ``); also where ``ENGAGEMENT_KIT_HOME``
        is looked up.
    dotenv : bool or path
        ``True`` reads the project folder's ``.env`` (see :func:`find_project`); a path reads
        that file (which must exist); ``False`` reads no file.
    start : path, optional
        Where the walk up for the project folder starts (default the current folder).

    Raises
    ------
    ConfigError
        For an unreadable ``.env`` or a bad ``ENGAGEMENT_KIT_HOME``, naming the file.
    """
    project = find_project(start, env)
    env_file: Path | None = None
    if dotenv is True:
        env_file = project.env_file
    elif dotenv:
        env_file = Path(dotenv)
        if not env_file.is_file():
            raise ConfigError(f"{env_file}: no such settings file; copy {ENV_EXAMPLE} to create it")
    token = _ENVIRONMENT.set(env)
    try:
        return Settings(_env_file=env_file, project=project)  # type: ignore[call-arg]
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{env_file}: cannot read it ({exc.__class__.__name__}); fix or delete the file"
        ) from exc
    except ValidationError as exc:  # pragma: no cover - every field is an optional string
        raise ConfigError(f"{env_file or 'environment'}: {exc.errors()[0]['msg']}") from None
    finally:
        _ENVIRONMENT.reset(token)


def kernel_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a kernel started from here needs to see the same settings: ``ENGAGEMENT_KIT_HOME``
    set to the project folder (kernels start in other folders). Never a secret: the kernel
    reads the secrets itself from the environment or the project's ``.env``.

    Returns
    -------
    dict
        ``{"ENGAGEMENT_KIT_HOME": folder}``, or ``{}`` when there is no project folder.
    """
    project = find_project(env=env)
    return {HOME_ENV: str(project.root)} if project.root is not None else {}


def known_secrets() -> list[str]:
    """The secret values in the settings (client secret, token), to keep out of parameters,
    messages and pages; ``[]`` when the settings cannot be read (the profiles' secrets too:
    :func:`engagement_kit.config.platforms.known_secrets`)."""
    try:
        settings = load_settings()
    except ConfigError:
        settings = None
    values = [
        os.environ.get("KORE_CLIENT_SECRET", ""),
        os.environ.get("KORE_JWT", ""),
        *(
            s.get_secret_value()
            for s in ((settings.client_secret, settings.jwt) if settings else ())
            if s is not None
        ),
    ]
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def check_table_keys(table: Mapping[str, object], keys: Sequence[str], where: str) -> None:
    """Refuse a ``streams.toml`` table with keys it does not know, naming them and the keys
    it takes (``where`` names the file and the table)."""
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; the keys are " + ", ".join(keys)
        )


def reference_env() -> dict[str, str]:
    """Where ``${NAME}`` values come from: the environment over the project folder's ``.env``
    (the file this module reads; every variable of it, not only ours)."""
    from dotenv import dotenv_values

    values: dict[str, str] = {}
    env_file = find_project().env_file
    if env_file is not None:
        try:
            values.update({k: v for k, v in dotenv_values(env_file).items() if v})
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{env_file}: cannot read it ({exc.__class__.__name__}); fix or delete the file"
            ) from exc
    values.update({k: v for k, v in os.environ.items() if v})
    return values
