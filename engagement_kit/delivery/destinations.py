"""Destinations: the Apprise URLs of ``streams.toml``, their ``${NAME}`` references and masking.

A destination is kept as written (never holding a secret); :meth:`Destination.resolve` puts the
values in only when sending, and :func:`mask` takes them out of anything shown.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit

from engagement_kit.errors import ConfigError

EMAIL_SCHEMES = ("mailto", "mailtos")
JSON_SCHEMES = ("json", "jsons")
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
#: Query parameters of Apprise URLs that carry a secret (they must be ${NAME} references).
_SECRET_PARAMS = frozenset(
    {"pass", "password", "pwd", "token", "secret", "apikey", "api_key", "key", "sig", "signature"}
)


@dataclasses.dataclass(frozen=True)
class Destination:
    """One Apprise URL as written in ``streams.toml`` (``${NAME}`` references unexpanded).

    The written form is what is shown and recorded: it never holds a secret.
    """

    template: str
    #: ``digest = true``: one message for the run (the portfolio table, alerts inside) instead
    #: of one per stream and the alerts on their own. Not part of the identity: the same URL.
    digest: bool = dataclasses.field(default=False, compare=False)

    @property
    def scheme(self) -> str:
        match = _SCHEME.match(self.template)
        return match.group(1).lower() if match else ""

    @property
    def kind(self) -> str:
        """``email``, ``json`` or ``chat`` (every other Apprise service: a short text)."""
        if self.scheme in EMAIL_SCHEMES:
            return "email"
        if self.scheme in JSON_SCHEMES:
            return "json"
        return "chat"

    def addresses(self) -> tuple[str, list[str]]:
        """An email destination's ``from=`` and ``to=`` as written (for the ``.eml``)."""

        query = parse_qs(urlsplit(self.template).query)
        sender = (query.get("from") or [""])[0]
        to = [a for v in query.get("to", []) for a in re.split(r"[,\s]+", v) if a]
        return sender, to

    @property
    def references(self) -> list[str]:
        return _REF.findall(self.template)

    def resolve(self, env: Mapping[str, str]) -> str:
        """The URL with every ``${NAME}`` replaced by its value (quoted inside user:password).

        Raises
        ------
        ConfigError
            Naming the variable (never a value) when one is not set.
        """
        missing = [n for n in self.references if not env.get(n)]
        if missing:
            raise ConfigError(
                f"{self.template}: ${{{missing[0]}}} is not set; set {missing[0]} in the "
                "environment or in .env"
            )
        userinfo_end = _userinfo_end(self.template)

        def value(match: re.Match[str]) -> str:
            text = env[match.group(1)]
            return quote(text, safe="") if match.start() < userinfo_end else text

        url = _REF.sub(value, self.template)
        if self.kind == "email" and not re.search(r"[?&]inline=", url):
            url += ("&" if "?" in url else "?") + "inline=yes"  # charts as cid: images
        return url


def _userinfo_end(url: str) -> int:
    """Index of the ``@`` ending the user:password part of ``url`` (-1 when there is none)."""
    match = _SCHEME.match(url)
    start = match.end() if match else 0
    end = len(url)
    for sep in ("/", "?", "#"):
        i = url.find(sep, start)
        if i != -1:
            end = min(end, i)
    return url.rfind("@", start, end)


def check_destination(url: object, where: str, *, digest: bool = False) -> Destination:
    """Validate one ``deliver`` entry (an Apprise URL, or a table ``{ url = "...", digest =
    true }``); refuse a password written into the file. ``digest`` is the default of a URL that
    does not say (``[defaults]``' ``digest``)."""
    if isinstance(url, dict):
        unknown = sorted(set(url) - {"url", "digest"})
        if unknown or "url" not in url:
            raise ConfigError(
                f"{where}: a deliver table takes url and digest (e.g. "
                '{ url = "mailtos://...", digest = true })'
                + (f", not {', '.join(unknown)}" if unknown else "; url missing")
            )
        digest = url.get("digest", digest)
        if not isinstance(digest, bool):
            raise ConfigError(f"{where}: {url['url']}: digest must be true or false")
        return dataclasses.replace(check_destination(url["url"], where), digest=digest)
    if not isinstance(url, str) or not _SCHEME.match(url.strip()):
        raise ConfigError(
            f"{where}: {url!r} is not an Apprise URL; write e.g. "
            '"mailtos://user:${SMTP_PASSWORD}@smtp.example.com?to=team@example.com"'
        )
    url = url.strip()
    at = _userinfo_end(url)
    if at != -1:
        userinfo = url[_SCHEME.match(url).end() : at]  # type: ignore[union-attr]
        if ":" in userinfo:
            password = userinfo.split(":", 1)[1]
            if password and not _REF.fullmatch(password):
                shown = url[: at - len(password)] + "***" + url[at:]
                raise ConfigError(
                    f"{where}: {shown}: the password is written in the file; put it in the "
                    "environment or .env and write a reference instead, e.g. "
                    "mailtos://user:${SMTP_PASSWORD}@smtp.example.com"
                )

    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key.lower() in _SECRET_PARAMS and value and not _REF.fullmatch(value):
            raise ConfigError(
                f"{where}: {_REF.sub('', url).split('?')[0]}?...: the {key}= value is written in "
                f"the file; put it in the environment or .env and write {key}=${{NAME}} instead"
            )
    return Destination(url, digest)


def mask(text: str, env: Mapping[str, str], destinations: Iterable[Destination] = ()) -> str:
    """``text`` with the value of every variable the destinations reference replaced by ***."""
    names = {n for d in destinations for n in d.references}
    values = sorted(
        {v for n in names if (v := env.get(n)) and len(v) >= 3}
        | {quote(v, safe="") for n in names if (v := env.get(n)) and len(v) >= 3},
        key=len,
        reverse=True,
    )
    for value in values:
        text = text.replace(value, "***")
    return text
