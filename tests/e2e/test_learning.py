"""The dashboard's guides to what the model learns, in a real browser (Debian's Chromium, driven
by Playwright, on `streamlit run`): the yardstick lines, the copy meter, settings in the address,
hostile text in the new views, and the loss chart's legend.

Helpers and fixtures are those of test_dashboard.py and conftest.py; as there, the tests wait
(with a deadline) for what they check to show, never for a fixed time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlparse

from conftest import open_settled  # tests/e2e/conftest.py
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect
from test_dashboard import (
    HOSTILE,
    live_panel,
    no_exceptions,
    number,
    sample_text,
    upload_text,
    wait_until,
)

YARDSTICK_LABEL = re.compile(
    r"^(uniform guess|character frequencies|bigram model|best compressor) (\d+\.\d\d) bits/char$"
)
# One line, memorised within a hundred iterations: a greedy sample then recites it.
SHORT_TEXT = "the quick brown fox jumps over the lazy dog\n" * 25


# ------------------------------------------------------------------------------------ helpers
def open_at(page: Page, server: str, query: dict[str, str], wait) -> None:
    """Open the app (a new session) at an address with `query` as its query string (from
    random weights unless it says otherwise, as the page fixture)."""
    open_settled(page, f"{server}/?{urlencode({'from': 'random', **query})}")


def address_query(page: Page) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(urlparse(page.url).query).items()}


def chart(page: Page):
    """The live panel's loss chart element (a frame's locator, for evaluate and bounding boxes)."""
    return page.locator(".st-key-live_panel iframe").content_frame.locator("#chart")


def yardstick_lines(page: Page) -> dict[str, tuple[float, float]]:
    """Each yardstick's label: (its value in bits per character, the y of its line) as plotly.js
    drew the chart."""
    drawn = chart(page).evaluate(
        """c => (c._fullLayout ? c._fullLayout.annotations : []).map((a, k) => ({
            text: a.text, y: c._fullLayout.shapes[k] && c._fullLayout.shapes[k].y0 }))"""
    )
    lines = {}
    for line in drawn:
        match = YARDSTICK_LABEL.match(line["text"])
        if match:
            lines[match.group(1)] = (float(match.group(2)), line["y"])
    return lines


def click(page: Page, key: str, wait) -> None:
    """Click the button made with `key` (a button with help text is drawn twice, once hidden)."""
    page.locator(f".st-key-{key} button:visible").click()
    wait(page)


def step_until(page: Page, condition: Callable[[], bool], what: str, wait) -> None:
    """Step until `condition` holds: each Step redraws the panel with what the server has ready
    (the text's analysis runs in the background)."""

    def stepped_until() -> bool:
        if condition():
            return True
        click(page, "step", wait)
        return False

    wait_until(page, stepped_until, what)


def choose_iterations(page: Page, n: int, wait) -> None:
    """Choose N for "Train N" in its selectbox."""
    page.locator(".st-key-train_n").click()
    page.get_by_role("option", name=f"{n:,}", exact=True).click()
    expect(page.locator(".st-key-train button")).to_have_text(f"Train {n:,}")
    wait(page)


def train(page: Page, n: int, wait) -> None:
    """Train N and wait until the panel shows the N more iterations."""
    choose_iterations(page, n, wait)
    target = number(live_panel(page).locator("[data-stat='Iteration'] .value").inner_text()) + n
    page.locator(".st-key-train button").click()
    expect(live_panel(page).locator("[data-stat='Iteration'] .value")).to_have_text(
        f"{target:,.0f}", timeout=120_000
    )
    wait(page)


def thumb_value(page: Page, key: str) -> str:
    return page.locator(f".st-key-{key} [data-testid='stSliderThumbValue']").inner_text()


def overlaps(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def pwned(page: Page) -> list:
    """Whatever the hostile text managed to set, in the page or any of its frames."""
    return [frame.evaluate("window.__rnnlabPwned") for frame in page.frames]


# -------------------------------------------------------------------------------------- tests
def test_the_loss_chart_draws_the_four_yardsticks_as_labelled_lines_in_both_units(
    page: Page, wait_for_app_run
) -> None:
    step_until(page, lambda: len(yardstick_lines(page)) == 4, "the yardsticks", wait_for_app_run)
    # The default units are nats per chunk of 25 characters; the labels round to 0.01 bits.
    nats_per_bit = math.log(2) * 25
    for name, (bits, y) in yardstick_lines(page).items():
        assert abs(y / nats_per_bit - bits) <= 0.005, (name, bits, y)
    expect(live_panel(page).locator("#chart .shapelayer path")).to_have_count(4)
    labels = live_panel(page).locator("#chart .annotation-text")

    def labels_in_the_plot() -> bool:  # (the chart is drawn after the page's run has ended)
        plot_area = live_panel(page).locator("#chart .nsewdrag").first.bounding_box()
        boxes = [labels.nth(k).bounding_box() for k in range(labels.count())]
        return len(boxes) == 4 and all(box and overlaps(box, plot_area) for box in boxes)

    wait_until(page, labels_in_the_plot, "the four labels on screen, in the plot")
    expect(live_panel(page).locator("#notes p.info")).to_contain_text("than")

    page.locator(".st-key-units").get_by_text("bits per character").click()
    wait_for_app_run(page)

    def in_bits() -> bool:
        lines = yardstick_lines(page)
        return len(lines) == 4 and all(abs(y - bits) <= 0.005 for bits, y in lines.values())

    wait_until(page, in_bits, "the yardsticks in bits per character")
    no_exceptions(page)


def test_a_sample_that_recites_the_text_has_its_copy_marked_and_measured(
    page: Page, streamlit_server: str, wait_for_app_run
) -> None:
    # Greedy samples, at a rate that learns a short text within 100 iterations.
    open_at(page, streamlit_server, {"temp": "0", "lr": "0.1"}, wait_for_app_run)
    upload_text(page, "fox.txt", SHORT_TEXT.encode(), wait_for_app_run)
    expect(page.get_by_text("Training on: fox.txt")).to_be_visible()
    panel = live_panel(page)
    expect(panel.locator("#sample-caption")).to_have_text("300 characters at temperature 0")
    train(page, 100, wait_for_app_run)

    mark = panel.locator("#sample mark.copied")
    meter = panel.locator("#sample-meter")
    expect(meter).to_contain_text("longest stretch copied from the text:")
    copied = mark.inner_text()
    assert len(copied) >= 100, f"the greedy sample recites the text: {copied!r}"
    assert copied in SHORT_TEXT
    expect(meter).to_contain_text(f"{len(copied)} characters (marked)")
    expect(meter).to_contain_text(re.compile(r" · \d+% of its words occur in the text"))
    # The mark holds text only, and the sample reads as before around it.
    expect(panel.locator("#sample *:not(mark.copied), #sample mark *")).to_have_count(0)
    assert copied in sample_text(page)

    # The timeline's newest sample (drawn at temperature 1) has its copy counted and marked.
    columns = panel.locator("thead th").all_inner_texts()
    assert {"iteration", "copied", "sample"} <= set(columns), columns
    newest = dict(
        zip(columns, panel.locator("#timeline tr").first.locator("td").all(), strict=True)
    )
    expect(newest["iteration"]).to_have_text("100")
    marked = newest["sample"].locator("mark.copied").inner_text()
    assert int(newest["copied"].inner_text()) == len(marked) and marked in SHORT_TEXT
    expect(panel.locator("#copy-chart .gtitle")).to_have_text("Longest copied stretch per sample")
    no_exceptions(page)


def test_settings_in_the_address_are_shown_and_kept_in_the_address(
    page: Page, streamlit_server: str, wait_for_app_run
) -> None:
    asked = {
        "hidden": "64",
        "lr": "0.02",
        "batch": "8",
        "seed": "3",
        "val": "0.2",
        "temp": "0.5",
        "text": "poems",
        "from": "random",
    }
    open_at(page, streamlit_server, asked, wait_for_app_run)

    def shows_the_settings() -> None:
        expect(page.get_by_text("Training on: Poems (bundled)")).to_be_visible()
        assert thumb_value(page, "hidden_size") == "64"
        assert thumb_value(page, "learning_rate") == "0.02"
        assert thumb_value(page, "batch_size") == "8"
        assert number(thumb_value(page, "val_fraction")) == 0.2
        assert number(thumb_value(page, "temperature")) == 0.5
        expect(page.locator(".st-key-seed input")).to_have_value("3")
        panel = live_panel(page)
        expect(panel.locator("#chart .gtitle")).to_have_text("Loss, RNN, H=64, T=25, lr=0.02, B=8")
        expect(panel.locator("#sample-caption")).to_have_text("300 characters at temperature 0.5")
        assert not page.locator("[data-testid='stAlertContentError']").count()
        assert not page.get_by_text("Pending changes").count()

    # The page adds what was left to the defaults.
    written = {**asked, "seq": "25", "cell": "rnn", "layers": "1", "opt": "adagrad"}
    written["dtype"] = "float64"
    written["dropout"] = "0"
    shows_the_settings()
    wait_until(page, lambda: address_query(page) == written, "the settings in the address")
    page.reload(wait_until="domcontentloaded")  # a new session, from the address alone
    wait_for_app_run(page, initial_wait_ms=0)
    shows_the_settings()
    assert address_query(page) == written

    # A live setting changed on the page goes into the address.
    thumb = page.locator(".st-key-seq_length input[type='range']")
    thumb.focus()
    thumb.press("ArrowRight")
    wait_until(page, lambda: address_query(page) == {**written, "seq": "26"}, "seq=26 written")
    no_exceptions(page)


def test_hostile_text_stays_text_in_the_marked_sample_and_the_generate_view(
    page: Page, wait_for_app_run
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    upload_text(page, "hostile.txt", (HOSTILE * 40).encode(), wait_for_app_run)
    expect(page.get_by_text("Training on: hostile.txt")).to_be_visible()
    # A prime from the text: the sample starts with it and the copy meter marks it.
    prime = HOSTILE.splitlines()[1]  # the <img onerror> line
    page.locator(".st-key-prime input").fill(prime)
    page.locator(".st-key-prime input").press("Enter")
    wait_for_app_run(page)
    panel = live_panel(page)
    expect(panel.locator("#sample-caption")).to_contain_text("primed")
    assert sample_text(page).startswith(prime)
    expect(panel.locator("#sample mark.copied")).to_contain_text("<img")
    expect(panel.locator("#sample *:not(mark.copied), #sample mark *")).to_have_count(0)
    expect(panel.locator("#timeline td *:not(mark.copied), #timeline mark *")).to_have_count(0)

    page.get_by_role("tab", name="Generate").click()
    wait_for_app_run(page)
    generate_prime = HOSTILE.splitlines()[0]  # the <script> line
    page.locator(".st-key-generate_prime input").fill(generate_prime)
    page.locator(".st-key-generate_prime input").press("Enter")
    wait_for_app_run(page)
    click(page, "generate", wait_for_app_run)
    written = page.locator("[data-testid='stHtml'] pre")
    expect(written).to_be_visible()
    assert written.inner_text().startswith(generate_prime), "the markup is shown as characters"
    expect(written.locator("mark")).to_have_count(1)
    expect(written.locator("*:not(mark), mark *")).to_have_count(0)
    expect(page.get_by_text(re.compile(r"^longest stretch copied from the text"))).to_be_visible()
    expect(page.locator(".st-key-download_generated button")).to_have_text("Download as .txt")

    for selector in ("img[src='x']", "svg[onload]", "a[href^='javascript']"):
        assert page.locator(selector).count() == 0, f"the text became markup: {selector}"
    assert pwned(page) == [None] * len(page.frames)
    assert dialogs == []
    no_exceptions(page)


def test_the_legend_stays_clear_of_the_plot_and_the_axes_with_five_runs(
    page: Page, wait_for_app_run
) -> None:
    for _ in range(4):
        click(page, "step", wait_for_app_run)
        click(page, "reset", wait_for_app_run)
    click(page, "step", wait_for_app_run)
    panel = live_panel(page)

    def drawn_points() -> int:  # of the live run's smoothed loss, as the chart holds it now
        return chart(page).evaluate(
            "c => (c._fullData || []).filter(t => t.name === 'smoothed loss')"
            ".map(t => t.x.length)[0] || 0"
        )

    wait_until(page, lambda: drawn_points() == 1, "the chart of the last Step")
    # Four earlier runs and the live one's raw and smoothed loss.
    expect(panel.locator("#chart .legend .traces")).to_have_count(6)
    expect(panel.locator("#chart .legend .traces").first).to_have_text("Run 1")

    def boxes() -> tuple[dict, dict, dict]:
        return (
            panel.locator("#chart .legend .bg").bounding_box(),
            panel.locator("#chart .main-svg").first.bounding_box(),
            panel.locator("#chart .nsewdrag").first.bounding_box(),
        )

    looked: list[tuple[dict, dict, dict]] = []

    def laid_out() -> bool:
        # Short names: the legend leaves the curves most of the chart's width (looked at until
        # the chart has settled: on a busy machine a look can fall between two layouts).
        looked[:] = [boxes()]
        _, drawn, plot_area = looked[0]
        return plot_area["width"] >= 0.6 * drawn["width"]

    try:
        wait_until(page, laid_out, "the plot keeping 60% of the chart's width")
    except AssertionError as error:
        raise AssertionError(
            f"{error}: legend, chart, plot area at the last look {looked}"
        ) from None
    legend, drawn, plot_area = boxes()
    assert legend["x"] + legend["width"] <= drawn["x"] + drawn["width"] + 1, "the legend fits"
    assert not overlaps(legend, plot_area), (legend, plot_area)
    ticks = panel.locator("#chart .xtick text, #chart .ytick text, #chart .g-xtitle text")
    assert ticks.count() > 4
    for k in range(ticks.count()):
        box = ticks.nth(k).bounding_box()
        assert not overlaps(legend, box), (ticks.nth(k).text_content(), legend, box)
    no_exceptions(page)


def test_a_long_train_can_be_stopped_and_keeps_what_it_trained(
    page: Page, streamlit_server: str, wait_for_app_run
) -> None:
    # Wide and long chunks: 5,000 iterations would take minutes here.
    open_at(
        page, streamlit_server, {"hidden": "512", "batch": "64", "seq": "100"}, wait_for_app_run
    )
    option = page.get_by_role("option", name="5000", exact=True)

    def chosen() -> bool:  # a click that lands during a rerun is undone by it: click again
        try:
            if not option.is_visible():
                page.locator(".st-key-train_n").click(timeout=2_000)
            option.click(timeout=2_000)
        except PlaywrightError:
            pass  # the list closed meanwhile (a rerun): the next look opens it again
        return page.locator(".st-key-train button").inner_text() == "Train 5,000"

    wait_until(page, chosen, "Train 5,000 chosen")
    wait_for_app_run(page)
    page.locator(".st-key-train button").click()
    progress = page.get_by_text(re.compile(r"Trained [\d,]+ of 5,000"))
    expect(progress).to_be_visible(timeout=30_000)
    page.locator(".st-key-stop_train button").click()
    told = page.get_by_text(re.compile(r"Stopped after [\d,]+ of 5,000 iterations"))
    expect(told).to_be_visible(timeout=30_000)
    stopped = int(re.search(r"after ([\d,]+) of", told.inner_text()).group(1).replace(",", ""))
    assert 0 < stopped < 5000
    iteration = live_panel(page).locator("[data-stat='Iteration'] .value")
    expect(iteration).to_have_text(re.compile(r"^[\d,]+$"))
    assert 0 < number(iteration.inner_text()) < 5000
    no_exceptions(page)
