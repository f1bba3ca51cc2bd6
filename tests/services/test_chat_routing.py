"""Chat with several services, through the shared inbound pipeline (the in-memory transport): a channel mapped
to a service needs no argument, a first argument naming a service takes it, a near miss gets "did you mean",
`status` where no service is chosen is one line per service, any other verb asks which service, a click goes
to the service its card names, and a bot of one answers exactly as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chatops.service import ChatOps
from bot.conversation.memory import MemoryBot, MemoryConversation
from bot.conversation.pipeline import SignoffClick
from bot.coordination.locks import LocalLocks
from bot.services.desk import Desk
from bot.services.registry import Channels, Registry, Service, single
from bot.signoff.service import SignoffService
from bot.store import Store, open_store
from checks.loader import load_checklist
from checks.spec import Checklist
from tests.conftest import REDIS_URL
from tests.conversation.conftest import closed_port
from tests.conversation.harness import write_checklist

UNMAPPED = "C-memory"


def service_checklist(tmp_path: Path, name: str) -> Checklist:
    path = write_checklist(tmp_path / f"{name}.yml", redis_url=REDIS_URL, dead_port=closed_port(), failing=1)
    path.write_text(path.read_text().replace("name: conversation-test", f"name: {name}"))
    return load_checklist(path)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(sqlite_path=tmp_path / "golive.db")
    yield opened
    opened.close()


def desk_of(store: Store, registry: Registry, checklists: dict[str, Checklist]) -> Desk:
    return Desk.build(registry, store, LocalLocks(), checklist=lambda s: checklists[s.name],
                      make=lambda st, c, lk: ChatOps(st, c, locks=lk))


@pytest.fixture
def two(tmp_path: Path, store: Store) -> tuple[MemoryBot, Desk]:
    checklists = {name: service_checklist(tmp_path, name) for name in ("hunter", "billing")}
    registry = Registry((
        Service("hunter", tmp_path / "hunter.yml", Channels(slack=("C-HUNTER",)), default=True),
        Service("billing", tmp_path / "billing.yml", Channels(slack=("C-BILLING",), teams=("19:billing@thread",))),
    ))
    desk = desk_of(store, registry, checklists)
    return MemoryBot(desk, MemoryConversation(store), UNMAPPED), desk


def told(bot: MemoryBot, user: str) -> list[str]:
    return [s.text for s in bot.conversation.said if s.private_to == user]


def public(bot: MemoryBot) -> list[str]:
    return [s.current for s in bot.conversation.said if s.private_to is None]


def requests(desk: Desk, service: str) -> list[str]:
    ops = desk.chatops[service]
    latest = SignoffService(ops.store, ops.checklist).latest("pre")
    return [latest.id] if latest else []


async def test_a_mapped_channel_needs_no_service_argument(two: tuple[MemoryBot, Desk]) -> None:
    bot, desk = two
    await bot.receive("status", user="tech", key="k1", channel="C-BILLING")
    await bot.receive("signoff pre", user="tech", key="k2", channel="C-BILLING")
    assert public(bot)[0].startswith("status billing:")
    assert requests(desk, "billing") and not requests(desk, "hunter")


async def test_a_first_argument_naming_a_service_takes_it_anywhere(two: tuple[MemoryBot, Desk]) -> None:
    bot, desk = two
    await bot.receive("status hunter", user="tech", key="k1")
    await bot.receive("signoff hunter pre", user="tech", key="k2")
    await bot.receive("status billing", user="tech", key="k3", channel="C-HUNTER")  # named beats the channel's
    said = public(bot)
    assert said[0].startswith("status hunter:") and said[-1].startswith("status billing:")
    assert requests(desk, "hunter") and not requests(desk, "billing")


async def test_an_unknown_service_suggests_the_nearest_name(two: tuple[MemoryBot, Desk]) -> None:
    bot, _ = two
    await bot.receive("status huntr", user="tech", key="k1")
    await bot.receive("run biling day1", user="tech", key="k2")
    first, second = told(bot, "tech")
    assert "no service `huntr`; did you mean `hunter`?" in first
    assert "no service `biling`; did you mean `billing`?" in second
    assert public(bot) == []


async def test_status_where_no_service_is_chosen_is_one_line_per_service(two: tuple[MemoryBot, Desk]) -> None:
    bot, _ = two
    await bot.receive("signoff billing pre", user="tech", key="k0")
    await bot.click(SignoffClick(requests(two[1], "billing")[0], "tech_lead", "approve"), user="tech", key="c1",
                    service="billing")
    await bot.receive("status", user="tech", key="k1")
    [overview] = [t for t in told(bot, "tech") if "services" in t]
    hunter = next(line for line in overview.splitlines() if "`hunter`" in line)
    billing = next(line for line in overview.splitlines() if "`billing`" in line)
    for line in (hunter, billing):
        assert "NO-GO" in line and "no rollout phase" in line and "0 open incidents" in line
    assert "missing sign-offs: Tech Lead (pre), DevOps Lead (pre)" in hunter
    assert "missing sign-offs: DevOps Lead (pre)" in billing  # billing's approval is billing's alone


async def test_any_other_verb_without_a_service_asks_which(two: tuple[MemoryBot, Desk]) -> None:
    bot, desk = two
    await bot.receive("run day1", user="tech", key="k1")
    [reply] = told(bot, "tech")
    assert "`hunter`, `billing`" in reply and "`/golive run <service> day1`" in reply
    assert desk.default.store.runs(limit=5) == []  # nothing ran


async def test_help_shows_the_service_argument_and_the_services(two: tuple[MemoryBot, Desk]) -> None:
    bot, _ = two
    await bot.receive("help", user="tech", key="k1")
    [help_text] = told(bot, "tech")
    assert "status [service] —" in help_text and "run [service] <phase|check> —" in help_text


async def test_a_click_goes_to_the_service_its_card_names(two: tuple[MemoryBot, Desk]) -> None:
    bot, desk = two
    await bot.receive("signoff hunter pre", user="tech", key="k1")
    await bot.receive("signoff billing pre", user="tech", key="k2")
    hunter, billing = requests(desk, "hunter")[0], requests(desk, "billing")[0]
    await bot.click(SignoffClick(billing, "tech_lead", "approve"), user="tech", key="c1", service="billing")
    await bot.click(SignoffClick(billing, "devops_lead", "approve"), user="devops", key="c2", service="hunter")
    await bot.click(SignoffClick(hunter, "tech_lead", "approve"), user="tech", key="c3")  # an older card: default
    await bot.click(SignoffClick(hunter, "devops_lead", "approve"), user="devops", key="c4", service="gone")

    def decided(service: str, request: str) -> set[str]:
        ops = desk.chatops[service]
        found = SignoffService(ops.store, ops.checklist).get(request)
        return set(found.decisions) if found else set()

    assert decided("billing", billing) == {"tech_lead"}  # the devops click said hunter: refused, not recorded
    assert decided("hunter", hunter) == {"tech_lead"}
    # hunter's store holds only hunter's requests: billing's id is unknown there, and the clicker is told so
    assert any("no longer exists in hunter (or the card belongs to another service)" in t for t in told(bot, "devops"))
    assert any("service `gone`, which this bot no longer serves" in t for t in told(bot, "devops"))


async def test_a_bot_of_one_answers_as_before(tmp_path: Path, store: Store) -> None:
    """A service named like one of its own phases: `run day1` still runs the phase, and no reply names services."""
    checklist = service_checklist(tmp_path, "conversation-test")
    registry = single(tmp_path / "day1.yml")
    desk = desk_of(store, registry, {"day1": checklist})
    bot = MemoryBot(desk, MemoryConversation(store), UNMAPPED)
    await bot.receive("run day1", user="tech", key="k1")
    await bot.receive("status", user="tech", key="k2")
    await bot.receive("help", user="tech", key="k3")
    [run] = store.runs(limit=5)
    assert run.selector == "day1"
    assert any(t.startswith("status conversation-test:") for t in public(bot))
    [help_text] = told(bot, "tech")
    assert "[service]" not in help_text and "status —" in help_text


def test_the_overview_of_fifty_services_is_shown_whole_in_slack_and_teams() -> None:
    from bot.chatops.replies import ServicesOverview
    from bot.slack.render import render as slack_render
    from bot.teams.cards import render as teams_render
    from tests.teams.support import card_text

    lines = [f"• `service-{i:02d}`: NO-GO · rollout phase-2 · 1 open incident (P0) · missing sign-offs: Tech Lead (pre)"
             for i in range(50)]
    overview = ServicesOverview("\n".join(["50 services — `/golive status <service>` for one in full:", *lines]),
                                lines=lines)
    blocks = slack_render(overview).blocks
    shown = " ".join(b.text.text for b in blocks)  # type: ignore[attr-defined]  # every block is a section
    assert all(f"service-{i:02d}" in shown for i in range(50)) and "…" not in shown
    assert all(len(b.text.text) <= 3000 for b in blocks)  # type: ignore[attr-defined]
    card = card_text(teams_render(overview))
    assert all(f"service-{i:02d}" in card for i in range(50)) and "more" not in card


def test_an_overview_line_counts_many_missing_signoffs_per_stage_so_fifty_services_fit_one_message() -> None:
    from bot.conversation.routing import missing_summary

    few = ["Tech Lead (pre)", "QA Lead (post)"]
    many = ["Tech Lead (pre)", "DevOps Lead (pre)", "Product Owner (pre)", "QA Lead (post)", "Tech Lead (post)"]
    assert missing_summary([]) == "sign-offs complete"
    assert missing_summary(few) == "missing sign-offs: Tech Lead (pre), QA Lead (post)"
    assert missing_summary(many) == "5 sign-offs missing (pre: 3, post: 2)"
