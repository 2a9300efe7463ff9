"""The dashboard's guides to what the model learns, driven through Streamlit's AppTest: settings
in the page's address, stopping at the best validation point, the best model, the Generate view,
the data-size advisor and the live panel's yardsticks, copy meter and overfitting note.

Each test opens a fresh session of app.py (the real script, the real Lab); the helpers are those
of tests/test_app.py. Several tests train on OVERFITTING_QUERY's small, wide setup, whose
validation loss turns up within a few hundred iterations.
"""

from __future__ import annotations

import html
import re
import weakref
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import streamlit
from streamlit.testing.v1 import AppTest
from test_app import (
    APP,
    INJECTION,
    TIMEOUT,
    errors,
    lab_of,
    live_panel,
    open_app,
    open_view,
    shown,
    step,
    successes,
    train,
    upload_text,
    wait_until,
    warnings,
)

from dashboard import text_analysis
from dashboard.guide import meter_caption
from dashboard.session import Lab
from rnnlab import overfitting
from rnnlab.corpora import DEFAULT_CORPUS
from rnnlab.model import param_count
from rnnlab.presets import DASHBOARD_DEFAULTS
from rnnlab.schedule import VALIDATION_CHARS
from rnnlab.state import ModelRestored
from rnnlab.yardsticks import LABELS

GENERATE_VIEW = "Generate"
SONGS = (Path(__file__).resolve().parent.parent / "data" / "lyrics.txt").read_bytes()
# A few kB memorised by a wide model at a high rate: with validation after every 100,000
# characters trained (1,600 a step here), the validation loss turns up within ~500 iterations.
SMALL_TEXT = SONGS[:4000]
OVERFITTING_QUERY = {
    "hidden": "64",
    "seq": "100",
    "lr": "0.1",
    "batch": "16",
    "seed": "0",
    "val": "0.2",
}
STOPPED = "Stopped at the best validation point"


# ----------------------------------------------------------------------------------- helpers
def open_app_at(query: dict[str, str]) -> AppTest:
    """A fresh session opened at an address with `query` as its query string (from random
    weights unless it says otherwise, as open_app)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update({"from": "random", **query})
    at.run()
    assert not at.exception, at.exception
    return at


def overfitting_setup(stop_at_best: bool) -> AppTest:
    """A session training on SMALL_TEXT with OVERFITTING_QUERY's settings (set in the address,
    applied with the uploaded text), with the stop-at-best checkbox as asked."""
    at = open_app_at(OVERFITTING_QUERY)
    upload_text(at, "small.txt", SMALL_TEXT)
    at.button(key="apply").click().run()
    assert not at.exception and not at.error, errors(at)
    lab = lab_of(at)
    assert lab.corpus.name == "small.txt"
    assert lab.trainer.config.hidden_size == 64 and lab.trainer.config.seq_length == 100
    if not stop_at_best:
        at.checkbox(key="stop_at_best").uncheck().run()
    assert lab.stop_at_best is stop_at_best
    return at


def validation_loss_now(lab: Lab) -> float:
    """The held-out loss of the model the lab holds, read as the validation checks read it."""
    return lab.trainer.validation_loss(VALIDATION_CHARS)


def expander_captions(at: AppTest, title: str) -> list[str]:
    """The captions in the text card whose title starts with `title`, as they read."""
    cards = [e for e in at.expander if shown(e.label).startswith(title)]
    assert len(cards) == 1, [shown(e.label) for e in at.expander]
    return [shown(c.value) for c in cards[0].caption]


def markdown_bodies(at: AppTest) -> list[str]:
    """Every text the page renders as markdown."""
    groups = (at.markdown, at.caption, at.error, at.warning, at.success, at.info)
    groups += (at.title, at.header, at.subheader)
    bodies = [e.value for elements in groups for e in elements]
    bodies += [e.label for e in at.expander] + [t.label for t in at.tabs]
    return bodies + [m.label for m in at.metric] + [m.value for m in at.metric]


def assert_no_markup_rendered(at: AppTest) -> None:
    """No markdown element holds an unescaped tag, bold or link from the text."""
    for body in markdown_bodies(at):
        assert not re.search(r"(?<!\\)<\s*(script|img)", body, re.IGNORECASE), body
        assert "**bold**" not in body and "](javascript" not in body, body


def marked_html(body: str) -> tuple[str, str | None]:
    """The text an st.html body from dashboard.safe_text.marked_text_html shows, and the part of
    it in its <mark> (None without one); fails on any other element in it."""
    tags = re.findall(r"<(/?\w+)[^>]*>", body)
    assert tags in (["pre", "/pre"], ["pre", "mark", "/mark", "/pre"]), tags
    inner = re.fullmatch(r"<pre[^>]*>(.*)</pre>", body, re.DOTALL).group(1)
    marked = re.search(r"<mark[^>]*>(.*)</mark>", inner, re.DOTALL)
    text = html.unescape(re.sub(r"</?mark[^>]*>", "", inner))
    return text, None if marked is None else html.unescape(marked.group(1))


def longest_copy_length(sample: str, text: str) -> int:
    """The oracle: the length of the longest stretch of `sample` found verbatim in `text`."""
    length = 0
    for start in range(len(sample)):
        while start + length < len(sample) and sample[start : start + length + 1] in text:
            length += 1
    return length


def generate(at: AppTest, length: int, temperature: float, prime: str) -> None:
    at.slider(key="generate_length").set_value(length)
    at.slider(key="generate_temperature").set_value(temperature)
    at.text_input(key="generate_prime").input(prime)
    at.button(key="generate").click().run()
    assert not at.exception, at.exception


def generate_html(at: AppTest) -> str:
    bodies = [element.proto.body for element in at.get("html")]
    assert len(bodies) == 1, bodies
    return bodies[0]


@pytest.fixture
def downloads(monkeypatch) -> list[dict]:
    """What every st.download_button of the page was given (spied on): data, file_name, mime."""
    given = []
    real_download_button = streamlit.download_button

    def download_button(label, data, file_name=None, mime=None, **options):
        given.append({"label": label, "data": data, "file_name": file_name, "mime": mime})
        return real_download_button(label, data, file_name=file_name, mime=mime, **options)

    monkeypatch.setattr(streamlit, "download_button", download_button)
    return given


# --------------------------------------------------------------------------- the page address
def test_settings_in_the_address_open_the_run_and_the_address_round_trips():
    asked = {
        "text": "poems",
        "hidden": "64",
        "seq": "30",
        "lr": "0.02",
        "batch": "8",
        "val": "0.2",
        "temp": "0.5",
    }
    at = open_app_at(asked)
    lab = lab_of(at)
    assert not at.error and not at.warning, errors(at) + warnings(at)
    config = lab.trainer.config
    assert lab.corpus.name == "Poems (bundled)"
    assert (config.hidden_size, config.seq_length, config.learning_rate) == (64, 30, 0.02)
    assert (config.batch_size, config.val_fraction) == (8, 0.2)
    assert lab.sample_settings.temperature == 0.5
    assert live_panel(at)["sample_caption"] == "300 characters at temperature 0.5"
    widgets = {
        "builtin_choice": at.selectbox(key="builtin_choice").value,
        "hidden_size": at.slider(key="hidden_size").value,
        "seq_length": at.slider(key="seq_length").value,
        "learning_rate": at.select_slider(key="learning_rate").value,
        "batch_size": at.select_slider(key="batch_size").value,
        "val_fraction": at.slider(key="val_fraction").value,
        "temperature": at.slider(key="temperature").value,
        "seed": at.number_input(key="seed").value,
    }
    assert widgets == {
        "builtin_choice": "Poems (bundled)",
        "hidden_size": 64,
        "seq_length": 30,
        "learning_rate": 0.02,
        "batch_size": 8,
        "val_fraction": 0.2,
        "temperature": 0.5,
        "seed": None,  # none was asked: one is drawn, and the address then holds it
    }
    network = {"cell": "rnn", "layers": "1", "opt": "adagrad", "dtype": "float64", "dropout": "0"}
    network["from"] = "random"
    assert at.query_params == {**asked, "seed": str(config.seed), **network}

    # The written address opens the same run again, and is written back unchanged.
    again = open_app_at(at.query_params)
    assert lab_of(again).trainer.config == config
    assert lab_of(again).corpus.name == "Poems (bundled)"
    assert lab_of(again).sample_settings.temperature == 0.5
    assert at.query_params == again.query_params

    # Live settings changed on the page are written into the address as they apply.
    at.slider(key="seq_length").set_value(40).run()
    at.slider(key="temperature").set_value(0.8).run()
    at.select_slider(key="learning_rate").set_value(0.1).run()
    changed = {"seq": "40", "temp": "0.8", "lr": "0.1"}
    assert at.query_params == {**asked, "seed": str(config.seed), **network, **changed}
    # A new run with a new text and hidden size: the address follows the run, not the widgets.
    at.selectbox(key="builtin_choice").select(DEFAULT_CORPUS)
    at.slider(key="hidden_size").set_value(32).run()
    assert at.query_params["text"] == "poems" and at.query_params["hidden"] == "64"
    at.button(key="apply").click().run()
    assert at.query_params["text"] == "songbook" and at.query_params["hidden"] == "32"


def test_invalid_values_in_the_address_are_ignored_and_named_and_the_rest_applied():
    at = open_app_at(
        {
            "text": "novel",
            "hidden": "abc",
            "seq": "40",
            "lr": "0.07",
            "batch": "3",
            "seed": "7",
            "val": "0.33",
            "temp": "9",
        }
    )
    lab = lab_of(at)
    ignored = {re.match(r"Ignored (\w+)='", e).group(1) for e in errors(at)}
    assert ignored == {"text", "hidden", "lr", "batch", "val", "temp"}, errors(at)
    expected_reasons = [
        "Ignored text='novel': not a built-in text (one of songbook, poems, python).",
        "Ignored hidden='abc': not a whole number.",
        "Ignored batch='3': the batch size is one of 1, 2, 4, 8, 16, 32, 64, 128, 256.",
        "Ignored val='0.33': the validation share goes in steps of 0.05.",
        "Ignored temp='9': the temperature must be between 0 and 2.",
    ]
    for reason in expected_reasons:
        assert reason in errors(at), errors(at)
    lr_reason = "Ignored lr='0.07': the learning rate slider offers"
    assert any(e.startswith(lr_reason) for e in errors(at)), errors(at)
    # The valid ones are applied; the ignored ones keep their defaults.
    assert lab.trainer.config == DASHBOARD_DEFAULTS.replace(seq_length=40, seed=7)
    assert lab.corpus.name == DEFAULT_CORPUS
    assert lab.sample_settings.temperature == 1.0
    assert not at.warning, "the address's settings are the run's: nothing is pending"
    # The address is corrected to what the run has.
    assert (
        at.query_params["hidden"] == str(DASHBOARD_DEFAULTS.hidden_size)
        and at.query_params["seed"] == "7"
    )
    assert at.query_params["text"] == "songbook" and at.query_params["temp"] == "1"
    at.run()
    assert not at.error, "each is said once"


def test_a_value_out_of_range_is_named_in_one_well_formed_sentence():
    at = open_app_at({"seed": "-1", "seq": "1000"})
    assert sorted(errors(at)) == [
        "Ignored seed='-1': seed must be between 0 and 4294967295, got -1.",
        "Ignored seq='1000': seq_length must be between 2 and 500, got 1000.",
    ]


def test_address_settings_that_do_not_fit_the_text_fall_back_to_the_defaults_and_say_so():
    at = open_app_at({"text": "poems", "seq": "500", "batch": "256", "seed": "7"})
    lab = lab_of(at)
    assert len(at.error) == 1
    assert errors(at)[0].startswith("The settings in the address were not used: The text is")
    assert lab.corpus.name == DEFAULT_CORPUS
    assert lab.trainer.config.replace(seed=None) == DASHBOARD_DEFAULTS
    assert at.number_input(key="seed").value is None, "the widgets show the run's settings"
    assert not at.warning, "nothing from the unused address is left pending"
    assert at.query_params["seq"] == "25" and at.query_params["text"] == "songbook"


# ----------------------------------------------------------------- stopping at the best point
def test_the_stop_at_best_checkbox_reaches_the_lab_and_the_play_process():
    at = overfitting_setup(stop_at_best=True)  # on by default
    lab = lab_of(at)
    assert at.checkbox(key="stop_at_best").value is True
    at.checkbox(key="stop_at_best").uncheck().run()
    assert not lab.stop_at_best and not lab.snapshot().stop_at_best

    # Playing with it off, training goes on past the turn of the validation loss; turned on
    # while playing, the play process stops by itself at its next check, holding the best.
    at.button(key="play").click().run()
    try:
        assert lab.playing

        def past_the_turn() -> bool:
            turn = lab.snapshot().overfitting
            return turn is not None and turn.checks >= overfitting.PATIENCE + 2

        wait_until(past_the_turn, timeout=120)
        assert lab.playing, "with the checkbox off, Play does not stop at the turn"
        at.checkbox(key="stop_at_best").check().run()
        # The player may stop at its very next check, while that run is still drawing: the page
        # then runs again at once and says why there.
        told = successes(at)
        wait_until(lambda: not lab.snapshot().playing, timeout=60)
    finally:
        if lab.playing:
            at.button(key="play").click().run()
    at.run()  # or the page's next refresh tells why playing stopped
    told += successes(at)
    assert any(s.startswith(STOPPED) for s in told), told
    assert at.button(key="play").label == "▶ Play"
    best = lab.trainer.best
    assert lab.trainer.events[-1] == ModelRestored(lab.trainer.iteration, best.iteration)
    assert validation_loss_now(lab) == best.validation


def test_train_stops_by_itself_at_the_best_validation_point_with_the_best_model():
    at = overfitting_setup(stop_at_best=True)
    lab = lab_of(at)
    train(at, 5000)
    trainer = lab.trainer
    assert trainer.iteration < 5000, "stopped well before the 5,000 asked"
    stopped = [s for s in successes(at) if s.startswith(STOPPED)]
    assert len(stopped) == 1, successes(at)
    best = trainer.best
    assert best.validation == min(value for _, value in trainer.validation_history)
    assert f"since iteration {best.iteration:,}" in stopped[0]
    assert f"The model of iteration {best.iteration:,} is back" in stopped[0]
    # What is held now is the model of the best iteration: it scores the best value exactly.
    np.testing.assert_array_equal(trainer.state().params, best.params)
    assert validation_loss_now(lab) == best.validation
    assert trainer.events[-1] == ModelRestored(trainer.iteration, best.iteration)
    assert not lab.playing


def test_best_model_button_brings_back_the_best_model_or_says_there_is_none():
    at = overfitting_setup(stop_at_best=False)
    lab = lab_of(at)
    step(at)
    at.button(key="restore_best").click().run()
    assert any(e.startswith("There is no best model yet") for e in errors(at)), errors(at)
    assert lab.trainer.iteration == 1 and not lab.trainer.events

    train(at, 1000)
    assert lab.trainer.iteration == 1001, "with the checkbox off, training goes past the turn"
    notes = live_panel(at)["notes"]
    warning = [n["text"] for n in notes if n["kind"] == "warning"]
    assert len(warning) == 1 and warning[0].startswith("The model is memorising its text"), notes
    best = lab.trainer.best
    assert validation_loss_now(lab) > best.validation
    at.button(key="restore_best").click().run()
    assert f"Brought back the model of iteration {best.iteration:,}" in " ".join(successes(at))
    np.testing.assert_array_equal(lab.trainer.state().params, best.params)
    assert validation_loss_now(lab) == best.validation
    assert lab.trainer.events[-1] == ModelRestored(1001, best.iteration)
    assert lab.trainer.iteration == 1001, "the run goes on from the best model"


# ------------------------------------------------------------------------------- live panel
def test_the_live_panel_draws_the_yardsticks_and_measures_the_sample_for_copies():
    at = open_app()
    lab = lab_of(at)
    wait_until(lambda: lab.snapshot().yardsticks is not None)
    step(at)
    step(at)  # two samples measured: the copy chart has a line
    panel = live_panel(at)
    yardsticks = lab.snapshot().yardsticks
    layout = panel["figure"]["layout"]
    lines = {
        shape["y0"]: annotation["text"]
        for shape, annotation in zip(layout["shapes"], layout["annotations"], strict=True)
    }
    in_nats = np.log(2) * lab.trainer.config.seq_length  # the default units: nats per chunk
    assert sorted(lines.values()) == sorted(
        f"{LABELS[name]} {bits:.2f} bits/char" for name, bits in yardsticks.items()
    )
    for name, bits in yardsticks.items():
        assert any(
            np.isclose(y, bits * in_nats) and text.startswith(LABELS[name])
            for y, text in lines.items()
        )
    info = [n["text"] for n in panel["notes"] if n["kind"] == "info"]
    assert len(info) == 1, panel["notes"]
    assert all(LABELS[name] in info[0] for name in yardsticks)

    reading = lab.snapshot().latest_copy
    assert panel["sample_meter"] == meter_caption(reading)
    start, end = panel["sample_copy"]
    sample = panel["sample"]
    assert end - start == longest_copy_length(sample, lab.trainer.train_text)
    assert sample[start:end] in lab.trainer.train_text
    assert all(isinstance(row["copied"], int) for row in panel["timeline"])
    assert panel["copy_figure"] is not None

    at.radio(key="units").set_value("bits per character").run()
    shapes = live_panel(at)["figure"]["layout"]["shapes"]
    assert sorted(s["y0"] for s in shapes) == pytest.approx(sorted(yardsticks.values()))


@pytest.mark.parametrize(
    ("val", "where"),
    [
        ("0.1", "The yardsticks are measured on the held-out text"),
        ("0", "These yardsticks are measured on the training text itself"),
    ],
)
def test_the_yardstick_note_says_truly_whether_text_is_held_out(val, where):
    at = open_app_at({"val": val})
    lab = lab_of(at)
    wait_until(lambda: lab.snapshot().yardsticks is not None)
    step(at)  # before the first validation check (after 100,000 characters trained)
    (note,) = [n["text"] for n in live_panel(at)["notes"] if n["kind"] == "info"]
    assert where in note
    assert ("nothing is held out" in note) == (val == "0"), note


# -------------------------------------------------------------------------------- Generate
def test_generate_writes_with_the_model_marks_the_copy_and_offers_the_text(downloads):
    at = open_app()
    lab = lab_of(at)
    train(at, 10)
    wait_until(lambda: lab.snapshot().latest_copy is not None)  # the text's index is built
    open_view(at, GENERATE_VIEW)
    assert at.slider(key="generate_length").min == 100
    assert at.slider(key="generate_length").max == 5000
    generate(at, 400, 0.0, "The ")
    text, reading = at.session_state["generated"]
    # Greedy: the model of now writes exactly this.
    assert text == "The " + lab.trainer.sample(400, prime="The ", temperature=0.0)
    shown_text, marked = marked_html(generate_html(at))
    assert shown_text == text
    assert marked == text[reading.span[0] : reading.span[1]]
    assert len(marked) == longest_copy_length(text, lab.trainer.train_text)
    captions = [shown(c.value) for c in at.caption]
    caption = f"longest stretch copied from the text: {len(marked)} characters (marked)"
    assert any(c.startswith(caption) for c in captions), captions
    assert any("Write with the model of iteration 10." in c for c in captions), captions
    assert at.get("download_button")[0].proto.label == "Download as .txt"
    assert downloads[-1]["data"] == text.encode("utf-8")
    assert downloads[-1]["file_name"] == "rnnlab-generated.txt"

    at.text_input(key="generate_prime").input("snow☃").run()
    at.button(key="generate").click().run()
    assert any("not in the vocabulary" in e for e in errors(at)), errors(at)
    assert at.session_state["generated"][0] == text, "the last text stays"


# ------------------------------------------------------------------------------- advisor
def test_the_text_card_advises_on_the_text_size_for_the_hidden_size_to_be_applied():
    at = open_app()
    lab = lab_of(at)
    trainer = lab.trainer
    (advice,) = expander_captions(at, "Training on")
    assert advice.startswith(
        f"At hidden size {DASHBOARD_DEFAULTS.hidden_size}: {trainer.train_size:,} characters "
        f"to train on for {trainer.param_count:,} parameters"
    ), advice
    at.slider(key="hidden_size").set_value(32).run()
    (advice,) = expander_captions(at, "Training on")
    assert f"for {param_count(32, trainer.vocab.size):,} parameters" in advice
    # A small pending text for a big model: the card says it will be memorised.
    upload_text(at, "small.txt", SMALL_TEXT)
    at.slider(key="hidden_size").set_value(256).run()
    (advice,) = expander_captions(at, "Pending text")
    held_out = int(len(SMALL_TEXT) * DASHBOARD_DEFAULTS.val_fraction)
    assert f"{len(SMALL_TEXT) - held_out:,} characters to train on" in advice
    assert "memorises a text this small" in advice


# --------------------------------------------------------------------------- hostile text
def test_hostile_text_stays_text_in_the_samples_and_the_generate_view():
    at = open_app()
    lab = lab_of(at)
    upload_text(at, "inject.txt", ((INJECTION + "\n") * 12).encode())
    at.button(key="apply").click().run()
    assert lab.corpus.name == "inject.txt"
    # Primed with the text's own markup, the samples start with it; trained, they go on with it.
    at.text_input(key="prime").input("<script>alert(1)</script><img src=x onerror=alert(1)>")
    at.run()
    train(at, 100)
    panel = live_panel(at)
    assert panel["sample"].startswith("<script>alert(1)</script><img"), panel["sample"]
    assert any("<" in row["sample"] for row in panel["timeline"]), panel["timeline"]
    assert_no_markup_rendered(at)

    open_view(at, GENERATE_VIEW)
    generate(at, 200, 0.0, INJECTION + "\n")
    text, reading = at.session_state["generated"]
    assert text.startswith(INJECTION) and reading.length >= len(INJECTION)
    body = generate_html(at)
    shown_text, marked = marked_html(body)  # pre and mark only: every other < is escaped
    assert shown_text == text and INJECTION in marked
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in body
    assert_no_markup_rendered(at)


def test_a_text_too_long_to_measure_says_so_above_the_chart_and_trains_on(monkeypatch):
    monkeypatch.setattr(text_analysis, "ANALYSIS_MEMORY_BYTES", 1_000)
    # Analyses another test built are shared (text_analysis): this test's is built anew.
    monkeypatch.setattr(text_analysis, "_kept", OrderedDict())
    monkeypatch.setattr(text_analysis, "_analyses", weakref.WeakValueDictionary())
    at = open_app_at({"val": "0.1"})
    step(at)
    (note,) = [n["text"] for n in live_panel(at)["notes"] if n["kind"] == "info"]
    assert note.startswith("No yardsticks or copy meter for this text.")
    assert "too long to measure here" in note and "MB" in note
    assert lab_of(at).trainer.iteration == 1
    assert live_panel(at)["sample_meter"] == "No copy meter for this text (see above the chart)."
