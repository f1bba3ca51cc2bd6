"""Flags in the service's dotenv file. A rewrite touches only the flag lines: every other byte (comments,
order, blank lines, quoting, line endings) stays, missing flags are appended, and the new file
replaces the old one atomically (temp file in the same directory + os.replace), so the service never
reads a half-written file.

The read-modify-write runs under a cross-process file lock (`filelock`, the maintained library for
it: flock on POSIX, the Windows equivalent elsewhere, a timeout built in) on `.<name>.lock` beside the
file, so two replicas (or a replica and `golive promote` in a terminal) flipping flags at once never
lose one another's change. Temp files are created 0600 in the same directory; any left behind by a
writer that died (they hold the whole env file, secrets included) are removed when the provider starts,
under the same lock, so a concurrent writer's temp file is never touched."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from dotenv import dotenv_values
from filelock import FileLock, Timeout

from bot.rollout.providers import ProviderError, flag_text
from checks.bounded import DEFAULT_MAX_FILE_BYTES, CapExceeded, read_file_capped
from checks.spec import FlagValue

_ASSIGNMENT = re.compile(r"^(?P<lead>\s*(?:export\s+)?)(?P<key>[A-Za-z_][A-Za-z0-9_.]*)(?P<eq>\s*=[ \t]*)"
                         r"(?P<rest>.*?)(?P<eol>\r\n|\n|\r)?$", re.DOTALL)
_NEEDS_QUOTES = re.compile(r"[\s#'\"\\$]")


def _split_value(rest: str) -> tuple[str, str, str]:
    """(quote char or '', raw value, what follows it: spaces and an inline comment)."""
    if rest[:1] in ("'", '"'):
        quote = rest[0]
        index = 1
        while index < len(rest):
            if rest[index] == "\\" and quote == '"':
                index += 2
                continue
            if rest[index] == quote:
                return quote, rest[1:index], rest[index + 1:]
            index += 1
        return "", rest, ""  # unbalanced: treat the whole thing as the value
    comment = re.search(r"\s+#", rest)
    if comment:
        return "", rest[:comment.start()], rest[comment.start():]
    stripped = rest.rstrip()
    return "", stripped, rest[len(stripped):]


def _render(value: str, quote: str) -> str:
    if quote == "'" and "'" not in value:
        return f"'{value}'"
    if quote or _NEEDS_QUOTES.search(value):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return value


def rewrite(text: str, values: Mapping[str, str]) -> str:
    """The file text with each key's value replaced in place (every occurrence) and missing keys appended."""
    lines = text.splitlines(keepends=True)
    seen: set[str] = set()
    for index, line in enumerate(lines):
        match = _ASSIGNMENT.match(line)
        if not match or match["key"] not in values:
            continue
        quote, _, tail = _split_value(match["rest"])
        key = match["key"]
        lines[index] = f"{match['lead']}{key}{match['eq']}{_render(values[key], quote)}{tail}{match['eol'] or ''}"
        seen.add(key)
    missing = [key for key in values if key not in seen]
    if missing:
        newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += newline
        lines += [f"{key}={_render(values[key], '')}{newline}" for key in missing]
    return "".join(lines)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step, keeping the file's permissions."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


LOCK_TIMEOUT = 10.0
"""Seconds a write waits for another process's write to the same file before giving up."""


class DotenvProvider:
    """Flags as KEY=value lines of a dotenv file (the one the service loads its settings from)."""

    def __init__(self, path: str | Path, *, lock_timeout: float = LOCK_TIMEOUT, tidy: bool = True) -> None:
        self.path = Path(path)
        self.description = f"dotenv file {self.path}"
        self.lock_timeout = lock_timeout
        self.removed_stale = self._remove_stale_temp_files() if tidy else []

    def _target(self) -> Path:
        # A symlinked .env is rewritten where it points, not replaced by a regular file.
        return self.path.resolve() if self.path.is_symlink() else self.path

    def _lock(self, path: Path) -> FileLock:
        return FileLock(path.parent / f".{path.name}.lock", timeout=self.lock_timeout, mode=0o600)

    def _remove_stale_temp_files(self) -> list[Path]:
        """Delete `.<name>.*.tmp` copies a dead writer left (a writer holds the lock while its copy exists)."""
        path = self._target()
        if not path.parent.is_dir():
            return []
        removed = []
        try:
            with self._lock(path):
                for stale in path.parent.glob(f".{path.name}.*.tmp"):
                    with contextlib.suppress(FileNotFoundError):
                        stale.unlink()
                        removed.append(stale)
        except (Timeout, OSError):  # another writer is busy or the directory is read-only: try next start
            return removed
        return removed

    def _read(self, names: Sequence[str]) -> dict[str, str | None]:
        path = self._target()
        if not path.exists():  # no file is no evidence, never "every flag off"
            raise ProviderError(f"flag file {self.path} not found")
        try:
            raw = read_file_capped(path, DEFAULT_MAX_FILE_BYTES, what="flag file", setting="")
        except CapExceeded as exc:
            raise ProviderError(str(exc)) from None
        except OSError as exc:
            raise ProviderError(f"cannot read {self.path}: {exc.strerror}") from None
        values = dotenv_values(stream=io.StringIO(raw.decode("utf-8", errors="replace")), interpolate=False)
        return {name: values.get(name) for name in names}

    def _write(self, values: Mapping[str, FlagValue]) -> None:
        path = self._target()
        try:
            with self._lock(path):
                raw = read_file_capped(path, DEFAULT_MAX_FILE_BYTES, what="flag file", setting="") \
                    if path.exists() else b""
                text = raw.decode("utf-8", errors="surrogateescape")
                new = rewrite(text, {k: flag_text(v) or "" for k, v in values.items()})
                if new != text:
                    atomic_write(path, new.encode("utf-8", errors="surrogateescape"))
        except Timeout:
            raise ProviderError(f"{self.path} is being rewritten by another process (its lock "
                                f".{path.name}.lock was held for over {self.lock_timeout:.0f} s); nothing "
                                f"changed, try again") from None
        except CapExceeded as exc:
            raise ProviderError(f"{exc}; nothing changed") from None
        except OSError as exc:
            raise ProviderError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    async def read(self, names: Sequence[str]) -> dict[str, str | None]:
        return await asyncio.to_thread(self._read, list(names))

    async def write(self, values: Mapping[str, FlagValue]) -> None:
        await asyncio.to_thread(self._write, dict(values))

    async def close(self) -> None:
        return None
