"""The outcomes of the demo's sessions (the platform's ``containmentType``).

Every session of a demo log (:mod:`engagement_kit.demo.sessions`) gets an outcome:
``selfService`` (the bot handled it itself), ``dropOff`` or ``agent``; Non Interactive sessions
are always ``selfService``. The mix of interactive sessions depends on

* the **stream** (:attr:`~engagement_kit.demo.sessions.DemoStream.outcome_mix`): shoppers give up
  more easily than employees asking HR, whose questions more often need a person;
* the **channel** (:data:`CHANNEL_OUTCOME_WEIGHTS`): WhatsApp and the social channels drop off
  more, e-mail and Teams reach an agent more;
* the **home hour** (:data:`HOUR_OUTCOME_WEIGHTS`): agents work 8:00-18:00; in the evening
  fewer, at night almost none, and more sessions drop off;
* and the **user**: the outcome and the user's return propensity are drawn *jointly*
  (:data:`PROPENSITY_TILT`), so users whose first session dropped off have a lower return
  propensity than those handed to an agent, who come back less than self-served users (on
  average ``E[propensity | first outcome]`` is about 0.6 / 1.1 / 1.4 times the class's).

The outcomes come from a random stream of their own (seeded per stream and day), so who came,
when, on which channel and every count of the trend API are those of the log without outcomes.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CHANNEL_OUTCOME_WEIGHTS",
    "HOUR_OUTCOME_WEIGHTS",
    "OUTCOMES",
    "PROPENSITY_TILT",
    "channel_outcome_weights",
    "check_outcome_mix",
    "draw_outcomes",
]

#: The outcome codes of ``SessionArrays.outcome``, in the platform's ``containmentType``
#: spelling (``client.sessions.CONTAINMENT_TYPES`` lists the same three, in the same order).
OUTCOMES = ("selfService", "dropOff", "agent")
#: Per channel, multipliers of the stream's (self-service, drop-off, agent) weights.
CHANNEL_OUTCOME_WEIGHTS: dict[str, tuple[float, float, float]] = {
    "whatsapp": (1.0, 1.35, 0.8),
    "facebook": (1.0, 1.5, 0.7),
    "instagram": (1.0, 1.6, 0.6),
    "msteams": (1.0, 0.85, 1.3),
    "email": (0.8, 0.6, 2.2),
    "slack": (1.1, 0.9, 1.0),
}
#: Per home-zone hour 0..23, multipliers of the (self-service, drop-off, agent) weights.
HOUR_OUTCOME_WEIGHTS: tuple[tuple[float, float, float], ...] = tuple(
    (1.0, 1.0, 1.0) if 8 <= h < 18 else (1.0, 1.25, 0.5) if 18 <= h < 22 else (1.0, 1.6, 0.15)
    for h in range(24)
)
#: How a user's relative return propensity ``r`` (mean 1) tilts each of their sessions'
#: outcome weights: ``weight * r ** exponent`` (self-service up, drop-off down).
PROPENSITY_TILT = np.array([0.8, -0.8, 0.2])
_HOURS = np.array(HOUR_OUTCOME_WEIGHTS)


def check_outcome_mix(stream_id: str, mix: tuple[float, ...]) -> None:
    """Raise ``ValueError`` unless ``mix`` is three weights >= 0, not all zero."""
    if len(mix) != 3 or min(mix) < 0 or not sum(mix):
        raise ValueError(f"{stream_id}: need 3 outcome weights >= 0, not all zero")


def channel_outcome_weights(mix: tuple[float, ...], channel_names: tuple[str, ...]) -> np.ndarray:
    """Per channel code, the stream's outcome weights times the channel's (shape ``(n, 3)``)."""
    return np.array(
        [
            np.array(mix) * CHANNEL_OUTCOME_WEIGHTS.get(name, (1.0, 1.0, 1.0))
            for name in channel_names
        ]
    )


def draw_outcomes(
    rng: np.random.Generator,
    channel_weights: np.ndarray,
    channel: np.ndarray,
    hour: np.ndarray,
    relative_propensity: np.ndarray,
    interactive: np.ndarray,
) -> np.ndarray:
    """Each session's outcome code (into :data:`OUTCOMES`), one uniform draw per session."""
    weights = channel_weights[channel] * _HOURS[hour]
    weights = weights * np.power(np.maximum(relative_propensity, 1e-6)[:, None], PROPENSITY_TILT)
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(channel)) * cum[:, -1]
    code = (u >= cum[:, 0]).astype(np.int8) + (u >= cum[:, 1]).astype(np.int8)
    return np.where(interactive, code, 0).astype(np.int8)
