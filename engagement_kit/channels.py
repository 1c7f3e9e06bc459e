"""Channels, as the API documents them: one channel per request, and a breakdown across several.

The reference says ``channels`` "filters analytics data by the specified channel": one channel.
So :meth:`EngagementClient.fetch` takes at most one, and a breakdown is one request per channel
(:func:`fetch_channels`, through the client's rate limiter and response store, one at a time).

Unique users do **not** add up across channels: a user who came on WhatsApp and on the web chat
is a unique user of each channel, and once of the whole bot. The sum of the channels' unique
users is therefore at least the bot's unique users, and the shares of :func:`channel_mix` are
shares of that sum ("channel-users"), not of the bot's users.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import InvalidQueryError
from .query import EngagementQuery

if TYPE_CHECKING:
    pass

__all__ = [
    "NOT_ADDITIVE_NOTE",
    "channel_mix",
    "channel_mix_html",
    "fetch_channels",
]

_MIX_COLUMNS = [
    "channel",
    "unique_users",
    "new_users",
    "returning_users",
    "returning_share",
    "share_of_channel_users",
]


def _channel_list(channels: object) -> list[str]:
    if isinstance(channels, str):
        channels = channels.split(",")
    if not isinstance(channels, Iterable):
        raise InvalidQueryError(
            "channels: give a list of channel names, e.g. ['rtm', 'msteams']", field="channels"
        )
    names: list[str] = []
    for name in channels:
        # each one validated as a query's channel would be
        one = EngagementQuery(stream_id="x", start="2000-01-01", end="2000-01-01", channels=name)
        if not one.channels:
            raise InvalidQueryError(
                "channels: 'all' is not a channel of a breakdown; list the channels to compare",
                field="channels",
            )
        if one.channels[0] not in names:
            names.append(one.channels[0])
    if not names:
        raise InvalidQueryError(
            "channels: give at least one channel name, e.g. ['rtm', 'msteams']", field="channels"
        )
    return names


def fetch_channels(
    client: Any,
    stream_id: str,
    start: dt.date | str,
    end: dt.date | str,
    *,
    channels: Sequence[str] | str,
    aggregation: str = "daily",
    conversation_type: str = "all",
    conversation_status: str = "all",
    tz: str = "UTC",
    refresh: bool = False,
) -> pd.DataFrame:
    """One request per channel, as one tidy frame with a ``channel`` column.

    Parameters
    ----------
    client : EngagementClient
        Anything with :meth:`~engagement_kit.client.EngagementClient.fetch` (its rate limiter
        and store apply to every channel's request; they go one at a time).
    channels : list of str or comma-separated str
        The channels to compare, e.g. ``["whatsapp", "rtm"]``.
    Other parameters
        As for :meth:`~engagement_kit.client.EngagementClient.fetch`.

    Returns
    -------
    pandas.DataFrame
        The channels' ``trend`` frames stacked, with ``channel`` (category, in the given order)
        first. ``attrs["summaries"]`` holds each channel's period summary
        (``{channel: {"unique_users": ..., ...}}``, ``None`` where unknown) and
        ``attrs["query"]`` the common query's fields. Unique users do not add up across
        channels (see the module docstring).
    """
    names = _channel_list(channels)
    query = EngagementQuery(  # validated before any request
        stream_id=stream_id,
        start=start,
        end=end,
        aggregation=aggregation,
        conversation_type=conversation_type,
        conversation_status=conversation_status,
        tz=tz,
    )
    frames, summaries, notes = [], {}, {}
    for name in names:
        fields = query.model_dump(exclude={"channels"})
        data = client.fetch(
            fields.pop("stream_id"),
            fields.pop("start"),
            fields.pop("end"),
            channels=name,
            refresh=refresh,
            **fields,
        )
        frame = data.trend.copy()
        frame.insert(0, "channel", name)
        frames.append(frame)
        summaries[name] = {k: (None if pd.isna(v) else float(v)) for k, v in data.summary.items()}
        notes.update({f"{name}.{k}": v for k, v in data.summary_notes.items()})
    out = pd.concat(frames, ignore_index=True)
    out["channel"] = pd.Categorical(out["channel"], categories=names)
    out.attrs.update(summaries=summaries, notes=notes, query=query.model_dump(mode="json"))
    return out


def channel_mix(frame: pd.DataFrame) -> pd.DataFrame:
    """The channel-mix table of a :func:`fetch_channels` frame: one row per channel.

    Returns
    -------
    pandas.DataFrame
        ``channel``, ``unique_users``, ``new_users``, ``returning_users`` (the period's, from
        each channel's summary; ``<NA>`` when the range was fetched in parts),
        ``returning_share`` (returning ÷ unique within the channel) and
        ``share_of_channel_users`` (the channel's unique users ÷ the sum over the channels;
        a user on two channels counts in both, so this is not a share of the bot's users).
    """
    if "channel" not in frame.columns or "summaries" not in frame.attrs:
        raise InvalidQueryError(
            "frame: expected the output of fetch_channels (a channel column and summaries)",
            field="frame",
        )
    summaries = frame.attrs["summaries"]
    names = list(frame["channel"].cat.categories) if hasattr(frame["channel"], "cat") else []
    rows = []
    for name in names or summaries:
        s = summaries.get(name, {})
        rows.append(
            {
                "channel": name,
                **{col: s.get(col) for col in ("unique_users", "new_users", "returning_users")},
            }
        )
    out = pd.DataFrame(rows, columns=["channel", "unique_users", "new_users", "returning_users"])
    for col in ("unique_users", "new_users", "returning_users"):
        out[col] = out[col].astype("Float64").astype("Int64")
    unique = out["unique_users"].astype("Float64")
    out["returning_share"] = (out["returning_users"] / unique.mask(unique == 0)).astype("Float64")
    total = unique.sum(skipna=False)  # <NA> when a channel's count is missing
    known = not pd.isna(total) and total > 0
    out["share_of_channel_users"] = (unique / total if known else unique * pd.NA).astype("Float64")
    return out[_MIX_COLUMNS]


NOT_ADDITIVE_NOTE = (
    "Unique users do not add up across channels: a user who came on two channels is counted in "
    "each, so the channels' sum is at least the bot's unique users. Shares are of that sum."
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
