"""The bot's own logs and error reports: JSON lines in production, readable lines on a terminal,
Sentry for its exceptions. Every path goes through `checks.masking.masker`, so a secret that slipped
into a log call, an exception message or a stack trace never leaves the process: the arguments of a log
call, its `extra` fields and exception texts are foreign text and fully masked; the format string is
ours and only scrubbed (known values, shapes), so our sentences are never garbled.

`setup_observability(settings)` is the one call `golive serve` makes at start-up.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

from bot.settings import Settings, secret_fields
from checks.masking import MASK, masker

_HANDLER_MARK = "_golive_handler"

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message", "asctime", "taskName"}


_SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "x-slack-signature", "x-api-key",
                                "proxy-authorization"})


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What the caller passed with `extra=`: logged as fields of their own, masked."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS and not k.startswith("_")}


class MaskingFilter(logging.Filter):
    """Masks the message and `extra` fields on the record itself, so every handler sees masked text
    (also handlers installed by libraries after us)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_golive_masked", False):  # a record seen by two handlers is masked once
            return True
        args = record.args
        try:
            if isinstance(args, Mapping):
                message = str(record.msg) % {k: _masked_arg(v) for k, v in args.items()}
            elif args:
                message = str(record.msg) % tuple(_masked_arg(a) for a in args)
            else:
                message = str(record.msg)
            message = masker.scrub(message)
        except Exception:  # a bad format string must not lose the line
            message = masker.mask(f"{record.msg} {record.args}")
        record.msg, record.args = message, None
        record.__dict__["_golive_masked"] = True
        if record.exc_info:  # another handler may have cached the unmasked traceback: replace it
            record.exc_text = masked_traceback(record.exc_info)
        elif record.exc_text:
            record.exc_text = masker.mask(record.exc_text)
        for key, value in extra_fields(record).items():
            record.__dict__[key] = masker.mask_data(value)
        return True


_PLAIN = logging.Formatter()


def masked_traceback(exc_info: Any) -> str:
    """A traceback whose exception messages are masked each as a whole (the message's own lines give it
    its structure: `RuntimeError: password:` followed by the value on the next line), then the rest."""
    text = _PLAIN.formatException(exc_info)
    exc, seen = exc_info[1], set()
    while isinstance(exc, BaseException) and id(exc) not in seen:
        seen.add(id(exc))
        message = str(exc)
        if message and message in text:
            text = text.replace(message, masker.mask(message))
        exc = exc.__cause__ or exc.__context__
    return masker.mask(text)


def _masked_arg(value: Any) -> Any:
    """A log call's argument: numbers stay numbers (for %d), everything else is foreign text, masked."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    return masker.mask(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, then the extra fields (and exc on errors)."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            payload.setdefault(key, value)
        if record.exc_info:
            payload["exc"] = masked_traceback(record.exc_info)
        if record.stack_info:
            payload["stack"] = masker.mask(self.formatStack(record.stack_info))
        return json.dumps(masker.scrub_data(payload), default=_json_default, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`12:00:01.234 WARNING golive.locks: message key=value` for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")

    def formatException(self, ei: Any) -> str:
        return masked_traceback(ei)  # an exception's text is foreign: every rule

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = extra_fields(record)
        if fields:
            head, sep, tail = text.partition("\n")
            text = head + " " + " ".join(f"{k}={_short(v)}" for k, v in fields.items()) + sep + tail
        return masker.scrub(text)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=_json_default, ensure_ascii=False)
    return text if " " not in text or text.startswith(("{", "[")) else json.dumps(text, ensure_ascii=False)


def _json_default(value: Any) -> str:
    return str(value)


def choose_format(setting: str, stream: IO[str]) -> str:
    """`auto` means text when a person watches a terminal, JSON otherwise (containers, CI, files)."""
    if setting in ("json", "text"):
        return setting
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def setup_logging(settings: Settings | None = None, *, stream: IO[str] | None = None, fmt: str | None = None,
                  level: str | None = None) -> str:
    """Install the bot's one root handler (replacing a previous one of ours); returns the format used."""
    stream = stream or sys.stderr
    chosen = choose_format(fmt or (settings.log_format if settings else "auto"), stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    handler.addFilter(MaskingFilter())
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel((level or (settings.log_level if settings else "INFO")).upper())
    logging.captureWarnings(True)
    return chosen


class MaskedStream:
    """A text stream that masks what is written to it: the CLI's stdout and stderr, so no verb's output
    (text, --json, tracebacks printed by a library) shows a secret, whichever code printed it."""

    def __init__(self, inner: IO[str]) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(masker.scrub(text))  # what verbs print is ours, built from masked parts
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding...
        return getattr(self.inner, name)


def setup_cli_logging(settings: Settings | None, *, stream: IO[str] | None = None) -> None:
    """What every CLI command gets before it runs: the secrets of the settings known to the masker, and
    library warnings (psycopg_pool quoting GOLIVE_DATABASE_URL) logged through the masking handler
    instead of Python's unformatted last-resort handler."""
    if settings is not None:
        register_secrets(settings)
    setup_logging(settings, stream=stream, fmt="text", level="WARNING")


def remove_logging() -> None:
    """Take our root handler off again (the CLI run in-process, e.g. by tests, leaves no trace)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()


# -- Sentry ---------------------------------------------------------------------------------------
def scrub_event(event: dict[str, Any], hint: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """before_send: no request bodies, cookies or auth headers; every remaining string masked."""
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies"):
            request.pop(key, None)
        headers = request.get("headers")
        if isinstance(headers, Mapping):
            request["headers"] = {k: (MASK if str(k).lower() in _SENSITIVE_HEADERS else v)
                                  for k, v in headers.items()}
    masked: dict[str, Any] = masker.mask_data(event)
    return masked


def scrub_breadcrumb(crumb: dict[str, Any], hint: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Breadcrumbs carry log messages and HTTP URLs: masked like everything else."""
    masked: dict[str, Any] = masker.mask_data(crumb)
    return masked


def default_release() -> str:
    from importlib import metadata  # scans the installed distributions: only when Sentry is set up

    try:
        return f"golive@{metadata.version('golive')}"
    except metadata.PackageNotFoundError:
        return "golive@unknown"


def init_sentry(settings: Settings, **overrides: Any) -> bool:
    """Report the bot's own exceptions to Sentry when GOLIVE_SENTRY_DSN is set; False when it is not.

    PII off, request bodies never captured, local variables not captured (they may hold tokens the
    masker has not seen), everything scrubbed in before_send. `overrides` exist for tests (transport).
    """
    dsn = settings.secret("sentry_dsn")
    if not dsn:
        return False
    import sentry_sdk

    masker.add(dsn)
    options: dict[str, Any] = {
        "dsn": dsn,
        "environment": settings.environment,
        "release": settings.release or default_release(),
        "send_default_pii": False,
        "max_request_body_size": "never",
        "include_local_variables": False,
        "before_send": scrub_event,
        "before_send_transaction": scrub_event,
        "before_breadcrumb": scrub_breadcrumb,
        **overrides,
    }
    with warnings.catch_warnings():
        # sentry-sdk >= 2.5x deprecates send_default_pii in favour of data_collection, which older 2.x
        # releases reject; False is what we mean on every version, so we keep it and mute the notice.
        warnings.simplefilter("ignore", DeprecationWarning)
        sentry_sdk.init(**options)
    sentry_sdk.set_tag("service", "golive")
    return True


def register_secrets(settings: Settings) -> None:
    """Teach the masker every secret the settings hold (URLs: their passwords too), before anything is logged."""
    masker.add(*(settings.secret(name) for name in secret_fields()))


def setup_observability(settings: Settings, *, stream: IO[str] | None = None) -> dict[str, Any]:
    """Secrets, logging, Sentry: what `golive serve` calls first. Returns what it set up (logged too)."""
    register_secrets(settings)
    fmt = setup_logging(settings, stream=stream)
    sentry = init_sentry(settings)
    info = {"log_format": fmt, "log_level": settings.log_level.upper(), "sentry": sentry,
            "environment": settings.environment, "release": settings.release or default_release()}
    logging.getLogger("golive").info("observability ready", extra=info)
    return info
