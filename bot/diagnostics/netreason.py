"""Say what a failed network call really was: an offline machine or a wrong host name is a DNS
failure, not "Slack rejected the token". Used wherever golive reports a connection it could not make."""

from __future__ import annotations

import asyncio
import socket
import ssl

_DNS = "the host name does not resolve (DNS): this machine is offline or the name is wrong"
_DNS_SIGNS = ("Name or service not known", "nodename nor servname", "Temporary failure in name resolution",
              "No address associated with hostname")


def network_reason(exc: BaseException) -> str | None:
    """A short human reason when `exc` (or what caused it) is a network failure; None when it is not."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current)
        if isinstance(current, socket.gaierror) or any(sign in text for sign in _DNS_SIGNS):
            return _DNS
        if isinstance(current, ConnectionRefusedError):
            return "connection refused: nothing listens at that address"
        if isinstance(current, ssl.SSLError):
            return f"TLS failed ({current.reason or current}): a proxy or a wrong certificate in the way"
        if isinstance(current, (TimeoutError, asyncio.TimeoutError)):
            return "no answer in time: a firewall, a proxy, or the service is down"
        if isinstance(current, OSError) and current.errno is not None:
            return f"network error: {current.strerror or current}"
        current = current.__cause__ or current.__context__
    return None
