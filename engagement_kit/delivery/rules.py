"""Alert rules: a KPI crosses a line or moves too much, or the week has unusual days.

Rules live in ``streams.toml`` as ``[[stream.alert]]`` tables (or ``[[defaults.alert]]`` for
every stream that has none of its own), parsed by :mod:`engagement_kit.delivery`::

    [[stream.alert]]
    name = "Users dropped"         # shown in the report, the index and the message
    kpi = "unique_users"           # any KPI key of the sidecar (see metrics.KPI_NAMES)
    rule = "change_below"          # above | below | change_above | change_below | anomaly
    value = "-20%"                 # a number, or a percentage ("20%" = 0.20)
    cooldown_weeks = 2             # after firing, stay quiet for this many weeks (default 0)
    deliver = ["mailtos://..."]    # default: the stream's destinations

What each rule compares, using the numbers of the report's sidecar (``kpis``, ``previous_kpis``,
``change``, ``anomalies``):

``above`` / ``below``
    This week's value against ``value``; ``"40%"`` means 0.40 (for the shares).
``change_above`` / ``change_below``
    The change from the week before: with ``"20%"`` the relative change (``pct_change``), with a
    plain number the absolute change. A drop of more than 20 % is ``change_below`` ``"-20%"``.
``anomaly``
    The week has at least one unusual day (the report's detector) for the KPI's metric
    (``unique_users``, ``new_users``, ``returning_users``), or for any metric when ``kpi`` is
    left out.

The comparisons are strict (``above 100`` does not fire at exactly 100); a missing number (no
week before, a count of 0) never fires a rule.

Fired alerts are written into the sidecar (``alerts``), shown at the top of the report and in
the index, recorded in the store (for the cooldown) and sent as their own short message.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from engagement_kit.errors import ConfigError
from engagement_kit.formatting import MINUS, kpi_sentence, number_or_none

__all__ = [
    "ANOMALY_METRIC",
    "RULES",
    "AlertRule",
    "evaluate",
    "fired_alerts",
    "parse_rules",
    "rule_fires",
    "simulate",
]

RULES: tuple[str, ...] = ("above", "below", "change_above", "change_below", "anomaly")
#: The anomaly detector's metric for each KPI it watches.
ANOMALY_METRIC: dict[str, str] = {
    "unique_users": "unique",
    "new_users": "new",
    "returning_users": "returning",
}
_NUMBER = re.compile(r"^\s*([+-−]?\d+(?:\.\d+)?)\s*(%?)\s*$")


def _kpi_names() -> tuple[str, ...]:
    from engagement_kit.metrics import KPI_NAMES

    return KPI_NAMES


class AlertRule(BaseModel):
    """One ``[[stream.alert]]`` table, validated.

    Attributes
    ----------
    name : str
    kpi : str or None
        A KPI key of the sidecar; optional only for ``rule = "anomaly"``.
    rule : str
        One of :data:`RULES`.
    value : str or None
        As written (``"-20%"``, ``"500"``); required except for ``anomaly``.
    cooldown_weeks : int
    deliver : tuple of str or None
        Destination URLs (``None``: the stream's).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kpi: str | None = None
    rule: Literal["above", "below", "change_above", "change_below", "anomaly"]
    value: str | None = None
    cooldown_weeks: int = Field(default=0, ge=0)
    deliver: tuple[str, ...] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("empty; give the rule a name")
        return v.strip()

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("must be a number or a percentage such as '20%'")
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str) and not _NUMBER.match(v):
            raise ValueError(f"{v!r} is not a number or a percentage such as '20%' or '-10%'")
        return v

    @field_validator("deliver", mode="before")
    @classmethod
    def _deliver(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _kpi_and_value(self) -> AlertRule:
        names = _kpi_names()
        if self.rule == "anomaly":
            if self.kpi is not None and self.kpi not in ANOMALY_METRIC:
                raise ValueError(
                    f"kpi: the anomaly rule watches {', '.join(ANOMALY_METRIC)} (or leave kpi "
                    f"out for any of them), not {self.kpi!r}"
                )
            return self
        if self.kpi is None:
            raise ValueError(f"kpi: missing; one of {', '.join(names)}")
        if self.kpi not in names:
            raise ValueError(f"kpi: {self.kpi!r} is not a KPI; one of {', '.join(names)}")
        if self.value is None:
            raise ValueError(f"value: missing; rule {self.rule!r} needs a number or a percentage")
        return self

    # -- the threshold ------------------------------------------------------------------------
    @property
    def percent(self) -> bool:
        """Whether ``value`` was written as a percentage."""
        return bool(self.value and self.value.strip().endswith("%"))

    @property
    def threshold(self) -> float | None:
        """``value`` as a number (a percentage as a fraction: ``"20%"`` → 0.2)."""
        if self.value is None:
            return None
        match = _NUMBER.match(self.value)
        assert match is not None  # checked by the validator
        number = float(match.group(1).replace("−", "-"))
        return number / 100 if match.group(2) else number

    def describe(self) -> str:
        """The rule in words, e.g. ``unique users change below −20 %``."""
        from engagement_kit.metrics import KPI_LABELS

        what = KPI_LABELS.get(self.kpi or "", self.kpi or "any users").lower()
        if self.rule == "anomaly":
            return f"unusual days in {what}"
        words = self.rule.replace("_", " ")
        return f"{what} {words} {_threshold_text(self)}"


def _threshold_text(rule: AlertRule) -> str:
    value = rule.threshold
    if value is None:
        return ""
    if rule.percent:
        text = f"{value * 100:+.0f} %" if rule.rule.startswith("change") else f"{value:.0%}"
        text = text.replace("%", " %") if not text.endswith(" %") else text
    else:
        text = f"{value:+,g}" if rule.rule.startswith("change") else f"{value:,g}"
    return text.replace("-", MINUS)


def parse_rules(entries: object, *, where: str) -> tuple[AlertRule, ...]:
    """``[[...alert]]`` tables as :class:`AlertRule` objects.

    Raises
    ------
    ConfigError
        Naming ``where`` (e.g. ``streams.toml: stream #2``), the rule and the field.
    """
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: 'alert' must be [[...alert]] tables, not a single value")
    rules: list[AlertRule] = []
    for number, entry in enumerate(entries, start=1):
        label = f"{where}: alert #{number}"
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            label += f" ({entry['name']})"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{label}: expected an [[alert]] table")
        try:
            rule = AlertRule(**entry)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err.get("loc", ()))
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            if err.get("type") == "extra_forbidden":
                msg = "unknown field; the fields are " + ", ".join(AlertRule.model_fields)
            raise ConfigError(f"{label}: " + (f"field {loc}: {msg}" if loc else msg)) from None
        if any(r.name == rule.name for r in rules):
            raise ConfigError(f"{label}: another rule is already named {rule.name!r}")
        rules.append(rule)
    return tuple(rules)


# =============================================================================================
# Evaluation on a sidecar
# =============================================================================================


_num = number_or_none


def rule_fires(rule: AlertRule, sidecar: Mapping[str, Any]) -> dict[str, Any] | None:
    """Whether ``rule`` fires on one week's sidecar (cooldown not applied).

    Returns
    -------
    dict or None
        The alert (``name``, ``kpi``, ``rule``, ``threshold`` (as written), ``value``,
        ``previous``, ``change``, ``pct_change``, ``days`` (anomaly dates), ``message``), or
        ``None`` when the rule does not fire, and on a week with no data at all (``status``
        ``"no_data"``: zero users there are not a fall).
    """
    if sidecar.get("status") == "no_data":
        return None
    if rule.rule == "anomaly":
        metrics = [ANOMALY_METRIC[rule.kpi]] if rule.kpi else list(ANOMALY_METRIC.values())
        days = [a for a in sidecar.get("anomalies") or [] if a.get("metric") in metrics]
        if not days:
            return None
        shown = ", ".join(
            f"{a.get('date')} {a.get('metric')} {'high' if a.get('direction') == 'up' else 'low'}"
            for a in days[:3]
        )
        more = f" and {len(days) - 3} more" if len(days) > 3 else ""
        return _alert(
            rule,
            sidecar,
            days=sorted({str(a.get("date")) for a in days}),
            message=f"{rule.name}: {len(days)} unusual day(s): {shown}{more}",
        )
    kpi = rule.kpi or ""
    value = _num((sidecar.get("kpis") or {}).get(kpi))
    change = (sidecar.get("change") or {}).get(kpi) or {}
    threshold = rule.threshold
    assert threshold is not None
    if rule.rule in ("above", "below"):
        measured = value
    elif rule.percent:
        measured = _num(change.get("pct_change"))
    else:
        measured = _num(change.get("change"))
    if measured is None:
        return None
    fired = measured > threshold if rule.rule.endswith("above") else measured < threshold
    if not fired:
        return None
    return _alert(rule, sidecar, message=f"{rule.name}: {_measure_text(rule, sidecar)}")


def _alert(rule: AlertRule, sidecar: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    kpi = rule.kpi
    change = (sidecar.get("change") or {}).get(kpi or "") or {}
    return {
        "name": rule.name,
        "kpi": kpi,
        "rule": rule.rule,
        "threshold": rule.value,
        "value": (sidecar.get("kpis") or {}).get(kpi or ""),
        "previous": (sidecar.get("previous_kpis") or {}).get(kpi or ""),
        "change": change.get("change"),
        "pct_change": change.get("pct_change"),
        "days": [],
        **extra,
    }


def _measure_text(rule: AlertRule, sidecar: Mapping[str, Any]) -> str:
    from engagement_kit.metrics import KPI_LABELS

    kpi = rule.kpi or ""
    value = (sidecar.get("kpis") or {}).get(kpi)
    previous = (sidecar.get("previous_kpis") or {}).get(kpi)
    change = (sidecar.get("change") or {}).get(kpi) or {}
    text = kpi_sentence(
        kpi,
        KPI_LABELS.get(kpi, kpi),
        value,
        previous,
        change.get("change"),
        change.get("pct_change"),
    )
    return f"{text}; rule: {rule.describe()}"


def _week_index(week: str) -> int:
    """Weeks since an epoch Monday (so two labels can be subtracted)."""
    from engagement_kit.config.weeks import week_bounds

    return week_bounds(week)[0].toordinal() // 7


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """One rule on one week: whether it fired and whether the cooldown held it back."""

    rule: AlertRule
    week: str
    alert: dict[str, Any] | None
    suppressed: bool = False

    @property
    def fired(self) -> bool:
        return self.alert is not None and not self.suppressed


def evaluate(
    rules: Sequence[AlertRule],
    sidecar: Mapping[str, Any],
    last_fired: Mapping[str, str] | None = None,
) -> list[Evaluation]:
    """Every rule on one sidecar, with the cooldown.

    Parameters
    ----------
    last_fired : mapping, optional
        Rule name → the last week (before this one) in which it fired.

    Returns
    -------
    list of Evaluation
        In rule order. A rule that would fire within ``cooldown_weeks`` weeks after its last
        firing is ``suppressed``.
    """
    week = str(sidecar.get("week"))
    out = []
    for rule in rules:
        alert = rule_fires(rule, sidecar)
        suppressed = False
        last = (last_fired or {}).get(rule.name)
        if alert is not None and last is not None and rule.cooldown_weeks:
            gap = _week_index(week) - _week_index(last)
            suppressed = 0 < gap <= rule.cooldown_weeks
        out.append(Evaluation(rule, week, alert, suppressed))
    return out


def fired_alerts(evaluations: Iterable[Evaluation]) -> list[dict[str, Any]]:
    """The alerts that fired (cooldown applied), for the sidecar's ``alerts``."""
    return [e.alert for e in evaluations if e.fired and e.alert is not None]


def simulate(
    rules: Sequence[AlertRule], sidecars: Sequence[Mapping[str, Any]]
) -> dict[str, list[str]]:
    """Which weeks each rule would have fired in, oldest week first, cooldown included.

    Starts with no earlier firing (what ``alerts --backtest`` shows).

    Returns
    -------
    dict
        Rule name → the weeks it fired.
    """
    last: dict[str, str] = {}
    fired: dict[str, list[str]] = {r.name: [] for r in rules}
    for sidecar in sorted(sidecars, key=lambda s: _week_index(str(s["week"]))):
        for e in evaluate(rules, sidecar, last):
            if e.fired:
                fired[e.rule.name].append(e.week)
                last[e.rule.name] = e.week
    return fired


# =============================================================================================
# The report page: the alerts banner
# =============================================================================================

_BANNER_START = "<!-- ek-alerts -->"
_BANNER_END = "<!-- /ek-alerts -->"


def alert_items(alerts: Sequence[Mapping[str, Any]]) -> str:
    """Each alert's message as an escaped ``<li>`` (the page's banner and the email's block)."""
    return "".join(f"<li>{html.escape(str(a.get('message', '')))}</li>" for a in alerts)


def alerts_banner(alerts: Sequence[Mapping[str, Any]]) -> str:
    """The alerts as an HTML block for the top of the report (empty when none fired)."""
    if not alerts:
        return ""
    items = alert_items(alerts)
    return (
        f'{_BANNER_START}<section class="ek-alerts" role="alert" style="border:2px solid '
        '#b42318;background:#fef3f2;padding:10px 16px;margin:16px 0;border-radius:6px">'
        f"<strong>Alerts this week ({len(alerts)})</strong><ul>{items}</ul></section>"
        f"{_BANNER_END}"
    )


def put_banner(page: str, alerts: Sequence[Mapping[str, Any]]) -> str:
    """``page`` with the alerts banner at the top of its ``<main>`` (replacing an old one)."""
    page = re.sub(
        re.escape(_BANNER_START) + ".*?" + re.escape(_BANNER_END), "", page, flags=re.DOTALL
    )
    banner = alerts_banner(alerts)
    if not banner:
        return page
    for pattern in (r"<main[^>]*>", r"<body[^>]*>"):
        matches = list(re.finditer(pattern, page))
        if matches:
            at = matches[-1].end()  # the last: the bundled JavaScript may spell "<body" too
            return page[:at] + banner + page[at:]
    return banner + page
