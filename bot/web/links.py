"""Signed, expiring links to the web view. The people who sign off have chat, not a terminal: every
message that trims evidence, every sign-off card and alert carries a link to its page when
GOLIVE_PUBLIC_URL is set (without it the `golive status --run <id>` pointer stays).

A link carries only what it points to: `/view/<kind>/<object id>?exp=<unix time>&mac=<HMAC>`, the
HMAC-SHA256 covering the path (kind and object id) and the expiry, under a key kept outside the
database (GOLIVE_LINK_KEY, GOLIVE_LINK_KEY_FILE, or `link.key` generated 0600 in the state dir), so a
copy of the store cannot mint links. Light on purpose: chat renderers import it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

PREFIX = "/view"
KINDS = ("status", "run", "signoff", "rollout", "record", "audit")
Kind = Literal["status", "run", "signoff", "rollout", "record", "audit"]
DEFAULT_TTL = 7 * 86400.0
KEY_FILE_NAME = "link.key"
FRESH_LINK_HINT = ("type `/golive status` in the release channel (it posts fresh links), or run "
                   "`golive link <run ID|record|audit|status>` in a terminal")

_TTL = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class LinkConfigError(ValueError):
    """A link setting that cannot be used; the message says which and what to do."""


def parse_ttl(text: str | None) -> float:
    """GOLIVE_LINK_TTL: '7d' (default), '12h', '30m', '3600' (seconds); at most 90 days."""
    if text is None or not str(text).strip():
        return DEFAULT_TTL
    match = _TTL.match(str(text).strip().lower())
    if not match:
        raise LinkConfigError(f"GOLIVE_LINK_TTL={text!r} not understood: use a number and a unit, e.g. 7d, 12h, 30m")
    seconds = float(match.group(1)) * _UNIT[match.group(2)]
    if not 0 < seconds <= 90 * 86400:
        raise LinkConfigError("GOLIVE_LINK_TTL must be more than zero and at most 90d")
    return seconds


def load_key(*, key: str | None, key_file: Path | None, state_dir: Path) -> bytes:
    """The signing key: GOLIVE_LINK_KEY, else the file GOLIVE_LINK_KEY_FILE names, else `link.key` in the
    state dir, created (32 random bytes, mode 0600) on first use."""
    if key:
        if len(key) < 16:
            raise LinkConfigError("GOLIVE_LINK_KEY is too short: use at least 16 random characters "
                                  "(e.g. `openssl rand -hex 32`)")
        return key.encode()
    if key_file is not None:
        try:
            data = key_file.read_bytes().strip()
        except OSError as exc:
            raise LinkConfigError(f"GOLIVE_LINK_KEY_FILE {key_file} cannot be read ({exc.strerror}); point it at "
                                  "a readable file, or unset it to use a generated key") from None
        if len(data) < 16:
            raise LinkConfigError(f"GOLIVE_LINK_KEY_FILE {key_file} holds under 16 bytes; put a longer random key "
                                  "in it (e.g. `openssl rand -hex 32`)")
        return data
    path = state_dir / KEY_FILE_NAME
    try:
        return path.read_bytes().strip() or _create_key(path)
    except FileNotFoundError:
        return _create_key(path)


def _create_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = secrets.token_hex(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return data


def object_path(kind: str, object_id: str) -> str:
    return f"{PREFIX}/{kind}/{quote(object_id, safe='')}"


@dataclass(frozen=True)
class Linker:
    """Mints and checks links. `clock` is injectable so expiry is tested without waiting."""

    base_url: str
    key: bytes = field(repr=False)
    ttl: float = DEFAULT_TTL
    clock: Callable[[], float] = time.time

    def signature(self, kind: str, object_id: str, expires: int) -> str:
        message = f"{object_path(kind, object_id)}\n{object_id}\n{expires}".encode()
        digest = hmac.new(self.key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def url(self, kind: Kind, object_id: str) -> str:
        expires = int(self.clock() + self.ttl)
        return (f"{self.base_url.rstrip('/')}{object_path(kind, object_id)}"
                f"?exp={expires}&mac={self.signature(kind, object_id, expires)}")

    def refusal(self, kind: str, object_id: str, exp: str | None, mac: str | None) -> str | None:
        """Why a link is refused ("altered", "expired"), or None when it is good. (The parameter is `mac`,
        not `sig`: `sig=` is an Azure SAS secret the masker may hide, and a masked link would not work.)"""
        if kind not in KINDS or not exp or not mac or not exp.isdigit() or len(exp) > 12:
            return "altered"
        if not hmac.compare_digest(mac.encode(), self.signature(kind, object_id, int(exp)).encode()):
            return "altered"
        if int(exp) < self.clock():
            return "expired"
        return None


def from_settings(settings: Any) -> Linker | None:
    """The linker `settings` describe, or None without GOLIVE_PUBLIC_URL (chat keeps the CLI pointer)."""
    if not getattr(settings, "public_url", None):
        return None
    base = str(settings.public_url).strip()
    if not base.startswith(("https://", "http://")):
        raise LinkConfigError(f"GOLIVE_PUBLIC_URL={base!r} is not an http(s) URL; set it to where `golive serve` "
                              "is reachable, e.g. https://golive.example.com")
    key_secret = settings.link_key.get_secret_value() if getattr(settings, "link_key", None) else None
    key = load_key(key=key_secret, key_file=getattr(settings, "link_key_file", None),
                   state_dir=Path(settings.state_dir))
    return Linker(base_url=base, key=key, ttl=parse_ttl(getattr(settings, "link_ttl", None)))


_current: Linker | None = None
_configured = False


def configure(linker: Linker | None) -> None:
    """Set the process's linker (`golive serve` at start-up, tests); None turns links off."""
    global _current, _configured
    _current, _configured = linker, True


def reset() -> None:
    """Forget the configured linker; the next `current()` reads the settings again."""
    global _current, _configured
    _current, _configured = None, False


def current() -> Linker | None:
    """The configured linker; on first use, the one the settings describe (None when links are off or
    misconfigured: a chat message then keeps the CLI pointer rather than failing)."""
    global _current, _configured
    if not _configured:
        try:
            from bot.settings import get_settings

            _current = from_settings(get_settings())
        except Exception:
            _current = None
        _configured = True
    return _current


def link(kind: Kind, object_id: str | None) -> str | None:
    """A fresh signed URL for the page, or None when links are off (or there is no object)."""
    linker = current()
    if linker is None or not object_id:
        return None
    return linker.url(kind, object_id)
