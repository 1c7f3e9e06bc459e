"""The KPI table as HTML (``templates/blocks/kpi_table.html.j2``), with ▲/▼ changes."""

from __future__ import annotations

import pandas as pd

from engagement_kit import metrics
from engagement_kit.charts.html import render_block
from engagement_kit.charts.theme import DOWN_COLOR, FONT, NEUTRAL_COLOR, UP_COLOR
from engagement_kit.formatting import MINUS, NA, change_text, kpi_text, number_or_none

# -- KPI table -----------------------------------------------------------------------------------------


def _fmt_value(kpi: str, value: object) -> str:
    return kpi_text(kpi, value)


def _fmt_change(kpi: str, change: object, pct: object) -> tuple[str, str, str]:
    """(arrow, text, colour) of a change cell (:func:`formatting.change_text`); no arrow when
    the shown change is zero."""
    if number_or_none(change) is None:
        return "", NA, NEUTRAL_COLOR
    text = change_text(kpi, change, pct)
    if text[0] == "+":
        return "▲", text, UP_COLOR
    if text[0] == MINUS:
        return "▼", text, DOWN_COLOR
    return "", text, NEUTRAL_COLOR


def kpi_table_html(
    kpis_frame: pd.DataFrame,
    *,
    title: str | None = None,
    value_label: str = "This period",
    previous_label: str = "Previous",
) -> str:
    """An HTML table of :func:`~engagement_kit.metrics.kpis` output, with ▲/▼ changes.

    Self-contained: inline styles only, no external CSS or scripts; every text is HTML-escaped.
    Rises show ▲ in bluish green, falls ▼ in vermillion (the arrows carry the meaning for
    readers who cannot tell the colours apart); shares change in percentage points (pp).

    A value missing for a known reason (``kpis_frame.attrs["notes"]``, e.g. unique users of a
    range the platform only answers in parts) reads "not available (1)", with the reason as
    footnote (1) under the table, instead of a bare dash.

    Returns
    -------
    str
        A ``<table class="ek-kpis">`` with columns KPI, ``value_label``, ``previous_label``,
        Change (the last two only when the frame has previous values).
    """
    has_previous = "previous" in kpis_frame.columns and kpis_frame["previous"].notna().any()
    headers = [("KPI", "left"), (value_label, "right")]
    if has_previous:
        headers += [(previous_label, "right"), ("Change", "right")]
    notes = kpis_frame.attrs.get("notes") or {}
    reasons: list[str] = []  # footnotes, numbered in order of first use

    def shown_value(kpi: str, column: str, value: object) -> str:
        reason = (notes.get(column) or {}).get(kpi)
        if reason and (value is None or pd.isna(value)):
            if reason not in reasons:
                reasons.append(reason)
            return f"not available ({reasons.index(reason) + 1})"
        return _fmt_value(kpi, value)

    rows = []
    for name, row in kpis_frame.iterrows():
        kpi = str(name)
        arrow, text, colour = _fmt_change(kpi, row.get("change"), row.get("pct_change"))
        rows.append(
            {
                "kpi": kpi,
                "label": metrics.KPI_LABELS.get(kpi, kpi),
                "value": shown_value(kpi, "value", row.get("value")),
                "previous": shown_value(kpi, "previous", row.get("previous"))
                if has_previous
                else "",
                "change": f"{arrow} {text}" if arrow else text,
                "colour": colour,
            }
        )
    return render_block(
        "kpi_table",
        font=FONT,
        title=title,
        headers=headers,
        rows=rows,
        has_previous=has_previous,
        reasons=reasons,
    )
