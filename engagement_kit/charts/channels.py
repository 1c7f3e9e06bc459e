"""The channel mix over time (``client.fetch_channels`` output)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from engagement_kit.charts.theme import HEIGHT, WIDTH, lazy_altair
from engagement_kit.errors import InvalidQueryError
from engagement_kit.metrics.channels import NOT_ADDITIVE_NOTE

if TYPE_CHECKING:
    import altair as alt


def channel_mix_chart(frame: pd.DataFrame, *, metric: str = "unique") -> alt.Chart:
    """Daily users per channel, stacked: the channel mix over time.

    The stacks are channel-users: a user on two channels in a day is in both stacks, so a
    stack's height can exceed the bot's unique users that day (the subtitle says so).
    """
    alt = lazy_altair()
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


def channel_mix_html(mix: pd.DataFrame, *, title: str | None = None) -> str:
    """The :func:`channel_mix` table as self-contained HTML, with the non-additivity note."""
    import html

    def count(v: object) -> str:
        return "not available" if pd.isna(v) else f"{int(v):,}"  # type: ignore[call-overload]

    def share(v: object) -> str:
        return "–" if pd.isna(v) else f"{float(v):.1%}"  # type: ignore[arg-type]

    cell = "padding:4px 12px;border-bottom:1px solid #e6e6e6;"
    num = cell + "text-align:right;font-variant-numeric:tabular-nums;"
    head = "padding:4px 12px;border-bottom:2px solid #999999;"
    headers = ["Channel", "Unique users", "New users", "Returning users", "Returning share"]
    headers.append("Share of channel-users")
    parts = ['<table class="ek-channels" style="border-collapse:collapse;font-size:14px;">']
    if title:
        parts.append(
            f'<caption style="text-align:left;font-weight:600;">{html.escape(title)}</caption>'
        )
    parts.append(
        "<thead><tr>"
        + "".join(
            f'<th style="{head}text-align:{"left" if i == 0 else "right"};">{html.escape(h)}</th>'
            for i, h in enumerate(headers)
        )
        + "</tr></thead><tbody>"
    )
    for row in mix.itertuples(index=False):
        values = [
            count(row.unique_users),
            count(row.new_users),
            count(row.returning_users),
            share(row.returning_share),
            share(row.share_of_channel_users),
        ]
        parts.append(
            f'<tr data-channel="{html.escape(str(row.channel), quote=True)}">'
            f'<td style="{cell}">{html.escape(str(row.channel))}</td>'
            + "".join(f'<td style="{num}">{html.escape(v)}</td>' for v in values)
            + "</tr>"
        )
    parts.append("</tbody></table>")
    parts.append(f"<p style='color:#555;font-size:12px'>{html.escape(NOT_ADDITIVE_NOTE)}</p>")
    return "".join(parts)
