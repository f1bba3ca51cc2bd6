"""The rollout tests' PostgreSQL store and demo target (tests/rollout/fixtures.py), for the tests that drive
the rollouts of several services; a module's own `store` fixture still wins where it defines one."""

from tests.rollout.fixtures import store, target  # noqa: F401  (fixtures)
