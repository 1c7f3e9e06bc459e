"""Weekly reports: papermill runs the report notebook, nbconvert turns it into offline HTML.

One report per stream and ISO week::

    reports/<stream-slug>/<YYYY-Www>.html    the page: no network needed, charts interactive
    reports/<stream-slug>/<YYYY-Www>.json    the numbers the page shows, for machines
    reports/_assets/vega-<versions>-<hash>.js  the chart libraries every page there loads
                                             (``self_contained=True``: inlined instead)
    reports/index.html                       the latest week of every stream, recent weeks
    reports/<stream-slug>/history/           one stream's every week, a page per year

The pieces, in the order they run:

* :func:`render_all` / :func:`render_report` (parent process): choose the week (the last
  complete ISO week in each stream's zone), start a bounded pool of worker processes, show one
  progress bar per stream and a summary table, then write the index.
* In a worker, papermill's Python API executes ``notebooks/reports/weekly_report.ipynb`` with
  literal parameters only (:func:`report_parameters`; never a credential: the kernel reads those
  from its environment). A kernel that fails to *start* (port race) is retried once.
* In the kernel, the notebook calls :func:`setup_notebook` (our altair renderer and the charts
  theme), :func:`load_weekly` (every number, through the client and :mod:`~engagement_kit.metrics`)
  and finally emits the sidecar data as one output (:meth:`WeeklyReport.sidecar_output`): the
  notebook is the single source of the numbers, the runner only copies them.
* Back in the worker, :func:`notebook_to_html` renders the executed notebook with nbconvert's
  public ``HTMLExporter`` and our ``ek_report`` template (the lab template without CDN scripts,
  plus the Vega bundle of ``vl_convert.javascript_bundle``, shared in ``_assets/`` or inlined
  once), and every file is written atomically (:func:`atomic_write`).

A failed stream does not stop the others: its error (one readable sentence) goes into the
summary, ``<week>.error.json`` and the index, and its executed notebook is kept as
``<week>.failed.ipynb``. The previous report of that week, if any, is left untouched.

The modules, one job each: :mod:`.weekly` (the numbers and the sidecar, in the kernel),
:mod:`.cohorts` (the *Cohorts* section of streams with ``cohorts = true``, in the kernel),
:mod:`.blocks` (HTML blocks from ``templates/blocks``), :mod:`.params` (parameters, the kernel's
environment, secret checks), :mod:`.execute` (papermill, kernel managers, retry),
:mod:`.kernels` (warm kernels for batches), :mod:`.export` (nbconvert, the Vega bundle),
:mod:`.task` and :mod:`.worker` (one stream's job in a worker process), :mod:`.batch` (the
pool, progress bars, :func:`render_all`), :mod:`.index` (the index page).

Names load on first use (PEP 562), so ``import engagement_kit.report`` in a kernel imports
neither papermill, nbconvert nor altair.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

# public (and long-standing private) name -> "module:attribute" it comes from
_NAMES: dict[str, str] = {
    # the kernel side
    "ANOMALY_WEEKS": ".weekly:ANOMALY_WEEKS",
    "WeeklyReport": ".weekly:WeeklyReport",
    "load_weekly": ".weekly:load_weekly",
    "setup_notebook": ".weekly:setup_notebook",
    "RENDERER_NAME": "engagement_kit.charts.renderer:RENDERER_NAME",
    "chart_mimebundle": "engagement_kit.charts.renderer:chart_mimebundle",
    # parameters and secrets
    "DEFAULT_WEEKS_OF_HISTORY": ".params:DEFAULT_WEEKS_OF_HISTORY",
    "PARAMETER_NAMES": ".params:PARAMETER_NAMES",
    "SIDECAR_MIMETYPE": ".params:SIDECAR_MIMETYPE",
    "report_parameters": ".params:report_parameters",
    "_check_no_secret": ".params:check_no_secret",
    "_kernel_environment": ".params:kernel_environment",
    "_one_sentence": ".params:one_sentence",
    "SOURCES": "engagement_kit.sources:SOURCES",
    "_check_source": "engagement_kit.sources:check_source",
    "_client": "engagement_kit.sources:client_for",
    # running a notebook
    "CELL_TIMEOUT": ".execute:CELL_TIMEOUT",
    "DEFAULT_KERNEL": ".task:DEFAULT_KERNEL",
    "NOTEBOOK_RELATIVE": ".execute:NOTEBOOK_RELATIVE",
    "START_TIMEOUT": ".execute:START_TIMEOUT",
    "default_notebook": ".execute:default_notebook",
    "execute_notebook": ".execute:execute_notebook",
    "_ipc_kernel_manager": ".execute:ipc_kernel_manager",
    "_kernel_start_failed": ".execute:kernel_start_failed",
    # the page
    "OVERRIDDEN_LAB_BLOCKS": ".export:OVERRIDDEN_LAB_BLOCKS",
    "TEMPLATES": ".export:TEMPLATES",
    "TEMPLATE_NAME": ".export:TEMPLATE_NAME",
    "ASSETS_DIR": ".export:ASSETS_DIR",
    "inline_assets": ".export:inline_assets",
    "notebook_to_html": ".export:notebook_to_html",
    "vega_bundle": ".export:vega_bundle",
    "write_assets": ".export:write_assets",
    "_html_exporter": ".export:html_exporter",
    "_vegalite_minor": ".export:vegalite_minor",
    # files
    "STALE_TEMP_SECONDS": "engagement_kit.files:STALE_TEMP_SECONDS",
    "atomic_write": "engagement_kit.files:atomic_write",
    "stream_slug": "engagement_kit.files:stream_slug",
    "_inside": "engagement_kit.files:inside",
    "_sweep_stale_temp_files": "engagement_kit.files:sweep_stale_temp_files",
    # one stream in a worker, many in a pool
    "ReportResult": ".task:ReportResult",
    "_Task": ".task:ReportTask",
    "_describe_error": ".worker:describe_error",
    "_sidecar_from": ".worker:sidecar_from",
    "MAX_DEFAULT_JOBS": ".batch:MAX_DEFAULT_JOBS",
    "default_jobs": ".batch:default_jobs",
    "demo_streams": ".batch:demo_streams",
    "render_all": ".batch:render_all",
    "render_report": ".batch:render_report",
    "_init_worker": ".batch:_init_worker",
    "_platform_host": ".batch:_platform_host",
    "_resolve_week": ".batch:_resolve_week",
    "_run_task": ".batch:_run_task",
    "_run_tasks": ".batch:_run_tasks",
    # the index page and the command line's summary
    "INDEX_TEMPLATE": ".index:INDEX_TEMPLATE",
    "write_index": ".index:write_index",
    "exit_code": "engagement_kit.summary:exit_code",
    "print_summary": "engagement_kit.summary:print_summary",
    "summary_lines": "engagement_kit.summary:summary_lines",
    "summary_table": "engagement_kit.summary:summary_table",
}
_SUBMODULES = frozenset(
    {
        "batch",
        "blocks",
        "cohorts",
        "execute",
        "export",
        "index",
        "kernels",
        "params",
        "task",
        "weekly",
        "worker",
    }
)

__all__ = [
    "ASSETS_DIR",
    "DEFAULT_WEEKS_OF_HISTORY",
    "RENDERER_NAME",
    "SIDECAR_MIMETYPE",
    "SOURCES",
    "ReportResult",
    "WeeklyReport",
    "atomic_write",
    "chart_mimebundle",
    "default_jobs",
    "default_notebook",
    "demo_streams",
    "execute_notebook",
    "exit_code",
    "inline_assets",
    "load_weekly",
    "notebook_to_html",
    "print_summary",
    "render_all",
    "render_report",
    "report_parameters",
    "setup_notebook",
    "stream_slug",
    "summary_lines",
    "summary_table",
    "vega_bundle",
    "write_assets",
    "write_index",
]


__getattr__, __dir__ = lazy_attributes(__name__, _NAMES, _SUBMODULES, globals())


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ..charts.renderer import RENDERER_NAME, chart_mimebundle
    from ..files import atomic_write, stream_slug
    from ..sources import SOURCES
    from ..summary import exit_code, print_summary, summary_lines, summary_table
    from .batch import default_jobs, demo_streams, render_all, render_report
    from .execute import default_notebook, execute_notebook
    from .export import ASSETS_DIR, inline_assets, notebook_to_html, vega_bundle, write_assets
    from .index import write_index
    from .params import (
        DEFAULT_WEEKS_OF_HISTORY,
        SIDECAR_MIMETYPE,
        report_parameters,
    )
    from .task import ReportResult
    from .weekly import WeeklyReport, load_weekly, setup_notebook
