"""The ``engagement-kit`` command: a thin Typer app over the package's functions.

Every command catches the toolkit's own errors and prints one readable sentence (never a
traceback, never a secret). Exit codes: 0 success, 1 the work failed (e.g. a report could not be
written), 2 bad arguments or settings.
"""

from __future__ import annotations

import datetime as dt
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
        "returning users.\n\nStart with [bold]engagement-kit report --demo[/bold] (the built-in "
        "demo platform, no credentials needed)."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
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
            err.print(f"[bold red]error:[/bold red] {exc}", highlight=False, markup=False)
            raise typer.Exit(2) from None
        except EngagementError as exc:
            err.print(f"error: {exc}", style="red", highlight=False, markup=False)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted", style="yellow")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


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


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    from .query import parse_date

    return parse_date(value, field="date")


_ = (Path, _date)  # used by commands added below
