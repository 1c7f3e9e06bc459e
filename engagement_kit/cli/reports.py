"""``engagement-kit report``, ``send`` and ``alerts``: write the weekly reports, deliver them,
list or backtest the alert rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from engagement_kit.cli.common import app, err, friendly_errors, named_stream, out
from engagement_kit.errors import ConfigError

#: ``--deadline`` of ``report --send`` and ``send``: one option, one help text.
DeadlineOption = Annotated[
    float | None,
    typer.Option(
        metavar="SECONDS",
        help="Each attempt of each destination ends within this time (default: deadline "
        "in streams.toml, else 60).",
    ),
]


@app.command(
    epilog=(
        "Examples: engagement-kit report --demo (all demo streams); "
        "engagement-kit report --config streams.toml --week 2025-W48; "
        "engagement-kit report --stream st-... --name 'Support bot' --tz Asia/Kolkata."
    )
)
@friendly_errors
def report(
    demo: Annotated[
        bool, typer.Option("--demo", help="Use the built-in demo platform (no credentials).")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="streams.toml listing the streams to report on."),
    ] = None,
    stream: Annotated[
        str | None,
        typer.Option(
            "--stream",
            help="Report on this one stream id: with all its settings when it is in "
            "streams.toml (or --config); the flags below override one setting each.",
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name for --stream.")] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            help="IANA time zone for --stream (needed when the stream is not in streams.toml)."
        ),
    ] = None,
    conversation_type: Annotated[
        str | None,
        typer.Option(help="For --stream: all, interactive or non_interactive (default all)."),
    ] = None,
    conversation_status: Annotated[
        str | None, typer.Option(help="For --stream: all, active or closed (default all).")
    ] = None,
    channels: Annotated[
        str | None, typer.Option(help="For --stream: one channel (default every channel).")
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
    self_contained: Annotated[
        bool,
        typer.Option(
            "--self-contained",
            help="Inline the chart libraries into each page (one file that travels alone) "
            "instead of sharing reports/_assets/.",
        ),
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
    shard: Annotated[
        str | None,
        typer.Option(
            metavar="K/N",
            help="Report only part K of N of the streams (split by stream id, for a CI matrix "
            "or a scheduler); the index is left to --index-only.",
        ),
    ] = None,
    index_only: Annotated[
        bool,
        typer.Option(
            "--index-only",
            help="Write no report: rebuild the index from the reports already in the folder.",
        ),
    ] = False,
    deadline: DeadlineOption = None,
) -> None:
    """Write the weekly HTML report (+ JSON sidecar) of each stream, then reports/index.html.

    Streams come from --demo, --config or the project's streams.toml; --stream ID picks one
    of them with all its settings (or reports on an unconfigured id, which needs --tz).
    Credentials for a real platform come only from the environment or .env (KORE_CLIENT_ID +
    KORE_CLIENT_SECRET, or KORE_JWT). Exit code 0 when every report was written (a week with no
    data at all is written with a warning), 1 when any failed (the others are still written),
    2 for bad arguments.
    """
    from engagement_kit import report as rpt
    from engagement_kit.config.streams import load_streams
    from engagement_kit.demo import demo_streams
    from engagement_kit.report.summary import exit_code

    if index_only:
        if shard or send or dry_run or stream or week:
            raise ConfigError("--index-only writes no report: give it alone (with --out-dir)")
        _write_index_only(out_dir)
    part = rpt.parse_shard(shard) if shard is not None else None
    if demo and host:
        raise ConfigError("--host is for a real platform; --demo uses the built-in demo platform")
    if stream is None and (name or tz or channels or conversation_type or conversation_status):
        raise ConfigError(
            "--name, --tz, --conversation-type, --conversation-status and --channels go with "
            "--stream (a stream's settings otherwise come from streams.toml)"
        )
    config_file = config
    stream_notes: dict[str, str] = {}
    if stream is not None:
        overrides = {"name": name, "tz": tz, "channels": channels}
        overrides |= {"conversation_type": conversation_type}
        overrides |= {"conversation_status": conversation_status}
        configs, stream_notes, config_file = _one_stream(stream, demo, config, overrides)
    elif config is not None:
        configs = load_streams(config)
    elif demo:
        configs = demo_streams()
    else:
        from engagement_kit.config.settings import load_settings
        from engagement_kit.config.streams import project_streams

        try:
            configs = project_streams()
        except ConfigError as exc:
            raise ConfigError(
                f"{exc}; or use --demo (the built-in demo platform), --config FILE or --stream ID"
            ) from None
        config_file = load_settings().streams_file
    if part is not None:
        configs = _shard_of(configs, part)
    from engagement_kit import delivery

    plan = delivery.plan_for(
        configs, config_file, send=send or dry_run, dry_run=dry_run, deadline=deadline
    )
    reports_dir = out_dir if out_dir is not None else _project_folder() / "reports"
    results = rpt.render_all(
        configs,
        week=week,
        out_dir=reports_dir,
        jobs=jobs,
        keep_notebook=keep_notebook,
        self_contained=self_contained,
        source="demo" if demo else "platform",
        host=host,
        console=err,
        streams_file=config_file,
        index=part is None,
        stream_notes=stream_notes,
    )
    sent = delivery.after_reports(
        results,
        plan,
        reports_dir,
        send=send,
        dry_run=dry_run,
        resend=resend,
        console=err,
        index=part is None,
    )
    raise typer.Exit(max(exit_code(results), sent))


@app.command(
    epilog=(
        "Examples: engagement-kit send (last week's reports of streams.toml); "
        "engagement-kit send --week 2025-W48 --stream st-... --dry-run; "
        "engagement-kit send --resend."
    )
)
@friendly_errors
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
    deadline: DeadlineOption = None,
) -> None:
    """Deliver reports already written (email, chat, webhooks) and their alerts.

    Destinations are Apprise URLs in streams.toml (deliver = [...] per stream or in
    [defaults]); secrets come from the environment or .env as ${NAME}. What was sent is
    recorded, so a second run sends nothing unless --resend. Exit code 1 when any delivery
    failed (the others are still sent), 2 for bad settings.
    """
    from engagement_kit import delivery
    from engagement_kit.report import summary as rpt_summary

    plan = delivery.plan_for(
        None,
        _streams_file(config),
        send=True,
        dry_run=dry_run,
        stream_ids=stream,
        deadline=deadline,
    )
    reports_dir = out_dir if out_dir is not None else _project_folder() / "reports"
    outcomes = delivery.send_written(
        plan, reports_dir, week=week, stream_ids=stream, dry_run=dry_run, resend=resend, console=err
    )
    raise typer.Exit(rpt_summary.exit_code(outcomes, nothing_done=0))


@app.command()
@friendly_errors
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
    from engagement_kit import delivery

    plan = delivery.plan_for(
        None, _streams_file(config), send=False, dry_run=False, stream_ids=stream
    )
    delivery.print_alerts(
        plan, backtest=backtest, stream_ids=stream, week=week, demo=demo, host=host, console=out
    )


def _shard_of(configs: list[Any], part: tuple[int, int]) -> list[Any]:
    """``--shard K/N``: this part's streams, said on stderr; none left is a successful run."""
    from engagement_kit.report import shard_streams

    shard = shard_streams(configs, *part)
    err.print(f"shard {part[0]}/{part[1]}: {len(shard)} of {len(configs)} streams")
    if not shard:
        raise typer.Exit(0)
    return shard


def _write_index_only(out_dir: Path | None) -> None:
    """``report --index-only``: rebuild the index of the reports folder, write no report."""
    from engagement_kit.formatting import display_path
    from engagement_kit.report.index import write_index

    reports_dir = out_dir if out_dir is not None else _project_folder() / "reports"
    if not reports_dir.is_dir():
        raise ConfigError(f"--index-only: {reports_dir} is not a folder of reports")
    index = write_index(reports_dir)
    out.print(f"index: {display_path(index)}")
    raise typer.Exit(0)


def _streams_file(config: Path | None) -> Path:
    """``--config``, else the project's streams.toml (ConfigError saying where it looked)."""
    if config is not None:
        return config
    from engagement_kit.config.settings import load_settings
    from engagement_kit.config.streams import project_streams

    found = load_settings().streams_file
    if found is None:
        project_streams()  # raises, naming where streams.toml was looked for
    return found  # type: ignore[return-value]


def _project_folder() -> Path:
    from engagement_kit.config.settings import find_project

    return find_project().folder


def _one_stream(
    stream: str, demo: bool, config: Path | None, overrides: dict[str, str | None]
) -> tuple[list[Any], dict[str, str], Path | None]:
    """``report --stream ID``: the stream it names (its settings from streams.toml, each flag
    overriding one), its note for the page, and the file with its delivery and alert rules."""
    named = named_stream(stream, demo=demo, config=config, **overrides)
    notes = {named.config.id: named.note()} if named.note() else {}
    config_file = config
    if config is None and named.where == "streams.toml":
        from engagement_kit.config.settings import load_settings

        config_file = load_settings().streams_file  # its delivery and alert rules
    if not named.configured or named.where == "the demo streams":
        config_file = None  # no delivery settings
    return [named.config], notes, config_file
