"""A browser session's end frees its work: a closed or reloaded tab stops its play process within
10 seconds (Streamlit's session-end hook, app.py's `watched`), not after the idle timeout. A
reload gets its model back (dashboard/parking.py), each tab its own (dashboard/tabs.py); a shared
link does not, nor a secret used before."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect
from test_dashboard import click, metric

from dashboard.tabs import COOKIE_PREFIX

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


def tab_cookies(context) -> dict[str, dict]:
    """This browser's session cookies of rnnlab's tabs (dashboard/tabs.py), by name."""
    return {c["name"]: c for c in context.cookies() if c["name"].startswith(COOKIE_PREFIX)}


def settled_tab_cookies(context, count: int) -> dict[str, dict]:
    """The tab cookies once there are `count` of them (the tab asks the server for its cookie
    after the page has run once)."""
    deadline = time.monotonic() + 20
    while len(cookies := tab_cookies(context)) != count:
        assert time.monotonic() < deadline, f"tab cookies: {sorted(cookies)}"
        time.sleep(0.1)
    return cookies


def test_two_tabs_of_one_browser_each_get_their_own_model_back(
    page: Page, streamlit_server, wait_for_app_run
) -> None:
    first = page
    second = page.context.new_page()
    second.goto(f"{streamlit_server}/?from=random", wait_until="domcontentloaded")
    wait_for_app_run(second, initial_wait_ms=0)
    steps(first, 2, wait_for_app_run)
    steps(second, 4, wait_for_app_run)
    settled_tab_cookies(page.context, 2)
    for tab, iterations in ((first, "2"), (second, "4"), (first, "2")):
        tab.reload()
        wait_for_app_run(tab, initial_wait_ms=0)
        expect(
            tab.get_by_text(
                f"Welcome back: the model is as you left it, at iteration {iterations}."
            )
        ).to_be_visible()
        expect(live_panel_iteration(tab)).to_have_text(iterations)


def test_the_secret_is_a_cookie_no_script_reads_and_works_once(
    browser, page: Page, streamlit_server, wait_for_app_run
) -> None:
    steps(page, 1, wait_for_app_run)
    ((name, cookie),) = settled_tab_cookies(page.context, 1).items()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["value"] not in page.evaluate("document.cookie")
    tab_id = name.removeprefix(COOKIE_PREFIX)
    assert page.evaluate("sessionStorage.getItem('rnnlab_tab')") == tab_id

    page.reload()  # claimed back: under a new secret
    wait_for_app_run(page, initial_wait_ms=0)
    expect(live_panel_iteration(page)).to_have_text("1")
    deadline = time.monotonic() + 20
    while tab_cookies(page.context)[name]["value"] == cookie["value"]:
        assert time.monotonic() < deadline, "the secret was not replaced"
        time.sleep(0.1)

    # Whoever kept the old secret (and the tab's id) gets nothing: it worked once.
    thief = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        thief.add_cookies([{"name": name, "value": cookie["value"], "url": streamlit_server}])
        thief.add_init_script(f"sessionStorage.setItem('rnnlab_tab', '{tab_id}')")
        stolen = thief.new_page()
        stolen.goto(page.url)
        wait_for_app_run(stolen, initial_wait_ms=0)
        expect(live_panel_iteration(stolen)).to_have_text("0")
        expect(stolen.get_by_text("Welcome back")).to_have_count(0)
    finally:
        thief.close()
    page.reload()  # ...while the tab that owns the model still gets it back
    wait_for_app_run(page, initial_wait_ms=0)
    expect(live_panel_iteration(page)).to_have_text("1")


def test_the_first_runs_notices_outlast_the_tab_saying_which_it_is(
    browser, streamlit_server, wait_for_app_run
) -> None:
    # The tab's report has the page run again (it may claim a parked model): what the first run
    # said stays on the page.
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"{streamlit_server}/?from=random&hidden=abc")
        wait_for_app_run(page, initial_wait_ms=0)
        settled_tab_cookies(context, 1)  # set once the page knows the tab: after its report
        wait_for_app_run(page, initial_wait_ms=0)
        expect(page.get_by_text("Ignored hidden='abc': not a whole number.")).to_be_visible()
    finally:
        context.close()
