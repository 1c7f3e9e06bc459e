"""``engagement-kit doctor``, ``token``, ``streams`` and ``init``: the project's settings, checked,
listed or made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engagement_kit.cli.common import app, err, friendly_errors, out


@app.command()
@friendly_errors
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
    from engagement_kit.doctor import diagnose, print_diagnosis

    diagnosis = diagnose(config=config, timeout=timeout)
    print_diagnosis(diagnosis, out)
    raise typer.Exit(diagnosis.exit_code)


@app.command()
@friendly_errors
def token() -> None:
    """Print a platform JWT minted from KORE_CLIENT_ID/KORE_CLIENT_SECRET (for curl).

    The token is a secret: it is printed to standard output only, with a warning on standard
    error. Credentials come from the environment or .env (engagement-kit init writes one).
    """
    from engagement_kit.client.auth import TOKEN_WARNING, mint_token_for_cli

    value = mint_token_for_cli()
    err.print(TOKEN_WARNING, style="yellow", highlight=False, markup=False)
    print(value)


@app.command()
@friendly_errors
def streams(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="A streams.toml to list (default: the project's)."),
    ] = None,
) -> None:
    """List the streams of the project's streams.toml (or --config FILE); else the demo streams."""
    from rich.table import Table

    from engagement_kit.config.settings import load_settings
    from engagement_kit.formatting import print_table

    table = Table("id", "name", "time zone", "filters")
    if config is None:
        config = load_settings().streams_file
    if config is None:
        from engagement_kit.demo import DEMO_STREAMS

        table.title = "Demo streams (built-in demo platform)"
        for demo_stream in DEMO_STREAMS:
            table.add_row(demo_stream.id, demo_stream.name, demo_stream.tz, "all")
    else:
        from engagement_kit.config.streams import load_streams

        table.title = str(config)
        for s in load_streams(config):
            f = s.filters()
            shown = ", ".join(
                f"{k}={v}" for k, v in f.items() if k != "tz" and v not in (None, "all")
            )
            table.add_row(s.id, s.name, s.tz, shown or "all")
    print_table(out, table)


@app.command()
@friendly_errors
def init(
    folder: Annotated[
        Path, typer.Argument(help="The project folder to create or complete (default: here).")
    ] = Path("."),
) -> None:
    """Make a project folder: streams.toml and .env from the examples, a .gitignore listing
    .env, reports/ and a README.

    Files that exist are kept, never overwritten. .env is readable by you only (mode 600): it
    will hold the app's secret. Then fill in .env and streams.toml and run engagement-kit
    doctor. Run again, it says what is already there and what is left to do.
    """
    from engagement_kit.config.project import init_project
    from engagement_kit.config.settings import load_settings
    from engagement_kit.store.location import default_store_path

    result = init_project(folder, store_path=default_store_path(adopt=False))
    for path in result.created:
        out.print(f"created {_shown(path)}", highlight=False)
    for path in result.updated:
        out.print(f"updated {_shown(path)} (.env added)", highlight=False)
    for path in result.kept:
        out.print(f"kept    {_shown(path)} (exists)", highlight=False)
    env = result.folder / ".env"
    settings = load_settings(dotenv=env) if env.is_file() else None

    def filled(name: str) -> bool:
        value = getattr(settings, name, None)
        if value is not None and hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        return bool(value)

    missing = [
        option
        for option, name in (
            ("KORE_HOST", "host"),
            ("KORE_CLIENT_ID", "client_id"),
            ("KORE_CLIENT_SECRET", "client_secret"),
        )
        if not filled(name)
    ]
    has_jwt = filled("jwt")
    todo = ", ".join(missing) if missing and not has_jwt else ""
    if result.created:
        out.print(
            f"Next: fill in {_shown(env)} ({todo or 'the credentials'}) and "
            f"{_shown(result.folder / 'streams.toml')}, then run engagement-kit doctor and "
            "engagement-kit report.",
            highlight=False,
        )
    elif todo:
        out.print(
            f"{_shown(result.folder)} is already a project (nothing created); still to fill in "
            f"{_shown(env)}: {todo}. Then run engagement-kit doctor.",
            highlight=False,
        )
    else:
        out.print(
            f"{_shown(result.folder)} is already a project with its settings filled in; "
            "nothing to do. Run engagement-kit doctor to check them.",
            highlight=False,
        )


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
