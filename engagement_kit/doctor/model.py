"""The doctor's rows: a :class:`Check` each, the :class:`Diagnosis` and its exit status."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

#: Seconds the local clock may differ from the platform's before the check fails.
CLOCK_TOLERANCE = 60.0
#: Seconds allowed for each network step (DNS is the system's own timeout).
DEFAULT_TIMEOUT = 10.0

OK, FAIL, SKIP = "ok", "fail", "skip"
MARKS = {OK: "✔", FAIL: "✘", SKIP: "–"}


@dataclasses.dataclass(frozen=True)
class Check:
    """One row of the diagnosis.

    Attributes
    ----------
    name : str
        What was checked, e.g. ``"host name"`` or ``"stream Support bot"``.
    status : {"ok", "fail", "skip"}
        ``skip``: not checked, because a check before it failed.
    detail : str
        What was found (never a secret).
    fix : str
        For a failure: what to do about it.
    settings : bool
        A failure here is a settings problem (exit status 2, not 1).
    """

    name: str
    status: str
    detail: str
    fix: str = ""
    settings: bool = False

    @property
    def mark(self) -> str:
        return MARKS[self.status]


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """Every check, in order."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.status == OK for c in self.checks)

    @property
    def exit_code(self) -> int:
        """0 when all passed, 2 when the settings are wrong, 1 for any other failure."""
        if self.ok:
            return 0
        return 2 if any(c.status == FAIL and c.settings for c in self.checks) else 1

    def __iter__(self) -> Iterator[Check]:
        return iter(self.checks)


@dataclasses.dataclass
class Exchange:
    """One request the doctor sent: when, and what came back."""

    sent: float
    received: float | None = None
    status: int | None = None
    date: str | None = None
    #: The platform's own words when it refused (an error's message).
    message: str = ""


def skipped_check(name: str, why: str) -> Check:
    return Check(name, SKIP, f"not checked: {why}")


def duration_text(seconds: float) -> str:
    seconds = abs(float(seconds))
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
