"""``engagement-kit fetch`` and ``backfill``: one range's summary, and the first-seen table built
from the session history.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engagement_kit.cli.common import app, err, friendly_errors, named_stream, out
from engagement_kit.errors import ConfigError


@app.command()
@friendly_errors
def fetch(
    stream_id: Annotated[
        str,
        typer.Argument(
            help="The stream (app) id; one in streams.toml comes with its zone and filters."
        ),
    ],
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD (inclusive).")],
    end: Annotated[str, typer.Option(help="Last day, YYYY-MM-DD (inclusive).")],
    aggregation: Annotated[str, typer.Option(help="daily or hourly.")] = "daily",
    tz: Annotated[
        str | None,
        typer.Option(
            help="IANA time zone, e.g. Asia/Kolkata (default: the stream's in streams.toml; "
            "needed for a stream that is not there)."
        ),
    ] = None,
    conversation_type: Annotated[
        str | None,
        typer.Option(help="all, interactive or non_interactive (default: the stream's)."),
    ] = None,
    conversation_status: Annotated[
        str | None, typer.Option(help="all, active or closed (default: the stream's).")
    ] = None,
    channels: Annotated[
        str | None, typer.Option(help="Comma-separated channels (default: the stream's, or all).")
    ] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Ask the built-in demo platform.")] = False,
    host: Annotated[str | None, typer.Option(help="Platform URL (default $KORE_HOST).")] = None,
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Write the tidy trend to this CSV file.")
    ] = None,
    refresh: Annotated[bool, typer.Option(help="Ignore the store and ask again.")] = False,
) -> None:
    """Fetch one range and print its summary (and optionally save the tidy trend as CSV)."""
    from rich.table import Table

    from engagement_kit.config.query import channel_list
    from engagement_kit.formatting import kpi_text, print_table

    named = named_stream(
        stream_id,
        demo=demo,
        tz=tz,
        conversation_type=conversation_type,
        conversation_status=conversation_status,
    )
    filters = named.config.filters()
    if channels:
        chosen = channel_list(channels)
        if len(chosen) > 1:
            raise ConfigError(
                f"--channels {channels}: the platform filters by one channel per request; give "
                "one channel (for example --channels rtm), or list them as channels_breakdown "
                "of the stream in streams.toml to compare them side by side in the report"
            )
        filters["channels"] = chosen
    client = _client(demo=demo, host=host)
    with client:
        data = client.fetch(
            named.config.id, start, end, aggregation=aggregation, refresh=refresh, **filters
        )
    table = Table("measure", "value", title=data.query.describe() if data.query else None)
    for name, value in data.summary.items():
        shown = (
            ("not available (see below)" if name in data.summary_notes else "n/a")
            if _isna(value)
            else kpi_text(str(name), value)
        )
        table.add_row(str(name), shown)
    print_table(out, table)
    for note in dict.fromkeys(data.summary_notes.values()):
        out.print(note)
    if csv is not None:
        from engagement_kit.store.files import atomic_write

        atomic_write(csv, data.trend.to_csv(index=False))
        out.print(f"wrote {len(data.trend):,} rows to {csv}")


@app.command()
@friendly_errors
def backfill(
    stream: Annotated[str, typer.Option("--stream", help="The stream (app) id.")],
    since: Annotated[
        str, typer.Option(help="How far back to look for first sessions, YYYY-MM-DD.")
    ],
    until: Annotated[
        str | None, typer.Option(help="Last day, YYYY-MM-DD (default yesterday).")
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            help="IANA time zone of the days (default: the stream's in streams.toml; needed "
            "for a stream that is not there)."
        ),
    ] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Ask the built-in demo platform.")] = False,
    host: Annotated[str | None, typer.Option(help="Platform URL (default $KORE_HOST).")] = None,
    page_size: Annotated[int, typer.Option(help="Sessions per page (limit).")] = 100,
) -> None:
    """Build or extend the stream's first-seen table from the session history (getSessions).

    Needs the API scope "Bot Sessions". Closed six-day windows are kept in the store, so an
    interrupted backfill (Ctrl-C) resumes where it stopped; a later run only asks for days
    the table does not cover yet.
    """
    from engagement_kit.client.sessions import SessionsConfig
    from engagement_kit.metrics.first_seen import backfill as run_backfill

    named = named_stream(stream, demo=demo, tz=tz)
    client = _client(demo=demo, host=host)
    with client:
        result = run_backfill(
            client,
            named.config.id,
            since,
            until,
            tz=named.config.tz,
            config=SessionsConfig(page_size=page_size),
        )
    if not result["complete"]:
        err.print(
            f"interrupted: {result['sessions']:,} sessions fetched and their closed windows "
            "stored; run the same command again to resume"
        )
        raise typer.Exit(1)
    out.print(
        f"{stream}: {result['users']:,} users first seen between {result['horizon']} and "
        f"{result['through']} ({result['new_users']:,} new in the table, "
        f"{result['sessions']:,} sessions, {result['requested_windows']} windows asked)"
    )


def _isna(value: object) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def _client(*, demo: bool, host: str | None):  # -> EngagementClient, imported lazily
    from engagement_kit.data_source import client_for

    client = client_for("demo" if demo else "platform", host)
    client.retry_notice = lambda text: err.print(
        text, style="yellow", markup=False, highlight=False
    )
    return client
