"""Starting from a base model in a real browser: the "Start from" control, Play from the bundled
base on the songbook (words from the first samples, the chart), and an uploaded checkpoint made
on another text as the base, with a hostile file name and text shown only as text."""

from __future__ import annotations

import io
import re

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

import rnnlab
from rnnlab.metrics import corpus_words, word_share
from tests.e2e.test_dashboard import (
    HOSTILE,
    LYRICS,
    click,
    live_panel,
    metric,
    no_exceptions,
    number,
    play_until,
    sample_text,
    upload_text,
)

BASE = next(iter(rnnlab.base_models()))
POEMS = LYRICS.parent / "poems.txt"


def success_with(page: Page, text: str):
    return page.locator("[data-testid='stAlertContentSuccess']").filter(has_text=text)


def choose_start(page: Page, label: str, wait) -> None:
    """Open the "Start from" list (again, if a rerun closed it) and choose the option `label`."""
    option = page.get_by_role("option", name=re.compile(label))
    for _ in range(5):
        page.get_by_role("combobox", name="Start from").click()
        try:
            option.wait_for(timeout=5000)
            break
        except PlaywrightTimeout:
            wait(page)
    option.click()
    wait(page)


def test_play_from_the_base_on_the_songbook_writes_words_from_the_start(
    page: Page, wait_for_app_run, play_processes
) -> None:
    choose_start(page, f"Base “{BASE}”", wait_for_app_run)
    expect(page.get_by_text("Pending changes")).to_be_visible()
    knows = re.compile(rf"Starting from {BASE}: it knows \d+ of this text")
    expect(page.get_by_text(knows).first).to_be_visible()
    expect(page.locator(".st-key-hidden_size input[type='range']")).to_be_disabled()
    click(page, "apply", wait_for_app_run)
    success = page.locator("[data-testid='stAlertContentSuccess']")
    expect(success.filter(has_text=re.compile(rf"Started from {BASE}, which knew"))).to_be_visible()
    expect(live_panel(page).locator("#chart .gtitle")).to_contain_text(f"from {BASE}")
    assert f"from={BASE}" in page.url

    words = corpus_words(LYRICS.read_text(encoding="utf-8"))
    play_until(
        page,
        lambda: number(metric(page, "Iteration")) >= 30,
        "30 iterations from the base",
        wait_for_app_run,
        play_processes,
    )
    sample = sample_text(page)
    assert word_share(sample, words) > 0.4, sample
    expect(live_panel(page).locator("#chart .scatterlayer .trace")).not_to_have_count(0)
    no_exceptions(page)


def test_an_uploaded_checkpoint_is_the_base_for_another_text_and_names_stay_text(
    page: Page, wait_for_app_run
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    trainer = rnnlab.Trainer(
        POEMS.read_text(encoding="utf-8"), rnnlab.Config(hidden_size=20, seed=4)
    )
    trainer.step(20)
    data = io.BytesIO()
    trainer.save(data)
    hostile_name = "<img src=x onerror=alert(1)>**poems**.npz"

    upload_text(page, "<b>evil</b>.txt", (HOSTILE * 40).encode(), wait_for_app_run)
    choose_start(page, "An uploaded checkpoint", wait_for_app_run)
    page.locator(".st-key-base_upload input[type='file']").set_input_files(
        files=[
            {
                "name": hostile_name,
                "mimeType": "application/octet-stream",
                "buffer": data.getvalue(),
            }
        ]
    )
    wait_for_app_run(page, initial_wait_ms=500)
    expect(success_with(page, f"Read {hostile_name}: 20 units")).to_be_visible()
    click(page, "apply", wait_for_app_run)
    success = page.locator("[data-testid='stAlertContentSuccess']")
    expect(success.filter(has_text=f"Started from checkpoint {hostile_name}")).to_be_visible()
    click(page, "step", wait_for_app_run)
    expect(live_panel(page).locator("[data-stat='Iteration'] .value")).to_have_text("1")
    assert page.evaluate("window.__rnnlabPwned === undefined")
    assert not page.locator("img[src='x']").count() and not dialogs
    no_exceptions(page)
