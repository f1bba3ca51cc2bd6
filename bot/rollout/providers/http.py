"""Flags in a flag service over HTTP/JSON. Two shapes cover most services:

- one document: `GET url` answers the flags under `read_path`; a write sends the changed flags under
  `write_path` with `write_method` (PUT by default) to `write_url` (default: `url`);
- a flag per URL: `url` contains `{name}`; GET answers one flag, the write sends one body per flag.

`value_path` is where the value sits inside one flag's entry (`enabled` for `{"enabled": true}`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.rollout.providers import ProviderError, config_error, flag_text, web_url
from checks.bounded import MIB, CapExceeded, request_capped
from checks.jsonpath import MISSING, get_path, split_path
from checks.masking import mask, redact_url
from checks.spec import FlagSetting, FlagValue


class HttpFlagsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    read_path: str = ""
    value_path: str = ""
    write_url: str | None = None
    write_method: Literal["PUT", "POST", "PATCH"] = "PUT"
    write_path: str = ""
    timeout: float = 10.0
    verify_tls: bool = True
    max_body_bytes: int = Field(MIB, gt=0, description="read at most this much of an answer")

    @field_validator("url")
    @classmethod
    def _reachable(cls, value: str) -> str:
        return web_url(value)


def nest(path: str, value: Any) -> Any:
    """`nest("a.b", 1)` → {"a": {"b": 1}}; an empty path is the value itself."""
    for part in reversed(split_path(path)):
        value = {part: value}
    return value


def _json_value(value: FlagValue) -> Any:
    if isinstance(value, FlagSetting):  # only on/off reaches here: a percentage is refused at load
        return value.on
    return value if isinstance(value, bool) else str(value)


class HttpProvider:
    def __init__(self, config: HttpFlagsConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.client = client or httpx.AsyncClient(headers=config.headers, timeout=config.timeout,
                                                  verify=config.verify_tls)
        self.per_flag = "{name}" in config.url
        self.description = f"flag service {redact_url(config.url)}"

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> HttpProvider:
        try:
            return cls(HttpFlagsConfig.model_validate(dict(cfg)))
        except ValidationError as exc:
            raise config_error("http", exc.errors()) from None

    async def _request(self, method: str, url: str, body: Any = None) -> Any:
        try:
            response, raw = await request_capped(self.client, method, url, json=body, limit=self.config.max_body_bytes,
                                                 setting="provider.max_body_bytes",
                                                 total_timeout=self.config.timeout)
        except CapExceeded as exc:
            raise ProviderError(f"{self.description}: {mask(str(exc))}") from None
        except TimeoutError:
            raise ProviderError(f"{self.description}: {method} timed out after {self.config.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise ProviderError(f"{self.description}: {method} failed: {mask(str(exc)) or type(exc).__name__}") \
                from None
        if response.status_code >= 400:
            raise ProviderError(f"{self.description}: {method} {redact_url(url)} answered {response.status_code}")
        if method != "GET":
            return None
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise ProviderError(f"{self.description}: GET {redact_url(url)} did not answer JSON") from None

    def _value(self, entry: Any) -> str | None:
        value = get_path(entry, self.config.value_path) if self.config.value_path else entry
        return None if value is MISSING else flag_text(value)

    async def read(self, names: Sequence[str]) -> dict[str, str | None]:
        if self.per_flag:
            result: dict[str, str | None] = {}
            for name in names:
                document = await self._request("GET", self.config.url.format(name=name))
                result[name] = self._value(get_path(document, self.config.read_path))
            return result
        document = await self._request("GET", self.config.url)
        flags = get_path(document, self.config.read_path)
        if not isinstance(flags, Mapping):
            raise ProviderError(f"{self.description}: no flags object at {self.config.read_path or 'the top level'}")
        return {name: self._value(flags[name]) if name in flags else None for name in names}

    async def write(self, values: Mapping[str, FlagValue]) -> None:
        url = self.config.write_url or self.config.url
        if self.per_flag:
            for name, value in values.items():
                body = nest(self.config.write_path, nest(self.config.value_path, _json_value(value)))
                await self._request(self.config.write_method, url.format(name=name), body)
            return
        flags = {name: nest(self.config.value_path, _json_value(v)) for name, v in values.items()}
        await self._request(self.config.write_method, url, nest(self.config.write_path, flags))

    async def close(self) -> None:
        await self.client.aclose()
