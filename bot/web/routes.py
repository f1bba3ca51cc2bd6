"""The web view on the bot's aiohttp server: `/view/<kind>/<id>?exp=&mac=` pages (links checked before
anything is read) and `/view/static/golive.css`. Every answer carries a strict Content-Security-Policy
(no script at all, no external origin) and no-sniff / no-referrer headers: the evidence shown comes
from the target, which is untrusted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.web.links import KINDS, Linker

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
STATIC = Path(__file__).parent / "static"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # 404/405 from the router get the same headers
        response = exc
    response.headers.update(SECURITY_HEADERS)
    if request.path.startswith("/view/static/"):
        response.headers["Cache-Control"] = "public, max-age=3600"
    return response


Pick = Callable[[str, str], tuple[Any, Any]]
"""(kind, object id) → the (store, checklist) of the service the page belongs to (`bot.services.desk.Desk.view_of`)."""


def view_app(store: Any, checklist: Any, linker_of: Callable[[], Linker | None], pick: Pick | None = None,
             ) -> web.Application:
    """The sub-application mounted at /view. `linker_of` gives the current linker (links may be off:
    then every page answers 404 saying GOLIVE_PUBLIC_URL is unset). With several services, `pick` says whose
    store and checklist a page is read from (else the one `store` and `checklist`)."""
    from bot.web import pages

    css = (STATIC / "golive.css").read_bytes()

    async def stylesheet(request: web.Request) -> web.Response:
        return web.Response(body=css, content_type="text/css", charset="utf-8")

    def render(kind: str, object_id: str, linker: Linker) -> Any:
        page_store, page_checklist = pick(kind, object_id) if pick is not None else (store, checklist)
        return pages.render_page(kind, object_id, page_store, page_checklist, linker)

    async def page(request: web.Request) -> web.Response:
        kind, object_id = request.match_info["kind"], request.match_info["object_id"]
        linker = linker_of()
        if linker is None or kind not in KINDS:
            result = await asyncio.to_thread(pages.not_found, "this page does not exist (the web view needs "
                                             "GOLIVE_PUBLIC_URL and a link from chat or `golive link`)")
        elif (refusal := linker.refusal(kind, object_id, request.query.get("exp"), request.query.get("mac"))):
            result = await asyncio.to_thread(pages.denied_page, refusal)
        else:
            result = await asyncio.to_thread(render, kind, object_id, linker)
        return web.Response(text=result.html, status=result.status, content_type="text/html", charset="utf-8")

    app = web.Application(middlewares=[security_headers])
    app.router.add_get("/static/golive.css", stylesheet)
    app.router.add_get("/{kind}/{object_id}", page)
    return app


def view_routes(store: Any, checklist: Any, linker_of: Callable[[], Linker | None] | None = None,
                pick: Pick | None = None) -> Callable[[web.Application], None]:
    """A route adder for `bot.serving.server.build_web_app`: mounts the view at /view."""
    from bot.web import links

    def add(app: web.Application) -> None:
        app.add_subapp("/view", view_app(store, checklist, linker_of or links.current, pick))

    return add


def serve_view(settings: Any, store: Any, checklist: Any, pick: Pick | None = None,
               ) -> Callable[[web.Application], None]:
    """What `golive serve` mounts: the linker configured from the settings (a bad link setting is a
    one-line usage error at start-up, not a failure on the first chat message), then the view."""
    from bot.commands.common import UsageError
    from bot.web import links

    try:
        links.configure(links.from_settings(settings))
    except links.LinkConfigError as exc:
        raise UsageError(str(exc)) from None
    return view_routes(store, checklist, pick=pick)
