"""Each browser tab its own: which tab a session is, and the cookie that brings its model back.

A reload starts a new browser session; the lab of the old one is parked (dashboard/parking.py)
under the old session's secret. That secret lives in a cookie of the tab's own, named after the
tab's id (tab_identity/index.html keeps the id in the tab's sessionStorage, which a reload keeps
and another tab does not share), so two tabs of one browser never take each other's cookie. The
server sets the cookie (HttpOnly, SameSite=Strict: no script of the page can read the secret),
from the route below, which the tab asks once the page knows the tab's id; Streamlit's own API
sets no cookie. The new session learns its tab's id from the component (`claim_for_tab`), reads
that tab's cookie from its own websocket's request, and claims the parked lab, once: the claimed
lab gets a new secret, so an old one never works twice.
"""

from __future__ import annotations

import re
from pathlib import Path

import streamlit.components.v1 as components
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import parking
from .live_feed import TOKEN_HEADER, lab_of
from .server_paths import under_base

FOLDER = Path(__file__).with_name("tab_identity")
COOKIE_PREFIX = "rnnlab_tab_"
# The cookie of earlier versions, one for the whole browser: cleared when seen.
OLD_COOKIE = "rnnlab_session"
COOKIE_PATH = "/rnnlab/tab-cookie"
TAB_ID = re.compile(r"[0-9a-f]{24}")


def cookie_name(tab: str) -> str:
    return COOKIE_PREFIX + tab


def is_tab_id(value: object) -> bool:
    return isinstance(value, str) and TAB_ID.fullmatch(value) is not None


def secret_of_tab(cookies: dict[str, str], tab: str) -> str | None:
    """The secret in the cookie of tab `tab` among a request's `cookies`, if any."""
    return cookies.get(cookie_name(tab)) if is_tab_id(tab) else None


def tab_identity(
    *, token: str, known_tab: str | None, base_url_path: str, key: str, on_change
) -> None:
    """The tab's invisible component: it tells the page the tab's id (its value, on_change runs
    then) until the page knows it (`known_tab`), then asks the server to set the tab's cookie
    for the session whose feed token is `token` (again whenever the token changes)."""
    component = components.declare_component("tab_identity", path=str(FOLDER))
    component(
        token=token,
        known_tab=known_tab or "",
        cookie_url=route_path(base_url_path),
        key=key,
        default=None,
        on_change=on_change,
    )


def route_path(base_url_path: str = "") -> str:
    return under_base(COOKIE_PATH, base_url_path)


def _cookie_path(base_url_path: str) -> str:
    """The cookie's Path: the whole app, and only the app."""
    return under_base("", base_url_path) or "/"


def _set_cookie(request: Request, path: str) -> Response:
    """Set the asking tab's cookie (on `path`) to its session's secret; clear this browser's
    cookies that name no lab any more (closed tabs whose parked lab expired), so they stay few."""
    tab = request.query_params.get("tab", "")
    if not is_tab_id(tab):
        return JSONResponse({"error": "bad query"}, status_code=400)
    lab = lab_of(request.headers.get(TOKEN_HEADER, ""))
    secret = None if lab is None else parking.key_of(lab)
    if secret is None:
        return JSONResponse({"error": "no such session"}, status_code=404)
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        cookie_name(tab), secret, path=path, httponly=True, samesite="strict"
    )  # no max-age: it goes when the browser closes; a parked lab goes sooner
    for name, value in request.cookies.items():
        stale = name.startswith(COOKIE_PREFIX) and name != cookie_name(tab)
        if name == OLD_COOKIE or (stale and not parking.holds(value)):
            response.delete_cookie(name, path=path, httponly=True, samesite="strict")
    return response


def routes(base_url_path: str = "") -> list[Route]:
    """The cookie's route, for st.App (app.py), under the server's base path."""
    path = _cookie_path(base_url_path)
    return [Route(route_path(base_url_path), lambda r: _set_cookie(r, path), methods=["POST"])]
