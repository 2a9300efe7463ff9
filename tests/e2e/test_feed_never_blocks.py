"""The live feed never blocks the server: with a session's play process stopped (SIGSTOP, so
every sync with it waits) and 40 requests at that session's feed at once, another visitor's
page and the health check are answered at once, and the feed says "busy" (503) rather than
hang. The bound of 5 s is a correctness check of "never waits on a session", not a speed
measurement: before the feed stopped waiting, a visitor's page took over a minute."""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from playwright.sync_api import Page, expect
from test_dashboard import click, wait_until

from dashboard.live_feed import BUSY_WAIT, FEED_PATH, TOKEN_HEADER

REQUESTS = 40
PROMPT_S = 5.0
STUCK_S = 10 * BUSY_WAIT  # far longer than a busy session's "ask again" takes


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, float, dict[str, str]]:
    """(status, seconds, headers) of a GET; a hang shows as the timeout's error."""
    started = time.monotonic()
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return response.status, time.monotonic() - started, _lower(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, time.monotonic() - started, _lower(error.headers)


def _lower(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def test_a_stopped_player_and_a_flood_of_feed_requests_leave_the_server_answering(
    page: Page, streamlit_server: str, wait_for_app_run, play_processes
) -> None:
    asked: list[tuple[str, str]] = []  # the panel's questions to the feed: (address, token)
    unanswered: dict[object, float] = {}  # each question still open, and when it was asked

    def on_request(request) -> None:
        if FEED_PATH in request.url:
            asked.append((request.url, request.headers.get(TOKEN_HEADER.lower(), "")))
            unanswered[request] = time.monotonic()

    page.on("request", on_request)
    for ended in ("requestfinished", "requestfailed"):
        page.on(ended, lambda request: unanswered.pop(request, None))
    before = play_processes()
    click(page, "play", wait_for_app_run)
    expect(page.locator(".st-key-play button")).to_contain_text("Pause")
    wait_until(page, lambda: bool(asked) and bool(play_processes() - before), "the panel to ask")
    (player,) = play_processes() - before
    url, token = asked[-1]
    assert token, "the panel sends its session's token in a header"

    os.kill(player, signal.SIGSTOP)
    try:
        # A question of the panel open for longer than the feed takes to say "busy": it waits
        # on the stopped player, holding the session's turn.
        wait_until(
            page,
            lambda: any(time.monotonic() - t > STUCK_S for t in unanswered.values()),
            "a question of the panel to wait on the stopped player",
        )
        with ThreadPoolExecutor(REQUESTS) as pool:
            flood = [pool.submit(get, url, {TOKEN_HEADER: token}) for _ in range(REQUESTS)]
            # While the flood is being answered: its first answers are back, the rest on the way.
            wait_until(page, lambda: any(f.done() for f in flood), "the flood's first answer")
            visitor = get(f"{streamlit_server}/")
            health = get(f"{streamlit_server}/_stcore/health")
            answers = [future.result(timeout=30) for future in flood]
        assert visitor[0] == 200 and visitor[1] < PROMPT_S, f"a visitor's page: {visitor[:2]}"
        assert health[0] == 200 and health[1] < PROMPT_S, f"the health check: {health[:2]}"
        assert [status for status, _, _ in answers] == [503] * REQUESTS
        assert max(seconds for _, seconds, _ in answers) < PROMPT_S
        assert all(headers.get("retry-after") == "1" for _, _, headers in answers)
    finally:
        os.kill(player, signal.SIGCONT)

    # The session goes on: the panel's waiting question is answered, and Pause ends the player.
    click(page, "play", wait_for_app_run)
    expect(page.locator(".st-key-play button")).to_contain_text("Play")
    wait_until(page, lambda: player not in play_processes(), "the play process to end")
    assert get(url, {TOKEN_HEADER: token})[0] in (200, 404)  # answered, not busy any more
