"""Flags in LaunchDarkly, through its REST API with semantic patch, one environment per checklist.

- read: `GET /api/v2/flags/{project}/{flag}?env={environment}`; a boolean flag's state in the environment
  is its targeting switch (`on`) and its default rule (`fallthrough`: one variation, or a rollout of
  weights in thousandths of a percent);
- write: `PATCH /api/v2/flags/{project}/{flag}` with `Content-Type: application/json;
  domain-model=launchdarkly.semanticpatch` and the instructions `turnFlagOn` / `turnFlagOff` and
  `updateFallthroughVariationOrRollout` (a `variationId`, or `rolloutWeights` for a percentage), all of
  one flag in one request, so LaunchDarkly applies them together;
- a snapshot is `on` plus the fallthrough; `restore` sends them back with the same instructions.

An environment that requires approvals answers 405: golive changes nothing there and says to use an
approval request. A rate limit (429) is waited out when `X-Ratelimit-Reset` is near, else reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import Field

from bot.rollout.providers import ProviderError, flag_text
from bot.rollout.providers.service_api import JsonApi, ServiceConfig, error_message, service_setup
from checks.masking import redact_url
from checks.spec import FlagValue

SEMANTIC_PATCH = "application/json; domain-model=launchdarkly.semanticpatch"
FULL = 100_000  # rollout weights are thousandths of a percent


class LaunchDarklyConfig(ServiceConfig):
    project: str = Field(description="the LaunchDarkly project key")
    environment: str = Field(description="the environment key this checklist rolls out in, e.g. production")
    url: str = Field("https://app.launchdarkly.com", description="the API host (EU/federal instances differ)")
    comment: str = Field("golive rollout", description="the comment LaunchDarkly's audit log shows")
    max_wait_seconds: float = Field(30.0, ge=0, description="wait out a rate limit that resets within this")


def _fallthrough_share(flag: Mapping[str, Any], fallthrough: Mapping[str, Any]) -> int:
    """The share (0-100 000) of users the default rule serves the `true` variation."""
    values = [v.get("value") for v in flag.get("variations", [])]
    if "variation" in fallthrough and fallthrough["variation"] is not None:
        index = fallthrough["variation"]
        return FULL if 0 <= index < len(values) and values[index] is True else 0
    rollout = fallthrough.get("rollout") or {}
    return sum(int(w.get("weight", 0)) for w in rollout.get("variations", [])
               if 0 <= w.get("variation", -1) < len(values) and values[w["variation"]] is True)


def _text(share: int) -> str:
    return "true" if share >= FULL else ("false" if share <= 0 else f"{share / 1000:g}%")


class LaunchDarklyProvider:
    supports_rollout = True

    def __init__(self, config: LaunchDarklyConfig, token: str, client: httpx.AsyncClient | None = None, *,
                 sleep: Any = None, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.description = (f"LaunchDarkly {redact_url(config.url)} (project {config.project}, environment "
                            f"{config.environment})")
        extra = {"sleep": sleep} if sleep is not None else {}
        self.api = JsonApi(config.url, {"Authorization": token, "Accept": "application/json"},
                           timeout=config.timeout, max_body_bytes=config.max_body_bytes,
                           verify_tls=config.verify_tls, what=self.description, client=client,
                           retry_after=self._retry_after, max_wait=config.max_wait_seconds, **extra)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], token: str | None = None) -> LaunchDarklyProvider:
        config, token = service_setup(LaunchDarklyConfig, "launchdarkly", cfg, token, "launchdarkly_api_token",
                                      "rollout.provider (launchdarkly) needs an API access token: set "
                                      "LAUNCHDARKLY_API_TOKEN, or LAUNCHDARKLY_API_TOKEN_FILE=/run/secrets/ld_token (a "
                                      "token with the writer role on the project)")
        return cls(config, token)

    # -- the API ---------------------------------------------------------------------------------
    def _reset_in(self, response: httpx.Response) -> float | None:
        """Seconds until `X-Ratelimit-Reset` (epoch milliseconds), or Retry-After (seconds)."""
        reset = response.headers.get("X-Ratelimit-Reset")
        if reset:
            try:
                return max(0.0, int(reset) / 1000 - self.clock())
            except ValueError:
                return None
        after = response.headers.get("Retry-After")
        return float(after) if after and after.isdigit() else None

    def _retry_after(self, response: httpx.Response) -> float | None:
        return self._reset_in(response) if response.status_code == 429 else None

    def _flag_path(self, name: str) -> str:
        return f"/api/v2/flags/{quote(self.config.project, safe='')}/{quote(name, safe='')}"

    def _explain(self, method: str, url: str, response: httpx.Response, body: Any) -> str:
        status, said = response.status_code, error_message(body)
        flag = url.split("?", 1)[0].rsplit("/", 1)[-1]
        env = self.config.environment
        if status == 401:
            return (f"{self.description} refused the API token (401 {said or 'unauthorized'}): set a valid "
                    "LAUNCHDARKLY_API_TOKEN (or LAUNCHDARKLY_API_TOKEN_FILE)")
        if status == 403:
            return (f"{self.description}: the API token may not change {flag} (403 {said or 'forbidden'}): give "
                    f"it the writer role on project {self.config.project}")
        if status == 404:
            return (f"{self.description}: flag {flag} not found (404): create it in project "
                    f"{self.config.project} first")
        if status == 405:
            return (f"{self.description}: changes to {flag} in {env} require approval (405 {said}): request "
                    "and apply them through a LaunchDarkly approval request; golive changed nothing there")
        if status == 409:
            return f"{self.description}: {flag} was changed concurrently (409 {said}): try again"
        if status == 429:
            wait = self._reset_in(response)
            when = f"; the limit resets in {wait:.0f}s" if wait is not None else ""
            return f"{self.description}: rate limited (429 {said}){when}, longer than max_wait_seconds: try again"
        return f"{self.description}: {method} {flag} answered {status}" + (f": {said}" if said else "")

    async def _flag(self, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the flag, its environment)."""
        _, flag = await self.api.send("GET", self._flag_path(name), self._explain,
                                      params={"env": self.config.environment})
        env = (flag or {}).get("environments", {}).get(self.config.environment) if isinstance(flag, Mapping) \
            else None
        if not isinstance(env, Mapping):
            raise ProviderError(f"{self.description}: flag {name} has no environment {self.config.environment}")
        values = [v.get("value") for v in flag.get("variations", [])]
        if sorted(map(repr, values)) != ["False", "True"]:
            raise ProviderError(f"{self.description}: {name} is not a boolean flag (variations {values}); golive "
                                "rolls out boolean flags only")
        return dict(flag), dict(env)

    @staticmethod
    def _variation_id(flag: Mapping[str, Any], value: bool) -> str:
        return str(next(v["_id"] for v in flag["variations"] if v.get("value") is value))

    async def _patch(self, name: str, instructions: list[dict[str, Any]]) -> None:
        body = {"environmentKey": self.config.environment, "comment": self.config.comment,
                "instructions": instructions}
        await self.api.send("PATCH", self._flag_path(name), self._explain, body=body,
                            headers={"Content-Type": SEMANTIC_PATCH})

    # -- FlagProvider --------------------------------------------------------------------------
    async def read(self, names: Sequence[str]) -> dict[str, str | None]:
        result: dict[str, str | None] = {}
        for name in names:
            flag, env = await self._flag(name)
            result[name] = _text(_fallthrough_share(flag, env.get("fallthrough") or {})) if env.get("on") else "false"
        return result

    async def write(self, values: Mapping[str, FlagValue]) -> None:
        for name, value in values.items():
            text = flag_text(value) or "false"
            if text.lower() in ("false", "0", "no", "off", ""):
                await self._patch(name, [{"kind": "turnFlagOff"}])
                continue
            flag, _ = await self._flag(name)
            on_id, off_id = self._variation_id(flag, True), self._variation_id(flag, False)
            share = int(text[:-1]) * 1000 if text.endswith("%") else FULL
            serve: dict[str, Any] = {"kind": "updateFallthroughVariationOrRollout"}
            if share >= FULL:
                serve["variationId"] = on_id
            else:
                serve["rolloutWeights"] = {on_id: share, off_id: FULL - share}
            await self._patch(name, [{"kind": "turnFlagOn"}, serve])

    async def close(self) -> None:
        await self.api.close()

    # -- StatefulProvider ------------------------------------------------------------------------
    async def snapshot(self, names: Sequence[str]) -> dict[str, Any]:
        state = {}
        for name in names:
            flag, env = await self._flag(name)
            state[name] = {"on": bool(env.get("on")), "fallthrough": env.get("fallthrough") or {},
                           "variations": [v.get("_id") for v in flag.get("variations", [])],
                           "share": _fallthrough_share(flag, env.get("fallthrough") or {})}
        return state

    async def restore(self, state: Mapping[str, Any]) -> None:
        for name, entry in state.items():
            ids = entry["variations"]
            fallthrough = entry["fallthrough"]
            serve: dict[str, Any] = {"kind": "updateFallthroughVariationOrRollout"}
            if fallthrough.get("rollout"):
                rollout = fallthrough["rollout"]
                serve["rolloutWeights"] = {ids[w["variation"]]: int(w.get("weight", 0))
                                           for w in rollout.get("variations", [])}
                for key, field in (("bucketBy", "rolloutBucketBy"), ("contextKind", "rolloutContextKind")):
                    if rollout.get(key):
                        serve[field] = rollout[key]
            else:
                serve["variationId"] = ids[int(fallthrough.get("variation", 0))]
            await self._patch(name, [serve, {"kind": "turnFlagOn" if entry["on"] else "turnFlagOff"}])

    def state_text(self, entry: Any) -> str:
        share = _text(int(entry.get("share", 0)))
        return f"on, serving {share}" if entry.get("on") else f"off (default rule: {share})"

    def same_state(self, a: Any, b: Any) -> bool:
        def shape(entry: Any) -> Any:
            fallthrough = dict(entry.get("fallthrough") or {})
            if fallthrough.get("rollout"):  # LaunchDarkly fills in the default context kind
                fallthrough["rollout"] = {"contextKind": "user", **fallthrough["rollout"]}
            return (bool(entry.get("on")), fallthrough)

        return bool(shape(a) == shape(b))
