"""Altair charts of true retention: :mod:`engagement_kit.charts.cohorts`, under the name they
had first (``ek.cohort_charts.cohort_heatmap`` and friends keep working)."""

from __future__ import annotations

from .charts.cohorts import *  # noqa: F403
from .charts.cohorts import __all__ as __all__
