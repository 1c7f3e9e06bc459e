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


#: Query fields whose command-line option is not simply ``--<field>``.
_OPTION_OF_FIELD = {"stream_id": "STREAM_ID", "aggregation": "--aggregation"}


def cli_words(exc: BaseException) -> str:
    """The error's sentence in the command line's words: a query field that starts it
    (``start: '2025-11-31' is not a date``) becomes its option (``--start: ...``)."""
    text = str(exc)
    field = getattr(exc, "field", None)
    if isinstance(exc, InvalidQueryError) and field and text.startswith(f"{field}:"):
        option = _OPTION_OF_FIELD.get(field, "--" + field.replace("_", "-"))
        text = option + text[len(field) :]
    return text


def _print_error(exc: BaseException) -> None:
    from rich.text import Text

    err.print(Text.assemble(("error: ", "bold red"), cli_words(exc)), highlight=False)


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
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="The response store: a file (SQLite) or a postgresql:// URL (a team's store; "
            "${NAME} references are filled from the environment or .env). Default: "
            "$ENGAGEMENT_KIT_STORE, else responses.sqlite3 in the user data folder.",
        ),
    ] = None,
) -> None:
    if project is not None:
        _use_project(project)
    if store is not None:
        _use_store(store)
    if verbose:
        import logging

        from rich.logging import RichHandler

        logging.basicConfig(
            level=logging.DEBUG, format="%(message)s", handlers=[RichHandler(console=err)]
        )
        for noisy in ("httpcore", "httpx", "asyncio", "traitlets", "papermill"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _use_store(location: str) -> None:
    """``--store``: this command (and every kernel it starts) uses that store."""
    import os

    from engagement_kit.store.database import is_url
    from engagement_kit.store.location import STORE_ENV

    if not location.strip():
        _print_error(ConfigError("--store: empty; give a file path or a postgresql:// URL"))
        raise typer.Exit(2)
    os.environ[STORE_ENV] = (
        location if is_url(location) else str(Path(location).expanduser().resolve())
    )


def _use_project(folder: Path) -> None:
    """``--project DIR``: every setting (and every kernel started from here) uses that folder."""
    import os

    from engagement_kit.config.settings import HOME_ENV

    if not folder.is_dir():
        _print_error(ConfigError(f"--project {folder}: not a folder"))
        raise typer.Exit(2)
    os.environ[HOME_ENV] = str(folder.resolve())


def named_stream(stream_id: str, *, demo: bool, config: Path | None = None, **overrides: Any):
    """The stream ``--stream ID`` (or the ``STREAM_ID`` argument) means, with its settings
    from streams.toml (``config``, else the project's; with ``demo`` an id that is not there
    is looked up among the demo streams), each flag given beside it overriding one setting;
    says on stderr which settings came from the command line.
    An id that is not configured needs ``--tz``. Returns a ``NamedStream``."""
    from engagement_kit.config.streams import configured_streams, name_stream

    known, where = configured_streams(config)
    if demo and config is None and all(s.id != stream_id.strip() for s in known):
        from engagement_kit.demo import demo_streams

        known, where = demo_streams(), "the demo streams"
    named = name_stream(stream_id, known, where=where, **overrides)
    if named.note():
        err.print(f"{named.config.id}: {named.note()}", highlight=False, markup=False)
    return named


def main() -> None:
    """Console-script entry point."""
    app()
