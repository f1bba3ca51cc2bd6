"""Every identifier Slack sends back to us: the slash command, button action ids, modal callback ids.
The manifest and the listeners both read them from here, and a test checks they agree."""

from __future__ import annotations

COMMAND = "/golive"

ACTION_SIGNOFF_APPROVE = "signoff_approve"
ACTION_SIGNOFF_REJECT = "signoff_reject"
ACTION_SIGNOFF_WITHDRAW = "signoff_withdraw"
ACTION_RUN_RERUN = "run_rerun"
ACTION_CHECK_CONFIRM = "check_confirm"
ACTION_ROLLOUT_ROLLBACK = "rollout_rollback"
ACTION_ROLLOUT_KEEP_GOING = "rollout_keep_going"

VIEW_SIGNOFF_REJECT = "signoff_reject_reason"
REJECT_REASON_BLOCK = "reason"
REJECT_REASON_INPUT = "reason_input"

TRANSPORT = "slack"
