"""Delivery: send the written weekly reports and their alerts by email, chat or webhook.

Destinations are **Apprise** URLs (``mailto://``, ``mailtos://``, ``slack://``, ``workflows://``
(Microsoft Teams), ``mmost://``, ``discord://``, ``json://``, ``form://``, …), listed in
``streams.toml``::

    [defaults]                       # for every stream without its own
    deliver = ["mailtos://reports:${SMTP_PASSWORD}@smtp.example.com?to=team@example.com"]
    digest = false                   # true: one message per destination and run
    link = "https://intranet.example.com/engagement/"   # where reports/ is published

    [[stream]]
    id = "st-..."
    name = "Support bot"
    tz = "Asia/Kolkata"
    deliver = ["json://hooks.example.com/engagement", "mmost://chat.example.com/${MM_HOOK}"]

Secrets never live in the TOML: ``${NAME}`` is replaced by the environment variable (or the
``.env`` value) when sending, a password written into a URL is refused, and every message,
summary line, ``.delivery.json`` and error shows the URL as written (the ``${NAME}`` reference),
with any value of a referenced variable masked as ``***``.

What goes where (see :mod:`engagement_kit.delivery.messages`): an email gets the HTML body with inline
charts and the report attached; ``json://``/``jsons://`` gets the sidecar JSON; every other
destination a short text. What was sent is recorded in the response store's SQLite file
(:class:`Ledger`), so running again sends nothing twice unless ``resend=True``. A destination
that fails is tried again with exponential backoff (tenacity); it never stops the others. Each
attempt ends within a deadline (``deadline`` in ``streams.toml``, ``--deadline``, default 60 s)
whatever the server does: see :mod:`.transport`.

One job per module: :mod:`.destinations` (URLs, ``${NAME}`` references, masking), :mod:`.plan`
(``streams.toml``'s delivery keys), :mod:`.ledger` (what was sent, which alerts fired),
:mod:`.outbox` (the messages of a run), :mod:`.transport` (Apprise, retries), :mod:`.send` (a
run), :mod:`.dry_run` (what would be sent, ``.eml`` files), :mod:`.summary`
(``.delivery.json``, the table, the exit status), :mod:`.alerting` (rules on written reports,
backtest, the ``alerts`` listing) and :mod:`.commands` (the CLI's glue).
"""

from __future__ import annotations

from engagement_kit.config.settings import reference_env
from engagement_kit.delivery.alerting import apply_alerts, backtest, backtest_fn, print_alerts
from engagement_kit.delivery.commands import after_reports, send_written
from engagement_kit.delivery.destinations import (
    EMAIL_SCHEMES,
    JSON_SCHEMES,
    Destination,
    check_destination,
    mask,
)
from engagement_kit.delivery.ledger import Ledger
from engagement_kit.delivery.outbox import Outcome, find_reports
from engagement_kit.delivery.plan import (
    DEFAULTS_KEYS,
    DeliveryPlan,
    StreamPlan,
    load_plan,
    plan_for,
)
from engagement_kit.delivery.send import deliver
from engagement_kit.delivery.summary import delivery_table
from engagement_kit.delivery.transport import ATTEMPTS, DEADLINE, MAX_WAIT, RETRY_WAIT

__all__ = [
    "ATTEMPTS",
    "DEADLINE",
    "DEFAULTS_KEYS",
    "EMAIL_SCHEMES",
    "JSON_SCHEMES",
    "MAX_WAIT",
    "RETRY_WAIT",
    "DeliveryPlan",
    "Destination",
    "Ledger",
    "Outcome",
    "StreamPlan",
    "after_reports",
    "apply_alerts",
    "backtest",
    "backtest_fn",
    "check_destination",
    "deliver",
    "delivery_table",
    "find_reports",
    "load_plan",
    "mask",
    "plan_for",
    "print_alerts",
    "reference_env",
    "send_written",
]
