"""A browser session's end frees its work: a closed or reloaded tab stops its play process within
10 seconds (Streamlit's session-end hook, app.py's `watched`), not after the idle timeout."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect
from test_dashboard import click

SESSION_END_DEADLINE_S = 10.0


def start_playing(page: Page, wait, play_processes) -> set[int]:
    before = play_processes()
    click(page, "play", wait)
    expect(page.locator(".st-key-play button")).to_contain_text("Pause")
    deadline = time.monotonic() + 30
    while not (play_processes() - before):
        assert time.monotonic() < deadline, "Play started no process"
        time.sleep(0.1)
    return play_processes() - before


def gone_within(pids: set[int], play_processes, seconds: float) -> float:
    """Seconds until none of `pids` is a play process of the server any more (or fail)."""
    started = time.monotonic()
    while pids & play_processes():
        waited = time.monotonic() - started
        assert waited < seconds, f"play processes {pids & play_processes()} still there"
        time.sleep(0.1)
    return time.monotonic() - started


def test_closing_the_tab_stops_its_play_process_within_10_seconds(
    browser, streamlit_server, wait_for_app_run, play_processes
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(streamlit_server)
    wait_for_app_run(page, initial_wait_ms=0)
    mine = start_playing(page, wait_for_app_run, play_processes)
    context.close()  # the tab, and its websocket, are gone
    gone_within(mine, play_processes, SESSION_END_DEADLINE_S)


def test_reloading_the_page_stops_the_old_sessions_play_process(
    page: Page, wait_for_app_run, play_processes
) -> None:
    mine = start_playing(page, wait_for_app_run, play_processes)
    page.reload()
    wait_for_app_run(page, initial_wait_ms=0)
    gone_within(mine, play_processes, SESSION_END_DEADLINE_S)
    expect(page.locator(".st-key-play button")).to_contain_text("Play")
