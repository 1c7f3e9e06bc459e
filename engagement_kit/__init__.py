"""engagement-kit: Kore.ai User Engagement Trend (v2) data as tidy pandas frames.

Fetch with :class:`EngagementClient` (or :func:`demo_client` for the built-in demo platform),
analyse with :mod:`engagement_kit.metrics`, chart with :mod:`engagement_kit.charts`, explore with
:class:`Explorer`, and write weekly HTML reports with :func:`render_report` / :func:`render_all`.

Submodules load on first use (PEP 562), so ``import engagement_kit`` stays quick in a kernel:
altair, ipywidgets, papermill and nbconvert are imported only by the parts that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engagement_kit._lazy import lazy_attributes
from engagement_kit.errors import EngagementError

__version__ = "0.1.0"

# public name -> "module:attribute" that defines it (loaded on first attribute access)
_LAZY: dict[str, str] = {
    "Engagement": "engagement_kit.tidy:Engagement",
    "EngagementClient": "engagement_kit.client:EngagementClient",
    "EngagementQuery": "engagement_kit.config.query:EngagementQuery",
    "Explorer": "engagement_kit.explorer:Explorer",
    "FetchResult": "engagement_kit.client:FetchResult",
    "ResponseStore": "engagement_kit.store:ResponseStore",
    "StreamConfig": "engagement_kit.config.streams:StreamConfig",
    "demo_client": "engagement_kit.demo:demo_client",
    "load_streams": "engagement_kit.config.streams:load_streams",
    "parse_response": "engagement_kit.tidy:parse_response",
    "render_all": "engagement_kit.report:render_all",
    "render_report": "engagement_kit.report:render_report",
    "setup_notebook": "engagement_kit.charts:setup_notebook",
}
# the namespaces users reach as attributes without an explicit import: ``ek.metrics.kpis(...)``
_NAMESPACES = frozenset({"charts", "delivery", "errors", "metrics", "report", "store"})

#: What users call: checked against the module by tests/test_public_api.py.
__all__ = sorted(["EngagementError", "__version__", *_LAZY, *_NAMESPACES])

__getattr__, _ = lazy_attributes(__name__, _LAZY, _NAMESPACES, globals())


def __dir__() -> list[str]:
    """What completion offers in JupyterLab: the public names, nothing we imported."""
    return list(__all__)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from engagement_kit import charts, delivery, errors, metrics, report, store
    from engagement_kit.charts import setup_notebook
    from engagement_kit.client import EngagementClient, FetchResult
    from engagement_kit.config.query import EngagementQuery
    from engagement_kit.config.streams import StreamConfig, load_streams
    from engagement_kit.demo import demo_client
    from engagement_kit.explorer import Explorer
    from engagement_kit.report import render_all, render_report
    from engagement_kit.store import ResponseStore
    from engagement_kit.tidy import Engagement, parse_response
