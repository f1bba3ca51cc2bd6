"""golive leans on a few private internals of its dependencies (each named in pyproject.toml next to
the upper bound that protects it). When an upgrade removes one, this fails here, naming it, instead of
the bot failing quietly in production."""

from __future__ import annotations

import importlib
import inspect

import pytest

# (module, attribute path, who relies on it and what breaks without it)
INTERNALS = [
    ("slack_bolt.app.async_app", "AsyncApp._async_middleware_list",
     "bot/slack/runtime.py pre-fills Bolt's cached auth.test so the first ack is fast"),
    ("slack_bolt.app.async_app", "AsyncApp._async_listeners",
     "bot/slack/introspect.py checks manifest.yml against the registered handlers"),
    ("slack_bolt.middleware.authorization.async_single_team_authorization",
     "AsyncSingleTeamAuthorization.auth_test_result",
     "bot/slack/runtime.py pre-fills Bolt's cached auth.test"),
    *[("slack_sdk.socket_mode.aiohttp", f"SocketModeClient.{name}",
       "bot/slack/socket_mode.py watches the session and its loops and reopens it (the one reconnect owner)")
      for name in ("current_session", "message_receiver", "message_processor", "last_ping_pong_time",
                   "on_message_listeners", "wss_uri", "aiohttp_client_session", "default_auto_reconnect_enabled",
                   "connect_to_new_endpoint", "process_messages")],
    ("slack_bolt.adapter.socket_mode.aiohttp", "AsyncSocketModeHandler.handle",
     "bot/slack/socket_mode.py runs Bolt's envelope handler over the supervised client"),
    ("sentry_sdk.transport", "HttpTransport._handle_response",
     "checks/kinds/sentry.py records the ingest's answer to the test event"),
    ("sentry_sdk.transport", "HttpTransport._handle_request_error",
     "checks/kinds/sentry.py records a failed delivery of the test event"),
]


def _resolve(module: str, path: str) -> object:
    target: object = importlib.import_module(module)
    for part in path.split("."):
        target = getattr(target, part)
    return target


@pytest.mark.parametrize(("module", "path", "why"), INTERNALS, ids=[f"{m}:{p}" for m, p, _ in INTERNALS])
def test_private_internal_we_rely_on_still_exists(module: str, path: str, why: str) -> None:
    owner, _, attribute = path.rpartition(".")
    cls = _resolve(module, owner)
    if attribute in vars(cls) or any(attribute in vars(base) for base in inspect.getmro(cls)):  # type: ignore[arg-type]
        return
    if attribute in inspect.signature(cls.__init__).parameters or _set_in_init(cls, attribute):  # type: ignore[misc]
        return
    pytest.fail(f"{module}.{path} is gone in the installed version; {why}. Pin the package below this version "
                "in pyproject.toml (and the lock file) or port that code to the new API.")


def _set_in_init(cls: type, attribute: str) -> bool:
    """Instance attributes are set in __init__; look for `self.<attribute> =` in its source."""
    for klass in inspect.getmro(cls):
        init = vars(klass).get("__init__")
        if init is None:
            continue
        try:
            source = inspect.getsource(init)
        except (OSError, TypeError):
            continue
        if f"self.{attribute} =" in source or f"self.{attribute}:" in source:
            return True
    return False
