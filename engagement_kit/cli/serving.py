"""``engagement-kit dashboard`` and ``serve-demo``: the Explorer as a web app, the demo platform
over real HTTP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engagement_kit.cli.common import app, friendly_errors, out
from engagement_kit.errors import ConfigError


@app.command()
@friendly_errors
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
    from engagement_kit.explorer.dashboard import serve

    if demo and config is not None:
        raise ConfigError("--config lists your streams; --demo shows the demo platform's")
    raise typer.Exit(
        serve(port, open_browser=open_browser, echo=out.print, demo=demo, config=config)
    )


@app.command("serve-demo")
@friendly_errors
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
    from engagement_kit.demo.platform import DemoPlatform
    from engagement_kit.demo.server import serve

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
