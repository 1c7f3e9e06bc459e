"""The Explorer: an ipywidgets panel to look at one stream's engagement in a notebook.

``ek.Explorer()`` (or ``ek.Explorer().show()``) draws a row of controls (stream, date range
with presets, aggregation, conversation type and status, channels, time zone) and a **Load**
button; below them a status line, an error area and six tabs: KPIs (with the change from the
previous period of equal length), trend, new vs returning, peak-hours heatmap, data checks and
cohorts (true retention from the session history, fetched only when that tab is opened; see
:mod:`engagement_kit.explorer.cohorts_tab`).

How it behaves
--------------
* Loading is **one job at a time**: while it runs the button is disabled and reads
  "Loading…", the status line says what is being fetched, and further clicks are ignored.
* Each tab remembers the queries it was last drawn from; loading again redraws only the tabs
  whose inputs changed (switching daily/hourly redraws the trend and the data checks, not the
  KPIs or the heatmap). The client's response store makes a range seen before instant.
* Every :class:`~engagement_kit.errors.EngagementError` (a bad range, refused credentials, a
  rate limit, an unknown stream...) is shown as a readable message in the error area, never a
  traceback; the tabs keep what they showed and the panel stays usable.
* Callbacks only call the client, :mod:`engagement_kit.metrics` and
  :mod:`engagement_kit.charts`; all state lives on the :class:`Explorer`, so it is tested
  without a browser by setting widget values and calling ``explorer.load_button.click()``.

Charts are drawn as static SVG (vl-convert, no CDN, no JavaScript extension), so the panel
works offline in JupyterLab and Voilà. A chart is converted only when its tab is on screen.

This module imports ipywidgets (altair only when a chart is drawn); ``import engagement_kit``
does not load it until ``ek.Explorer`` is first used.
"""

from __future__ import annotations

from engagement_kit.explorer.controls import (
    PANELS,
    PRESETS,
    preset_range,
    previous_period,
)
from engagement_kit.explorer.panel import Explorer

__all__ = [
    "PANELS",
    "PRESETS",
    "Explorer",
    "preset_range",
    "previous_period",
]
