"""The web view's pages over HTTP, served by the bot's own aiohttp app: what each shows, that the target's
evidence stays inert text, masked, under a strict CSP, and that a bad link gets a 403 saying what to do."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp

from bot.signoff.service import SignoffService
from bot.slack.views.signoff import signoff_card
from bot.web.links import Linker
from bot.web.routes import CSP
from checks.masking import masker
from checks.spec import Checklist
from tests.web.conftest import Clock
from tests.web.support import HOSTILE, store_rollout, store_run, unique_secret

LINK = re.compile(r"https?://[^\s|>]+")


async def get(url: str) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, dict(response.headers), await response.text()


def local(linker: Linker, base: str, kind: Any, object_id: str) -> str:
    return linker.url(kind, object_id).replace(linker.base_url, base)


def assert_strict_headers(headers: dict[str, str]) -> None:
    assert headers["Content-Security-Policy"] == CSP
    assert "script-src" not in CSP and "default-src 'none'" in CSP and "frame-ancestors 'none'" in CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


async def test_a_run_page_shows_every_checks_evidence_masked_and_escaped(view_url: str, store: Any,
                                                                         checklist: Checklist, linker: Linker) -> None:
    secret = unique_secret()
    evidence = {"output_tail": "\n".join(HOSTILE), "connection": f"postgresql://app:{secret}@db.internal/app",
                "note": f"the key was {secret}"}
    run_id = store_run(store, checklist, checks=3, evidence=evidence)
    masker.add(secret)  # learned after the row was stored: the page masks on the way out, as chat does
    stored = store.results(run_id)[0].evidence  # and a value under a secret's name, stored unmasked by someone
    store.db.execute("UPDATE results SET evidence = :e WHERE run_id = :r AND check_id = 'hostile.output'",
                     {"e": json.dumps({**stored, "api_token": "plain-token-value"}), "r": run_id})
    status, headers, html = await get(local(linker, view_url, "run", run_id))
    assert status == 200, html
    assert_strict_headers(headers)
    assert "NO-GO" in html and "hostile.output" in html and "relation &#34;orders&#34; is locked" in html
    assert "check.02" in html and "https://app.example.com/health/2" in html  # passing checks' evidence too
    assert "plain-token-value" not in html and "<dt>api_token</dt><dd><pre>***</pre>" in html
    assert "<dt>output_tail</dt>" in html and "<dt>connection</dt>" in html
    assert secret not in html and "postgresql://app:***@db.internal/app" in html and "the key was ***" in html
    assert "&lt;script&gt;document.title=" in html and "&lt;svg onload=" in html
    assert not re.search(r"<(script|img|svg|iframe|object)\b", html, re.I), "markup from the target reached the page"
    assert not [href for href in re.findall(r'href="([^"]*)"', html) if "javascript" in href.lower()]


async def test_a_one_megabyte_line_is_cut_to_a_readable_page_that_names_the_rest(
        view_url: str, store: Any, checklist: Checklist, linker: Linker) -> None:
    """A result keeps at most 64 KiB of evidence (checks.result), saying how much there was; the page shows
    that, escaped, and stays light."""
    line = "<b>" + "A" * 1_000_000
    run_id = store_run(store, checklist, evidence={"output_tail": line})
    status, _, html = await get(local(linker, view_url, "run", run_id))
    assert status == 200
    assert "&lt;b&gt;AAAA" in html and "<b>A" not in html
    assert "truncated (1000003 bytes)" in html
    assert len(html.encode()) < 150_000


async def test_a_forty_check_run_page_weighs_under_150_kb(view_url: str, store: Any, checklist: Checklist,
                                                           linker: Linker) -> None:
    run_id = store_run(store, checklist, checks=40, evidence={"output_tail": "\n".join(HOSTILE * 10)})
    async with aiohttp.ClientSession() as session:
        async with session.get(local(linker, view_url, "run", run_id)) as response:
            page = await response.read()
        async with session.get(f"{view_url}/view/static/golive.css") as response:
            css = await response.read()
            assert response.headers["Content-Type"].startswith("text/css")
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert page.count(b'class="check ') == 40
    assert len(page) + len(css) < 150_000, (len(page), len(css))


async def test_an_expired_or_altered_link_gets_a_403_that_says_how_to_get_a_fresh_one(
        view_url: str, store: Any, checklist: Checklist, linker: Linker, clock: Clock) -> None:
    run_id = store_run(store, checklist)
    url = local(linker, view_url, "run", run_id)
    clock.now += 3601
    status, headers, html = await get(url)
    assert status == 403
    assert_strict_headers(headers)
    assert "This link has expired" in html and "/golive status" in html and "golive link" in html
    assert "NO-GO" not in html and "hostile.output" not in html
    clock.now -= 3601
    status, _, html = await get(url.replace(run_id, store_run(store, checklist)))  # the signature of another run
    assert status == 403 and "not valid" in html
    status, _, html = await get(url.split("&mac=")[0])
    assert status == 403


async def test_an_unknown_run_or_page_is_a_404(view_url: str, store: Any, checklist: Checklist,
                                               linker: Linker) -> None:
    status, headers, html = await get(local(linker, view_url, "run", "feedfacefeedface"))
    assert status == 404 and "no run" in html
    assert_strict_headers(headers)
    status, _, _ = await get(f"{view_url}/view/secrets/x?exp=1&mac=x")
    assert status == 404


async def test_the_status_and_record_pages_show_the_verdict_phases_and_the_deployment(
        view_url: str, store: Any, checklist: Checklist, linker: Linker) -> None:
    store_run(store, checklist)
    store_rollout(store, checklist)
    status, _, html = await get(local(linker, view_url, "status", checklist.name))
    assert status == 200
    assert "Verdict: <span class=\"decision\">NO-GO</span>" in html
    assert "Tech Lead (pre)" in html and "Product Owner (pre)" in html  # missing sign-offs
    assert "phase-2" in html and "Rollbacks" in html
    assert "day1" in html and "hostile.output" in html
    status, _, html = await get(local(linker, view_url, "record", checklist.name))
    assert status == 200 and "deployment record" in html
    assert "Downtime (P0 incidents)" in html and "Promotion success rate" in html and "promoted to phase-2" in html
    status, _, html = await get(local(linker, view_url, "status", "another-checklist"))
    assert status == 404


async def test_the_rollout_page_draws_each_metric_against_its_threshold(
        view_url: str, store: Any, checklist: Checklist, linker: Linker) -> None:
    store_rollout(store, checklist)
    status, _, html = await get(local(linker, view_url, "rollout", checklist.name))
    assert status == 200
    titles = re.findall(r"<title id=\"chart-\d-title\">([^<]*)</title>", html)
    assert titles[0] == ("p95 latency (ms) over the last 12 samples, latest 2400 ms, alert above 2000 ms, "
                         "3 of 12 samples in breach")
    assert titles[1].startswith("5xx error rate (%)") and "alert above 1 %" in titles[1]
    assert titles[2].startswith("readiness") and "2 of 12 samples not ready" in titles[2]
    assert html.count('class="breach"') == 5 and html.count('class="threshold"') == 3
    assert "P0" in html and "p95 latency 2430 ms &gt; 2000 ms" in html and "promoted to phase-2 by U0DEVOPS" in html


async def test_the_signoff_page_from_the_chat_card_shows_who_decided_what_and_when(
        view_url: str, store: Any, checklist: Checklist, linker: Linker) -> None:
    service = SignoffService(store, checklist)
    request = service.open_request("pre", requested_by="U0RELEASE")
    service.record(request.id, "tech_lead", "approve", user_id="U0TECH")
    service.record(request.id, "product_owner", "reject", user_id="U0PO", reason="<b>release notes</b> missing")
    card = signoff_card(service.get(request.id), service.stage("pre"))  # type: ignore[arg-type]
    url = LINK.search(card.payload()["blocks"][-1]["elements"][0]["text"])
    assert url is not None
    status, _, html = await get(url.group(0).replace("&amp;", "&").replace(linker.base_url, view_url))
    assert status == 200
    assert "Sign-off: Before deploy" in html
    assert re.search(r"Tech Lead</td><td><span class=\"badge approve\">approve</span></td><td>U0TECH</td>", html)
    assert "&lt;b&gt;release notes&lt;/b&gt; missing" in html
    assert "signoff.requested" in html and "signoff.reject" in html


async def test_the_audit_page_shows_the_chain_and_its_verification(
        view_url: str, store: Any, checklist: Checklist, linker: Linker) -> None:
    store.audit(actor="U0DEVOPS", action="rollout.promote", subject="phase-1", detail={"note": "<script>x</script>"})
    store.audit(actor="U0DEVOPS", action="rollout.promote", subject="phase-2")
    url = local(linker, view_url, "audit", checklist.name)
    status, _, html = await get(url)
    assert status == 200 and "Intact:" in html and "2 row(s)" in html and "&lt;script&gt;x" in html
    with store.db.transaction() as tx:  # what someone with the SQLite file can do: switch the guard off, rewrite
        tx.execute("DROP TRIGGER audit_no_update")
        tx.execute("UPDATE audit SET actor = 'someone-else' WHERE subject = 'phase-1'")
    status, _, html = await get(url)
    assert "Broken:" in html and "was edited" in html
