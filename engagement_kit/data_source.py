"""Where data comes from: the built-in demo platform or the real one; one client for each.

The report kernels, the CLI and the dashboard all ask :func:`client_for`, so "which client for
this source" is decided in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engagement_kit.errors import InvalidQueryError

if TYPE_CHECKING:
    from engagement_kit.client import EngagementClient

__all__ = ["SOURCES", "check_source", "client_for"]

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


def client_for(source: str, host: str | None = None) -> EngagementClient:
    """A new client for ``source``: :func:`~engagement_kit.demo.demo_client` or an
    :class:`~engagement_kit.client.EngagementClient` on ``host`` (default ``$KORE_HOST``) with
    credentials from the environment.
    """
    if check_source(source) == "demo":
        from engagement_kit.demo import demo_client  # the demo platform loads only when asked for

        return demo_client()
    from engagement_kit.client import EngagementClient

    return EngagementClient(host=host or None)
