"""The audit key: held outside the database, so owning the database is not enough to forge the log.

Where it comes from, first match wins:
1. `GOLIVE_AUDIT_KEY`: one key, or several separated by commas (oldest first; the last one signs).
2. `GOLIVE_AUDIT_KEY_FILE`: a file with one key per line (oldest first, `#` comments); the last signs.
   Refused when others may write it, or when neither root nor the current user owns it.
3. Neither set: `<GOLIVE_STATE_DIR>/audit.key`, generated (0600) on first use, for the embedded SQLite
   store only. That keeps a fresh install's log keyed, but a key beside the SQLite file protects
   against less: `golive doctor` and every start warn until the key is moved out. A PostgreSQL store is
   shared by replicas and terminals, which must all sign with one key: there a missing key is refused.

A key id is a digest of the key (never the key): every row names the key that signed it, so a key can
be rotated (add the new key last, keep the old ones for verifying older rows) and the rotation is a row.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("golive.audit")
MIN_KEY_CHARS = 16
GENERATED_NAME = "audit.key"


class AuditKeyError(ValueError):
    """The audit key cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class AuditKeys:
    keys: dict[str, bytes]  # key id -> key, oldest first
    current_id: str
    source: str  # "GOLIVE_AUDIT_KEY", a file path
    generated: bool = False  # created in the state dir by golive itself

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"golive-audit-key-id:" + key).hexdigest()[:12]


def _parse(values: list[str], source: str, *, generated: bool = False) -> AuditKeys:
    values = [v.strip() for v in values if v.strip() and not v.strip().startswith("#")]
    if not values:
        raise AuditKeyError(f"{source} holds no audit key: put a random key of at least {MIN_KEY_CHARS} "
                            "characters in it (e.g. `openssl rand -hex 32`)")
    short = [v for v in values if len(v) < MIN_KEY_CHARS]
    if short:
        raise AuditKeyError(f"{source}: an audit key must be at least {MIN_KEY_CHARS} characters "
                            "(e.g. `openssl rand -hex 32`)")
    keys = {key_id(v.encode()): v.encode() for v in values}
    return AuditKeys(keys, key_id(values[-1].encode()), source, generated)


def check_private(path: Path, what: str) -> None:
    """Refuse a file others may write, or one owned by someone other than root or the current user."""
    info = path.stat()
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise AuditKeyError(f"{what} {path} is writable by others: `chmod go-w {path}`")
    if info.st_uid not in (0, os.geteuid()):
        raise AuditKeyError(f"{what} {path} is owned by uid {info.st_uid}, neither root nor you: "
                            f"`chown` it to root or to the user golive runs as")


def load_keys(*, env_key: str | None, key_file: str | Path | None, state_dir: str | Path,
              generate: bool = True, shared_store: bool = False) -> AuditKeys:
    if env_key:
        return _parse(env_key.split(","), "GOLIVE_AUDIT_KEY")
    if key_file:
        path = Path(key_file)
        if not path.is_file():
            raise AuditKeyError(f"GOLIVE_AUDIT_KEY_FILE {path} is not a readable file")
        check_private(path, "GOLIVE_AUDIT_KEY_FILE")
        if path.stat().st_mode & stat.S_IROTH:
            raise AuditKeyError(f"GOLIVE_AUDIT_KEY_FILE {path} is readable by everyone: `chmod o-r {path}`")
        return _parse(path.read_text().splitlines(), str(path))
    path = Path(state_dir) / GENERATED_NAME
    if not path.exists():
        if shared_store:
            raise AuditKeyError("GOLIVE_DATABASE_URL is a shared store: every replica and terminal must sign the "
                                "audit log with the same key, so golive does not generate one. Set "
                                "GOLIVE_AUDIT_KEY_FILE (or GOLIVE_AUDIT_KEY) to a key of at least 16 characters "
                                "(e.g. `openssl rand -hex 32`)")
        if not generate:
            raise AuditKeyError("no audit key: set GOLIVE_AUDIT_KEY or GOLIVE_AUDIT_KEY_FILE (the key that "
                                "signed the log), or run golive where it generated one "
                                f"({path} does not exist)")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("# golive audit key, generated; move it outside the state dir (GOLIVE_AUDIT_KEY_FILE)\n")
            handle.write(secrets.token_hex(32) + "\n")
        log.warning("generated an audit key in %s (0600). Move it outside the state dir and the database "
                    "host, and point GOLIVE_AUDIT_KEY_FILE at it: whoever can read it can forge the log", path)
    else:
        check_private(path, "the audit key")
    return _parse(path.read_text().splitlines(), str(path), generated=True)


def keys_from_settings(*, generate: bool = True) -> AuditKeys:
    from bot.settings import get_settings

    settings = get_settings()
    return load_keys(env_key=settings.secret("audit_key"), key_file=settings.audit_key_file,
                     state_dir=settings.state_dir, generate=generate,
                     shared_store=bool(settings.secret("database_url")))
