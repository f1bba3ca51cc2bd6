"""Secret masking: one place that scrubs passwords, DSN keys and tokens from any text.

Every path out of the engine (results, errors, logs, the store, chat messages) goes through
`mask`, so a secret that slipped into an exception message still never leaves the process.
"""

from __future__ import annotations

import base64
import functools
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# Every pattern below has bounded quantifiers and anchors on a boundary, so masking stays linear in the
# length of the text (evidence can be a 100 kB body without spaces).

# scheme://user:password@host -> scheme://user:***@host. The password runs to the LAST "@" before the
# path (a password with an unencoded "@" is masked whole); if it holds a "/" too, to the last "@" of the word.
_URL_PASSWORD = re.compile(
    r"(?P<pre>(?<![a-zA-Z0-9+.\-])[a-zA-Z][a-zA-Z0-9+.\-]{0,31}://[^:/@\s\"'<>]{0,256}:)"
    r"(?P<secret>[^\s/?#\"'<>]{1,1024}(?=@)|[^\s\"'<>]{1,1024}(?=@))(?P<post>@)"
)
# scheme://key@host (Sentry DSN style, or a token as the user) for http(s), and any long user part elsewhere
_URL_USERINFO_KEY = re.compile(
    r"(?P<pre>(?<![a-zA-Z0-9+.\-])(?:https?://|[a-zA-Z][a-zA-Z0-9+.\-]{0,31}://(?=[^:/@\s]{20}))"
    r")(?P<secret>[^:/@\s\"'<>]{8,1024})(?P<post>@)"
)
# Token shapes that are secret wherever they appear.
_TOKENS = [
    re.compile(r"xox[abposre]-[0-9A-Za-z\-]{8,1024}"),  # Slack bot/user/app/refresh tokens
    re.compile(r"xapp-[0-9A-Za-z\-]{8,1024}"),  # Slack app-level tokens
    re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/[0-9A-Za-z/_\-]{8,512}"),  # Slack webhooks
    re.compile(r"(?<![0-9A-Za-z_])gh[pousr]_[0-9A-Za-z]{20,255}"),  # GitHub tokens
    re.compile(r"(?<![0-9A-Za-z_])github_pat_[0-9A-Za-z_]{20,255}"),  # GitHub fine-grained tokens
    re.compile(r"(?<![0-9A-Z])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}(?![0-9A-Z])"),  # AWS key ids
    re.compile(r"(?<![0-9A-Za-z_])(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{10,255}"),  # Stripe keys
    re.compile(r"(?<![0-9A-Za-z_])whsec_[0-9A-Za-z]{10,255}"),  # Stripe webhook secrets
    re.compile(r"(?<![0-9A-Za-z_\-])sk-(?:proj-|ant-)?[0-9A-Za-z_\-]{20,255}"),  # OpenAI / Anthropic keys
    re.compile(r"(?<![0-9A-Za-z_])AIza[0-9A-Za-z_\-]{30,64}"),  # Google API keys
    re.compile(r"(?<![0-9A-Za-z_])SG\.[0-9A-Za-z_\-]{16,64}\.[0-9A-Za-z_\-]{16,64}"),  # SendGrid
    re.compile(r"(?<![0-9A-Za-z_])(?:npm|hf|glpat|dop_v1|shpat|shpss|sntrys|sntryu)_[0-9A-Za-z_=+/\-]{16,255}"),
    re.compile(r"(?<![0-9A-Za-z_\-])glpat-[0-9A-Za-z_\-]{16,255}"),  # GitLab personal tokens
    re.compile(r"(?<![0-9A-Za-z_\-])eyJ[0-9A-Za-z_\-]{4,8192}\.eyJ[0-9A-Za-z_\-]{4,8192}\.[0-9A-Za-z_\-]{0,8192}"),
    # (above: JWTs) Authorization header schemes: Bearer/Token anything token-like, Basic base64
    re.compile(r"(?i)(?<=bearer )[0-9A-Za-z._\-~+/]{8,4096}=*"),
    re.compile(r"(?i)(?<=token )[0-9A-Za-z._\-~+/]{20,4096}=*"),
    re.compile(r"(?i)(?<=digest )[^\r\n\"]{1,4096}"),
]
# Basic credentials: base64 of user:password (so "Basic checks passed" stays readable)
_BASIC = re.compile(r"(?i)(?<=basic )[0-9A-Za-z+/]{8,4096}={0,2}")
# PEM blocks: the header, the base64 body (real or JSON-escaped newlines) and the footer go as one.
_PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]{0,40}(?:PRIVATE KEY|PRIVATE KEY BLOCK|CERTIFICATE REQUEST)-----"
    r"(?:[A-Za-z0-9+/=\s]|\\[nr])*(?:-----END [A-Z0-9 ]{0,60}-----)?"
)
# name=value, name: value, "name": "value" in free text (env dumps, JSON bodies, YAML, DSNs, headers).
# The name is checked by `is_secret_name` in Python, not in the pattern, so the pattern stays cheap.
_NAME_SEP = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?P<name>[A-Za-z_][A-Za-z0-9_.\-]{0,95})(?P<sep>\\?[\"']?[ \t]{0,3}(?::|=>|=)[ \t]{0,3})"
)
_VALUE = re.compile(
    r"\[[^\[\]{}\n]{0,4096}\]|\{[^{}\n]{0,4096}\}"
    r"|\\\"(?:[^\"\\]|\\[^\"]){0,4096}\\\"|\"(?:[^\"\\\n]|\\.){0,4096}\"|'[^'\n]{0,4096}'"
    r"|(?:(?:Bearer|Basic|Token|Digest)[ \t]+)?[^\s\"'&;,<>{}\[\]]{1,4096}"
)
_HEADER_LINE = re.compile(r"(?im)^(?P<name>(?:set-)?cookie|(?:proxy-)?authorization|x-api-key)[ \t]*:[ \t]*"
                          r"(?P<value>[^\r\n]{1,8192})")

_STRONG_WORDS = ("password", "passwd", "passphrase", "secret", "token", "credential", "private", "session",
                 "cookie", "apikey", "authorization")
_WEAK_WORDS = frozenset({"pwd", "pw", "key", "keys", "auth", "dsn", "pat", "otp"})
_NAME_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_HARMLESS_VALUES = frozenset({"", "null", "none", "true", "false", "***", "\"\"", "''", "[]", "{}"})

SECRET_URL_NAME = re.compile(r"(?i)(database_url|redis_url|_url$|_uri$|dsn)")


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Does a variable/JSON key name say its value is secret? (password, token, api_key, SMTP_PASS, pwd...)"""
    lowered = name.lower()
    if any(word in lowered for word in _STRONG_WORDS):
        return True
    parts = [p.lower() for p in _NAME_PARTS.findall(name)]
    if not parts:
        return False
    return (len(parts) > 1 and parts[-1] == "pass") or any(p in _WEAK_WORDS for p in parts)


class _SecretName:
    """Kept for callers that used `SECRET_NAME.search(name)`."""

    @staticmethod
    def search(name: str) -> bool:
        return is_secret_name(name)


SECRET_NAME = _SecretName()


def _masked_value(value: str) -> str | None:
    """The value with its quotes kept and its content masked; None when there is nothing to hide."""
    if value.lower() in _HARMLESS_VALUES or value.startswith(MASK):
        return None
    if value[0] in "[{":
        return None if value[1:-1].strip() == "" else value[0] + MASK + value[-1]
    for quote in ('\\"', '"', "'"):
        if len(value) >= 2 * len(quote) and value.startswith(quote) and value.endswith(quote):
            inner = value[len(quote):-len(quote)]
            return None if inner.lower() in _HARMLESS_VALUES else quote + MASK + quote
    return MASK


def _mask_named_values(text: str) -> str:
    """`name=value`, `"name": "value"`, `name: value` whose name is secret-looking lose the value.

    The pattern only finds name+separator; the value is matched after the name passed `is_secret_name`,
    and the scan resumes right after the separator, so a secret nested in another value is still found.
    """
    out: list[str] = []
    pos = 0
    for found in _NAME_SEP.finditer(text):
        if found.start() < pos or not is_secret_name(found["name"]):
            continue
        value = _VALUE.match(text, found.end())
        if not value:
            continue
        replacement = _masked_value(value[0])
        if replacement is None:
            continue
        if replacement == MASK and found["sep"].lstrip("\\")[:1] == '"':
            replacement = f'"{MASK}"'  # a bare JSON number or literal: keep the JSON valid
        out.append(text[pos:value.start()])
        out.append(replacement)
        pos = value.end()
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def _is_basic_credential(value: str) -> bool:
    if len(value) >= 24:
        return True
    try:
        return b":" in base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except ValueError:
        return False


def mask_shapes(text: str) -> str:
    """Mask what looks secret by its shape or its name, without knowing any value."""
    text = _PEM.sub(MASK, text)
    text = _URL_PASSWORD.sub(lambda m: m["pre"] + MASK + m["post"], text)
    text = _URL_USERINFO_KEY.sub(lambda m: m["pre"] + MASK + m["post"], text)
    for pattern in _TOKENS:
        text = pattern.sub(MASK, text)
    text = _BASIC.sub(lambda m: MASK if _is_basic_credential(m[0]) else m[0], text)
    text = _HEADER_LINE.sub(lambda m: f"{m[0][:m.start('value') - m.start()]}{MASK}", text)
    return _mask_named_values(text)


class Masker:
    """Scrubs known secret values and secret-shaped substrings from text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *values: str | None) -> None:
        with self._lock:
            for value in values:
                if value and len(value) >= 4:
                    self._values.add(value)
                    for part in _secret_parts_of_url(value):
                        self._values.add(part)

    def add_from_env(self, env: Mapping[str, str]) -> None:
        """Remember values of variables whose names say they are secret, and URL passwords."""
        for name, value in env.items():
            if not value:
                continue
            if SECRET_NAME.search(name):
                self.add(value)
            elif SECRET_URL_NAME.search(name) or "://" in value:
                self.add(*_secret_parts_of_url(value))

    def mask(self, text: str) -> str:
        if not text:
            return text
        with self._lock:
            known = sorted(self._values, key=len, reverse=True)
        for value in known:
            if value in text:
                text = text.replace(value, MASK)
        text = mask_shapes(text)
        return text

    def mask_data(self, data: Any, *, secret: bool = False) -> Any:
        """Mask every string inside nested dicts/lists. A key that names a secret (password, token,
        credentials, ...) loses every scalar below it, strings and numbers alike."""
        if isinstance(data, str):
            return (MASK if data and data.lower() not in _HARMLESS_VALUES else data) if secret else self.mask(data)
        if isinstance(data, bool) or data is None:
            return data
        if isinstance(data, int | float):
            return MASK if secret else data
        if isinstance(data, Mapping):
            return {key: self.mask_data(value, secret=secret or (isinstance(key, str) and is_secret_name(key)))
                    for key, value in data.items()}
        if isinstance(data, list | tuple):
            return [self.mask_data(v, secret=secret) for v in data]
        return data


def _secret_parts_of_url(value: str) -> Iterable[str]:
    """The password (or DSN key) inside a URL, if any."""
    if "://" not in value:
        return []
    try:
        parts = urlsplit(value)
    except ValueError:
        return []
    found = []
    if parts.password and len(parts.password) >= 3:
        found.append(parts.password)
        # An unencoded "@" in the password: libpq and others split at the first "@" and quote the
        # rest as a host name, so each piece is a secret of its own.
        found += [piece for piece in parts.password.split("@") if len(piece) >= 4 and "@" in parts.password]
    elif parts.username and parts.scheme in ("http", "https") and len(parts.username) >= 8:
        found.append(parts.username)
    return found


def redact_url(value: str) -> str:
    """A URL safe to show: the password (or DSN public key) replaced by ***."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return MASK
    if not parts.netloc:
        return value
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    userinfo = ""
    if parts.username and parts.password is not None:
        userinfo = f"{parts.username}:{MASK}@"
    elif parts.username:
        userinfo = f"{MASK}@" if parts.scheme in ("http", "https") else f"{parts.username}@"
    return urlunsplit((parts.scheme, userinfo + host, parts.path, parts.query, parts.fragment))


masker = Masker()
"""The process-wide masker: the engine feeds it every secret it learns of."""


def mask(text: str) -> str:
    return masker.mask(text)
