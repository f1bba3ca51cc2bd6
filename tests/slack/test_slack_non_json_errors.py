"""A Slack Web API answer that is not Slack's JSON (a proxy's 500 text/plain page, a 405) must not crash
the handler: the requester gets a clear private notice saying what failed, and the run still ends with its
final state recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.slack.poster import not_posted_note
from tests.slack.conftest import GROUPS
from tests.slack.support import SlackStub, running_bot


class RawFailingStub(SlackStub):
    """The Slack stand-in, able to answer a method's next call with a raw (non-JSON) HTTP error."""

    def __init__(self) -> None:
        super().__init__(groups=GROUPS)
        self.raw: dict[str, list[tuple[int, str, str]]] = {}

    def fail_raw(self, method: str, status: int, body: str = "", content_type: str = "text/plain",
                 times: int = 10) -> None:
        """The next `times` calls (enough to outlast the client's retries of a 5xx) get this answer."""
        self.raw.setdefault(method, []).extend([(status, body, content_type)] * times)

    async def _api(self, request: web.Request) -> web.Response:
        queued = self.raw.get(request.match_info["method"])
        if queued:
            status, body, content_type = queued.pop(0)
            return web.Response(status=status, text=body, content_type=content_type)
        return await super()._api(request)


@pytest.fixture
async def stub() -> AsyncIterator[RawFailingStub]:
    stub = await RawFailingStub().start()
    yield stub
    await stub.close()


@pytest.mark.parametrize(("status", "body", "shown"), [
    (500, "Internal Server Error", "Slack answered HTTP 500"),
    (405, "", "Slack answered HTTP 405"),
], ids=["500-text-plain", "405"])
async def test_a_non_json_error_on_the_run_message_tells_the_requester_and_the_run_ends(
        stub: RawFailingStub, checklist, store, status: int, body: str, shown: str) -> None:
    stub.fail_raw("chat.postMessage", status, body)
    async with running_bot(stub, checklist, store) as bot:
        await bot.command("run day2", response="private")
        [reply] = await stub.wait_for(lambda: stub.of("response_url"), what="the notice to the requester")
        assert reply.payload["response_type"] == "ephemeral"
        assert shown in reply.text and "nothing was posted there" in reply.text
        assert "invite me" not in reply.text  # not the advice for a bot outside the channel
        assert "GO" in reply.text  # the verdict still reaches the person who asked
        [run] = store.runs()
        assert run.status == "finished" and run.verdict is not None
        stub.assert_clean()


async def test_a_non_json_error_on_a_status_post_tells_the_asker(stub: RawFailingStub, checklist, store) -> None:
    stub.fail_raw("chat.postMessage", 500, "<html>upstream error</html>", content_type="text/html")
    async with running_bot(stub, checklist, store) as bot:
        await bot.command("status", response="status")
        [reply] = await stub.wait_for(lambda: stub.of("response_url"), what="the status, privately")
        assert "Slack answered HTTP 500" in reply.text and "upstream error" not in reply.text
        assert "go-live status" in reply.blocks_json
        stub.assert_clean()


def test_the_note_for_a_bot_outside_the_channel_still_says_invite() -> None:
    assert "/invite @golive" in not_posted_note("not_in_channel")
    assert "HTTP 502" in not_posted_note("http_502")
