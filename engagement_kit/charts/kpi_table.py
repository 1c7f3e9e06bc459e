"""The KPI table as HTML (``templates/blocks/kpi_table.html.j2``), with ▲/▼ changes."""

from __future__ import annotations

import pandas as pd

from engagement_kit import metrics
from engagement_kit.charts.html import render_block
from engagement_kit.charts.theme import DOWN_COLOR, FONT, NEUTRAL_COLOR, UP_COLOR

# -- KPI table -----------------------------------------------------------------------------------------

_SHARES = {"returning_share", "stickiness"}
_AVERAGES = {"avg_unique_users_per_day", "avg_new_users_per_day", "avg_returning_users_per_day"}


def _fmt_value(kpi: str, value: object) -> str:
    if value is None or pd.isna(value):
        return "–"
    number = float(value)  # type: ignore[arg-type]
    if kpi in _SHARES:
        return f"{number:.1%}"
    if kpi in _AVERAGES:
        return f"{number:,.1f}"
    return f"{number:,.0f}" if number == round(number) else f"{number:,.1f}"


def _signed(magnitude: str, number: float) -> str:
    """Prefix ``+``/``−`` (a real minus sign), none when the shown digits are all zero."""
    if not any(ch in "123456789" for ch in magnitude):
        return magnitude
    return ("+" if number > 0 else "−") + magnitude


def _fmt_change(kpi: str, change: object, pct: object) -> tuple[str, str, str]:
    """(arrow, text, colour) of a change cell; no arrow when the shown change is zero."""
    if change is None or pd.isna(change):
        return "", "–", NEUTRAL_COLOR
    number = float(change)  # type: ignore[arg-type]
    size = abs(number)
    if kpi in _SHARES:
        text = _signed(f"{size * 100:.1f}", number) + " pp"
    elif kpi in _AVERAGES:
        text = _signed(f"{size:,.1f}", number)
    else:
        text = _signed(f"{size:,.0f}" if size == round(size) else f"{size:,.1f}", number)
    if pct is not None and not pd.isna(pct):
        ratio = float(pct)  # type: ignore[arg-type]
        text += f" ({_signed(f'{abs(ratio):.1%}', ratio)})"
    if text[0] == "+":
        return "▲", text, UP_COLOR
    if text[0] == "−":
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
