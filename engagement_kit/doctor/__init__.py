"""``engagement-kit doctor``: is everything in place to fetch your streams? Checked in order.

The first command to run after filling ``.env``. Each check builds on the ones before it, so
the first ✘ is the one to fix; checks that cannot run because of it are shown as skipped:

1. **settings**: where they were read (the environment, the project folder's ``.env``),
   ``KORE_HOST``, the credentials (never shown);
2. **streams.toml**: the project's streams (or ``--config FILE``'s);
3. **host name**: ``KORE_HOST``'s name resolves (DNS);
4. **TLS handshake**: the certificate is trusted (plain ``http://`` is only allowed to a
   loopback demo or test server, where the check is that the port answers);
5. **token minted**: a JWT can be made from the client id and secret (or ``KORE_JWT`` is
   still valid);
6. **token accepted**: the platform did not answer 401/403;
7. **one row per stream**: the stream answers a one-day request (yesterday in its zone);
8. **clock**: the local clock agrees with the platform's ``Date`` header within a minute
   (tokens carry ``iat`` and ``exp``, so a wrong clock gets them refused);
9. **store**: the response store can be written.

A stream with ``cohorts = true`` in ``streams.toml`` also gets a **sessions** check after its
stream row: the daily users of its last complete week recomputed from getSessions against the
trend API (a few more requests; see :mod:`engagement_kit.doctor.cohorts`).

Streams on ``[platform.NAME]`` profiles (:mod:`engagement_kit.config.platforms`): each
platform is checked once, its settings (the profile's ``${NAME}`` references) and then checks
3-8 on its host with its app's credentials, every row named ``platform NAME / ...``; a wrong
secret fails that platform's rows only.

At most one request per stream: the client runs without retries and without the store (so the
platform is really asked). The checks never print a secret or a token.

Modules: :mod:`.model` (a check, the diagnosis), :mod:`.local` (settings, streams.toml, store),
:mod:`.network` (proxy, DNS, TLS), :mod:`.remote` (token, streams, clock), :mod:`.run` (the
order) and :mod:`.show` (the table).
"""

from engagement_kit.doctor.model import CLOCK_TOLERANCE, DEFAULT_TIMEOUT, Check, Diagnosis
from engagement_kit.doctor.run import diagnose
from engagement_kit.doctor.show import print_diagnosis

__all__ = [
    "CLOCK_TOLERANCE",
    "DEFAULT_TIMEOUT",
    "Check",
    "Diagnosis",
    "diagnose",
    "print_diagnosis",
]
