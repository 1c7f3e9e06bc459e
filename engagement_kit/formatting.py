"""How the toolkit writes things for people: numbers as short texts, and output that fits
where it is read (a terminal of any width, or a log file).

**The number vocabulary** (one module, used by every surface: the report's blocks and KPI
table, the index page, the command line's summaries, the email, chat and webhook messages,
the alert messages and the Explorer):

==========================  ====================================================
counts                      ``12,345`` (thousands separators, no decimals)
averages                    ``87.7`` (one decimal)
shares                      ``45.0 %``
a count's change            ``+37 (+8.0 %)``: the difference, the relative change
a share's change            ``+13.9 pp (+20.1 %)``: percentage points, then relative
a relative change           ``+8.0 %``, ``−6.9 %`` (one minus sign, U+2212)
in words                    ``up 8.0 %``, ``down 6.9 %`` (never "down −6.9 %"), ``unchanged``
a number that does not exist ``n/a`` or ``n/a (no users the week before)``
timestamps                  ``2025-12-01 09:30:12 UTC`` (to the second)
==========================  ====================================================

A sign is shown only when the digits shown are not all zero (``0.0 pp``, not ``+0.0 pp``).

Commands print rich tables to a terminal and plain lines (one per row, never wrapped by
rich) when their output goes to a file, a pipe or a cron log. Paths are shown relative to the
current folder when they are inside it, so a row fits an 80-column screen.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler
    from rich.console import Console

__all__ = [
    "MINUS",
    "NA",
    "average_text",
    "change_phrase",
    "change_text",
    "count_text",
    "display_path",
    "kpi_kind",
    "kpi_sentence",
    "kpi_text",
    "na_text",
    "number_or_none",
    "p_value_text",
    "people_frame",
    "people_kpis",
    "people_table",
    "plain_output",
    "print_table",
    "ratio_text",
    "share_text",
    "signed_percent",
    "timestamp_text",
]

#: The one minus sign (U+2212) every surface writes.
MINUS = "\u2212"
#: What a number that does not exist reads as (:func:`na_text` adds the reason).
NA = "n/a"

#: KPIs that are shares (a fraction shown as percent; their change is in percentage points).
SHARE_KPIS = frozenset({"returning_share", "stickiness"})


# -- numbers -----------------------------------------------------------------------------------


def number_or_none(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` (``None``, NaN, ``pd.NA``, text, booleans)."""
    if value is None or isinstance(value, bool | str | bytes):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def na_text(reason: str | None = None) -> str:
    """``"n/a"``, or ``"n/a (reason)"`` when the reason is known."""
    return f"{NA} ({reason})" if reason else NA


def _signed(magnitude: str, number: float) -> str:
    """``magnitude`` with ``+``/``−`` in front, none when the digits shown are all zero."""
    if not any(ch in "123456789" for ch in magnitude):
        return magnitude
    return ("+" if number > 0 else MINUS) + magnitude


def count_text(value: Any, *, reason: str | None = None) -> str:
    """``12345`` → ``"12,345"``; a count that does not exist → ``"n/a"`` (with ``reason``)."""
    number = number_or_none(value)
    if number is None:
        return na_text(reason)
    return _signed(f"{abs(number):,.0f}", number) if number < 0 else f"{number:,.0f}"


def average_text(value: Any, *, reason: str | None = None) -> str:
    """``87.66`` → ``"87.7"`` (one decimal, thousands separators)."""
    number = number_or_none(value)
    if number is None:
        return na_text(reason)
    return _signed(f"{abs(number):,.1f}", number) if number < 0 else f"{number:,.1f}"


def share_text(value: Any, *, reason: str | None = None) -> str:
    """A fraction as percent: ``0.829`` → ``"82.9 %"``."""
    number = number_or_none(value)
    if number is None:
        return na_text(reason)
    text = f"{abs(number) * 100:.1f} %"
    return _signed(text, number) if number < 0 else text


def signed_percent(value: Any) -> str:
    """A relative change: ``0.125`` → ``"+12.5 %"``, ``-0.05`` → ``"−5.0 %"``, ``None`` →
    ``"n/a"``, ``0.0001`` → ``"0.0 %"`` (no sign on zero digits)."""
    number = number_or_none(value)
    if number is None:
        return NA
    return _signed(f"{abs(number) * 100:.1f} %", number)


def ratio_text(value: Any) -> str:
    """How many times as much: ``1.437`` → ``"1.4×"``, ``None`` → ``"n/a"``."""
    number = number_or_none(value)
    return NA if number is None else f"{number:,.1f}×"


def p_value_text(value: Any) -> str:
    """A test's p-value: ``0.0312`` → ``"p = 0.03"``, ``0.004`` → ``"p = 0.004"``,
    ``0.0004`` → ``"p < 0.001"``, ``None`` → ``"p n/a"``."""
    number = number_or_none(value)
    if number is None:
        return f"p {NA}"
    if number < 0.001:
        return "p < 0.001"
    return f"p = {number:.3f}" if number < 0.01 else f"p = {number:.2f}"


def kpi_kind(kpi: str) -> str:
    """``"share"``, ``"average"`` or ``"count"``: how a KPI's numbers are written."""
    if kpi in SHARE_KPIS or kpi.endswith("_share") or kpi.endswith("_rate"):
        return "share"
    if kpi.startswith("avg_") or kpi.startswith("mean_"):
        return "average"
    return "count"


def kpi_text(kpi: str, value: Any, *, reason: str | None = None) -> str:
    """A KPI's value: counts ``1,234``, averages ``87.7``, shares ``45.0 %``."""
    kind = kpi_kind(kpi)
    if kind == "share":
        return share_text(value, reason=reason)
    if kind == "average":
        return average_text(value, reason=reason)
    return count_text(value, reason=reason)


def change_text(kpi: str, change: Any, pct: Any = None, *, relative: bool = True) -> str:
    """A KPI's change from the period before, signed.

    Counts ``+37 (+8.0 %)``, averages ``−1.2 (−3.0 %)``, shares in percentage points
    ``+13.9 pp (+20.1 %)``; the relative change in brackets when ``relative`` and known.
    ``n/a`` when there is no change (no period before).
    """
    number = number_or_none(change)
    if number is None:
        return NA
    kind = kpi_kind(kpi)
    if kind == "share":
        text = _signed(f"{abs(number) * 100:.1f} pp", number)
    elif kind == "average":
        text = _signed(f"{abs(number):,.1f}", number)
    else:
        text = _signed(f"{abs(number):,.0f}", number)
    ratio = number_or_none(pct)
    if relative and ratio is not None:
        text += f" ({signed_percent(ratio)})"
    return text


def change_phrase(value: Any, previous: Any, pct: Any) -> str:
    """The change in words: ``"up 8.0 %"``, ``"down 6.9 %"`` (no sign after the word),
    ``"unchanged"``; ``"up"``/``"down"`` alone when the relative change does not exist."""
    now, before = number_or_none(value), number_or_none(previous)
    if now is None or before is None or now == before:
        return "unchanged" if now is not None and now == before else ""
    word = "up" if now > before else "down"
    ratio = number_or_none(pct)
    return f"{word} {abs(ratio) * 100:.1f} %" if ratio is not None else word


def kpi_sentence(
    kpi: str, label: str, value: Any, previous: Any = None, change: Any = None, pct: Any = None
) -> str:
    """One KPI in one line: ``"Returning share 82.9 %, +13.9 pp (+20.1 %) from 69.0 %"``.

    Without a previous value: ``"Returning share 82.9 %"``.
    """
    text = f"{label} {kpi_text(kpi, value)}"
    if number_or_none(previous) is None:
        return text
    return f"{text}, {change_text(kpi, change, pct)} from {kpi_text(kpi, previous)}"


def timestamp_text(value: Any, *, utc: bool = True) -> str:
    """A moment to the second: ``"2025-12-01 09:30:12 UTC"`` (in UTC when it has a zone; with
    ``utc=False`` in its own zone, ``"2025-12-01 04:30:12 EST"``).

    Takes a ``datetime``, a pandas ``Timestamp`` or an ISO 8601 text; other values as text.
    """
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            if utc:
                return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            return value.strftime("%Y-%m-%d %H:%M:%S ") + (value.tzname() or "")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)


# -- tables for people -------------------------------------------------------------------------


def _column_kind(name: str, series: pd.Series) -> str:
    import pandas as pd

    lowered = str(name).lower()
    if pd.api.types.is_bool_dtype(series):
        return "text"
    if pd.api.types.is_datetime64_any_dtype(series):
        times = series.dropna()
        naive = getattr(series.dt, "tz", None) is None
        midnight = bool(len(times)) and bool((times == times.dt.normalize()).all())
        return "date" if naive and midnight else "time"
    if not pd.api.types.is_numeric_dtype(series):
        return "text"
    if any(w in lowered for w in ("pct_change", "relative_change", "pct_diff")):
        return "signed_share"
    if any(w in lowered for w in ("share", "rate", "retention", "pct", "percent", "stickiness")):
        return "share"
    if lowered in ("change", "diff") or lowered.endswith(("_change", "_diff")):
        return "signed_count"
    if pd.api.types.is_integer_dtype(series):
        return "count"
    values = series.dropna()
    if len(values) and bool((values == values.round()).all()) and not lowered.startswith("avg"):
        return "count"
    return "average"


def _signed_count(value: Any) -> str:
    number = number_or_none(value)
    return NA if number is None else _signed(f"{abs(number):,.0f}", number)


def _formatters(
    frame: pd.DataFrame, kinds: Mapping[str, str] | None
) -> dict[Any, Callable[[Any], str]]:
    by_kind: dict[str, Callable[[Any], str]] = {
        "count": count_text,
        "average": average_text,
        "share": share_text,
        "signed_share": signed_percent,
        "signed_count": _signed_count,
        "time": lambda v: timestamp_text(v, utc=False),
        "date": lambda v: f"{v:%Y-%m-%d}",
    }
    out = {}
    for column in frame.columns:
        kind = (kinds or {}).get(column) or _column_kind(column, frame[column])
        if kind in by_kind:
            out[column] = by_kind[kind]
    return out


def people_frame(
    frame: pd.DataFrame, kinds: Mapping[str, str] | None = None, *, na_rep: str = NA
) -> pd.DataFrame:
    """``frame`` with its numbers as texts of the vocabulary: counts ``1,234``, averages one
    decimal, shares (columns named ``*share*``, ``*rate*``, ``*retention*``) as percent,
    changes signed (``change``, ``*_diff``: ``−40``; ``pct_change``: ``−1.9 %``), timestamps
    to the second (dates alone when every one is a midnight), missing numbers ``n/a``.

    ``kinds`` maps a column to ``"count"``, ``"average"``, ``"share"``, ``"time"`` or
    ``"text"`` where the name does not tell; a column of a pivot (a cohort triangle) is named
    by a number, so give ``kinds={c: "share" for c in frame.columns}``. ``na_rep`` is what a
    missing number reads as (``""`` for the empty corner of a triangle). The index is kept.
    """
    out = frame.copy()
    for column, fmt in _formatters(frame, kinds).items():
        out[column] = [na_rep if _missing(v) else fmt(v) for v in frame[column]]
    return out


def _missing(value: Any) -> bool:
    """``None``, NaN, ``pd.NA`` or ``NaT``."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and NaT are not equal to themselves
    except (TypeError, ValueError):  # pd.NA: its truth value is ambiguous
        return True


def people_kpis(frame: pd.DataFrame, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A :func:`engagement_kit.metrics.kpis` frame as a reader sees it: one row per KPI (named
    by ``labels`` when given), ``value`` and ``previous`` written as each KPI is (counts,
    averages, shares) and ``change`` as :func:`change_text` (``+13.9 pp (+20.1 %)``)."""
    import pandas as pd

    rows = {}
    for kpi, row in frame.iterrows():
        name = str(kpi)
        shown = {"value": kpi_text(name, row.get("value"))}
        if "previous" in frame.columns:
            shown["previous"] = kpi_text(name, row.get("previous"))
            shown["change"] = change_text(name, row.get("change"), row.get("pct_change"))
        rows[(labels or {}).get(name, name)] = shown
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "KPI"
    return out


def people_table(frame: pd.DataFrame, kinds: Mapping[str, str] | None = None) -> Styler:
    """``frame`` as a pandas ``Styler`` a notebook shows as a readable table (the formats of
    :func:`people_frame`; numbers right-aligned, the numbers themselves kept)."""
    return frame.style.format(_formatters(frame, kinds), na_rep=NA)


# -- where output goes -------------------------------------------------------------------------


def display_path(
    path: str | os.PathLike[str] | None, *, cwd: str | os.PathLike[str] | None = None
) -> str:
    """``path`` as a user should read it: relative to ``cwd`` (default: the current folder)
    when it lies inside it, else absolute (``~/...`` under the home folder).

    Examples
    --------
    >>> display_path("/srv/kit/reports/a/2025-W48.html", cwd="/srv/kit")
    'reports/a/2025-W48.html'
    """
    if path is None:
        return ""
    target = Path(os.path.abspath(path))
    base = Path(os.path.abspath(cwd if cwd is not None else os.getcwd()))
    if target.is_relative_to(base):
        return str(target.relative_to(base)) if target != base else "."
    home = Path.home()
    if home != Path("/") and target.is_relative_to(home):
        return str(Path("~") / target.relative_to(home))
    return str(target)


def plain_output(console: Console) -> bool:
    """Whether ``console`` writes to something other than a terminal (a file, a pipe, a log):
    then print one plain line per row instead of a table wrapped to a guessed width."""
    return not console.is_terminal


def _cell_text(cell: Any) -> str:
    plain = getattr(cell, "plain", None)
    text = plain if isinstance(plain, str) else str(cell)
    return " ".join(text.split())


def print_table(console: Console, table: Any) -> None:
    """Print a rich ``table``: as a table to a terminal; to a file, a pipe or a log as plain
    lines (the title, the header, then one line per row, cells two spaces apart), which
    nothing wraps or cuts."""
    if not plain_output(console):
        console.print(table)
        return

    def line(text: str) -> None:
        console.print(text, soft_wrap=True, markup=False, highlight=False)

    if table.title:
        line(_cell_text(table.title))
    line("  ".join(_cell_text(c.header) for c in table.columns))
    for row in zip(*(list(c.cells) for c in table.columns), strict=True):
        line("  ".join(_cell_text(cell) for cell in row))
