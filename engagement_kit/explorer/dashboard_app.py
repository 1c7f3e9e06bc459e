"""What the dashboard shows: the app page (a notebook Voilà runs) and the Explorer in it.

The page reads like an app, not a notebook: a title, one line on what it shows and where the
data comes from, the Explorer panel (from one code cell that displays nothing else), and below
it the Explorer notebook's guide to the controls. No instructions about running cells.

Which data: :func:`app_source` decides in the ``engagement-kit dashboard`` process (the demo
platform with ``--demo`` or without platform settings; else the platform of the settings and
the streams of ``streams.toml`` or ``--config``), failing fast with a readable error, and
:func:`app_explorer` builds the panel in Voilà's kernel from that decision. The kernel reads
the same settings (it is started with ``ENGAGEMENT_KIT_HOME`` set to the project folder).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from engagement_kit.errors import ConfigError

__all__ = ["APP_TITLE", "AppSource", "app_cells", "app_explorer", "app_source"]

#: The page title of the app.
APP_TITLE = "Engagement explorer"
_WHAT = "Unique, new and returning users of each bot, with peak hours and data checks"


@dataclasses.dataclass(frozen=True)
class AppSource:
    """Where the dashboard's data comes from (no secret in it).

    Attributes
    ----------
    demo : bool
        The built-in demo platform.
    host : str or None
        The platform host (not with ``demo``).
    streams : Path or None
        The ``streams.toml`` offered in the picker (not with ``demo``).
    """

    demo: bool
    host: str | None = None
    streams: Path | None = None

    def describe(self) -> str:
        """The page's one line on what it shows and where the data comes from."""
        if self.demo:
            return f"{_WHAT}. Data: the built-in demo platform (simulated bots, no network)."
        return f"{_WHAT}. Data: {self.host}, for the streams of {self.streams}."


def app_source(
    *, demo: bool = False, config: str | os.PathLike[str] | None = None, env: Any = None
) -> AppSource:
    """Decide the dashboard's data: demo, or the real platform (checked now, before serving).

    Without ``demo`` and without any platform setting (and no ``config``), the demo platform.

    Raises
    ------
    ConfigError
        Platform settings are incomplete (host, credentials) or the streams file is missing
        or wrong; the message names the files looked at.
    """
    from engagement_kit.client.auth import credentials_from_env
    from engagement_kit.config.settings import load_settings
    from engagement_kit.config.streams import (
        host_from_env,
        load_platforms,
        load_streams,
        project_streams,
    )

    if demo:
        return AppSource(demo=True)
    settings = load_settings(env)
    found = settings.streams_file
    profiled = (
        config is None
        and found is not None
        and found.is_file()
        and any(s.platform for s in load_streams(found))
    )
    if not settings.has_platform and config is None and not profiled:
        return AppSource(demo=True)
    if config is not None:
        path = Path(config).expanduser().resolve()
        streams = load_streams(path)
    else:
        streams = project_streams(settings)
        assert settings.streams_file is not None
        path = settings.streams_file.resolve()
    hosts = sorted({p.host for p in load_platforms(path).values()})
    if any(not s.platform for s in streams):  # the project's own platform is used too
        hosts.insert(0, host_from_env(env))
        credentials_from_env(env)  # fails fast naming what to set; kernels read them again
    return AppSource(demo=False, host=", ".join(hosts), streams=path)


def app_cells(source: AppSource, guide: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The app notebook's cells: title and one line, the panel's code cell, then ``guide``."""
    title = {
        "cell_type": "markdown",
        "metadata": {},
        "source": f"# {APP_TITLE}\n\n{source.describe()}",
    }
    streams = str(source.streams) if source.streams is not None else None
    code: dict[str, Any] = {
        "cell_type": "code",
        "metadata": {},
        "execution_count": None,
        "outputs": [],
        "source": (
            "from engagement_kit.explorer.dashboard_app import app_explorer\n\n"
            f"app_explorer(demo={source.demo!r}, streams={streams!r})"
        ),
    }
    return [title, code, *guide]


def app_explorer(*, demo: bool, streams: str | None = None) -> Any:
    """The Explorer of the app, loaded (Voilà's kernel): "today" is the real today.

    Parameters
    ----------
    demo : bool
        The built-in demo platform; else the platform of the settings.
    streams : str, optional
        The ``streams.toml`` for the picker (default: the project's).
    """
    from engagement_kit.charts import setup_notebook
    from engagement_kit.config.streams import load_streams
    from engagement_kit.explorer import Explorer

    setup_notebook()  # static SVG charts, the toolkit's theme (its return value is not shown)
    if demo:
        from engagement_kit.demo import demo_client

        explorer = Explorer(demo_client())
    else:
        from engagement_kit.client import EngagementClient

        if streams is None:
            raise ConfigError("streams: give the streams.toml of the dashboard")
        configs = load_streams(streams)
        if any(not c.platform for c in configs):
            client = EngagementClient()
        else:  # every stream names a platform: the project's own settings are not needed
            from engagement_kit.data_source import client_for

            client = client_for("platform", platform=configs[0].platform)
        # each stream is fetched through its own platform's client (Explorer.stream_client)
        explorer = Explorer(client, streams=configs)
    explorer.load()
    return explorer
