"""``engagement-kit store ...``: inspect, export, import, back up or empty the local response
store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engagement_kit.cli.common import friendly_errors, out, store_app


@store_app.command("info")
@friendly_errors
def store_info() -> None:
    """Where the store is, how big, and the days it holds per stream."""
    from rich.table import Table

    from engagement_kit.formatting import print_table, timestamp_text
    from engagement_kit.store import ResponseStore

    info = ResponseStore().info()
    out.print(
        f"store: {info['path']} ({info['backend']}, {info['size_bytes'] / 1024:,.0f} KiB)",
        markup=False,
        soft_wrap=True,
    )
    out.print(
        f"ranges: {info['entries']:,} ({info['final_entries']:,} final, "
        f"{info['revisions']:,} answers kept), "
        f"fetched {timestamp_text(info['oldest_fetch']) or '-'} .. "
        f"{timestamp_text(info['newest_fetch']) or '-'}",
        soft_wrap=True,
    )
    if info["streams"]:
        table = Table("stream", "ranges", "oldest day", "newest day")
        for sid, n in info["streams"].items():
            first, last = info["days"].get(sid, ("-", "-"))
            table.add_row(sid, f"{n:,}", first, last)
        print_table(out, table)
    out.print(
        "The platform keeps only about six months of data: this store is your long-term record "
        "(back it up with `engagement-kit store backup` or `store export`).",
        style="dim",
    )


@store_app.command("history")
@friendly_errors
def store_history(
    stream: Annotated[str, typer.Argument(help="The stream (app) id.")],
    week: Annotated[
        str | None, typer.Option("--week", "-w", help="Only this ISO week, e.g. 2025-W45.")
    ] = None,
) -> None:
    """The answers kept for a stream's ranges (revisions) and what changed between them."""
    from rich.table import Table

    from engagement_kit.formatting import print_table
    from engagement_kit.store import ResponseStore
    from engagement_kit.store.history import range_history

    ranges = range_history(ResponseStore(), stream, week=week)
    if not ranges:
        where = f" for {week}" if week else ""
        out.print(f"no stored answers for stream {stream}{where}")
        raise typer.Exit(1)
    for entry in ranges:
        query = entry["query"]
        table = Table(
            "#",
            "fetched (UTC)",
            "last confirmed (UTC)",
            "status",
            "changes from the one before",
            title=f"{query.describe()} on {entry['host']}",
            title_justify="left",
        )
        for r in entry["revisions"]:
            table.add_row(
                str(r["revision"]),
                f"{r['fetched_at']:%Y-%m-%d %H:%M:%S}",
                f"{r['seen_at']:%Y-%m-%d %H:%M:%S}",
                r["status"],
                "; ".join(r["changes"]) or "-",
            )
        print_table(out, table)


@store_app.command("export")
@friendly_errors
def store_export(
    folder: Annotated[Path, typer.Argument(help="Folder for history.csv and answers.csv.")],
    stream: Annotated[
        str | None, typer.Option("--stream", help="Only this stream's ranges.")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(help="Replace an earlier export even if it holds answers the store lacks."),
    ] = False,
) -> None:
    """Write the tidy history (one row per bucket of every kept answer) as CSV files.

    history.csv is for analysis (pandas.read_csv); answers.csv holds the raw answers that
    `store import` merges back.
    """
    from engagement_kit.store import ResponseStore
    from engagement_kit.store.portable import export_history

    done = export_history(ResponseStore(), folder, stream_id=stream, force=force)
    out.print(
        f"wrote {done['rows']:,} rows ({done['ranges']:,} ranges, {done['revisions']:,} "
        f"answers) to {done['history']} and {done['answers']}"
    )


@store_app.command("import")
@friendly_errors
def store_import(
    folder: Annotated[Path, typer.Argument(help="A folder written by `store export`.")],
) -> None:
    """Merge an export back into the store (importing twice changes nothing)."""
    from engagement_kit.store import ResponseStore
    from engagement_kit.store.portable import import_history

    store = ResponseStore()
    done = import_history(store, folder)
    out.print(f"read {done['read']:,} answers; {done['added']:,} were new to {store.shown}")


@store_app.command("backup")
@friendly_errors
def store_backup(
    file: Annotated[Path, typer.Argument(help="The copy to write, e.g. responses-backup.sqlite3")],
) -> None:
    """A consistent copy of the live store (safe while reports run)."""
    from engagement_kit.store import ResponseStore

    store = ResponseStore()
    target = store.backup(file)
    out.print(f"backed up {store.shown} to {target}")


@store_app.command("copy")
@friendly_errors
def store_copy(
    source: Annotated[
        str, typer.Argument(help="The store to copy: a file or a postgresql:// URL.")
    ],
    destination: Annotated[
        str, typer.Argument(help="The store to copy into (created if new): a file or a URL.")
    ],
) -> None:
    """Copy a store into another, e.g. SQLite to PostgreSQL: every revision and record.

    Copying again adds nothing; the destination keeps what it had (a range it holds keeps its
    answer in use; copied answers join it as older revisions).
    """
    from engagement_kit.store import ResponseStore

    src, dst = ResponseStore(source), ResponseStore(destination)
    added = src.copy_to(dst)
    parts = ", ".join(f"{n:,} {name}" for name, n in added.items() if n)
    out.print(f"copied {src.shown} to {dst.shown}: {parts or 'nothing new'}", markup=False)


@store_app.command("clear")
@friendly_errors
def store_clear(
    stream: Annotated[
        str | None, typer.Option("--stream", help="Only this stream's answers.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete stored answers (all, or one stream's). Also repairs a corrupt store file."""
    from engagement_kit.store import ResponseStore
    from engagement_kit.store.database import CorruptStoreError

    store = ResponseStore()
    what = f"stream {stream}'s answers" if stream else "every stored answer"
    try:
        store.engine  # noqa: B018 - a store of a newer engagement-kit is refused here, untouched
    except CorruptStoreError:
        if stream:
            raise
        what = "the corrupt store (it is copied aside first; what was sent is kept if readable)"
    if not yes and not typer.confirm(
        f"Delete {what} from {store.shown}? Answers older than the platform's ~6 months "
        "cannot be fetched again",
        default=False,
    ):
        raise typer.Exit(1)
    n = store.clear(stream_id=stream)
    if store.set_aside is not None:
        out.print(f"the corrupt store was copied to {store.set_aside}; {store.shown} is new")
    else:
        out.print(f"deleted {n:,} answers from {store.shown}")
