"""A browser session's end frees its work: a closed or reloaded tab stops its play process within
10 seconds (Streamlit's session-end hook, app.py's `watched`), not after the idle timeout. A
reload gets its model back (dashboard/parking.py); a shared link does not."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect
from test_dashboard import click, metric

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


def steps(page: Page, n: int, wait) -> None:
    for _ in range(n):
        click(page, "step", wait)
    expect(live_panel_iteration(page)).to_have_text(str(n))


def live_panel_iteration(page: Page):
    return page.frame_locator(".st-key-live_panel iframe").locator("[data-stat='Iteration'] .value")


def test_a_reload_keeps_the_model_and_a_shared_link_does_not_take_it(
    browser, streamlit_server, page: Page, wait_for_app_run
) -> None:
    steps(page, 3, wait_for_app_run)
    address = page.url
    page.reload()
    wait_for_app_run(page, initial_wait_ms=0)
    expect(
        page.get_by_text("Welcome back: the model is as you left it, at iteration 3.")
    ).to_be_visible()
    expect(live_panel_iteration(page)).to_have_text("3")
    assert metric(page, "Iteration") == "3"

    # Someone else opens the same address (the settings, not the session): a model of their own.
    other = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        stranger = other.new_page()
        stranger.goto(address)
        wait_for_app_run(stranger, initial_wait_ms=0)
        expect(live_panel_iteration(stranger)).to_have_text("0")
        expect(stranger.get_by_text("Welcome back")).to_have_count(0)
    finally:
        other.close()
    # ...and the first browser keeps its own.
    page.reload()
    wait_for_app_run(page, initial_wait_ms=0)
    expect(live_panel_iteration(page)).to_have_text("3")
