"""One identity and access rule for every path (issue 19, Done-when 1): each CLI verb that changes the
rollout or signs something off takes its identity from the operators file and applies chat's access
table; an unmapped OS user or a `--by` the mapping does not grant is refused (exit 1, audited);
`--break-glass "reason"` acts anyway and is audited, listed in status until acknowledged, and announced.

Reproduced first: `golive promote phase-1 --by UNOROLE` (and with no --by at all) promoted, audited as
UNOROLE. The CLI runs in-process (tests/cli/inprocess.py): a subprocess would prove nothing more here."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.authority.breakglass import record, unacknowledged
from bot.authority.identity import CliIdentity, host, os_user
from bot.chatops.actor import Actor
from bot.policy.freeze import FreezeService
from bot.policy.waivers import WaiverService
from bot.rollout.records import RolloutRecords
from bot.store import Store, open_store
from bot.store.auditkey import load_keys
from checks.loader import load_checklist
from tests.cli.inprocess import golive_in_process
from tests.operators import write_operators
from tests.waiver_support import seed_results

MEMBER, OUTSIDER = "U_LEAD", "U_OUT"


def write_checklist(tmp_path: Path) -> str:
    data = {
        "name": "acl", "target": {"base_url": "http://127.0.0.1:9"},
        "phases": [{"id": "p", "checks": [
            {"id": "core.up", "kind": "env", "criticality": "critical", "params": {"var": "X"}},
            {"id": "cache.warm", "kind": "env", "criticality": "high", "params": {"var": "X"}}]}],
        "signoffs": {"pre": {"roles": [{"id": "lead", "title": "Lead", "members": [MEMBER, "U_OTHER_LEAD"]}]}},
        "freeze": {"override_roles": []},
        "rollout": {"provider": {"kind": "dotenv", "path": "flags.env"},
                    "phases": [{"id": "phase-1", "flags": {"A": True}, "requires_signoff": []}]},
    }
    (tmp_path / "flags.env").write_text("A=false\n")
    path = tmp_path / "acl.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def state_store(tmp_path: Path) -> Store:
    """The store the in-process CLI uses, signing with the key golive generated in its state dir."""
    state = tmp_path / "state"
    return open_store(None, sqlite_path=state / "golive.db",
                      audit_keys=load_keys(env_key=None, key_file=None, state_dir=state))


# verb -> (argv after `golive`, what to prepare so that a permitted call succeeds, did it take effect?)
Prepare = Callable[[Store, str], None]
Effect = Callable[[Store, str], bool]


def _promoted(store: Store, path: str) -> bool:
    return RolloutRecords(store, "acl").phase() == "phase-1"


def _at_phase_1(store: Store, path: str) -> None:
    RolloutRecords(store, "acl").set_phase("phase-1")


def _waived(store: Store, path: str) -> bool:
    return bool(WaiverService(store, load_checklist(path)).active())


def _granted(store: Store, path: str) -> None:
    WaiverService(store, load_checklist(path)).grant("cache.warm", "2h", "known", by=MEMBER)


def _frozen(store: Store, path: str) -> bool:
    return bool(FreezeService(store, load_checklist(path)).active())


def _declared(store: Store, path: str) -> None:
    FreezeService(store, load_checklist(path)).declare(datetime.now(UTC) + timedelta(hours=2), "close", by=MEMBER)


def _broken_elsewhere(store: Store, path: str) -> None:
    record(store, "acl", "promote", CliIdentity("alice", "ops-host", ("U_OTHER_LEAD",)), "slack down")


def _acknowledged(store: Store, path: str) -> bool:
    return not [b for b in unacknowledged(store) if b.os_user == "alice"]


def _nothing(store: Store, path: str) -> None:
    return None


VERBS: dict[str, tuple[list[str], Prepare, Effect]] = {
    "promote": (["promote", "phase-1"], _nothing, _promoted),
    "rollback": (["rollback", "--reason", "test"], _at_phase_1, lambda s, p: RolloutRecords(s, "acl").phase() is None),
    "pause": (["pause", "--reason", "test"], _at_phase_1, lambda s, p: RolloutRecords(s, "acl").paused() is not None),
    "resume": (["resume"], _nothing, lambda s, p: bool(s.audit_log(action="cli.authorized", limit=1)
                                                       or s.audit_log(action="break_glass", limit=1))),
    "waive": (["waive", "cache.warm", "2h", "cache", "warms"], _nothing, _waived),
    "unwaive": (["unwaive", "cache.warm"], _granted, lambda s, p: not _waived(s, p)),
    "freeze": (["freeze", "--until", "2h", "--reason", "quarter close"], _nothing, _frozen),
    "freeze --lift": (["freeze", "--lift"], _declared, lambda s, p: not _frozen(s, p)),
    "acknowledge": ([], _broken_elsewhere, _acknowledged),
}
WHO = ["member", "non-member", "unmapped", "break-glass"]


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("verb", list(VERBS))
def test_every_cli_verb_applies_the_access_table_to_the_mapped_identity(tmp_path: Path, verb: str, who: str) -> None:
    path = write_checklist(tmp_path)
    argv, prepare, took_effect = VERBS[verb]
    if verb == "acknowledge":
        argv = ["acknowledge", "ID"]
    store = state_store(tmp_path)
    seed_results(store, load_checklist(path), {"core.up": "pass", "cache.warm": "fail"})
    prepare(store, path)
    if verb == "acknowledge":
        argv = ["acknowledge", unacknowledged(store)[0].id]
    ids = {"member": (MEMBER,), "non-member": (OUTSIDER,), "unmapped": (), "break-glass": ()}[who]
    operators = write_operators(tmp_path, *ids, others={"someone-else": [MEMBER]})
    extra = ["--break-glass", "Slack is down, INC-42"] if who == "break-glass" else []
    result = golive_in_process(*argv, "--checklist", path, *extra, env={"GOLIVE_OPERATORS_FILE": str(operators)},
                               cwd=tmp_path)
    assert "Traceback" not in result.stderr
    me = f"os:{os_user()}@{host()}"

    if who == "member":
        assert result.returncode == 0, result.stdout + result.stderr
        assert took_effect(store, path)
        granted = store.audit_log(action="cli.authorized", limit=1)[0]
        assert granted["actor"] == MEMBER and granted["detail"]["os_user"] == os_user()
        assert granted["detail"]["host"] == host() and granted["detail"]["operators_file"] == str(operators)
    elif who == "non-member":
        assert result.returncode == 1 and "refused" in result.stdout
        assert not took_effect(store, path)
        assert store.audit_log(action="access.denied", limit=1)[0]["actor"] == OUTSIDER
    elif who == "unmapped":
        assert result.returncode == 1 and f"OS user {os_user()} is not mapped" in result.stdout
        assert not took_effect(store, path)
        denied = store.audit_log(action="access.denied", limit=1)[0]
        assert denied["actor"] == me and denied["detail"]["os_user"] == os_user()
    elif verb == "acknowledge":  # acknowledging is what a role holder does: there is no glass to break
        assert result.returncode == 2 and "--break-glass" in result.stderr
        assert not took_effect(store, path)
    else:
        assert result.returncode == 0, result.stdout + result.stderr
        assert took_effect(store, path)
        row = store.audit_log(action="break_glass", limit=1)[0]
        assert row["actor"] == me and row["detail"]["reason"] == "Slack is down, INC-42"
        assert row["detail"]["os_user"] == os_user() and row["detail"]["host"] == host()
        assert row["detail"]["verb"] == argv[0] + (" --lift" if verb == "freeze --lift" else "")
        assert "break-glass" in result.stdout and "golive acknowledge" in result.stdout
        listed = golive_in_process("status", "--checklist", path, "--json", cwd=tmp_path)
        [item] = json.loads(listed.stdout)["break_glass"]
        assert item["os_user"] == os_user() and item["reason"] == "Slack is down, INC-42"
        assert item["announced_at"] is None  # no chat transport here: pending until the bot can post
    assert store.verify_audit()[1] is None
    store.close()


def test_break_glass_is_listed_until_a_role_holder_other_than_its_author_acknowledges_it(tmp_path: Path) -> None:
    path = write_checklist(tmp_path)
    store = state_store(tmp_path)
    seed_results(store, load_checklist(path), {"core.up": "pass", "cache.warm": "pass"})
    mine = write_operators(tmp_path, MEMBER)
    env = {"GOLIVE_OPERATORS_FILE": str(mine)}
    assert golive_in_process("promote", "phase-1", "--checklist", path, "--break-glass", "chat down", env=env,
                             cwd=tmp_path).returncode == 0
    [item] = unacknowledged(store)
    assert item.chat_user == MEMBER
    shown = golive_in_process("status", "--checklist", path, env=env, cwd=tmp_path).stdout
    assert f"break-glass {item.id}" in shown and "not acknowledged yet" in shown
    own = golive_in_process("acknowledge", item.id, "--checklist", path, env=env, cwd=tmp_path)
    assert own.returncode == 1 and "someone else" in own.stdout  # not by whoever broke the glass
    other = write_operators(tmp_path, "U_OTHER_LEAD")
    done = golive_in_process("acknowledge", item.id, "--checklist", path, env={"GOLIVE_OPERATORS_FILE": str(other)},
                             cwd=tmp_path)
    assert done.returncode == 0 and "acknowledged by U_OTHER_LEAD" in done.stdout
    assert unacknowledged(store) == []
    assert "break-glass" not in golive_in_process("status", "--checklist", path, env=env, cwd=tmp_path).stdout
    store.close()


def test_a_by_the_mapping_does_not_grant_is_refused_even_with_break_glass(tmp_path: Path) -> None:
    path = write_checklist(tmp_path)
    operators = write_operators(tmp_path, OUTSIDER)
    env = {"GOLIVE_OPERATORS_FILE": str(operators)}
    for extra in ([], ["--break-glass", "chat down"]):
        result = golive_in_process("promote", "phase-1", "--by", MEMBER, "--checklist", path, *extra, env=env,
                                   cwd=tmp_path)
        assert result.returncode == 1 and f"--by {MEMBER} is not granted" in result.stdout
    store = state_store(tmp_path)
    assert RolloutRecords(store, "acl").phase() is None and unacknowledged(store) == []
    store.close()


def unsafe_operators(tmp_path: Path) -> Path:
    path = write_operators(tmp_path, MEMBER)
    os.chmod(path, 0o666)
    return path


@pytest.mark.parametrize("operators, message", [
    (lambda tmp: tmp / "missing.yml", "no operators file"),
    (unsafe_operators, "writable by others"),
    (lambda tmp: (tmp / "bad.yml").write_text("operators: [") and tmp / "bad.yml", "not valid YAML"),
])
def test_a_missing_or_unsafe_operators_file_is_a_configuration_error(
        tmp_path: Path, operators: Callable[[Path], Path], message: str) -> None:
    path = write_checklist(tmp_path)
    file = operators(tmp_path)
    if file.exists():
        os.chmod(file, os.stat(file).st_mode & 0o777 if message != "not valid YAML" else 0o644)
    result = golive_in_process("promote", "phase-1", "--checklist", path, env={"GOLIVE_OPERATORS_FILE": str(file)},
                               cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_a_ci_job_identity_counts_only_when_running_as_a_ci_runner_account(tmp_path: Path) -> None:
    path = write_checklist(tmp_path)
    store = state_store(tmp_path)
    seed_results(store, load_checklist(path), {"core.up": "pass", "cache.warm": "pass"})
    ci = {"runners": [os_user()], "job_env": "CI_JOB_NAME", "jobs": {"deploy-prod": MEMBER}}
    operators = write_operators(tmp_path, ci=ci)
    env = {"GOLIVE_OPERATORS_FILE": str(operators), "CI_JOB_NAME": "lint"}
    refused = golive_in_process("promote", "phase-1", "--checklist", path, env=env, cwd=tmp_path)
    assert refused.returncode == 1 and "job lint is not mapped" in refused.stdout
    env["CI_JOB_NAME"] = "deploy-prod"
    assert golive_in_process("promote", "phase-1", "--checklist", path, env=env, cwd=tmp_path).returncode == 0
    granted = store.audit_log(action="cli.authorized", limit=1)[0]
    assert granted["actor"] == MEMBER and granted["detail"]["ci_job"] == "deploy-prod"
    # a job name in the environment means nothing for an account that is not a CI runner
    not_runner = write_operators(tmp_path, ci={**ci, "runners": ["gitlab-runner"]})
    other = golive_in_process("rollback", "--checklist", path, env={**env, "GOLIVE_OPERATORS_FILE": str(not_runner)},
                              cwd=tmp_path)
    assert other.returncode == 1 and "not mapped" in other.stdout
    store.close()


def test_user_env_vars_do_not_change_the_os_identity(tmp_path: Path) -> None:
    """$USER and $LOGNAME are the caller's to set; the identity is the effective uid's account."""
    path = write_checklist(tmp_path)
    operators = write_operators(tmp_path, others={"alice": [MEMBER]})
    result = golive_in_process("promote", "phase-1", "--checklist", path, cwd=tmp_path,
                               env={"GOLIVE_OPERATORS_FILE": str(operators), "USER": "alice", "LOGNAME": "alice"})
    assert result.returncode == 1 and f"OS user {os_user()} is not mapped" in result.stdout


def test_break_glass_is_announced_once_a_transport_can_post(tmp_path: Path) -> None:
    """The serving bot's sweep posts pending announcements; a transport that refuses leaves them pending."""
    import asyncio

    from bot.announcements.events import FanoutNotifier
    from bot.authority.breakglass import announce_pending
    from bot.conversation.memory import MemoryConversation
    from bot.conversation.router import EventRouter

    store = state_store(tmp_path)
    item = record(store, "acl", "rollback", CliIdentity(os_user(), host(), ()), "Teams outage")

    class Down(MemoryConversation):
        async def deliver_post(self, *args: object, **kwargs: object) -> tuple[str, str]:
            raise ConnectionError("chat is down")

    assert asyncio.run(announce_pending(store, FanoutNotifier([EventRouter(Down(store), "C1")]))) == 0
    assert unacknowledged(store)[0].announced_at is None
    chat = MemoryConversation(store)
    assert asyncio.run(announce_pending(store, FanoutNotifier([EventRouter(chat, "C1")]))) == 1
    posted = [said.current for said in chat.said]
    assert any(f"break-glass {item.id}" in text and "Teams outage" in text for text in posted)
    assert unacknowledged(store)[0].announced_at is not None
    assert asyncio.run(announce_pending(store, FanoutNotifier([EventRouter(chat, "C1")]))) == 0  # once
    store.close()


def test_chat_can_acknowledge_with_the_same_rule(tmp_path: Path) -> None:
    import asyncio

    from bot.chatops.commands import parse_command
    from bot.chatops.service import ChatOps

    path = write_checklist(tmp_path)
    store = state_store(tmp_path)
    item = record(store, "acl", "promote", CliIdentity("alice", "h", (MEMBER,)), "chat down")
    chatops = ChatOps(store, load_checklist(path))
    denied = asyncio.run(chatops.execute(parse_command(f"acknowledge {item.id}"), Actor(OUTSIDER, "slack")))
    assert type(denied).__name__ == "Denied"
    own = asyncio.run(chatops.execute(parse_command(f"acknowledge {item.id}"), Actor(MEMBER, "slack")))
    assert type(own).__name__ == "Failed" and "someone else" in str(own)
    done = asyncio.run(chatops.execute(parse_command(f"acknowledge {item.id}"), Actor("U_OTHER_LEAD", "slack")))
    assert type(done).__name__ == "Notice" and unacknowledged(store) == []
    store.close()


def test_status_lists_nothing_when_no_glass_was_broken(tmp_path: Path) -> None:
    path = write_checklist(tmp_path)
    result: subprocess.CompletedProcess = golive_in_process("status", "--checklist", path, "--json", cwd=tmp_path)
    assert json.loads(result.stdout)["break_glass"] == []


@pytest.mark.parametrize("argv, why", [
    (["promote", "phase-1"], "promoted phase-1 by U_LEAD"),
    (["waive", "cache.warm", "2h", "known"], "waive cache.warm by U_LEAD"),
    (["promote", "phase-1", "--break-glass", "chat down"], "promoted phase-1 by U_LEAD"),
])
def test_promotions_waivers_and_break_glass_witness_the_chain_head(tmp_path: Path, argv: list[str], why: str) -> None:
    from bot.authority.witness import read_heads

    path = write_checklist(tmp_path)
    store = state_store(tmp_path)
    seed_results(store, load_checklist(path), {"core.up": "pass", "cache.warm": "fail"})
    env = {"GOLIVE_OPERATORS_FILE": str(write_operators(tmp_path, MEMBER))}
    assert golive_in_process(*argv, "--checklist", path, env=env, cwd=tmp_path).returncode == 0
    heads, problem = read_heads(tmp_path / "state" / "audit-witness.jsonl", store.audit_keys)
    assert problem is None and why in [h.why for h in heads]
    if "--break-glass" in argv:
        assert any(h.why.startswith("break-glass ") for h in heads)
    assert golive_in_process("audit", "verify", cwd=tmp_path).returncode == 0
    store.close()


async def test_the_serving_bot_announces_pending_break_glass_and_witnesses_daily(tmp_path: Path) -> None:
    import asyncio

    from bot.announcements.events import FanoutNotifier
    from bot.authority.witness import keep_watch, read_heads
    from bot.conversation.memory import MemoryConversation
    from bot.conversation.router import EventRouter

    store = state_store(tmp_path)
    item = record(store, "acl", "promote", CliIdentity(os_user(), host(), ()), "Slack outage")
    chat = MemoryConversation(store)
    stop = asyncio.Event()
    witness_file = tmp_path / "witness.jsonl"
    keeper = asyncio.create_task(keep_watch(store, FanoutNotifier([EventRouter(chat, "C1")]),
                                            every=timedelta(hours=24), sweep=0.01, stop=stop, path=witness_file))
    for _ in range(500):  # a bounded wait for the first sweep (no wall-clock assertion)
        if witness_file.exists() and len(chat.said) >= 2:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await keeper
    texts = [said.current for said in chat.said]
    assert any(f"break-glass {item.id}" in t for t in texts) and any("golive audit head (daily)" in t for t in texts)
    heads, _ = read_heads(witness_file, store.audit_keys)
    assert [h.why for h in heads] == ["daily"]  # once per day, not once per sweep
    assert heads[0].posted and heads[0].posted[0]["channel"] == "C1"
    store.close()
