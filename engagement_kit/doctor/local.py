"""The checks on this machine: the settings, ``streams.toml`` and the response store."""

from __future__ import annotations

import os
from pathlib import Path

from engagement_kit.client.auth import Credentials, credentials_from_env
from engagement_kit.config.settings import Settings, load_settings
from engagement_kit.config.streams import StreamConfig, host_from_env, load_streams, project_streams
from engagement_kit.doctor.model import FAIL, OK, Check
from engagement_kit.errors import ConfigError, StoreError
from engagement_kit.formatting import display_path
from engagement_kit.store import ResponseStore

#: No real stream has this id: clearing its answers is a write that changes nothing.


def check_settings() -> tuple[Settings | None, str | None, Credentials | None, Check]:

    try:
        settings = load_settings()
    except ConfigError as exc:
        return None, None, None, Check("settings", FAIL, "cannot read them", str(exc), True)
    if settings.env_file is not None:
        found = [f"read {display_path(settings.env_file)}"]
    else:
        found = [f"no .env read: {settings.where()}"]
    problems: list[str] = []
    host: str | None = None
    credentials = None
    try:
        host = host_from_env()
        found.append(f"KORE_HOST={host}")
    except ConfigError as exc:
        problems.append(str(exc))
    try:
        credentials = credentials_from_env()
        if credentials.client_id is not None:
            found.append(f"client id {credentials.client_id} + secret (not shown)")
        else:
            found.append("KORE_JWT (not shown)")
    except ConfigError as exc:
        problems.append(str(exc))
    detail = "; ".join(found)
    if problems:
        check = Check("settings", FAIL, detail, "; ".join(problems), settings=True)
        return settings, host, credentials, check
    return settings, host, credentials, Check("settings", OK, detail)


def check_streams(
    config: str | os.PathLike[str] | None, settings: Settings | None
) -> tuple[list[StreamConfig], Check]:

    path = Path(config) if config is not None else (settings.streams_file if settings else None)
    try:
        if config is not None:
            streams = load_streams(config)
        elif settings is None:
            raise ConfigError("no settings to find the project's streams.toml (see settings)")
        else:
            streams = project_streams(settings)
    except ConfigError as exc:
        shown = f"cannot use {display_path(path)}" if path is not None else "no streams.toml"
        return [], Check("streams.toml", FAIL, shown, str(exc), True)
    names = ", ".join(s.name for s in streams)
    count = f"{len(streams)} stream{'s' if len(streams) != 1 else ''}"
    return streams, Check("streams.toml", OK, f"{count} in {display_path(path)} ({names})")


def stream_label(stream: StreamConfig) -> str:
    return f"stream {stream.name}"


def check_store() -> Check:

    name = "store"
    try:
        store = ResponseStore()
    except (StoreError, ValueError) as exc:
        return Check(name, FAIL, str(exc), "set ENGAGEMENT_KIT_STORE to a writable file path")
    shown = display_path(store.path) if store.path is not None else store.shown
    try:
        with store:
            store.check_writable()  # folder and file writable, a write transaction, schema current
    except StoreError as exc:
        return Check(name, FAIL, f"{shown} cannot be written", str(exc))
    return Check(name, OK, f"{shown} is writable ({store.backend})")
