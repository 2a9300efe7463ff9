"""The dashboard in a real browser: Debian's Chromium, driven by Playwright, on `streamlit run`.

These tests use the page the way a person does (file chooser, keyboard on a slider, buttons, tabs)
and read back what is on screen; only to know whether anything trains do they look at the
server's play processes (conftest.py, play_processes). Widgets are found by the `st-key-<key>`
class Streamlit puts on every element created with a key, so the tests do not depend on layout.
They wait (with a deadline) for what they check to show, not for a fixed time; the only fixed
waits set the phases of Play and Pause clicks, and let a resized page settle for its screenshot.

Set RNNLAB_SCREENSHOT=path to keep the screenshot of the trained dashboard (the README's picture
is made with RNNLAB_SCREENSHOT=docs/screenshot.png).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import waiting
from playwright.sync_api import Page, expect

from rnnlab.schedule import is_milestone

REPO_ROOT = Path(__file__).resolve().parents[2]
LYRICS = REPO_ROOT / "data" / "lyrics.txt"
# The longest a test waits for what it checks to show (training, a redraw): generous for a busy
# machine, never reached normally.
DEADLINE_S = 60

HOSTILE = (
    "<script>window.__rnnlabPwned = 'script'</script>\n"
    '<img src="x" onerror="window.__rnnlabPwned = \'img\'">\n'
    "<svg onload=\"window.__rnnlabPwned = 'svg'\"></svg>\n"
    "**bold?** [click me](javascript:window.__rnnlabPwned='link') $x^2$ :red[red?]\n"
)


# ------------------------------------------------------------------------------------ helpers
def metric(page: Page, label: str) -> str:
    """The displayed value of the number labelled `label` in the live panel's stats (the
    Training view; dashboard/live_feed.stat_rows)."""
    return live_panel(page).locator(f"[data-stat='{label}'] .value").inner_text().strip()


def number(text: str) -> float:
    return float(text.replace(",", ""))


def live_panel(page: Page):
    """The Training view's live panel (dashboard/live_panel.py): a page of its own in a frame."""
    return page.frame_locator(".st-key-live_panel iframe")


def sample_text(page: Page) -> str:
    return live_panel(page).locator("#sample").inner_text()


def chart_layout(page: Page) -> dict:
    """The live chart's layout as plotly.js holds it (the axes' ranges after any zoom)."""
    chart = page.locator(".st-key-live_panel iframe").content_frame.locator("#chart")
    return chart.evaluate(
        "c => ({x: c._fullLayout.xaxis.range, autorange: c._fullLayout.xaxis.autorange})"
    )


def wait_until(page: Page, condition: Callable[[], bool], what: str, timeout_s=DEADLINE_S) -> None:
    """Poll `condition` (it reads the page) until true, or fail saying `what` was awaited."""
    waiting.wait_until(condition, what, timeout_s, pause=lambda: page.wait_for_timeout(100))


def panel_updates(page: Page, n: int) -> None:
    """Wait until the live panel has shown n more iterations counts (n updates while training)."""
    seen = {metric(page, "Iteration")}

    def updated() -> bool:
        seen.add(metric(page, "Iteration"))
        return len(seen) > n

    wait_until(page, updated, f"{n} updates of the live panel")


def count_script_runs(page: Page) -> Callable[[], int]:
    """From now on, count the runs of the script (whole page or fragment) that the browser
    sees start; returns the callable that reads the count."""
    page.evaluate(
        """() => {
            const app = document.querySelector("[data-testid='stApp']");
            window.__rnnlabScriptRuns = 0;
            new MutationObserver(() => {
                if (app.getAttribute("data-test-script-state") === "running") {
                    window.__rnnlabScriptRuns += 1;
                }
            }).observe(app, { attributes: true, attributeFilter: ["data-test-script-state"] });
        }"""
    )
    return lambda: page.evaluate("window.__rnnlabScriptRuns")


def insight_iteration(page: Page) -> int:
    """The iteration the "Inside the network" view says it shows."""
    caption = page.get_by_text(re.compile(r"The model as it is now, at iteration")).inner_text()
    return int(re.search(r"at iteration ([\d,]+)", caption).group(1).replace(",", ""))


def shown_timeline(page: Page) -> tuple[int, list[int]]:
    """The panel's iteration and its timeline's iterations (newest first), read at one moment:
    one answer of the feed updates both (live_panel/index.html, show)."""
    iteration, rows = (
        live_panel(page)
        .locator("body")
        .evaluate(
            """() => [document.querySelector("[data-stat='Iteration'] .value").textContent,
                  Array.from(document.querySelectorAll("#timeline tr"),
                             (tr) => tr.firstChild.textContent)]"""
        )
    )
    return int(number(iteration)), [int(number(row)) for row in rows]


def milestones_up_to(iteration: int) -> list[int]:
    """The timeline a run from 0 to `iteration` shows, newest first (the first 16 and the
    latest 40 of its samples, as the run keeps them: rnnlab/timeline.py)."""
    kept = [i for i in range(iteration + 1) if i == 0 or is_milestone(i)]
    kept = kept if len(kept) <= 56 else kept[:16] + kept[-40:]
    return kept[::-1]


def timeline_is_right(page: Page) -> bool:
    """The panel's timeline is the run's milestone samples up to the iteration it shows."""
    iteration, rows = shown_timeline(page)
    assert rows == milestones_up_to(iteration), f"at iteration {iteration:,}: {rows}"
    return True


def click(page: Page, key: str, wait) -> None:
    page.locator(f".st-key-{key} button").click()
    wait(page)


def no_exceptions(page: Page) -> None:
    expect(page.locator("[data-testid='stException']")).to_have_count(0)


def upload_text(page: Page, name: str, data: bytes, wait) -> None:
    page.locator(".st-key-upload input[type='file']").set_input_files(
        files=[{"name": name, "mimeType": "text/plain", "buffer": data}]
    )
    expect(page.get_by_text("Pending changes")).to_be_visible()
    wait(page, initial_wait_ms=0)
    click(page, "apply", wait)


def train_n(page: Page, wait, timeout_s: float = 120) -> float:
    """Click "Train N" (N as chosen in the page) and wait until the counter shows the N more."""
    n = number(page.locator(".st-key-train button").inner_text().removeprefix("Train "))
    target = number(metric(page, "Iteration")) + n
    page.locator(".st-key-train button").click()
    deadline = time.monotonic() + timeout_s
    while True:
        wait(page, initial_wait_ms=300)
        if number(metric(page, "Iteration")) >= target:
            return target
        assert time.monotonic() < deadline, f"Train {n:,.0f} did not finish in {timeout_s} s"


def play_until(page: Page, condition: Callable[[], bool], what: str, wait, play_processes) -> None:
    """Play until `condition` (it reads the page) holds, then pause, and see the server stop
    training. The panel then shows the paused model (a feed answer still on its way from before
    the pause is dropped: live_panel/index.html, rounds)."""
    click(page, "play", wait)
    expect(page.locator(".st-key-play button")).to_contain_text("Pause")
    assert len(play_processes()) == 1, "Play trains in a process of its own"
    wait_until(page, condition, what)
    click(page, "play", wait)
    expect(page.locator(".st-key-play button")).to_contain_text("Play")
    wait_until(page, lambda: not play_processes(), "the play process to end at the pause")


# -------------------------------------------------------------------------------------- tests
def test_opens_ready_to_train_on_the_bundled_songbook(page: Page, wait_for_app_run) -> None:
    expect(page.get_by_text("Training on: Songbook")).to_be_visible()
    assert metric(page, "Iteration") == "0"
    assert sample_text(page).strip(), "a sample of the untrained model is shown from the start"
    click(page, "step", wait_for_app_run)
    expect(live_panel(page).locator("[data-stat='Iteration'] .value")).to_have_text("1")
    no_exceptions(page)


def test_upload_lyrics_change_a_slider_play_and_watch_it_learn(
    page: Page, wait_for_app_run, play_processes, tmp_path: Path
) -> None:
    upload_text(page, "my-lyrics.txt", LYRICS.read_bytes(), wait_for_app_run)
    expect(page.get_by_text("Training on: my-lyrics.txt")).to_be_visible()
    assert metric(page, "Iteration") == "0"

    # Sequence length 25 -> 30 with the keyboard. A longer chunk costs more nats per chunk, so the
    # smoothed loss can only fall below its start by learning.
    thumb = page.locator(".st-key-seq_length input[type='range']")
    thumb.focus()
    for _ in range(5):
        thumb.press("ArrowRight")
    expect(thumb).to_have_value("30")
    expect(page.locator(".st-key-seq_length [data-testid='stSliderThumbValue']")).to_have_text("30")
    # The server has it when the panel explains the loss per chunk of 30 characters.
    expect(live_panel(page).locator("[data-stat='Smoothed loss']")).to_have_attribute(
        "title", re.compile(r"chunk of 30 characters")
    )
    wait_for_app_run(page)

    loss_before = number(metric(page, "Smoothed loss"))
    sample_before = sample_text(page)
    panel = live_panel(page)
    chart_traces = panel.locator("#chart .scatterlayer .trace")

    def learned() -> bool:
        return (
            timeline_is_right(page)  # the feed sends the timeline as changes: checked each look
            and number(metric(page, "Iteration")) >= 50
            and number(metric(page, "Smoothed loss")) < loss_before
            # raw, smoothed, validation and its best point (after 100,000 chars)
            and chart_traces.count() == 4
            and panel.locator("#timeline tr").count() >= 2  # milestone samples
        )

    play_until(page, learned, "the loss to fall and validation", wait_for_app_run, play_processes)

    iterations = number(metric(page, "Iteration"))
    loss_after = number(metric(page, "Smoothed loss"))
    assert iterations >= 50, f"only {iterations:.0f} iterations"
    assert loss_after < loss_before, f"smoothed loss {loss_before} -> {loss_after}"
    assert sample_text(page) != sample_before
    assert number(metric(page, "Characters / s")) > 0
    expect(chart_traces).to_have_count(4)
    assert panel.locator("#timeline tr").count() >= 2, "milestone samples in the timeline"
    no_exceptions(page)

    # A little more training for the screenshot, then the picture the README shows.
    train_n(page, wait_for_app_run)
    page.set_viewport_size({"width": 1500, "height": 1150})
    wait_for_app_run(page, initial_wait_ms=1000)
    screenshot = Path(os.environ.get("RNNLAB_SCREENSHOT", tmp_path / "dashboard.png"))
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=False)
    assert screenshot.stat().st_size > 10_000


def test_a_zoom_into_the_chart_lasts_while_it_updates_during_play(
    page: Page, wait_for_app_run
) -> None:
    # While playing with the Training view open, the page itself does not run: its panel asks
    # the server for updates (dashboard/live_feed.py) and hands Plotly each new figure, which
    # keeps the zoom.
    click(page, "play", wait_for_app_run)
    expect(page.locator(".st-key-play button")).to_contain_text("Pause")
    script_runs = count_script_runs(page)
    wait_until(page, lambda: number(metric(page, "Iteration")) >= 25, "a loss curve to zoom into")
    # Drag across the middle of the plot area, as a person zooms with the mouse.
    live_panel(page).locator(".nsewdrag").first.scroll_into_view_if_needed()
    area = live_panel(page).locator(".nsewdrag").first.bounding_box()
    y = area["y"] + area["height"] / 2
    page.mouse.move(area["x"] + area["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * 0.5, y, steps=5)
    page.mouse.up()
    zoomed = chart_layout(page)
    assert zoomed["autorange"] is False
    panel_updates(page, 5)  # five redraws of the live panel, still training
    assert chart_layout(page) == zoomed, "the zoom outlived the redraws"
    assert script_runs() == 0, "the page did not run by itself while playing"
    click(page, "play", wait_for_app_run)
    expect(page.locator(".st-key-play button")).to_contain_text("Play")
    no_exceptions(page)


def test_a_divergence_while_playing_stops_play_and_says_so(
    page: Page, wait_for_app_run, play_processes
) -> None:
    # While playing, the page itself does not run: the panel asks the server for updates. When
    # the training diverges, the panel's answer says so and it has the page run again, which
    # shows the message and the Play button.
    click(page, "play", wait_for_app_run)
    expect(page.locator(".st-key-play button")).to_contain_text("Pause")
    wait_until(page, lambda: number(metric(page, "Iteration")) >= 10, "training to go")
    thumb = page.locator(".st-key-learning_rate input[type='range']")
    thumb.focus()
    thumb.press("End")  # the largest learning rate the slider offers: 10
    expect(page.locator(".st-key-play button")).to_contain_text("Play", timeout=30_000)
    message = page.locator("[data-testid='stAlertContentError']", has_text="diverged").first
    expect(message).to_be_visible()
    rollback = re.search(r"rolled back to iteration (\d+)", message.inner_text())
    assert rollback, message.inner_text()
    wait_until(page, lambda: not play_processes(), "the play process to end")  # training stopped
    expect(live_panel(page).locator("[data-stat='Iteration'] .value")).to_have_text(
        f"{int(rollback.group(1)):,}"
    )
    no_exceptions(page)


def test_hostile_upload_is_shown_as_text_and_runs_nothing(
    page: Page, wait_for_app_run, play_processes
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    upload_text(page, "<b>evil</b>.txt", (HOSTILE * 40).encode(), wait_for_app_run)
    play_until(
        page,
        lambda: live_panel(page).locator("#timeline tr").count() >= 3,  # iterations 0, 1, 10
        "milestone samples",
        wait_for_app_run,
        play_processes,
    )

    # The preview shows the markup as characters.
    preview = page.locator("[data-testid='stExpander']", has_text="Training on").first
    preview.locator("summary").click()
    expect(preview.locator("[data-testid='stCode']")).to_contain_text(
        "<script>window.__rnnlabPwned"
    )
    expect(page.get_by_text("Training on: <b>evil</b>.txt")).to_be_visible()

    # Every view that shows text from the upload, including the coloured-HTML ones.
    page.get_by_role("tab", name="Inside the network").click()
    wait_for_app_run(page)
    for view in ("Neurons", "Predictions", "Sampling in colour", "Training health"):
        page.get_by_role("tab", name=view).click()
        wait_for_app_run(page)
        no_exceptions(page)

    assert page.evaluate("window.__rnnlabPwned") is None
    assert dialogs == []
    for selector in ("img[src='x']", "svg[onload]", "a[href^='javascript']", "b:text('evil')"):
        assert page.locator(selector).count() == 0, f"upload became markup: {selector}"
    for frame in page.frames:  # st.html and components render in frames
        assert frame.evaluate("window.__rnnlabPwned") is None
    page.get_by_role("tab", name="Training", exact=True).click()
    wait_for_app_run(page)
    panel = live_panel(page)
    # The panel's sample and timeline cells hold text only: no element but the copy meter's
    # marks, which hold text only themselves.
    expect(panel.locator("#sample")).not_to_be_empty()
    assert (
        panel.locator(
            "#sample *:not(mark.copied), #timeline td *:not(mark.copied), mark.copied *"
        ).count()
        == 0
    )
    assert panel.locator("#timeline tr").count() >= 1
    assert "<" in sample_text(page) + panel.locator("#timeline").inner_text(), (
        "the samples echo the upload's markup as characters"
    )


def test_each_view_inside_the_network_draws_from_the_current_model(
    page: Page, wait_for_app_run, play_processes
) -> None:
    assert train_n(page, wait_for_app_run) == 1000  # the default choice
    page.get_by_role("tab", name="Inside the network").click()
    wait_for_app_run(page)
    expect(page.get_by_text("at iteration 1,000")).to_be_visible()

    expected = {
        "Neurons": "[data-testid='stPlotlyChart']",
        "Predictions": "[data-testid='stPlotlyChart']",
        "Sampling in colour": "[data-testid='stHtml']",
        "Training health": "[data-testid='stPlotlyChart']",
    }
    for view, drawn in expected.items():
        page.get_by_role("tab", name=view).click()
        wait_for_app_run(page)
        panel = page.locator("[role='tabpanel']:visible").last
        expect(panel.locator(drawn).first).to_be_visible()
        no_exceptions(page)

    # While playing, this view (unlike Training) runs again by itself and follows the model.
    # The click's own run may still be under way when counting starts, and may already show a
    # few played iterations: so wait for more runs than a click makes, then for the view to
    # move on from what it showed.
    click(page, "play", wait_for_app_run)
    try:
        expect(page.locator(".st-key-play button")).to_contain_text("Pause")
        script_runs = count_script_runs(page)
        shown = insight_iteration(page)
        wait_until(page, lambda: script_runs() >= 3, "the view to run again by itself")
        wait_until(page, lambda: insight_iteration(page) > shown, "the view to follow the model")
    finally:  # paused whatever happened: the next test on this server starts from a still model
        click(page, "play", wait_for_app_run)
        expect(page.locator(".st-key-play button")).to_contain_text("Play")
    wait_until(page, lambda: not play_processes(), "the play process to end at the pause")
    no_exceptions(page)

    page.get_by_role("tab", name="Model & runs").click()
    wait_for_app_run(page)
    expect(page.locator(".st-key-download_checkpoint button")).to_be_visible()


def test_two_browser_sessions_train_independent_models(
    browser, streamlit_server, page: Page, wait_for_app_run
) -> None:
    for _ in range(3):
        click(page, "step", wait_for_app_run)
    assert metric(page, "Iteration") == "3"

    other_context = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        other = other_context.new_page()
        other.goto(streamlit_server)
        other.locator("[data-testid='stApp']").wait_for()
        wait_for_app_run(other, initial_wait_ms=0)
        assert metric(other, "Iteration") == "0"
        upload_text(other, "other.txt", LYRICS.read_bytes()[:5000], wait_for_app_run)
        click(other, "step", wait_for_app_run)
        assert metric(other, "Iteration") == "1"

        click(page, "step", wait_for_app_run)
        assert metric(page, "Iteration") == "4"
        expect(page.get_by_text("Training on: Songbook")).to_be_visible()
        expect(other.get_by_text("Training on: other.txt")).to_be_visible()
    finally:
        other_context.close()


def test_pause_always_pauses_however_play_and_pause_follow_each_other(
    page: Page, wait_for_app_run, play_processes
) -> None:
    # A click can reach the app a second time when it meets a rerun in flight (seen with a
    # script doing this, in 2 of 8 pauses on a busy machine); the button must then do what it
    # said, not toggle back to playing. The race is rare: this checks that no phase of the
    # panel's 0.4 s updates loses a pause, not that the race happens.
    button = page.locator(".st-key-play button")
    for cycle in range(10):
        button.click()
        expect(button).to_contain_text("Pause")
        page.wait_for_timeout(500 + 370 * cycle % 1500)  # meet the 0.4 s updates at new phases
        button.click()
        expect(button).to_contain_text("Play", timeout=10_000)
    wait_for_app_run(page)
    expect(button).to_contain_text("Play")  # and stays paused: nothing left to run the page
    wait_until(page, lambda: not play_processes(), "the play process to end at the last pause")
    # No training goes on after the last pause: one Step is one iteration more.
    iteration = number(metric(page, "Iteration"))
    click(page, "step", wait_for_app_run)
    expect(live_panel(page).locator("[data-stat='Iteration'] .value")).to_have_text(
        f"{iteration + 1:,.0f}"
    )
    no_exceptions(page)


def test_the_timeline_sent_as_changes_is_whole_after_many_answers_and_after_a_reset(
    page: Page, wait_for_app_run, play_processes
) -> None:
    # While playing, each answer of the feed carries only the timeline's new rows; the panel
    # adds them to its own and thins them as the server does.
    seen: set[int] = set()

    def answers_right(n: int) -> Callable[[], bool]:
        def condition() -> bool:
            timeline_is_right(page)
            seen.add(shown_timeline(page)[0])
            return len(seen) > n and len(shown_timeline(page)[1]) >= 6

        return condition

    click(page, "play", wait_for_app_run)
    expect(page.locator(".st-key-play button")).to_contain_text("Pause")
    wait_until(page, answers_right(8), "eight answers and six samples")
    # A Reset while playing: a new run, whose timeline replaces the old one in the panel...
    page.get_by_role("button", name="Reset", exact=True).click()
    wait_for_app_run(page)
    expect(page.locator(".st-key-play button")).to_contain_text("Play")
    wait_until(page, lambda: shown_timeline(page) == (0, [0]), "the new run's timeline")
    # ...and while it plays, the answers add to the new timeline.
    seen.clear()
    play_until(page, answers_right(8), "eight answers", wait_for_app_run, play_processes)
    timeline_is_right(page)

    # The panel's own merge, over the thinning (a day of Play keeps thousands of samples).
    def merge(held: list[int], content: dict) -> list[int]:
        rows = (
            live_panel(page)
            .locator("body")
            .evaluate(
                "(body, [held, content]) => mergeTimeline(held, content)",
                [[{"iteration": i} for i in held], content],
            )
        )
        return [row["iteration"] for row in rows]

    held = [*range(100, 60, -1), *range(16, 0, -1)]  # the first 16 and the latest 40 of 100
    added = {"timeline": [{"iteration": 102}, {"iteration": 101}], "timeline_replace": False}
    added["timeline_keep"] = [16, 40]
    assert merge(held, added) == [102, 101, *range(100, 62, -1), *range(16, 0, -1)]
    replaced = {**added, "timeline": [{"iteration": 5}], "timeline_replace": True}
    assert merge(held, replaced) == [5]
    no_exceptions(page)


def test_file_names_that_look_like_addresses_are_not_links(page: Page, wait_for_app_run) -> None:
    for name in ("www.example.org-songs.txt", "me@example.com.txt"):
        upload_text(page, name, LYRICS.read_bytes(), wait_for_app_run)
        # As a reader sees it: the name, with invisible word joiners where links would start.
        shown = "\u2060?".join(map(re.escape, name))
        expect(page.get_by_text(re.compile(f"Training on: {shown}"))).to_be_visible()
        # The alert that told of the upload, and the card's label, as text without links.
        links = page.locator("[data-testid='stAlert'] a, [data-testid='stExpander'] summary a")
        expect(links).to_have_count(0)
    no_exceptions(page)
