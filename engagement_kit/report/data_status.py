"""Whether a week has data at all: "no data" is not "zero users".

A week in which the platform reports no users at all (before the stream had any, or older than
the platform keeps) is reported as such on every surface: a note on the page instead of the
headline, ``status: "no_data"`` in the sidecar, a warning in the command's summary, and no alert
rule evaluated on it (:func:`engagement_kit.delivery.rules.rule_fires`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engagement_kit import metrics
from engagement_kit.tidy import METRICS
from engagement_kit.tidy.frames import json_number

if TYPE_CHECKING:
    import pandas as pd

    from engagement_kit.tidy import Engagement

__all__ = ["NO_DATA", "OK", "no_data_note", "week_status"]

OK = "ok"
NO_DATA = "no_data"


def week_status(current: Engagement, kpis: pd.DataFrame) -> str:
    """:data:`NO_DATA` when the week's daily answer and its KPIs hold no user at all, else
    :data:`OK`."""
    daily = metrics.daily_totals(current)
    values = [json_number(v) for v in daily[list(METRICS)].to_numpy().ravel()] if len(daily) else []
    unique = json_number(kpis.loc["unique_users", "value"])
    return NO_DATA if not unique and not any(values) else OK


def no_data_note(week: str, dates: str = "") -> str:
    """The sentence every surface shows for a week with no data at all."""
    when = f"{week} ({dates})" if dates else week
    return (
        f"The platform reports no users at all in {when}: either the stream had no users yet "
        "or the week is older than the platform keeps. The zeros below are not a quiet week, "
        "and no alert rule was evaluated on them."
    )
