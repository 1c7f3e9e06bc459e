"""Where data comes from: the built-in demo platform or the real one; one client for each.

The report kernels, the CLI and the dashboard all ask :func:`client_for`, so "which client for
this source" is decided in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engagement_kit.errors import ConfigError, InvalidQueryError

if TYPE_CHECKING:
    from engagement_kit.client import EngagementClient
    from engagement_kit.config.platforms import PlatformProfile

__all__ = ["SOURCES", "check_source", "client_for", "platform_profile"]

#: Where the data comes from: the built-in demo platform, or the real one (``KORE_*``).
SOURCES: tuple[str, ...] = ("demo", "platform")


def check_source(source: object) -> str:
    """``source`` if it is one of :data:`SOURCES`.

    Raises
    ------
    InvalidQueryError
        Naming the two sources.
    """
    if source not in SOURCES:
        raise InvalidQueryError(
            f"source: {source!r} is not a data source; use 'demo' (the built-in demo platform) "
            "or 'platform' (KORE_HOST and credentials from the environment)",
            field="source",
        )
    return str(source)


def client_for(
    source: str, host: str | None = None, platform: str | None = None
) -> EngagementClient:
    """A new client for ``source``: :func:`~engagement_kit.demo.demo_client` or an
    :class:`~engagement_kit.client.EngagementClient` on ``host`` (default ``$KORE_HOST``) with
    credentials from the environment.

    With ``platform`` (a stream's ``platform =``), the client of that platform: for the demo one
    of its two demo platforms (:data:`~engagement_kit.demo.DEMO_REGIONS`), else the
    ``[platform.NAME]`` profile of the streams file (its host and its credentials).

    Raises
    ------
    ConfigError
        An unknown platform, or a variable of its profile that is not set, naming both.
    """
    if check_source(source) == "demo":
        from engagement_kit.demo import demo_client  # the demo platform loads only when asked for

        return demo_client(region=platform or None)
    from engagement_kit.client import EngagementClient

    if platform:
        from engagement_kit.client.auth import credentials_for

        profile = platform_profile(platform)
        return EngagementClient(host=profile.host, credentials=credentials_for(profile))
    return EngagementClient(host=host or None)


def platform_profile(name: str) -> PlatformProfile:
    """The ``[platform.NAME]`` profile of the streams file (``$ENGAGEMENT_KIT_STREAMS`` or the
    project's ``streams.toml``).

    Raises
    ------
    ConfigError
        No streams file, or no such profile in it, naming the file.
    """
    from engagement_kit.config.settings import load_settings
    from engagement_kit.config.streams import load_platforms

    file = load_settings().streams_file
    if file is None:
        raise ConfigError(
            f"platform {name}: no streams.toml to read its [platform.{name}] table from; run "
            "from the project folder (or set ENGAGEMENT_KIT_HOME)"
        )
    profiles = load_platforms(file)
    if name not in profiles:
        raise ConfigError(f"platform {name}: {file} has no [platform.{name}] table")
    return profiles[name]


def platform_label(source: str, platform: str | None) -> str:
    """The label of a stream's platform for people (its profile's ``label``, else its name);
    ``""`` without a platform, for the demo, or when the profile cannot be read."""
    if not platform or check_source(source) == "demo":
        return ""
    try:
        return platform_profile(platform).display_name
    except (ConfigError, OSError):
        return platform
