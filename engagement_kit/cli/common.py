"""What every command of ``engagement-kit`` shares: the Typer app and its ``store`` group, the
consoles, :func:`friendly_errors` (the toolkit's errors as one sentence and an exit code), the global
options (``--version``, ``--verbose``, ``--project``) and :func:`main`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from engagement_kit import __version__
from engagement_kit.errors import ConfigError, EngagementError, InvalidQueryError

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


def friendly_errors(fn: F) -> F:
    """Turn the toolkit's errors into one red sentence and the right exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from engagement_kit.report.signals import Stopped, stop_on_signals

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


def _use_project(folder: Path) -> None:
    """``--project DIR``: every setting (and every kernel started from here) uses that folder."""
    import os

    from engagement_kit.config.settings import HOME_ENV

    if not folder.is_dir():
        _print_error(ConfigError(f"--project {folder}: not a folder"))
        raise typer.Exit(2)
    os.environ[HOME_ENV] = str(folder.resolve())


def main() -> None:
    """Console-script entry point."""
    app()
