"""The ``engagement-kit`` command: a thin Typer app over the package's functions.

Every command catches the toolkit's own errors and prints one readable sentence (never a
traceback, never a secret). Exit codes: 0 success, 1 the work failed (e.g. a report could not be
written), 2 bad arguments or settings.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from . import __version__
from .errors import ConfigError, EngagementError, InvalidQueryError

app = typer.Typer(
    name="engagement-kit",
    help=(
        "Kore.ai User Engagement Trend (v2): fetch, explore and report unique, new and "
        "returning users.\n\nStart with engagement-kit report --demo (the built-in "
        "demo platform, no credentials needed); then engagement-kit init makes a project "
        "folder for your own streams."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    add_completion=False,
)
store_app = typer.Typer(
    help="Inspect, export, back up or empty the local response store.", no_args_is_help=True
)
app.add_typer(store_app, name="store")

err = Console(stderr=True)
out = Console()

F = TypeVar("F", bound=Callable[..., Any])


def _friendly(fn: F) -> F:
    """Turn the toolkit's errors into one red sentence and the right exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .stopping import Stopped, stop_on_signals

        try:
            with stop_on_signals():  # SIGTERM/SIGHUP clean up as Ctrl-C does
                return fn(*args, **kwargs)
        except (InvalidQueryError, ConfigError) as exc:
            _print_error(exc)
            raise typer.Exit(2) from None
        except EngagementError as exc:
            _print_error(exc)
            raise typer.Exit(1) from None
        except Stopped as exc:
            err.print(f"stopped ({exc.name})", style="yellow")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted", style="yellow")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _print_error(exc: BaseException) -> None:
    from rich.text import Text

    err.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False)


def _version(value: bool) -> None:
    if value:
        out.print(f"engagement-kit {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log requests and retries (no secrets).")
    ] = False,
    project: Annotated[
        Path | None,
        typer.Option(
            "--project",
            help="The project folder (.env, streams.toml, reports/). Default: "
            "$ENGAGEMENT_KIT_HOME, else the nearest folder from here upwards with a .env or "
            "streams.toml.",
        ),
    ] = None,
) -> None:
    if project is not None:
        _use_project(project)
    if verbose:
        import logging

        from rich.logging import RichHandler

        logging.basicConfig(
            level=logging.DEBUG, format="%(message)s", handlers=[RichHandler(console=err)]
        )
        for noisy in ("httpcore", "httpx", "asyncio", "traitlets", "papermill"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


@app.command(
    epilog=(
        "Examples: engagement-kit report --demo (all demo streams); "
        "engagement-kit report --config streams.toml --week 2025-W48; "
        "engagement-kit report --stream st-... --name 'Support bot' --tz Asia/Kolkata."
    )
)
@_friendly
def report(
    demo: Annotated[
        bool, typer.Option("--demo", help="Use the built-in demo platform (no credentials).")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="streams.toml listing the streams to report on."),
    ] = None,
    stream: Annotated[
        str | None, typer.Option("--stream", help="Report on this one stream id instead.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name for --stream.")] = None,
    tz: Annotated[
        str | None, typer.Option(help="IANA time zone for --stream (default UTC).")
    ] = None,
    conversation_type: Annotated[
        str, typer.Option(help="For --stream: all, interactive or non_interactive.")
    ] = "all",
    conversation_status: Annotated[
        str, typer.Option(help="For --stream: all, active or closed.")
    ] = "all",
    channels: Annotated[
        str | None, typer.Option(help="For --stream: comma-separated channels (default all).")
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Platform URL (default $KORE_HOST); not with --demo.")
    ] = None,
    week: Annotated[
        str | None,
        typer.Option(help="ISO week YYYY-Www (default: the last complete week in each zone)."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(help="Where reports are written (default: reports/ of the project folder)."),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(min=1, help="Reports run in parallel (default: cores, at most 4)."),
    ] = None,
    keep_notebook: Annotated[
        bool, typer.Option(help="Also keep each executed notebook (<week>.ipynb).")
    ] = False,
    send: Annotated[
        bool, typer.Option("--send", help="Then deliver each report (deliver = [...]).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --send: show what would be sent; send nothing.")
    ] = False,
    resend: Annotated[
        bool, typer.Option("--resend", help="With --send: send again what was sent already.")
    ] = False,
) -> None:
    """Write the weekly HTML report (+ JSON sidecar) of each stream, then reports/index.html.

    Streams come from --demo, --config or --stream, else the project's streams.toml. Credentials for a real platform come only
    from the environment or .env (KORE_CLIENT_ID + KORE_CLIENT_SECRET, or KORE_JWT). Exit code
    0 when every report was written, 1 when any failed (the others are still written), 2 for
    bad arguments.
    """
    from . import report as rpt
    from .config import StreamConfig, load_streams
    from .summary import exit_code

    if config is not None and stream is not None:
        raise ConfigError("give either --config or --stream, not both")
    if demo and host:
        raise ConfigError("--host is for a real platform; --demo uses the built-in demo platform")
    if stream is None and (name or tz or channels):
        raise ConfigError("--name, --tz and --channels go with --stream")
    config_file = config
    if config is not None:
        configs = load_streams(config)
    elif stream is not None:
        known = {s.id: s for s in rpt.demo_streams()} if demo else {}
        base = known.get(stream)
        configs = [
            StreamConfig(
                id=stream,
                name=name or (base.name if base else stream),
                tz=tz or (base.tz if base else "UTC"),
                conversation_type=conversation_type,
                conversation_status=conversation_status,
                channels=channels.split(",") if channels else (),
            )
        ]
    elif demo:
        configs = rpt.demo_streams()
    else:
        from .config import project_streams
        from .settings import load_settings

        try:
            configs = project_streams()
        except ConfigError as exc:
            raise ConfigError(
                f"{exc}; or use --demo (the built-in demo platform), --config FILE or --stream ID"
            ) from None
        config_file = load_settings().streams_file
    from . import delivery

    plan = delivery.plan_for(configs, config_file, send=send or dry_run, dry_run=dry_run)
    reports_dir = out_dir if out_dir is not None else _project_folder() / "reports"
    results = rpt.render_all(
        configs,
        week=week,
        out_dir=reports_dir,
        jobs=jobs,
        keep_notebook=keep_notebook,
        source="demo" if demo else "platform",
        host=host,
        console=err,
    )
    sent = delivery.after_reports(
        results, plan, reports_dir, send=send, dry_run=dry_run, resend=resend, console=err
    )
    raise typer.Exit(max(exit_code(results), sent))


@app.command(
    epilog=(
        "Examples: engagement-kit send (last week's reports of streams.toml); "
        "engagement-kit send --week 2025-W48 --stream st-... --dry-run; "
        "engagement-kit send --resend."
    )
)
@_friendly
def send(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="streams.toml with the deliver lists (default: the project's)."
        ),
    ] = None,
    week: Annotated[
        str | None,
        typer.Option(help="ISO week YYYY-Www (default: the last complete week in each zone)."),
    ] = None,
    stream: Annotated[
        list[str] | None,
        typer.Option("--stream", metavar="ID", help="Only this stream id (repeatable)."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(help="Where the reports were written (default: reports/ of the project)."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print what would be sent where, write the .eml; send nothing."
        ),
    ] = False,
    resend: Annotated[
        bool, typer.Option("--resend", help="Send again what was sent already.")
    ] = False,
) -> None:
    """Deliver reports already written (email, chat, webhooks) and their alerts.

    Destinations are Apprise URLs in streams.toml (deliver = [...] per stream or in
    [defaults]); secrets come from the environment or .env as ${NAME}. What was sent is
    recorded, so a second run sends nothing unless --resend. Exit code 1 when any delivery
    failed (the others are still sent), 2 for bad settings.
    """
    from . import delivery

    plan = delivery.plan_for(
        None, _streams_file(config), send=True, dry_run=dry_run, stream_ids=stream
    )
    reports_dir = out_dir if out_dir is not None else _project_folder() / "reports"
    outcomes = delivery.send_written(
        plan, reports_dir, week=week, stream_ids=stream, dry_run=dry_run, resend=resend, console=err
    )
    raise typer.Exit(delivery.exit_code(outcomes))


@app.command()
@_friendly
def alerts(
    backtest: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="N", help="Show in which of the last N weeks each rule would have fired."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="streams.toml with the alert rules (default: the project's)."
        ),
    ] = None,
    stream: Annotated[
        list[str] | None,
        typer.Option("--stream", metavar="ID", help="Only this stream id (repeatable)."),
    ] = None,
    week: Annotated[
        str | None, typer.Option(help="Last week of the backtest (default: last complete week).")
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Use the built-in demo platform (no credentials).")
    ] = False,
    host: Annotated[
        str | None, typer.Option(help="Platform URL (default $KORE_HOST); not with --demo.")
    ] = None,
) -> None:
    """List the alert rules of streams.toml, or backtest them (--backtest 12).

    The backtest computes each week's numbers as the report does (from the store and the
    platform) and runs the rules oldest week first, cooldown included.
    """
    from . import delivery

    plan = delivery.plan_for(
        None, _streams_file(config), send=False, dry_run=False, stream_ids=stream
    )
    delivery.print_alerts(
        plan, backtest=backtest, stream_ids=stream, week=week, demo=demo, host=host, console=out
    )


@app.command()
@_friendly
def doctor(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="The streams.toml to check (default: the project's)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds allowed for each network step.")
    ] = 10.0,
) -> None:
    """Check the settings, the way to the platform and every stream, in order (run it first).

    Settings found, host name resolves, TLS handshake, token minted, token accepted, each
    stream of streams.toml answers a one-day request, the local clock agrees with the
    platform's, the store is writable. Prints the fix for each failed check. At most one
    request per stream; no secret is printed. Exit code 0 when every check passed, 1 when one
    failed, 2 when the settings are wrong.
    """
    from .doctor import diagnose, print_diagnosis

    diagnosis = diagnose(config=config, timeout=timeout)
    print_diagnosis(diagnosis, out)
    raise typer.Exit(diagnosis.exit_code)


@app.command()
@_friendly
def token() -> None:
    """Print a platform JWT minted from KORE_CLIENT_ID/KORE_CLIENT_SECRET (for curl).

    The token is a secret: it is printed to standard output only, with a warning on standard
    error. Credentials come from the environment or .env (see .env.example).
    """
    from .auth import TOKEN_WARNING, mint_token_for_cli

    value = mint_token_for_cli()
    err.print(TOKEN_WARNING, style="yellow", highlight=False, markup=False)
    print(value)


@app.command()
@_friendly
def streams(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="A streams.toml to list (default: the project's)."),
    ] = None,
) -> None:
    """List the streams of the project's streams.toml (or --config FILE); else the demo streams."""
    from rich.table import Table

    from .settings import load_settings

    table = Table("id", "name", "time zone", "filters")
    if config is None:
        config = load_settings().streams_file
    if config is None:
        from .demo import DEMO_STREAMS

        table.title = "Demo streams (built-in demo platform)"
        for s in DEMO_STREAMS:
            table.add_row(s.id, s.name, s.tz, "all")
    else:
        from .config import load_streams

        table.title = str(config)
        for s in load_streams(config):
            f = s.filters()
            shown = ", ".join(
                f"{k}={v}" for k, v in f.items() if k != "tz" and v not in (None, "all")
            )
            table.add_row(s.id, s.name, s.tz, shown or "all")
    out.print(table)


@app.command()
@_friendly
def fetch(
    stream_id: Annotated[str, typer.Argument(help="The stream (app) id.")],
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD (inclusive).")],
    end: Annotated[str, typer.Option(help="Last day, YYYY-MM-DD (inclusive).")],
    aggregation: Annotated[str, typer.Option(help="daily or hourly.")] = "daily",
    tz: Annotated[str, typer.Option(help="IANA time zone, e.g. Asia/Kolkata.")] = "UTC",
    conversation_type: Annotated[
        str, typer.Option(help="all, interactive or non_interactive.")
    ] = "all",
    conversation_status: Annotated[str, typer.Option(help="all, active or closed.")] = "all",
    channels: Annotated[
        str | None, typer.Option(help="Comma-separated channels (default all).")
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

    client = _client(demo=demo, host=host)
    with client:
        data = client.fetch(
            stream_id,
            start,
            end,
            aggregation=aggregation,
            tz=tz,
            conversation_type=conversation_type,
            conversation_status=conversation_status,
            channels=channels,
            refresh=refresh,
        )
    table = Table("measure", "value", title=data.query.describe() if data.query else None)
    for name, value in data.summary.items():
        shown = (
            ("not available (see below)" if name in data.summary_notes else "n/a")
            if _isna(value)
            else (
                f"{value:,.0f}"
                if str(name).endswith("_users") and not str(name).startswith("avg")
                else f"{value:,.2f}"
            )
        )
        table.add_row(str(name), shown)
    out.print(table)
    for note in dict.fromkeys(data.summary_notes.values()):
        out.print(note)
    if csv is not None:
        from .files import atomic_write

        atomic_write(csv, data.trend.to_csv(index=False))
        out.print(f"wrote {len(data.trend):,} rows to {csv}")


@app.command()
@_friendly
def backfill(
    stream: Annotated[str, typer.Option("--stream", help="The stream (app) id.")],
    since: Annotated[
        str, typer.Option(help="How far back to look for first sessions, YYYY-MM-DD.")
    ],
    until: Annotated[
        str | None, typer.Option(help="Last day, YYYY-MM-DD (default yesterday).")
    ] = None,
    tz: Annotated[str, typer.Option(help="IANA time zone of the days.")] = "UTC",
    demo: Annotated[bool, typer.Option("--demo", help="Ask the built-in demo platform.")] = False,
    host: Annotated[str | None, typer.Option(help="Platform URL (default $KORE_HOST).")] = None,
    page_size: Annotated[int, typer.Option(help="Sessions per page (limit).")] = 100,
) -> None:
    """Build or extend the stream's first-seen table from the session history (getSessions).

    Needs the API scope "Bot Sessions". Closed six-day windows are kept in the store, so an
    interrupted backfill (Ctrl-C) resumes where it stopped; a later run only asks for days
    the table does not cover yet.
    """
    from .cohort_store import backfill as run_backfill
    from .sessions import SessionsConfig

    client = _client(demo=demo, host=host)
    with client:
        result = run_backfill(
            client, stream, since, until, tz=tz, config=SessionsConfig(page_size=page_size)
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


@store_app.command("info")
@_friendly
def store_info() -> None:
    """Where the store is, how big, and the days it holds per stream."""
    from rich.table import Table

    from .store import ResponseStore

    info = ResponseStore().info()
    out.print(f"store: {info['path']} ({info['size_bytes'] / 1024:,.0f} KiB)")
    out.print(
        f"ranges: {info['entries']:,} ({info['final_entries']:,} final, "
        f"{info['revisions']:,} answers kept), "
        f"fetched {info['oldest_fetch'] or '-'} .. {info['newest_fetch'] or '-'}"
    )
    if info["streams"]:
        table = Table("stream", "ranges", "oldest day", "newest day")
        for sid, n in info["streams"].items():
            first, last = info["days"].get(sid, ("-", "-"))
            table.add_row(sid, f"{n:,}", first, last)
        out.print(table)
    out.print(
        "The platform keeps only about six months of data: this store is your long-term record "
        "(back it up with `engagement-kit store backup` or `store export`).",
        style="dim",
    )


@store_app.command("history")
@_friendly
def store_history(
    stream: Annotated[str, typer.Argument(help="The stream (app) id.")],
    week: Annotated[
        str | None, typer.Option("--week", "-w", help="Only this ISO week, e.g. 2025-W45.")
    ] = None,
) -> None:
    """The answers kept for a stream's ranges (revisions) and what changed between them."""
    from rich.table import Table

    from .store import ResponseStore
    from .store.history import range_history

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
                f"{r['fetched_at']:%Y-%m-%d %H:%M}",
                f"{r['seen_at']:%Y-%m-%d %H:%M}",
                r["status"],
                "; ".join(r["changes"]) or "-",
            )
        out.print(table)


@store_app.command("export")
@_friendly
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
    from .store import ResponseStore
    from .store.portable import export_history

    done = export_history(ResponseStore(), folder, stream_id=stream, force=force)
    out.print(
        f"wrote {done['rows']:,} rows ({done['ranges']:,} ranges, {done['revisions']:,} "
        f"answers) to {done['history']} and {done['answers']}"
    )


@store_app.command("import")
@_friendly
def store_import(
    folder: Annotated[Path, typer.Argument(help="A folder written by `store export`.")],
) -> None:
    """Merge an export back into the store (importing twice changes nothing)."""
    from .store import ResponseStore
    from .store.portable import import_history

    store = ResponseStore()
    done = import_history(store, folder)
    out.print(f"read {done['read']:,} answers; {done['added']:,} were new to {store.path}")


@store_app.command("backup")
@_friendly
def store_backup(
    file: Annotated[Path, typer.Argument(help="The copy to write, e.g. responses-backup.sqlite3")],
) -> None:
    """A consistent copy of the live store (safe while reports run)."""
    from .store import ResponseStore

    store = ResponseStore()
    target = store.backup(file)
    out.print(f"backed up {store.path} to {target}")


@store_app.command("clear")
@_friendly
def store_clear(
    stream: Annotated[
        str | None, typer.Option("--stream", help="Only this stream's answers.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete stored answers (all, or one stream's). Also repairs a corrupt store file."""
    from .store import ResponseStore

    store = ResponseStore()
    what = f"stream {stream}'s answers" if stream else "every stored answer"
    if not yes and not typer.confirm(
        f"Delete {what} from {store.path}? Answers older than the platform's ~6 months "
        "cannot be fetched again",
        default=False,
    ):
        raise typer.Exit(1)
    n = store.clear(stream_id=stream)
    out.print(f"deleted {n:,} answers from {store.path}")


@app.command()
@_friendly
def dashboard(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free port).")] = 8866,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open a browser tab when ready.")
    ] = False,
    demo: Annotated[
        bool, typer.Option("--demo", help="Show the built-in demo platform, whatever is set.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="A streams.toml to offer (default: the project's)."),
    ] = None,
) -> None:
    """Serve the Explorer as a standalone web app (Voilà) on 127.0.0.1 (Ctrl-C stops it).

    With platform settings (KORE_HOST and credentials in the environment or the project's
    .env) it shows your streams of streams.toml; without them, or with --demo, the built-in
    demo platform. No code is shown and nothing is loaded from the internet. SIGTERM and
    SIGHUP stop it as Ctrl-C does: Voilà and its kernels stop with it.
    """
    from .dashboard import serve

    if demo and config is not None:
        raise ConfigError("--config lists your streams; --demo shows the demo platform's")
    raise typer.Exit(
        serve(port, open_browser=open_browser, echo=out.print, demo=demo, config=config)
    )


@app.command()
@_friendly
def init(
    folder: Annotated[
        Path, typer.Argument(help="The project folder to create or complete (default: here).")
    ] = Path("."),
) -> None:
    """Make a project folder: streams.toml and .env from the examples, reports/, a README.

    Files that exist are kept, never overwritten. .env is readable by you only (mode 600): it
    will hold the app's secret. Then fill in .env and streams.toml and run engagement-kit
    doctor.
    """
    from .project import init_project

    result = init_project(folder)
    for path in result.created:
        out.print(f"created {_shown(path)}", highlight=False)
    for path in result.kept:
        out.print(f"kept    {_shown(path)} (exists)", highlight=False)
    out.print(
        f"Next: fill in {_shown(result.folder / '.env')} (KORE_HOST, KORE_CLIENT_ID, "
        f"KORE_CLIENT_SECRET) and {_shown(result.folder / 'streams.toml')}, then run "
        "engagement-kit doctor and engagement-kit report.",
        highlight=False,
    )


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _use_project(folder: Path) -> None:
    """``--project DIR``: every setting (and every kernel started from here) uses that folder."""
    import os

    from .settings import HOME_ENV

    if not folder.is_dir():
        _print_error(ConfigError(f"--project {folder}: not a folder"))
        raise typer.Exit(2)
    os.environ[HOME_ENV] = str(folder.resolve())


def _streams_file(config: Path | None) -> Path:
    """``--config``, else the project's streams.toml (ConfigError saying where it looked)."""
    if config is not None:
        return config
    from .config import project_streams
    from .settings import load_settings

    found = load_settings().streams_file
    if found is None:
        project_streams()  # raises, naming where streams.toml was looked for
    return found  # type: ignore[return-value]


def _project_folder() -> Path:
    from .settings import find_project

    return find_project().folder


@app.command("serve-demo")
@_friendly
def serve_demo(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free port).")] = 8765,
    latency_ms: Annotated[float, typer.Option(help="Added latency per request, in ms.")] = 0,
    fault_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of requests that get a fault (0-1).")
    ] = 0.0,
    seed: Annotated[int | None, typer.Option(help="Seed for the fault draws.")] = None,
    max_days: Annotated[
        int,
        typer.Option(
            min=0, help="Longest range one request may cover; longer gets a 400 (0 = no limit)."
        ),
    ] = 0,
    channels: Annotated[
        str,
        typer.Option(help="'list': a comma-joined channels list is accepted; 'single': one only."),
    ] = "list",
    overlap: Annotated[
        bool,
        typer.Option(
            "--overlap/--no-overlap",
            help="Whether a user may count as new and returning in the same bucket.",
        ),
    ] = False,
    ignore_filter: Annotated[
        str | None,
        typer.Option(
            help="A filter the platform ignores and echoes as 'all': conversationType, "
            "conversationStatus or channels."
        ),
    ] = None,
) -> None:
    """Serve the demo platform over real HTTP on 127.0.0.1 (Ctrl-C stops it).

    Faults (503s, slow answers, dropped connections, 429 bursts) show the client's retries at
    work. --max-days, --channels, --overlap and --ignore-filter pick an answer to each question
    the API reference leaves open, to see how the toolkit copes. The printed client id and
    secret open only the demo platform.
    """
    from .demo.platform import DemoPlatform
    from .demo.server import serve

    try:
        platform = DemoPlatform(
            max_days=max_days or None,
            channels=channels,
            overlap=overlap,
            ignore_filter=ignore_filter,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    serve(
        port,
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        seed=seed,
        platform=platform,
        echo=out.print,
    )


def _isna(value: object) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def _client(*, demo: bool, host: str | None):  # -> EngagementClient, imported lazily
    from .sources import client_for

    return client_for("demo" if demo else "platform", host)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
