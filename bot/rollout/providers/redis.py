"""Flags in Redis: one hash (`hash: hunter:flags`, field per flag) or one key per flag (`prefix:`).
A write is one MULTI/EXEC, so the service never sees half a phase."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from bot.rollout.providers import ProviderError, config_error, flag_text
from checks.masking import mask, redact_url
from checks.spec import FlagValue


class RedisFlagsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    hash: str | None = None
    prefix: str | None = None
    timeout: float = 5.0

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{redact_url(value)!r} is not a redis://, rediss:// or unix:// URL "
                             "(e.g. redis://redis.internal:6379/0)")
        return value

    @model_validator(mode="after")
    def _one_layout(self) -> RedisFlagsConfig:
        if (self.hash is None) == (self.prefix is None):
            raise ValueError("set exactly one of `hash` (one hash, a field per flag) or `prefix` (a key per flag)")
        return self


class RedisProvider:
    def __init__(self, config: RedisFlagsConfig, client: Any = None) -> None:
        import redis.asyncio as aioredis

        self.config = config
        self.client = client or aioredis.Redis.from_url(
            config.url, decode_responses=True, socket_connect_timeout=config.timeout,
            socket_timeout=config.timeout)
        where = f"hash {config.hash}" if config.hash else f"keys {config.prefix}*"
        self.description = f"Redis {where} at {redact_url(config.url)}"

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> RedisProvider:
        try:
            return cls(RedisFlagsConfig.model_validate(dict(cfg)))
        except ValidationError as exc:
            raise config_error("redis", exc.errors()) from None

    async def _call(self, coro: Any) -> Any:
        from redis.exceptions import RedisError

        try:
            return await coro
        except (RedisError, OSError) as exc:
            raise ProviderError(f"{self.description}: {mask(str(exc)) or type(exc).__name__}") from None

    async def read(self, names: Sequence[str]) -> dict[str, str | None]:
        names = list(names)
        if not names:
            return {}
        if self.config.hash:
            values = await self._call(self.client.hmget(self.config.hash, names))
        else:
            values = await self._call(self.client.mget([f"{self.config.prefix}{n}" for n in names]))
        return {name: (v.decode() if isinstance(v, bytes) else v) for name, v in zip(names, values, strict=True)}

    async def write(self, values: Mapping[str, FlagValue]) -> None:
        text = {name: flag_text(v) or "" for name, v in values.items()}
        if not text:
            return
        async with self.client.pipeline(transaction=True) as pipe:
            if self.config.hash:
                pipe.hset(self.config.hash, mapping=dict[Any, Any](text))  # redis-py's key type is invariant
            else:
                pipe.mset({f"{self.config.prefix}{n}": v for n, v in text.items()})
            await self._call(pipe.execute())

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.aclose()
