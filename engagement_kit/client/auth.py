"""The platform's JWT: minted from the app's client id and secret, or a ready-made token.

The platform authenticates API calls with a JWT in the ``auth`` header (not ``Authorization``).
:class:`Credentials` signs it with PyJWT, HS256 with the app's **client secret**, carrying
``sub``, ``appId`` (the client id, spelled exactly so), ``iat``, a short ``exp`` and, because an
app may be set to *enforce JTI*, a fresh ``jti`` (uuid4) in every token. With ``enforce_jti``
each call of :meth:`Credentials.token` mints a new token (a repeated ``jti`` may be refused as a
replay); without it a token is reused until shortly before it expires.

Apps that enforce JWE (encrypted tokens) are out of scope: create the token elsewhere and pass
it as ``KORE_JWT``; it is then used as is.

Neither the secret nor a token ever appears in a ``repr``, an error message or a log line.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import uuid
import warnings
from collections.abc import Mapping
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from engagement_kit.config.settings import load_settings
from engagement_kit.errors import ConfigError

__all__ = [
    "TOKEN_WARNING",
    "Credentials",
    "credentials_for",
    "credentials_from_env",
    "mint_token_for_cli",
]

DEFAULT_SUBJECT = "engagement-kit"
DEFAULT_TTL = 300
#: Shown by ``engagement-kit token`` (on stderr) beside the token it prints.
TOKEN_WARNING = (
    "This token is a secret: anyone who holds it can call the platform as your app until it "
    "expires. Do not paste it into notebooks, tickets or chat. If the app enforces JTI, use "
    "each token for one request only."
)
_NO_CREDENTIALS = (
    "set KORE_CLIENT_ID and KORE_CLIENT_SECRET (the client id and secret of the app, from its "
    "JWT app settings), or KORE_JWT (a ready-made token)"
)


def _epoch(now: float | dt.datetime | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, dt.datetime):
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (e.g. datetime.now(datetime.UTC))")
        return now.timestamp()
    return float(now)


class Credentials:
    """How to authenticate: a client id and secret (tokens minted here) or a ready-made token.

    Parameters
    ----------
    client_id, client_secret : str, optional
        The app's client id (``appId`` claim) and secret (the HS256 key).
    token : str, optional
        A ready-made JWT (``KORE_JWT``), sent as is; instead of ``client_id``/``client_secret``.
    subject : str
        The ``sub`` claim; any identifier of the caller.
    ttl : int
        Seconds until a minted token expires (10 to 86,400). Tokens are re-minted before they
        expire, with a margin of a fifth of ``ttl`` (at most 60 s).
    enforce_jti : bool
        Put a fresh ``jti`` in every token and mint one per call (safe whether or not the app
        enforces JTI).

    Raises
    ------
    ConfigError
        When neither a token nor both the client id and secret are given.
    """

    __slots__ = (
        "_cached",
        "_client_id",
        "_lock",
        "_secret",
        "_static",
        "enforce_jti",
        "subject",
        "ttl",
    )

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        token: str | None = None,
        subject: str = DEFAULT_SUBJECT,
        ttl: int = DEFAULT_TTL,
        enforce_jti: bool = True,
    ) -> None:
        if token is not None:
            if client_id is not None or client_secret is not None:
                raise ConfigError(
                    "give either token= (a ready-made JWT) or client_id= and client_secret=, "
                    "not both"
                )
            if not isinstance(token, str) or not token.strip():
                raise ConfigError(f"token: empty; {_NO_CREDENTIALS}")
            token = token.strip()
        else:
            missing = [
                name
                for name, value in (("client_id", client_id), ("client_secret", client_secret))
                if not isinstance(value, str) or not value.strip()
            ]
            if missing:
                raise ConfigError(f"{' and '.join(missing)} missing: {_NO_CREDENTIALS}")
        if not isinstance(subject, str) or not subject.strip():
            raise ConfigError("subject: give a non-empty identifier for the 'sub' claim")
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 10 <= ttl <= 86_400:
            raise ConfigError(f"ttl: {ttl!r} must be a whole number of seconds, 10 to 86400")
        self._client_id = client_id.strip() if client_id else None
        self._secret = client_secret
        self._static = token
        self.subject = subject.strip()
        self.ttl = ttl
        self.enforce_jti = bool(enforce_jti)
        self._cached: tuple[str, float] | None = None  # (token, exp)
        self._lock = threading.Lock()

    # -- public -------------------------------------------------------------------------------
    @property
    def client_id(self) -> str | None:
        """The app's client id (not a secret), or ``None`` for a ready-made token."""
        return self._client_id

    @property
    def mode(self) -> str:
        """``"client secret"`` (tokens minted here) or ``"token"`` (a ready-made one)."""
        return "token" if self._static is not None else "client secret"

    @property
    def margin(self) -> float:
        """Seconds before ``exp`` at which a cached token is replaced."""
        return min(60.0, self.ttl / 5)

    def token(self, now: float | dt.datetime | None = None) -> str:
        """A token to send in the ``auth`` header.

        Parameters
        ----------
        now : float or aware datetime, optional
            The current time (POSIX seconds); for tests.

        Raises
        ------
        ConfigError
            When a ready-made token has already expired.
        """
        at = _epoch(now)
        if self._static is not None:
            self._check_static(at)
            return self._static
        if self.enforce_jti:
            return self._mint(at)[0]
        with self._lock:
            if self._cached is None or at >= self._cached[1] - self.margin:
                self._cached = self._mint(at)
            return self._cached[0]

    # -- helpers ------------------------------------------------------------------------------
    def _mint(self, at: float) -> tuple[str, float]:
        iat = int(at)
        exp = iat + self.ttl
        claims: dict[str, Any] = {
            "sub": self.subject,
            "appId": self._client_id,
            "iat": iat,
            "exp": exp,
        }
        if self.enforce_jti:
            claims["jti"] = str(uuid.uuid4())
        assert self._secret is not None
        with warnings.catch_warnings():
            # the platform sets the secret's length; PyJWT's advice is not the user's to act on
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            return jwt.encode(claims, self._secret, algorithm="HS256"), float(exp)

    def _check_static(self, at: float) -> None:
        assert self._static is not None
        try:
            claims = jwt.decode(self._static, options={"verify_signature": False})
        except jwt.PyJWTError:
            return  # an encrypted (JWE) or opaque token: the platform will judge it
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp <= at:
            when = dt.datetime.fromtimestamp(exp, dt.UTC).isoformat(timespec="seconds")
            raise ConfigError(
                f"the ready-made token (KORE_JWT) expired at {when}; create a new one, or set "
                "KORE_CLIENT_ID and KORE_CLIENT_SECRET instead so tokens are minted as needed"
            )

    def __repr__(self) -> str:
        if self._static is not None:
            return "Credentials(token=<hidden>)"
        return (
            f"Credentials(client_id={self._client_id!r}, client_secret=<hidden>, "
            f"subject={self.subject!r}, ttl={self.ttl}, enforce_jti={self.enforce_jti})"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError(
            "Credentials are not picklable (they hold a secret); read them from the environment "
            "in each process with credentials_from_env()"
        )


def credentials_from_env(
    env: Mapping[str, str] | None = None, *, dotenv: bool | str | os.PathLike[str] = True
) -> Credentials:
    """Read credentials from the environment and an optional ``.env`` (environment wins).

    ``KORE_JWT`` (a ready-made token) is used when set; otherwise ``KORE_CLIENT_ID`` and
    ``KORE_CLIENT_SECRET``. Nothing is read at import time, only when this is called.

    Raises
    ------
    ConfigError
        Naming the variables to set.
    """
    settings = load_settings(env, dotenv=dotenv)
    token = settings.jwt.get_secret_value().strip() if settings.jwt else ""
    if token:
        return Credentials(token=token)
    client_id = (settings.client_id or "").strip()
    secret = settings.client_secret.get_secret_value().strip() if settings.client_secret else ""
    if client_id and secret:
        return Credentials(client_id, secret)
    if client_id or secret:
        have, lack = (
            ("KORE_CLIENT_ID", "KORE_CLIENT_SECRET")
            if client_id
            else ("KORE_CLIENT_SECRET", "KORE_CLIENT_ID")
        )
        raise ConfigError(
            f"{have} is set but {lack} is not: set both (the app's client id and secret) in "
            f"{settings.where()}, or set KORE_JWT instead"
        )
    raise ConfigError(f"no platform credentials: {_NO_CREDENTIALS}, in {settings.where()}")


def credentials_for(profile: Any, env: Mapping[str, str] | None = None) -> Credentials:
    """The :class:`Credentials` of a ``[platform.NAME]`` profile
    (:class:`~engagement_kit.config.platforms.PlatformProfile`), its ``${NAME}`` references read
    from ``env`` (default: the environment over the project's ``.env``).

    Raises
    ------
    ConfigError
        Naming the platform and the variable that is not set (never a value).
    """
    client_id, secret, token = profile.credential_values(env)
    try:
        if token is not None:
            return Credentials(token=token)
        return Credentials(client_id, secret)
    except ConfigError as exc:
        raise ConfigError(f"platform {profile.name}: {exc}") from None


def mint_token_for_cli(
    env: Mapping[str, str] | None = None, *, dotenv: bool | str | os.PathLike[str] = True
) -> str:
    """A token for ``engagement-kit token`` (to use with curl). Print :data:`TOKEN_WARNING` too.

    Raises
    ------
    ConfigError
        Naming the variables to set when no credentials are configured.
    """
    return credentials_from_env(env, dotenv=dotenv).token()
