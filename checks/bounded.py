"""Caps on everything golive reads from the target: HTTP bodies, program output, settings files.

A hostile or broken target decides how much it sends; golive decides how much it reads. Every read goes
through one of the helpers here, stops at a cap (1 MiB unless a check says otherwise) and says which cap
and which setting raises it, so a 1 GB body or `cat /dev/zero` ends a check in `error` within its timeout
instead of filling the bot's memory and the store.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where a body is read: `golive status` and `golive checks` never load httpx
    import httpx

KIB = 1024
MIB = 1024 * KIB
DEFAULT_MAX_BODY_BYTES = 1 * MIB
"""An HTTP answer read in full (per check: `max_body_bytes`)."""
DEFAULT_MAX_OUTPUT_BYTES = 1 * MIB
"""stdout + stderr of one program (per check: `max_output_bytes`; settings: `settings.max_bytes`)."""
DEFAULT_MAX_FILE_BYTES = 1 * MIB
"""A dotenv/flag file (settings: `settings.max_bytes`)."""
READ_CHUNK = 64 * KIB


def show_bytes(size: int) -> str:
    """1048576 → "1 MiB", 65536 → "64 KiB", 1500 → "1500 bytes"."""
    for unit, name in ((MIB * 1024, "GiB"), (MIB, "MiB"), (KIB, "KiB")):
        if size >= unit:
            value = size / unit
            return f"{value:.0f} {name}" if value == int(value) else f"{value:.1f} {name}"
    return f"{size} bytes"


class CapExceeded(Exception):
    """A read went over its cap and was stopped; the message names the cap and the setting that raises it.

    The runner turns it into an `error` result (the check could not judge what it was given)."""

    def __init__(self, what: str, limit: int, setting: str, action: str = "stopped reading") -> None:
        self.what, self.limit, self.setting, self.action = what, limit, setting, action
        super().__init__(str(self))

    def __str__(self) -> str:
        if not self.setting:  # a fixed cap (a flag file): nothing to raise
            return f"{self.what} exceeds the {show_bytes(self.limit)} cap; golive {self.action}"
        return (f"{self.what} exceeds the {show_bytes(self.limit)} cap ({self.setting}); golive {self.action} "
                f"— raise {self.setting} if that much is expected")

    def evidence(self) -> dict[str, Any]:
        return {"cap_bytes": self.limit, "cap_setting": self.setting}


def cap_description(what: str, default: int) -> str:
    return f"read at most this many bytes of {what} (default {show_bytes(default)}); more is an error"


# -- HTTP ------------------------------------------------------------------------------------------


class _Inflater:
    """gzip/deflate decoding that never produces more than asked for: httpx inflates each network chunk whole,
    so 64 KiB of a gzip bomb would become 64 MiB (or more) in memory before any cap could look at it."""

    def __init__(self, encoding: str) -> None:
        self.raw_deflate_fallback = encoding == "deflate"  # "deflate" is zlib-wrapped, or raw from some servers
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS)
        self.pending = b""

    def feed(self, data: bytes, room: int) -> bytes:
        """At most `room` bytes of output; what did not fit stays pending (read it with `more`)."""
        try:
            out = self.inflater.decompress(self.pending + data, room)
        except zlib.error:
            if not self.raw_deflate_fallback:
                raise
            self.raw_deflate_fallback = False
            self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self.inflater.decompress(self.pending + data, room)
        self.raw_deflate_fallback = False
        self.pending = self.inflater.unconsumed_tail
        return out


async def _decoded_chunks(response: httpx.Response, limit: int) -> AsyncIterator[bytes]:
    """The body as the server meant it (gzip/deflate undone), in pieces, never more than `limit` + 1 bytes in
    all: the caller only needs to know the body went over."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = _Inflater("gzip" if encoding == "x-gzip" else encoding)
        produced = 0
        async for raw in response.aiter_raw(READ_CHUNK):
            piece = inflater.feed(raw, limit + 1 - produced)
            while True:
                produced += len(piece)
                yield piece
                if produced > limit or not inflater.pending:
                    break
                piece = inflater.feed(b"", limit + 1 - produced)
            if produced > limit:
                return
        return
    async for chunk in response.aiter_bytes(READ_CHUNK):  # identity (or an encoding httpx leaves as it is)
        yield chunk


async def read_body(response: httpx.Response, limit: int, *, what: str, setting: str,
                    truncate: bool = False) -> tuple[bytes, bool]:
    """(body, truncated): the response's (decoded) body, at most `limit` bytes.

    Over the cap: CapExceeded, or with `truncate` the first `limit` bytes and True. A declared
    Content-Length over the cap fails before a byte is read; a compressed body is inflated only as far
    as the cap. The response is left open (the caller closes it: `request_capped` does)."""
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > limit:
        raise CapExceeded(f"{what} ({show_bytes(int(declared))} announced)", limit, setting)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in _decoded_chunks(response, limit):
            if size + len(chunk) > limit:
                if not truncate:
                    raise CapExceeded(what, limit, setting)
                chunks.append(chunk[: limit - size])
                return b"".join(chunks), True
            chunks.append(chunk)
            size += len(chunk)
    except zlib.error as exc:
        import httpx

        raise httpx.DecodingError(f"the body does not decode as {response.headers.get('content-encoding')}: "
                                  f"{exc}") from None
    return b"".join(chunks), False


async def request_capped(client: httpx.AsyncClient, method: str, url: str, *, limit: int, setting: str,
                         total_timeout: float | None = None, **kwargs: Any) -> tuple[httpx.Response, bytes]:
    """Send one request (no redirects followed) and read its body under `limit`; `total_timeout` bounds the
    whole exchange, since httpx's read timeout is per chunk and a trickling server would never hit it.

    For the bot's own reads of the target (watch metrics, flag services, effective probes)."""
    request = client.build_request(method, url, **kwargs)
    async with asyncio.timeout(total_timeout):
        response = await client.send(request, stream=True)
        try:
            body, _ = await read_body(response, limit, what=f"the body of {method} {url}", setting=setting)
        finally:
            await response.aclose()
    return response, body


# -- files -----------------------------------------------------------------------------------------


def read_file_capped(path: Path, limit: int, *, what: str, setting: str) -> bytes:
    """A regular file's bytes, at most `limit`. A FIFO, a device (/dev/zero) or a directory is refused with
    an OSError (its strerror says why) before anything is read, so it can neither block nor flood."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except IsADirectoryError:
        raise OSError(errno.EISDIR, "is a directory, not a file", str(path)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode) else "a directory" if stat.S_ISDIR(info.st_mode)
                    else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                    else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
            raise OSError(errno.EINVAL, f"is {kind}, not a regular file; give a file", str(path))
        if info.st_size > limit:
            raise CapExceeded(f"{what} {path} ({show_bytes(info.st_size)})", limit, setting)
        chunks: list[bytes] = []
        size = 0
        while size <= limit and (chunk := os.read(fd, min(READ_CHUNK, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew while we read
        raise CapExceeded(f"{what} {path}", limit, setting)
    return data
