"""Channels, as the API documents them: one channel per request, and a breakdown across several.

The reference says ``channels`` "filters analytics data by the specified channel": one channel.
So :meth:`EngagementClient.fetch` takes at most one, and a breakdown is one request per channel
(``client.fetch_channels``, through the client's rate limiter and response store, one at a time).

Unique users do **not** add up across channels: a user who came on WhatsApp and on the web chat
is a unique user of each channel, and once of the whole bot. The sum of the channels' unique
users is therefore at least the bot's unique users, and the shares of :func:`channel_mix` are
shares of that sum ("channel-users"), not of the bot's users.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from engagement_kit.config.query import EngagementQuery, channel_list

if TYPE_CHECKING:
    from engagement_kit.client.core import EngagementClient

__all__ = ["fetch_channels"]


def fetch_channels(
    client: EngagementClient,
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

    This is the method :meth:`EngagementClient.fetch_channels
    <engagement_kit.client.EngagementClient.fetch_channels>`: call it as
    ``client.fetch_channels(stream_id, start, end, channels=[...])``.

    Parameters
    ----------
    client : EngagementClient
        The client (``self``): its rate limiter and store apply to every channel's request;
        they go one at a time.
    channels : list of str or comma-separated str
        The channels to compare, e.g. ``["whatsapp", "rtm"]``.
    stream_id, start, end, aggregation, conversation_type, conversation_status, tz, refresh
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
    names = channel_list(channels)
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
