"""The demo platform: a deterministic simulator of the User Engagement Trend API v2.

It lets the toolkit work before anyone has credentials, and it backs the notebooks, ``make
report`` and the tests:

* :data:`DEMO_STREAMS`: the demo apps (``id``, ``name``, ``tz``, ...), each with a deterministic
  session log starting 2025-01-01 (:func:`session_log`, see :mod:`.sessions`);
* :class:`DemoPlatform`: the API's exact answers, edges (400/401/404/405/429) included
  (:mod:`.platform`; the numbers' meanings in :mod:`.trend`), and the Sessions History API
  (getSessions) from the same log, its unknowns set by :class:`SessionsSwitches`
  (:mod:`.sessions_api`);
* :func:`demo_client`: an :class:`~engagement_kit.client.EngagementClient` wired to the platform
  through an in-process ``httpx.MockTransport`` (no port, no credentials to set);
* :func:`running_server` / :func:`serve`: the same platform over real HTTP on 127.0.0.1, with
  optional latency and fault injection (:mod:`.server`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from engagement_kit.demo.platform import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_HOST,
    DEMO_REGIONS,
    RATE_LIMIT_MESSAGE,
    DemoPlatform,
    DemoRegion,
)
from engagement_kit.demo.server import FAULT_KINDS, DemoServer, ServerStats, running_server, serve
from engagement_kit.demo.sessions import (
    DEMO_STREAMS,
    LOG_START,
    DemoStream,
    clear_cache,
    get_stream,
    session_log,
)
from engagement_kit.demo.sessions_api import SessionsSwitches

if TYPE_CHECKING:
    from engagement_kit.client import EngagementClient
    from engagement_kit.config.streams import StreamConfig

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_COHORT_STREAMS",
    "DEMO_HOST",
    "DEMO_REGIONS",
    "DEMO_STREAMS",
    "FAULT_KINDS",
    "LOG_START",
    "RATE_LIMIT_MESSAGE",
    "DemoPlatform",
    "DemoRegion",
    "DemoServer",
    "DemoStream",
    "ServerStats",
    "SessionsSwitches",
    "clear_cache",
    "demo_client",
    "demo_region",
    "demo_region_of",
    "demo_store_path",
    "demo_streams",
    "get_stream",
    "running_server",
    "serve",
    "session_log",
]


#: Demo streams whose report has the *Cohorts* section (``cohorts = true``): the mid-size HR
#: bot, whose session history is a few requests a week (the retail bot's is dozens).
DEMO_COHORT_STREAMS = frozenset({"st-demo-hr-us"})


def demo_streams() -> list[StreamConfig]:
    """The demo platform's streams as :class:`~engagement_kit.config.streams.StreamConfig`, as
    ``report --demo``, the dashboard and the Explorer's picker show them: each with its
    channels side by side, the HR bot with its *Cohorts* section, each on its demo platform
    (:data:`DEMO_REGIONS`: the retail and HR bots on ``us``, the IT bot on ``eu``)."""
    from engagement_kit.config.streams import StreamConfig

    configs = [StreamConfig.from_stream(s) for s in DEMO_STREAMS]
    return [
        c.model_copy(
            update={
                "channels_breakdown": c.known_channels,
                "cohorts": c.id in DEMO_COHORT_STREAMS,
                "platform": demo_region_of(c.id),
            }
        )
        for c in configs
    ]


def demo_region_of(stream_id: str) -> str | None:
    """The name of the demo platform (:data:`DEMO_REGIONS`) serving ``stream_id``, if any."""
    return next((r.name for r in DEMO_REGIONS.values() if stream_id in r.stream_ids), None)


def demo_region(name: str) -> DemoRegion:
    """The demo platform called ``name``.

    Raises
    ------
    ConfigError
        Naming the demo platforms.
    """
    from engagement_kit.errors import ConfigError

    try:
        return DEMO_REGIONS[name]
    except KeyError:
        raise ConfigError(
            f"platform {name!r}: the demo has the platforms {', '.join(DEMO_REGIONS)}"
        ) from None


#: Changes whenever the demo platform's answers for the same request change (2: sessions carry
#: outcomes that depend on stream, channel, hour and the user), so that a machine's stored demo
#: answers of an older toolkit are never served as today's.
DEMO_ANSWERS_VERSION = 2


def demo_store_path() -> Path:
    """The demo platform's own response store: ``demo-responses.v2.sqlite3`` beside the real one.

    Demo answers never go into the store of real answers (``$ENGAGEMENT_KIT_STORE`` or the
    default), so a demo run can neither mix invented numbers into a real store nor be mistaken
    for its long-term record. The name carries :data:`DEMO_ANSWERS_VERSION`.
    """
    from engagement_kit.store import default_store_path

    real = default_store_path()
    version = f".v{DEMO_ANSWERS_VERSION}"
    return real.with_name(f"demo-{real.stem}{version}{real.suffix or '.sqlite3'}")


def demo_client(
    *,
    store: Any = None,
    platform: DemoPlatform | None = None,
    region: str | None = None,
    **client_kwargs: Any,
) -> EngagementClient:
    """An :class:`~engagement_kit.client.EngagementClient` answered by the demo platform.

    Parameters
    ----------
    store : ResponseStore, None or False
        ``None`` = the demo's own store (:func:`demo_store_path`, never the store of real
        answers), ``False`` = no store, or a given store.
    platform : DemoPlatform, optional
        The platform to talk to (default: a new one on the real clock, with the platform's
        rate limits).
    region : str, optional
        One demo platform of :data:`DEMO_REGIONS` (its host, its app's credentials, its
        streams); default the original demo host, which serves every demo stream.
    **client_kwargs
        Any other :class:`EngagementClient` argument (``timeout``, ``max_retries``, ...).

    Returns
    -------
    EngagementClient
        Talking to :data:`DEMO_HOST` through an in-process ``httpx.MockTransport``, with the
        demo credentials. Its ``sessions_config`` asks getSessions for pages of 1,000 (the
        default platform serves them; one you pass may clamp to its own maximum).
    """
    from engagement_kit.client import EngagementClient
    from engagement_kit.client.auth import Credentials
    from engagement_kit.client.sessions import SessionsConfig
    from engagement_kit.store import ResponseStore

    # getSessions pages: the demo serves up to 1,000 sessions a page (the platform's maximum is
    # unknown, the client's default stays 100), so the demo's cohorts load in seconds
    host, client_id, client_secret = DEMO_HOST, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    streams = DEMO_STREAMS
    if region is not None:
        place = demo_region(region)
        host, client_id, client_secret = place.host, place.client_id, place.client_secret
        streams = tuple(s for s in DEMO_STREAMS if s.id in place.stream_ids)
    platform = (
        DemoPlatform(
            sessions=SessionsSwitches(max_limit=1000),
            streams=streams,
            client_id=client_id,
            client_secret=client_secret,
        )
        if platform is None
        else platform
    )
    own_store = store is None
    client = EngagementClient(
        host=host,
        credentials=Credentials(client_id=client_id, client_secret=client_secret),
        store=ResponseStore(demo_store_path()) if own_store else store,
        transport=httpx.MockTransport(platform.handle),
        close_store=own_store,  # the demo store is closed with the client, like the default store
        sessions_config=SessionsConfig(page_size=1000),
        **client_kwargs,
    )
    return client
