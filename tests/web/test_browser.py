"""The web view in a real browser (headless Chromium), opened the way a product owner opens it: from the
links in the bot's Slack messages. `golive serve --http` runs in-process against the Slack Web API
stand-in; the links are taken from the messages it posted. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.commands.common import Context
from bot.commands.serve import serve
from bot.store import open_store
from bot.web import links
from bot.web.links import Linker
from bot.web.routes import CSP
from checks.loader import load_checklist
from tests.serving import free_port, wait_started
from tests.slack.support import SlackStub, bot_settings, post_signed, slash_command
from tests.web.browser import Console, browser, screenshot  # noqa: F401  (browser: the session fixture)
from tests.web.conftest import FIXTURES
from tests.web.support import store_rollout

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.xdist_group("browser")]

LINK_KEY = "browser-test-link-key-0123456789"
SECRET = "Hunter2-Sup3rSecret"  # what the hostile check prints inside a database URL


def view_links(stub: SlackStub, kind: str) -> list[str]:
    """Every web view link of `kind` in what the bot posted to Slack, unescaped."""
    text = json.dumps([call.payload for call in stub.calls])
    return [u.replace("&amp;", "&") for u in re.findall(rf"http://127\.0\.0\.1:\d+/view/{kind}/[^|\s\"\\>]+", text)]


async def open_page(browser: Any, url: str) -> tuple[Any, Console, int]:  # noqa: F811
    page = await browser.new_page()
    console = Console(page)
    response = await page.goto(url)
    return page, console, response.status


async def test_a_product_owner_follows_slack_links_to_every_page_and_nothing_hostile_runs(
        browser: Any, tmp_path: Path) -> None:  # noqa: F811
    stub = await SlackStub().start()
    port, stop = free_port(), asyncio.Event()
    base = f"http://127.0.0.1:{port}"
    checklist = load_checklist(FIXTURES / "webview.yml")
    settings = bot_settings(stub, checklist=FIXTURES / "webview.yml", public_url=base, state_dir=tmp_path / "state",
                            link_key=SecretStr(LINK_KEY), link_ttl="1h")
    task = asyncio.create_task(serve(Context(settings, checklist), http=True, host="127.0.0.1", port=port, stop=stop))
    try:
        await wait_started(base, task)
        answer = await post_signed(f"{base}/slack/events", slash_command("run day1", response_url=stub.response_url()))
        assert answer.status == 200
        run_links = await stub.wait_for(lambda: view_links(stub, "run"), timeout=60, what="a link to the run page")
        await stub.wait_for(lambda: any("NO-GO" in c.text for c in stub.calls), timeout=60, what="the run's verdict")
        trimmed = [c for c in stub.calls if "evidence truncated" in json.dumps(c.payload)]
        assert trimmed and "/view/run/" in json.dumps(trimmed[0].payload), "the trimmed evidence reply links the page"
        state = open_store(sqlite_path=tmp_path / "state" / "golive.db")
        try:
            store_rollout(state, checklist)
        finally:
            state.close()
        await post_signed(f"{base}/slack/events", slash_command("status", response_url=stub.response_url()))
        status_links = await stub.wait_for(lambda: view_links(stub, "status"), what="/golive status's links")

        # the run: verdict, the failing check's evidence, the secret masked, the hostile markup inert
        page, console, code = await open_page(browser, run_links[0])
        assert code == 200
        body = await page.inner_text("body")
        assert "Verdict: NO-GO" in body
        assert "hostile.output" in body and 'migration failed: relation "orders" is locked' in body
        assert "output_tail" in body and "exit_code" in body  # the evidence's own labels
        assert "postgresql://app:***@db.internal:5432/app" in body and SECRET not in await page.content()
        assert "<script>document.title='PWNED-script'</script>" in body  # shown as text
        assert "PWNED" not in await page.title()
        assert await page.evaluate("document.querySelectorAll('script, img, iframe, object, main svg').length") == 0
        assert console.problems() == []
        await screenshot(page, "run")
        await page.close()

        # the status page, then the rollout page by the link in /golive status's message
        page, console, code = await open_page(browser, status_links[-1])
        assert code == 200
        body = await page.inner_text("body")
        assert "Verdict: NO-GO" in body and "Tech Lead (pre)" in body and "phase-2" in body
        assert console.problems() == []
        await screenshot(page, "status")
        await page.close()
        page, console, code = await open_page(browser, view_links(stub, "rollout")[-1])
        chart = page.get_by_role("img", name=re.compile(r"^p95 latency"))
        assert await chart.is_visible()
        name = await chart.get_attribute("aria-labelledby")
        title = await page.locator(f"#{name}").text_content()
        assert title == ("p95 latency (ms) over the last 12 samples, latest 2400 ms, alert above 2000 ms, "
                         "3 of 12 samples in breach")
        assert await page.get_by_role("img", name=re.compile(r"^readiness")).is_visible()
        assert "promoted to phase-2 by U0DEVOPS" in await page.inner_text("body")
        assert console.problems() == []
        await screenshot(page, "rollout")
        await page.close()
        for kind, expected in (("record", "Promotion success rate"), ("audit", "Intact:")):
            page, console, code = await open_page(browser, view_links(stub, kind)[-1])
            assert code == 200 and expected in await page.inner_text("body")
            assert console.problems() == []
            await page.close()

        # an expired link (signed with the server's key, expired a minute ago), an altered one
        expired = Linker(base, LINK_KEY.encode(), ttl=-60).url("run", run_links[0].split("/view/run/")[1][:16])
        for url, heading in ((expired, "This link has expired"),
                             (run_links[0].replace("exp=", "exp=9"), "This link is not valid")):
            page, console, code = await open_page(browser, url)
            assert code == 403
            body = await page.inner_text("body")
            assert heading in body and "/golive status" in body and "hostile.output" not in body
            assert console.problems(allow=("status of 403",)) == []
            await page.close()
        # the console check above would have seen a violation: the same CSP on a page that breaks it
        page = await browser.new_page()
        probe = Console(page)
        await page.route(f"{base}/view/csp-probe", lambda route: route.fulfill(
            status=200, body="<p>probe</p><script>document.title='ran'</script>",
            headers={"Content-Type": "text/html", "Content-Security-Policy": CSP}))
        await page.goto(f"{base}/view/csp-probe")
        assert await page.title() != "ran"
        assert any("Content Security Policy" in line for line in probe.problems()), probe.lines
        await page.close()
        stub.assert_clean()
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await stub.close()
        links.reset()
