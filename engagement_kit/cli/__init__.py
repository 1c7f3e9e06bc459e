"""The ``engagement-kit`` command: a thin Typer app over the package's functions.

Every command catches the toolkit's own errors and prints one readable sentence (never a
traceback, never a secret). Exit codes: 0 success, 1 the work failed (e.g. a report could not be
written), 2 bad arguments or settings.

One module a group of commands: ``reports`` (report, send, alerts), ``project`` (doctor, token,
streams, init), ``fetching`` (fetch, backfill), ``serving`` (dashboard, serve-demo), ``store``
(store ...); ``common`` holds the app, the error handling and :func:`main`. Importing them here
registers their commands on :data:`app`, in the order ``--help`` lists them.
"""

from __future__ import annotations

# isort: off
# importing a group registers its commands; --help lists them in this order
from engagement_kit.cli import reports  # noqa: F401  report, send, alerts
from engagement_kit.cli import project  # noqa: F401  doctor, token, streams, init
from engagement_kit.cli import fetching  # noqa: F401  fetch, backfill
from engagement_kit.cli import serving  # noqa: F401  dashboard, serve-demo
from engagement_kit.cli import store  # noqa: F401  store ...

# isort: on
from engagement_kit.cli.common import app, main

__all__ = ["app", "main"]
