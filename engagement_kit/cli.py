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
        "demo platform, no credentials needed)."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    add_completion=False,
)
store_app = typer.Typer(help="Inspect or empty the local response store.", no_args_is_help=True)
app.add_typer(store_app, name="store")

err = Console(stderr=True)
out = Console()

F = TypeVar("F", bound=Callable[..., Any])


def _friendly(fn: F) -> F:
    """Turn the toolkit's errors into one red sentence and the right exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (InvalidQueryError, ConfigError) as exc:
            _print_error(exc)
            raise typer.Exit(2) from None
        except EngagementError as exc:
            _print_error(exc)
            raise typer.Exit(1) from None
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
) -> None:
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
    out_dir: Annotated[Path, typer.Option(help="Where reports are written.")] = Path("reports"),
    jobs: Annotated[
        int | None,
        typer.Option(min=1, help="Reports run in parallel (default: cores, at most 4)."),
    ] = None,
    keep_notebook: Annotated[
        bool, typer.Option(help="Also keep each executed notebook (<week>.ipynb).")
    ] = False,
) -> None:
    """Write the weekly HTML report (+ JSON sidecar) of each stream, then reports/index.html.

    Streams come from --demo, --config or --stream. Credentials for a real platform come only
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
    elif Path("streams.toml").is_file():
        configs = load_streams("streams.toml")
    else:
        raise ConfigError(
            "no streams: use --demo (the built-in demo platform), --config streams.toml, or "
            "--stream ID (copy streams.example.toml to streams.toml to list yours)"
        )
    results = rpt.render_all(
        configs,
        week=week,
        out_dir=out_dir,
        jobs=jobs,
        keep_notebook=keep_notebook,
        source="demo" if demo else "platform",
        host=host,
        console=err,
    )
    raise typer.Exit(exit_code(results))


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
        typer.Option("--config", "-c", help="A streams.toml to list instead of the demo streams."),
    ] = None,
) -> None:
    """List the demo streams, or the streams of a streams.toml."""
    from rich.table import Table

    table = Table("id", "name", "time zone", "filters")
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
            "n/a (chunked range)"
            if _isna(value)
            else (
                f"{value:,.0f}"
                if str(name).endswith("_users") and not str(name).startswith("avg")
                else f"{value:,.2f}"
            )
        )
        table.add_row(str(name), shown)
    out.print(table)
    if csv is not None:
        from .files import atomic_write

        atomic_write(csv, data.trend.to_csv(index=False))
        out.print(f"wrote {len(data.trend):,} rows to {csv}")


@store_app.command("info")
@_friendly
def store_info() -> None:
    """Where the store is, how big, and what it holds per stream."""
    from rich.table import Table

    from .store import ResponseStore

    info = ResponseStore().info()
    out.print(f"store: {info['path']} ({info['size_bytes'] / 1024:,.0f} KiB)")
    out.print(
        f"answers: {info['entries']:,} ({info['final_entries']:,} final), "
        f"fetched {info['oldest_fetch'] or '-'} .. {info['newest_fetch'] or '-'}"
    )
    if info["streams"]:
        table = Table("stream", "answers")
        for sid, n in info["streams"].items():
            table.add_row(sid, f"{n:,}")
        out.print(table)
    out.print(
        "The platform keeps only about six months of data: this store is your long-term record.",
        style="dim",
    )


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
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8866,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open a browser tab when ready.")
    ] = False,
) -> None:
    """Serve the Explorer as a standalone web app (Voilà) on 127.0.0.1 (Ctrl-C stops it).

    No code is shown and nothing is loaded from the internet; it talks to the built-in demo
    platform (the Explorer notebook's default).
    """
    from .dashboard import serve

    raise typer.Exit(serve(port, open_browser=open_browser, echo=out.print))


@app.command("serve-demo")
@_friendly
def serve_demo(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free port).")] = 8765,
    latency_ms: Annotated[float, typer.Option(help="Added latency per request, in ms.")] = 0,
    fault_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of requests that get a fault (0-1).")
    ] = 0.0,
    seed: Annotated[int | None, typer.Option(help="Seed for the fault draws.")] = None,
) -> None:
    """Serve the demo platform over real HTTP on 127.0.0.1 (Ctrl-C stops it).

    Faults (503s, slow answers, dropped connections, 429 bursts) show the client's retries at
    work. The printed client id and secret open only the demo platform.
    """
    from .demo.server import serve

    serve(port, latency_ms=latency_ms, fault_rate=fault_rate, seed=seed, echo=out.print)


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
