"""Secret masking: one place that scrubs passwords, DSN keys and tokens from any text.

Every path out of the engine (results, errors, logs, the store, chat messages) goes through
`mask`, so a secret that slipped into an exception message still never leaves the process.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# scheme://user:password@host  -> scheme://user:***@host
# Quantifiers are bounded and a scheme must start at a word edge, so masking stays linear on long text.
_URL_PASSWORD = re.compile(
    r"(?P<pre>(?<![a-zA-Z0-9+.\-])[a-zA-Z][a-zA-Z0-9+.\-]{0,31}://[^:/@\s]{0,256}:)(?P<secret>[^@\s]{1,1024})(?P<post>@)"
)
# scheme://key@host (Sentry DSN style, no password part) for http(s) only
_URL_USERINFO_KEY = re.compile(r"(?P<pre>https?://)(?P<secret>[^:/@\s]{8,1024})(?P<post>@)")
_TOKENS = [
    re.compile(r"xox[abposr]-[0-9A-Za-z\-]{8,}"),  # Slack tokens
    re.compile(r"xapp-[0-9A-Za-z\-]{8,}"),  # Slack app-level tokens
    re.compile(r"sntrys_[0-9A-Za-z_=+/\-]{16,}"),  # Sentry auth tokens
    re.compile(r"(?i)(?<=bearer )[0-9A-Za-z._\-~+/]{12,}=*"),
    re.compile(r"(?i)(password|passwd|pwd|secret|token|api[_-]?key)=([^\s&;'\"]+)"),
]

SECRET_NAME = re.compile(r"(?i)(password|passwd|secret|token|dsn|api[_-]?key|private[_-]?key|credential)")
SECRET_URL_NAME = re.compile(r"(?i)(database_url|redis_url|_url$|_uri$|dsn)")


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
        text = _URL_PASSWORD.sub(lambda m: m["pre"] + MASK + m["post"], text)
        text = _URL_USERINFO_KEY.sub(lambda m: m["pre"] + MASK + m["post"], text)
        for pattern in _TOKENS:
            replacement = (lambda m: f"{m[1]}={MASK}") if pattern.groups == 2 else MASK
            text = pattern.sub(replacement, text)
        return text

    def mask_data(self, data: Any) -> Any:
        """Mask every string inside nested dicts/lists (keys that name secrets lose their value)."""
        if isinstance(data, str):
            return self.mask(data)
        if isinstance(data, Mapping):
            out = {}
            for key, value in data.items():
                if isinstance(key, str) and SECRET_NAME.search(key) and isinstance(value, str) and value:
                    out[key] = MASK
                else:
                    out[key] = self.mask_data(value)
            return out
        if isinstance(data, list | tuple):
            return [self.mask_data(v) for v in data]
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
