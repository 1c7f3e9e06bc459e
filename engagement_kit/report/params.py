"""What a report kernel is given and gives back: literal papermill parameters (never a secret),
the ``KORE_*`` environment it inherits, the sidecar's mimetype; plus the secret scrubbing of
error sentences. Light: the parent process imports it without pandas or papermill.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from engagement_kit.config.platforms import known_secrets
from engagement_kit.config.settings import kernel_environment as settings_environment
from engagement_kit.data_source import check_source
from engagement_kit.errors import ReportError

if TYPE_CHECKING:
    from engagement_kit.config.streams import StreamConfig

__all__ = [
    "DEFAULT_WEEKS_OF_HISTORY",
    "PARAMETER_NAMES",
    "SIDECAR_MIMETYPE",
    "SidecarOutput",
    "check_no_secret",
    "kernel_environment",
    "one_sentence",
    "report_parameters",
]

#: Mimetype of the sidecar output the report notebook emits (read back by the runner).
SIDECAR_MIMETYPE = "application/vnd.engagement-kit.report+json"
DEFAULT_WEEKS_OF_HISTORY = 12
#: The papermill parameters of the report notebook; all literals, none of them a secret.
PARAMETER_NAMES: tuple[str, ...] = (
    "stream_id",
    "stream_name",
    "week",
    "tz",
    "conversation_type",
    "conversation_status",
    "channels",
    "source",
    "host",
    "weeks_of_history",
    "channels_breakdown",
    "cohorts",
    "platform",
    "stream_note",
)
#: Parameters that are ``True``/``False`` (every other one is a string or an integer).
BOOL_PARAMETERS = frozenset({"cohorts"})
_SECRET_WORDS = ("secret", "token", "jwt", "password", "key", "credential")


class SidecarOutput:
    """Displays as :data:`SIDECAR_MIMETYPE` (JSON) plus a one-line text: the report notebook's
    last output, which the runner reads back as the sidecar."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {
            SIDECAR_MIMETYPE: self.data,
            "text/plain": f"<report data: {self.data['stream_id']} {self.data['week']}>",
        }


def report_parameters(
    config: StreamConfig,
    week: str,
    *,
    source: str = "demo",
    host: str | None = None,
    weeks_of_history: int = DEFAULT_WEEKS_OF_HISTORY,
    stream_note: str = "",
) -> dict[str, Any]:
    """The papermill parameters for one stream's report: literals only, never a secret.

    Returns
    -------
    dict
        :data:`PARAMETER_NAMES` → ``str``, ``int`` (or ``bool``: ``cohorts``).

    Raises
    ------
    ReportError
        If a value looks like a credential from the environment (defence in depth).
    """
    params: dict[str, Any] = {
        "stream_id": config.id,
        "stream_name": config.name,
        "week": week,
        "tz": config.tz,
        "conversation_type": config.conversation_type,
        "conversation_status": config.conversation_status,
        "channels": ",".join(config.channels),
        "source": check_source(source),
        "host": host or "",
        "weeks_of_history": int(weeks_of_history),
        "channels_breakdown": ",".join(config.channels_breakdown),
        "cohorts": bool(config.cohorts),
        "platform": config.platform or "",
        "stream_note": str(stream_note or ""),
    }
    check_no_secret(params)
    return params


def check_no_secret(params: Mapping[str, Any]) -> None:
    """Refuse parameters that are not report parameters, not literals, or hold a credential.

    Raises
    ------
    ReportError
    """
    secrets = known_secrets()
    for name, value in params.items():
        if name not in PARAMETER_NAMES or any(w in name.lower() for w in _SECRET_WORDS):
            raise ReportError(f"parameter {name!r} is not a report parameter")
        if isinstance(value, bool) != (name in BOOL_PARAMETERS) or not isinstance(value, str | int):
            kind = "True or False" if name in BOOL_PARAMETERS else "a literal string or integer"
            raise ReportError(f"parameter {name!r} must be {kind}")
        if isinstance(value, str) and any(s and s in value for s in secrets):
            raise ReportError(
                f"parameter {name!r} contains a credential; credentials reach the kernel only "
                "through its environment"
            )


def kernel_environment_values() -> dict[str, str]:
    """What a kernel needs to find the project's settings (``ENGAGEMENT_KIT_HOME``), unless the
    environment already sets it. Never a secret: the kernel reads those itself."""
    return {k: v for k, v in settings_environment().items() if k not in os.environ}


@contextlib.contextmanager
def kernel_environment() -> Iterator[None]:
    """``ENGAGEMENT_KIT_HOME`` (the project folder) into ``os.environ`` for the kernel to
    inherit, then undo: the kernel reads the project's settings (``.env``: host, credentials,
    store) itself, wherever it starts. Variables already in the environment win.
    """
    added = kernel_environment_values()
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def one_sentence(text: str, limit: int = 400) -> str:
    """The first line of ``text``, credentials from the environment replaced by ``***``."""
    line = " ".join(str(text).strip().splitlines()[:1]).strip() or "unknown error"
    for secret in known_secrets():
        line = line.replace(secret, "***")
    return line if len(line) <= limit else line[: limit - 1] + "…"
