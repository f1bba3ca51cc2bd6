"""A check kind only a person can judge, standing in for `sentry.test_event` without a Sentry API token,
so transport tests can exercise the Confirm button without a Sentry server."""

from __future__ import annotations

from checks.registry import KINDS, CheckContext, Params, check_kind
from checks.result import Outcome, Status

KIND = "test.manual"


class ManualParams(Params):
    pass


async def manual_check(ctx: CheckContext, p: ManualParams) -> Outcome:
    """Always asks a person: the result is WARN until someone confirms it."""
    return Outcome(status=Status.WARN, summary="test event sent; confirm it arrived in Sentry",
                   needs_confirmation=True)


if KIND not in KINDS:
    check_kind(KIND, ManualParams)(manual_check)
