"""The one place that talks to the platform: :class:`EngagementClient`, split by job.

``core`` (the client: store, range chunks, parsing), ``retry`` (what is retried, the paced POST),
``http_status`` (an HTTP answer as its text or the matching error), ``batch`` (``fetch_many``,
``fetch_weeks``), ``range_limits`` (the longest range a host accepts, learned), ``options``
(checks of numeric options). Every name is importable from ``engagement_kit.client``, as before
the split.
"""

from __future__ import annotations

from engagement_kit.client.batch import FetchResult
from engagement_kit.client.core import (
    API_PATH,
    DEFAULT_MAX_RETRIES,
    DEFAULT_REQUESTS_PER_HOUR,
    DEFAULT_REQUESTS_PER_MINUTE,
    DEFAULT_RETRY_BUDGET,
    DEFAULT_TIMEOUT,
    EngagementClient,
    StreamRateLimiter,
)
from engagement_kit.client.retry import RETRY_STATUSES

__all__ = [
    "API_PATH",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_REQUESTS_PER_HOUR",
    "DEFAULT_REQUESTS_PER_MINUTE",
    "DEFAULT_RETRY_BUDGET",
    "DEFAULT_TIMEOUT",
    "RETRY_STATUSES",
    "EngagementClient",
    "FetchResult",
    "StreamRateLimiter",
]
