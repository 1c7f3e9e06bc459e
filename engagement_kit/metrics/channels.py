"""The channel-mix table of a breakdown (:func:`engagement_kit.client.channels.fetch_channels`).

Unique users do **not** add up across channels: a user who came on WhatsApp and on the web chat
is a unique user of each channel, and once of the whole bot. The sum of the channels' unique
users is therefore at least the bot's unique users, and the shares of :func:`channel_mix` are
shares of that sum ("channel-users"), not of the bot's users.
"""

from __future__ import annotations

import pandas as pd

from engagement_kit.errors import InvalidQueryError

__all__ = ["NOT_ADDITIVE_NOTE", "channel_mix"]

_MIX_COLUMNS = [
    "channel",
    "unique_users",
    "new_users",
    "returning_users",
    "returning_share",
    "share_of_channel_users",
]


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
