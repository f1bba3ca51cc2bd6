"""Built-in check kinds; importing this package registers them all."""

from checks.kinds import (  # noqa: F401
    command,
    env,
    flags,
    guards,
    postgres,
    redis,
)
