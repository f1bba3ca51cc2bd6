"""Built-in check kinds; importing this package registers them all."""

from checks.kinds import (  # noqa: F401
    api,
    backup,
    command,
    env,
    flags,
    guards,
    http,
    migration,
    openapi,
    postgres,
    redis,
    sentry,
    smoke,
)
