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
* In the kernel, the notebook calls :func:`engagement_kit.setup_notebook` with
  ``renderer="report"`` (our altair renderer and the charts theme), :func:`load_weekly` (every number, through the client and :mod:`~engagement_kit.metrics`)
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

from engagement_kit._lazy import lazy_attributes

# public name -> "module:attribute" it comes from
_NAMES: dict[str, str] = {
    # the kernel side
    "ANOMALY_WEEKS": ".weekly:ANOMALY_WEEKS",
    "WeeklyReport": ".weekly:WeeklyReport",
    "load_weekly": ".weekly:load_weekly",
    # parameters and secrets
    "DEFAULT_WEEKS_OF_HISTORY": ".params:DEFAULT_WEEKS_OF_HISTORY",
    "PARAMETER_NAMES": ".params:PARAMETER_NAMES",
    "SIDECAR_MIMETYPE": ".params:SIDECAR_MIMETYPE",
    "report_parameters": ".params:report_parameters",
    # running a notebook
    "CELL_TIMEOUT": ".execute:CELL_TIMEOUT",
    "DEFAULT_KERNEL": ".task:DEFAULT_KERNEL",
    "NOTEBOOK_RELATIVE": ".execute:NOTEBOOK_RELATIVE",
    "START_TIMEOUT": ".execute:START_TIMEOUT",
    "default_notebook": ".execute:default_notebook",
    "execute_notebook": ".execute:execute_notebook",
    # the page
    "OVERRIDDEN_LAB_BLOCKS": ".export:OVERRIDDEN_LAB_BLOCKS",
    "TEMPLATES": ".export:TEMPLATES",
    "TEMPLATE_NAME": ".export:TEMPLATE_NAME",
    "ASSETS_DIR": ".export:ASSETS_DIR",
    "inline_assets": ".export:inline_assets",
    "notebook_to_html": ".export:notebook_to_html",
    "vega_bundle": ".export:vega_bundle",
    "write_assets": ".export:write_assets",
    # one stream in a worker, many in a pool
    "ReportResult": ".task:ReportResult",
    "MAX_DEFAULT_JOBS": ".batch:MAX_DEFAULT_JOBS",
    "default_jobs": ".batch:default_jobs",
    "render_all": ".batch:render_all",
    "render_report": ".batch:render_report",
    # the index page and the command line's summary
    "INDEX_TEMPLATE": ".index:INDEX_TEMPLATE",
    "write_index": ".index:write_index",
    "parse_shard": ".shards:parse_shard",
    "shard_streams": ".shards:shard_streams",
    "exit_code": "engagement_kit.report.summary:exit_code",
    "print_summary": "engagement_kit.report.summary:print_summary",
    "summary_lines": "engagement_kit.report.summary:summary_lines",
    "summary_table": "engagement_kit.report.summary:summary_table",
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
        "shards",
        "task",
        "weekly",
        "worker",
    }
)

__all__ = [
    "ASSETS_DIR",
    "DEFAULT_WEEKS_OF_HISTORY",
    "SIDECAR_MIMETYPE",
    "ReportResult",
    "WeeklyReport",
    "default_jobs",
    "default_notebook",
    "execute_notebook",
    "exit_code",
    "inline_assets",
    "load_weekly",
    "notebook_to_html",
    "parse_shard",
    "print_summary",
    "render_all",
    "render_report",
    "report_parameters",
    "shard_streams",
    "summary_lines",
    "summary_table",
    "vega_bundle",
    "write_assets",
    "write_index",
]


__getattr__, __dir__ = lazy_attributes(__name__, _NAMES, _SUBMODULES, globals())


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from engagement_kit.report.batch import default_jobs, render_all, render_report
    from engagement_kit.report.execute import default_notebook, execute_notebook
    from engagement_kit.report.export import (
        ASSETS_DIR,
        inline_assets,
        notebook_to_html,
        vega_bundle,
        write_assets,
    )
    from engagement_kit.report.index import write_index
    from engagement_kit.report.params import (
        DEFAULT_WEEKS_OF_HISTORY,
        SIDECAR_MIMETYPE,
        report_parameters,
    )
    from engagement_kit.report.summary import exit_code, print_summary, summary_lines, summary_table
    from engagement_kit.report.task import ReportResult
    from engagement_kit.report.weekly import WeeklyReport, load_weekly
