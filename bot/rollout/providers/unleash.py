"""Flags in Unleash, through its Admin API, one environment per checklist.

- on/off: `POST /api/admin/projects/{project}/features/{flag}/environments/{env}/on` (or `/off`);
- a percentage: the environment's flexible-rollout strategy (`.../environments/{env}/strategies`,
  parameter `rollout`), which golive updates in place, or adds when there is none. Other strategies that
  serve everyone (another unconstrained rollout, `default`) would override the percentage, so they are
  removed; strategies with constraints or segments (a beta group) are kept.
- the state of a flag is its environment's `enabled` and its whole strategy list; a snapshot keeps it
  and `restore` puts it back exactly (strategies updated, re-created and deleted as needed).

Unleash disables an environment whose last strategy is deleted, so strategies are added and updated
before others are removed, and the environment is switched last when it is turned on (first when off).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import Field

from bot.rollout.providers import ProviderError, flag_text
from bot.rollout.providers.service_api import JsonApi, ServiceConfig, error_message, service_setup
from checks.masking import redact_url
from checks.spec import FlagValue

ROLLOUT = "flexibleRollout"


class UnleashConfig(ServiceConfig):
    url: str = Field(description="the Unleash server, e.g. https://unleash.example.com (its /api is appended)")
    project: str = "default"
    environment: str = Field(description="the Unleash environment this checklist rolls out in, e.g. production")
    stickiness: str = Field("default", description="what a percentage buckets by (flexibleRollout stickiness)")


def _strategy(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A strategy as golive compares and re-creates it: what it does, not its id or position."""
    return {"name": raw.get("name"), "title": raw.get("title") or "", "disabled": bool(raw.get("disabled")),
            "parameters": dict(raw.get("parameters") or {}), "constraints": list(raw.get("constraints") or []),
            "segments": list(raw.get("segments") or []), "variants": list(raw.get("variants") or [])}


def _serves_everyone(raw: Mapping[str, Any]) -> bool:
    """An active strategy with no constraint or segment: it decides for all users."""
    return not raw.get("disabled") and not raw.get("constraints") and not raw.get("segments")


def _percent(raw: Mapping[str, Any]) -> int:
    if raw.get("name") != ROLLOUT:
        return 100  # `default` and other unconstrained strategies serve everyone
    try:
        return int(float(str((raw.get("parameters") or {}).get("rollout", "100"))))
    except ValueError:
        return 100


def state_text(entry: Mapping[str, Any]) -> str:
    """An environment's state as a flag value: false, true (everyone), `25%`, or `true (targeted)` when
    only strategies with constraints or segments serve it."""
    if not entry.get("enabled"):
        return "false"
    strategies = [s for s in entry.get("strategies", []) if not s.get("disabled")]
    if not strategies:
        return "true"
    everyone = [_percent(s) for s in strategies if _serves_everyone(s)]
    if not everyone:
        return "true (targeted)"
    share = max(everyone)
    return "true" if share >= 100 else f"{share}%"


def _percent_of(value: FlagValue) -> int | None:
    """None: off; else the share of users to serve (100: everyone)."""
    text = flag_text(value) or "false"
    if text.endswith("%"):
        return int(text[:-1])
    return None if text.strip().lower() in ("false", "0", "no", "off", "") else 100


class UnleashProvider:
    supports_rollout = True

    def __init__(self, config: UnleashConfig, token: str, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.description = (f"Unleash {redact_url(config.url)} (project {config.project}, environment "
                            f"{config.environment})")
        self.api = JsonApi(config.url, {"Authorization": token, "Accept": "application/json"},
                           timeout=config.timeout, max_body_bytes=config.max_body_bytes,
                           verify_tls=config.verify_tls, what=self.description, client=client)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], token: str | None = None) -> UnleashProvider:
        config, token = service_setup(UnleashConfig, "unleash", cfg, token, "unleash_api_token",
                                      "rollout.provider (unleash) needs an Admin API token: set UNLEASH_API_TOKEN, or "
                                      "UNLEASH_API_TOKEN_FILE=/run/secrets/unleash_token (a service account or admin "
                                      "token allowed to update feature environments)")
        return cls(config, token)

    # -- the API ---------------------------------------------------------------------------------
    def _env_path(self, name: str) -> str:
        c = self.config
        return (f"/api/admin/projects/{quote(c.project, safe='')}/features/{quote(name, safe='')}"
                f"/environments/{quote(c.environment, safe='')}")

    def _explain(self, method: str, url: str, response: httpx.Response, body: Any) -> str:
        status, said = response.status_code, error_message(body)
        path = redact_url(url).split("/api/", 1)[-1]
        if status == 401:
            return (f"{self.description} refused the API token (401 {said or 'unauthorized'}): set a valid "
                    f"UNLEASH_API_TOKEN (or UNLEASH_API_TOKEN_FILE)")
        if status == 403:
            return (f"{self.description}: the API token may not {method} /api/{path} (403 {said}): give its "
                    f"service account permission to update feature environments in project {self.config.project}")
        if status == 404:
            return f"{self.description}: not found (404): {said or path}; create the flag in Unleash first"
        return f"{self.description}: {method} /api/{path} answered {status}" + (f": {said}" if said else "")

    async def _environment(self, name: str) -> dict[str, Any]:
        _, body = await self.api.send("GET", self._env_path(name), self._explain)
        if not isinstance(body, Mapping) or "enabled" not in body:
            raise ProviderError(f"{self.description}: GET {name}'s environment {self.config.environment} did not "
                                "answer an environment object")
        return {"enabled": bool(body["enabled"]),
                "strategies": [dict(s) for s in body.get("strategies") or [] if isinstance(s, Mapping)]}

    async def _switch(self, name: str, on: bool) -> None:
        await self.api.send("POST", f"{self._env_path(name)}/{'on' if on else 'off'}", self._explain)

    async def _add(self, name: str, strategy: Mapping[str, Any]) -> None:
        await self.api.send("POST", f"{self._env_path(name)}/strategies", self._explain, body=_strategy(strategy))

    async def _update(self, name: str, strategy_id: str, strategy: Mapping[str, Any]) -> None:
        await self.api.send("PUT", f"{self._env_path(name)}/strategies/{quote(strategy_id, safe='')}",
                            self._explain, body=_strategy(strategy))

    async def _delete(self, name: str, strategy_id: str) -> None:
        await self.api.send("DELETE", f"{self._env_path(name)}/strategies/{quote(strategy_id, safe='')}",
                            self._explain)

    # -- FlagProvider --------------------------------------------------------------------------
    async def read(self, names: Sequence[str]) -> dict[str, str | None]:
        return {name: state_text(await self._environment(name)) for name in names}

    async def write(self, values: Mapping[str, FlagValue]) -> None:
        for name, value in values.items():
            share = _percent_of(value)
            if share is None:
                await self._switch(name, False)
                continue
            await self._serve(name, share)
            await self._switch(name, True)

    async def _serve(self, name: str, share: int) -> None:
        """Make the environment's strategies serve `share` % of everyone (constrained strategies stay)."""
        current = (await self._environment(name))["strategies"]
        everyone = [s for s in current if _serves_everyone(s)]
        if not current and share >= 100:
            return  # turning it on adds Unleash's default strategy, which serves everyone
        keep = next((s for s in everyone if s.get("name") == ROLLOUT), None)
        wanted = {"name": ROLLOUT, "title": (keep or {}).get("title") or "",
                  "parameters": {**((keep or {}).get("parameters") or {}), "rollout": str(share),
                                 "stickiness": ((keep or {}).get("parameters") or {}).get(
                                     "stickiness", self.config.stickiness),
                                 "groupId": ((keep or {}).get("parameters") or {}).get("groupId", name)},
                  "constraints": [], "segments": [], "variants": (keep or {}).get("variants") or []}
        if keep is None:
            await self._add(name, wanted)
        elif _strategy(keep) != _strategy(wanted):
            await self._update(name, str(keep["id"]), wanted)
        for other in everyone:
            if other is not keep:
                await self._delete(name, str(other["id"]))

    async def close(self) -> None:
        await self.api.close()

    # -- StatefulProvider ------------------------------------------------------------------------
    async def snapshot(self, names: Sequence[str]) -> dict[str, Any]:
        state = {}
        for name in names:
            env = await self._environment(name)
            state[name] = {"enabled": env["enabled"],
                           "strategies": [{"id": s.get("id"), **_strategy(s)} for s in env["strategies"]]}
        return state

    async def restore(self, state: Mapping[str, Any]) -> None:
        for name, entry in state.items():
            if not entry["enabled"]:
                await self._switch(name, False)
            current = {str(s.get("id")): s for s in (await self._environment(name))["strategies"]}
            wanted_ids = set()
            for strategy in entry["strategies"]:
                sid = str(strategy.get("id"))
                if sid in current:
                    wanted_ids.add(sid)
                    if _strategy(current[sid]) != _strategy(strategy):
                        await self._update(name, sid, strategy)
                else:
                    await self._add(name, strategy)
            for sid in current:
                if sid not in wanted_ids:
                    await self._delete(name, sid)
            if entry["enabled"]:
                await self._switch(name, True)

    def state_text(self, entry: Any) -> str:
        text = state_text(entry)
        strategies = [s for s in entry.get("strategies", []) if not s.get("disabled")]
        targeted = sum(1 for s in strategies if not _serves_everyone(s))
        return text + (f" (+{targeted} targeted strateg{'y' if targeted == 1 else 'ies'})"
                       if targeted and text != "true (targeted)" else "")

    def same_state(self, a: Any, b: Any) -> bool:
        def shape(entry: Any) -> Any:
            return (bool(entry.get("enabled")), [_strategy(s) for s in entry.get("strategies", [])])

        return bool(shape(a) == shape(b))
