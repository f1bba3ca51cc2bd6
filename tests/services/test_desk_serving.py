"""`golive serve`'s desk: a ChatOps per service over its scoped state, each with its own checklist and roles,
a broken service named at start-up (exit 2), a bot of one unchanged, and the service named on every button
drawn for it (Slack values, Teams card data, events a service's notifier publishes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.announcements.events import ChannelNotice, Event
from bot.chatops.service import ChatOps
from bot.commands.common import Context, UsageError
from bot.commands.serve import ServiceNotifier, build_desk, service_registry, service_settings
from bot.coordination.locks import LocalLocks
from bot.services.desk import Desk, service_tag, serving, tag_value, untag_value
from bot.services.registry import Channels, Registry, Service, single
from bot.settings import Settings
from bot.slack.views.blocks import button
from bot.store import Store, open_store
from bot.teams.cardkit import execute
from bot.teams.ids import VERB_SIGNOFF
from checks.loader import load_checklist
from tests.conftest import REDIS_URL
from tests.conversation.conftest import closed_port
from tests.conversation.harness import write_checklist


def checklist_file(tmp_path: Path, name: str) -> Path:
    path = write_checklist(tmp_path / f"{name}.yml", redis_url=REDIS_URL, dead_port=closed_port(), failing=1)
    path.write_text(path.read_text().replace("name: conversation-test", f"name: {name}"))
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(sqlite_path=tmp_path / "golive.db")
    yield opened
    opened.close()


def context(tmp_path: Path, registry: Registry | None = None) -> Context:
    default = checklist_file(tmp_path, "hunter")
    ctx = Context(Settings(_env_file=None, checklist=default), load_checklist(default))
    if registry is not None:
        setattr(ctx, "registry", registry)  # noqa: B010 - what the registry loader puts on the context
    return ctx


def test_each_service_gets_its_checklist_and_its_roles(tmp_path: Path, store: Store) -> None:
    hunter, billing = checklist_file(tmp_path, "hunter"), checklist_file(tmp_path, "billing")
    registry = Registry((Service("hunter", hunter, default=True),
                         Service("billing", billing, roles="tech_lead=U0BILLINGLEAD")))
    ctx = context(tmp_path, registry)
    desk = build_desk(ctx, service_registry(ctx), store, LocalLocks())
    assert [(s.name, ops.checklist.name) for s, ops in desk.each()] == [("hunter", "hunter"), ("billing", "billing")]
    lead = next(r for r in desk.chatops["billing"].checklist.signoffs["pre"].roles if r.id == "tech_lead")
    hunters = next(r for r in desk.chatops["hunter"].checklist.signoffs["pre"].roles if r.id == "tech_lead")
    assert "U0BILLINGLEAD" in lead.members and "U0BILLINGLEAD" not in hunters.members
    assert desk.default is desk.chatops["hunter"] and desk.several


def test_a_broken_service_is_named_at_start(tmp_path: Path, store: Store) -> None:
    broken = tmp_path / "billing.yml"
    broken.write_text("name: billing\nphases: [nonsense\n")
    registry = Registry((Service("hunter", checklist_file(tmp_path, "hunter"), default=True),
                         Service("billing", broken)))
    with pytest.raises(UsageError, match="service 'billing': checklist:"):
        build_desk(context(tmp_path, registry), registry, store, LocalLocks())
    roles = Registry((Service("hunter", checklist_file(tmp_path, "hunter"), default=True),
                      Service("billing", checklist_file(tmp_path, "billing"), roles="nobody_here=U1")))
    with pytest.raises(UsageError, match="service 'billing': roles:"):
        build_desk(context(tmp_path, roles), roles, store, LocalLocks())


def test_without_a_registry_the_bot_serves_its_one_checklist_as_before(tmp_path: Path, store: Store) -> None:
    ctx = context(tmp_path)
    registry = service_registry(ctx)
    assert registry == single(ctx.settings.checklist_path())
    desk = build_desk(ctx, registry, store, LocalLocks())
    assert desk.default.checklist is ctx.checklist and not desk.several
    [(service, _)] = desk.each()
    with desk.serving(service):  # a bot of one stamps nothing: today's buttons, byte for byte
        assert service_tag() is None and tag_value("day1") == "day1"


def test_buttons_drawn_for_a_service_carry_it_and_old_ones_belong_to_the_default(tmp_path: Path,
                                                                                 store: Store) -> None:
    with serving("billing"):
        value = button("Approve", "signoff_approve", "req1:tech_lead").value
        data = execute("Approve", VERB_SIGNOFF, {"request": "req1", "role": "tech_lead"})["data"]
    assert untag_value(value or "") == ("req1:tech_lead", "billing")
    assert data["service"] == "billing"
    assert untag_value("req1:tech_lead") == ("req1:tech_lead", None)
    assert "service" not in execute("Approve", VERB_SIGNOFF, {"request": "req1"})["data"]
    ops = ChatOps(store, load_checklist(checklist_file(tmp_path, "x")))
    desk = Desk.of(ops)  # what a transport built around one ChatOps serves
    assert desk.by_tag(None).name == "x" and desk.default is ops and not desk.several


async def test_a_services_notifier_draws_its_events_for_it_in_its_own_channels() -> None:
    seen: list[str | None] = []

    class Looking:
        async def publish(self, event: Event) -> None:
            seen.append(service_tag())

    await ServiceNotifier([Looking()], "billing").publish(ChannelNotice(kind="witness", text="hello", subject="s",
                                                                               purpose="witness"))
    assert seen == ["billing"] and service_tag() is None
    settings = Settings(_env_file=None).model_copy(update={"slack_channel": "C0ALL", "teams_channel": "19:all"})
    own = service_settings(settings, Service("billing", Path("b.yml"), Channels(slack=("C0BILLING",))))
    assert (own.slack_channel, own.teams_channel) == ("C0BILLING", "19:all")
    assert service_settings(settings, Service("hunter", Path("h.yml"))) is settings


def test_a_web_view_page_is_read_from_its_own_services_store(tmp_path: Path, store: Store) -> None:
    """A link to billing's run, sign-off card or status opens billing's page, never hunter's (the default)."""
    from bot.signoff.service import SignoffService

    hunter, billing = checklist_file(tmp_path, "hunter"), checklist_file(tmp_path, "billing")
    registry = Registry((Service("hunter", hunter, default=True), Service("billing", billing)))
    ctx = context(tmp_path, registry)
    desk = build_desk(ctx, service_registry(ctx), store, LocalLocks())
    ops = desk.chatops["billing"]
    run = ops.store.create_run(checklist="billing", selector="verify")
    request, _ = SignoffService(ops.store, ops.checklist).request_card("pre", requested_by="U0REQ")

    for kind, object_id in (("run", run.id), ("signoff", request.id), ("status", "billing"), ("audit", "billing")):
        page_store, page_checklist = desk.view_of(kind, object_id)
        assert (page_store, page_checklist.name) == (ops.store, "billing"), kind
    # hunter's store does not hold billing's sign-off request: read from the default, it would be "not found"
    assert SignoffService(desk.default.store, desk.default.checklist).get(request.id) is None
    assert desk.view_of("status", "nothing")[1].name == "hunter"  # unknown: the default service (its page says so)
