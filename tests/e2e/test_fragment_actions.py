"""Buttons inside the views (a Streamlit fragment, which reruns alone) act on the whole page: their
messages show at once, above the views, and "Train this one" sets the Model controls, so that no
phantom pending change can undo the network chosen. Only a browser shows this: AppTest runs the
whole script for every click."""

from __future__ import annotations

import time

from conftest import open_settled  # tests/e2e/conftest.py
from playwright.sync_api import Page, expect
from process_tree import children  # tests/process_tree.py

from dashboard.process_slots import MAX_PLAYERS
from tests.e2e.test_dashboard import click, metric, no_exceptions

COMPARE_VIEW = "Compare cells"


def open_view(page: Page, name: str, wait) -> None:
    page.get_by_role("tab", name=name).click()
    wait(page)


def error_with(page: Page, text: str):
    return page.locator("[data-testid='stAlertContentError']").filter(has_text=text)


def test_write_with_a_prime_the_model_cannot_read_says_so_at_once(
    page: Page, wait_for_app_run
) -> None:
    open_view(page, "Generate", wait_for_app_run)
    page.locator(".st-key-generate_prime input").fill("snow ☃")
    page.locator(".st-key-generate_prime input").press("Enter")
    wait_for_app_run(page)
    click(page, "generate", wait_for_app_run)
    expect(error_with(page, "☃")).to_be_visible(timeout=10_000)
    no_exceptions(page)


def wait_for_no_child(server_pid: int, timeout_s: float = 90) -> None:
    """Wait until the server runs no play or compare process: a tab an earlier test closed while
    playing frees its slot when its session's end has stopped the process, seconds later."""
    deadline = time.monotonic() + timeout_s
    while children(server_pid, "dashboard.player") | children(server_pid, "dashboard.comparison"):
        assert time.monotonic() < deadline, "an earlier test's process still runs"
        time.sleep(0.2)


def test_compare_refused_under_the_play_cap_says_so_at_once(
    browser, streamlit_server, streamlit_process, page: Page, wait_for_app_run
) -> None:
    wait_for_no_child(streamlit_process[1])
    contexts = [browser.new_context() for _ in range(MAX_PLAYERS)]
    try:
        for context in contexts:  # every Play slot of the server taken
            other = context.new_page()
            # No held-out text: no Play stops by itself at its best point, freeing its slot.
            open_settled(other, f"{streamlit_server}/?from=random&val=0")
            click(other, "play", wait_for_app_run)
            try:
                expect(other.locator(".st-key-play button")).to_contain_text("Pause")
            except AssertionError as failure:
                text = other.locator("body").inner_text()[:2000]
                raise AssertionError(f"Play did not start; the page reads {text!r}") from failure
        open_view(page, COMPARE_VIEW, wait_for_app_run)
        click(page, "compare", wait_for_app_run)
        refused = error_with(page, "Compare cells did not start")
        expect(refused).to_be_visible(timeout=10_000)
        expect(refused).to_contain_text("as many as this server runs at once")
    finally:
        for context in contexts:
            context.close()
    no_exceptions(page)


def test_train_this_one_sets_the_model_controls_with_no_pending_change(
    page: Page, wait_for_app_run
) -> None:
    open_view(page, COMPARE_VIEW, wait_for_app_run)
    thumb = page.locator(".st-key-compare_seconds input[type='range']")
    thumb.focus()
    thumb.press("Home")  # 10 CPU-seconds
    wait_for_app_run(page)
    click(page, "compare", wait_for_app_run)
    use_gru = page.locator(".st-key-use_GRU button")
    expect(use_gru).to_be_visible(timeout=120_000)  # the RNN's turn, then the GRU's
    click(page, "compare_stop", wait_for_app_run)
    click(page, "use_GRU", wait_for_app_run)
    cell = page.locator(".st-key-cell").get_by_role("combobox")
    expect(cell).to_have_value("GRU", timeout=10_000)
    expect(page.get_by_text("Pending changes")).to_have_count(0)
    # A click outside the views sends the browser's values of every control: they are the GRU's.
    click(page, "step", wait_for_app_run)
    open_view(page, "Training", wait_for_app_run)
    assert metric(page, "Iteration") == "1"
    expect(cell).to_have_value("GRU")
    expect(page.get_by_text("Pending changes")).to_have_count(0)
    expect(page.locator(".st-key-optimizer").get_by_role("combobox")).to_have_value("Adam")
    no_exceptions(page)
