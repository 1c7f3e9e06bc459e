"""The channel mix over time (``client.fetch_channels`` output)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..errors import InvalidQueryError
from .theme import HEIGHT, WIDTH, _alt

if TYPE_CHECKING:
    import altair as alt


def channel_mix_chart(frame: pd.DataFrame, *, metric: str = "unique") -> alt.Chart:
    """Daily users per channel, stacked: the channel mix over time.

    The stacks are channel-users: a user on two channels in a day is in both stacks, so a
    stack's height can exceed the bot's unique users that day (the subtitle says so).
    """
    alt = _alt()
    if metric not in ("unique", "new", "returning"):
        raise InvalidQueryError(
            f"metric: {metric!r} is not one of 'unique', 'new', 'returning'", field="metric"
        )
    if "channel" not in frame.columns:
        raise InvalidQueryError("frame: expected the output of fetch_channels", field="frame")
    rows = frame[frame["metric"] == metric]
    daily = (
        rows.groupby(["channel", "date"], observed=True)["users"].sum().reset_index()
        if len(rows)
        else pd.DataFrame({"channel": [], "date": [], "users": []})
    )
    daily["channel"] = daily["channel"].astype(str)
    daily = daily[daily["users"] > 0]  # an empty bar has nothing to show or hover
    label = {"unique": "Unique", "new": "New", "returning": "Returning"}[metric]
    return (
        alt.Chart(daily)
        .mark_bar()
        .encode(
            x=alt.X("yearmonthdate(date):T", title="Day"),
            y=alt.Y("users:Q", title=f"{label} users", stack="zero"),
            color=alt.Color("channel:N", title="Channel"),
            tooltip=["channel:N", alt.Tooltip("date:T", format="%Y-%m-%d"), "users:Q"],
        )
        .properties(
            title=alt.TitleParams(
                f"{label} users per channel",
                subtitle="Users on several channels count in each: stacks are channel-users.",
            ),
            width=WIDTH,
            height=HEIGHT,
        )
    )
