"""engagement-kit: Kore.ai User Engagement Trend (v2) data as tidy pandas frames.

Fetch with :class:`EngagementClient` (or :func:`demo_client` for the built-in demo platform),
analyse with :mod:`engagement_kit.metrics`, chart with :mod:`engagement_kit.charts`, explore with
:class:`Explorer`, and write weekly HTML reports with :func:`render_report` / :func:`render_all`.

Submodules load on first use (PEP 562), so ``import engagement_kit`` stays quick in a kernel:
altair, ipywidgets, papermill and nbconvert are imported only by the parts that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes
from .errors import (
    ApiConnectionError,
    ApiError,
    AuthError,
    ConfigError,
    DashboardError,
    EngagementError,
    InvalidQueryError,
    NotFoundError,
    RateLimitError,
    ReportError,
    ResponseFormatError,
    ServerError,
    StoreError,
)

__version__ = "0.1.0"

# public name -> submodule that defines it (loaded on first attribute access)
_LAZY: dict[str, str] = {
    "DEMO_STREAMS": "demo",
    "Credentials": "auth",
    "Engagement": "tidy",
    "EngagementClient": "client",
    "EngagementQuery": "query",
    "Explorer": "widgets",
    "FetchResult": "client",
    "ResponseStore": "store",
    "SessionsConfig": "sessions",
    "StreamConfig": "config",
    "credentials_from_env": "auth",
    "demo_client": "demo",
    "load_streams": "config",
    "parse_response": "tidy",
    "setup_notebook": "charts",
}
# submodules reachable as attributes without an explicit import: ``ek.metrics.kpis(...)``
_SUBMODULES = frozenset(
    {
        "alerts",
        "auth",
        "channels",
        "charts",
        "checks",
        "cli",
        "client",
        "cohort_charts",
        "cohort_checks",
        "cohort_store",
        "cohort_widgets",
        "cohorts",
        "config",
        "dashboard",
        "dashboard_app",
        "delivery",
        "demo",
        "doctor",
        "echo",
        "errors",
        "files",
        "messages",
        "metrics",
        "project",
        "query",
        "ranges",
        "ratelimit",
        "report",
        "session_cache",
        "sessions",
        "settings",
        "sources",
        "stopping",
        "store",
        "summary",
        "terminal",
        "tidy",
        "weeks",
        "widgets",
    }
)

__all__ = sorted(
    [
        "ApiConnectionError",
        "ApiError",
        "AuthError",
        "ConfigError",
        "DashboardError",
        "EngagementError",
        "InvalidQueryError",
        "NotFoundError",
        "RateLimitError",
        "ReportError",
        "ResponseFormatError",
        "ServerError",
        "StoreError",
        "__version__",
        *_LAZY,
        *_SUBMODULES,
    ]
)


__getattr__, __dir__ = lazy_attributes(
    __name__, {name: f".{module}:{name}" for name, module in _LAZY.items()}, _SUBMODULES, globals()
)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import (
        alerts,
        auth,
        channels,
        charts,
        checks,
        cli,
        client,
        cohort_charts,
        cohort_checks,
        cohort_store,
        cohort_widgets,
        cohorts,
        config,
        dashboard,
        dashboard_app,
        delivery,
        demo,
        doctor,
        echo,
        errors,
        files,
        messages,
        metrics,
        project,
        query,
        ranges,
        ratelimit,
        report,
        session_cache,
        sessions,
        settings,
        sources,
        stopping,
        store,
        summary,
        terminal,
        tidy,
        weeks,
        widgets,
    )
    from .auth import Credentials, credentials_from_env
    from .charts import setup_notebook
    from .client import EngagementClient, FetchResult
    from .config import StreamConfig, load_streams
    from .demo import DEMO_STREAMS, demo_client
    from .query import EngagementQuery
    from .store import ResponseStore
    from .tidy import Engagement, parse_response
    from .widgets import Explorer
