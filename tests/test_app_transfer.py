"""Start from a base model, through the page: the "Start from" control, a bundled base on the
songbook (Step, Play, the sample and the chart), the current model on a new text, an uploaded
checkpoint made on another text, the address, Compare cells' "From …" entry, and hostile names."""

from __future__ import annotations

import io

import numpy as np
from streamlit.testing.v1 import AppTest

import rnnlab
from rnnlab.compare import FromBase
from rnnlab.corpora import builtin_corpus
from rnnlab.metrics import corpus_words, word_share
from rnnlab.presets import TRANSFER_SETTINGS
from tests.test_app import (
    APP,
    INJECTION,
    PAUSE,
    PLAY,
    TIMEOUT,
    errors,
    lab_of,
    live_panel,
    open_view,
    shown,
    step,
    successes,
    upload_text,
    wait_until,
    warnings,
)

BASE = next(iter(rnnlab.base_models()))
COMPARE_VIEW = "Compare cells"


def open_at(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def choose_start(at: AppTest, key: str) -> None:
    at.selectbox(key="start_from").set_value(key).run()
    assert not at.exception, at.exception


def apply(at: AppTest) -> None:
    at.button(key="apply").click().run()
    assert not at.exception, at.exception


def base_config() -> rnnlab.Config:
    return rnnlab.checkpoint.load_state(rnnlab.base_models()[BASE]).config


def test_a_bundled_base_is_one_choice_away_and_keeps_its_network():
    at = open_at({"from": "random"})
    options = at.selectbox(key="start_from").options
    assert options[0].startswith("Random weights") and any(BASE in o for o in options)
    choose_start(at, BASE)
    base = base_config()
    pending = " ".join(warnings(at))
    assert "Pending changes" in pending and f"start from: random weights → {BASE}" in pending
    for key in ("cell", "layers", "dtype"):
        assert at.selectbox(key=key).disabled and at.selectbox(key=key).value == getattr(base, key)
    assert at.slider(key="hidden_size").disabled
    assert at.slider(key="hidden_size").value == base.hidden_size
    assert not at.selectbox(key="optimizer").disabled
    card = " ".join(shown(c.value) for c in at.caption)
    assert f"Starting from {BASE}: it knows" in card and "of this text's" in card
    apply(at)
    lab = lab_of(at)
    trainer = lab.trainer
    assert trainer.origin is not None and trainer.origin.base == BASE
    assert (trainer.config.cell, trainer.config.hidden_size) == (base.cell, base.hidden_size)
    assert any(f"Started from {BASE}, which knew" in s for s in successes(at))
    assert not warnings(at), "nothing left pending after Apply"
    assert at.query_params["from"] == [BASE] or at.query_params["from"] == BASE
    assert f"from {BASE}" in live_panel(at)["figure"]["layout"]["title"]["text"]
    step(at)
    assert trainer.iteration == 1


def test_play_from_the_base_on_the_songbook_shows_words_and_the_chart():
    at = open_at({"from": BASE})
    lab = lab_of(at)
    assert lab.trainer.origin.base == BASE and at.selectbox(key="start_from").value == BASE
    at.button(key="play").click().run()
    assert at.button(key="play").label == PAUSE
    wait_until(lambda: lab.snapshot().state.iteration >= 20, timeout=60)
    at.button(key="play").click().run()
    assert at.button(key="play").label == PLAY and not errors(at)
    panel = live_panel(at)
    assert panel["sample"] == lab.latest_sample and len(lab.latest_sample) > 100
    # A base that has read English writes words of the text from the start.
    assert word_share(lab.latest_sample, corpus_words(lab.corpus.text)) > 0.4
    names = {trace["name"] for trace in panel["figure"]["data"]}
    assert {"loss (raw)", "smoothed loss"} <= names
    assert lab.trainer.iteration >= 20 and lab.trainer.origin.base == BASE


def test_the_current_model_goes_on_learning_on_a_new_text():
    at = open_at({"from": "random", "hidden": "32"})
    lab = lab_of(at)
    for _ in range(3):
        step(at)
    before = {name: value.copy() for name, value in lab.trainer.params.items()}
    old_vocab = lab.trainer.vocab.chars
    choose_start(at, "current")
    at.selectbox(key="builtin_choice").set_value("Poems (bundled)").run()
    apply(at)
    trainer = lab.trainer
    assert lab.corpus.name == "Poems (bundled)" and trainer.iteration == 0
    assert trainer.origin.base == "the model of run 1"
    assert np.array_equal(trainer.params["Whh"], before["Whh"])
    j, i = trainer.vocab.chars.index("e"), old_vocab.index("e")
    assert np.array_equal(trainer.params["Why"][j], before["Why"][i])
    assert len(lab.runs) == 1, "the first run stays in the chart"


def test_an_uploaded_checkpoint_made_on_another_text_is_a_base():
    poems = builtin_corpus("Poems (bundled)").text
    other = rnnlab.Trainer(poems, rnnlab.Config(hidden_size=24, cell="lstm", seed=3))
    other.step(5)
    data = io.BytesIO()
    other.save(data)
    at = open_at({"from": "random"})
    choose_start(at, "checkpoint")
    assert at.file_uploader(key="base_upload")
    apply(at)
    assert any("Upload a checkpoint to start from first" in e for e in errors(at))
    at.file_uploader(key="base_upload").set_value(
        ("poems-lstm.npz", data.getvalue(), "application/octet-stream")
    ).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="cell").value == "lstm" and at.slider(key="hidden_size").value == 24
    apply(at)
    trainer = lab_of(at).trainer
    assert trainer.origin.base == "checkpoint poems-lstm.npz"
    assert trainer.config.cell == "lstm" and trainer.config.hidden_size == 24
    assert trainer.vocab.chars == builtin_corpus("Songbook (bundled lyrics)").vocab.chars
    assert "from" not in at.query_params, "an address cannot carry an uploaded checkpoint"


def test_a_broken_checkpoint_as_a_base_is_refused_and_nothing_changes():
    at = open_at({"from": "random"})
    choose_start(at, "checkpoint")
    at.file_uploader(key="base_upload").set_value(
        ("broken.npz", b"PK not a zip", "application/octet-stream")
    ).run()
    assert not at.exception, at.exception
    assert any("broken.npz cannot be started from" in e for e in errors(at))
    assert lab_of(at).offered_start is None


def test_hostile_names_and_text_stay_text_when_starting_from_a_base():
    at = open_at({"from": "random"})
    upload_text(at, f"{INJECTION}.txt", (INJECTION + " hello there, my friend\n").encode() * 40)
    choose_start(at, BASE)
    apply(at)
    lab = lab_of(at)
    assert lab.trainer.origin.base == BASE and INJECTION in lab.corpus.name
    for element in (*at.markdown, *at.success, *at.warning, *at.caption, *at.expander):
        text = getattr(element, "value", None) or getattr(element, "label", "")
        assert "<script>" not in text, text
    trainer = rnnlab.Trainer(INJECTION * 20, rnnlab.Config(hidden_size=8, seed=1))
    data = io.BytesIO()
    trainer.save(data)
    choose_start(at, "checkpoint")
    at.file_uploader(key="base_upload").set_value(
        (f"{INJECTION}.npz", data.getvalue(), "application/octet-stream")
    ).run()
    apply(at)
    for element in (*at.success, *at.warning, *at.error):
        assert "<script>" not in element.value and "**bold**" not in element.value


def test_the_address_names_the_base_and_an_unknown_one_is_ignored():
    at = open_at({"from": "klingon"})
    assert any("Ignored from='klingon'" in e for e in errors(at))
    at = open_at({"from": BASE, "lr": "0.003", "dropout": "0.2"})
    config = lab_of(at).trainer.config
    assert lab_of(at).trainer.origin.base == BASE
    assert (config.learning_rate, config.dropout) == (0.003, 0.2)
    assert config.hidden_size == base_config().hidden_size


def test_compare_cells_offers_the_base_and_train_this_one_starts_from_it():
    at = open_at({"from": "random"})
    open_view(at, COMPARE_VIEW)
    rows = at.dataframe[0].value
    assert f"From {BASE}" in list(rows["network"])
    assert BASE in list(rows["starts from"])
    lab = lab_of(at)
    lab.compare_cells({f"From {BASE}": _compared(at)}, 10)
    wait_until(lambda: not lab.comparing, timeout=120)
    at.run()
    at.button(key=f"use_From {BASE}").click().run()
    assert not at.exception, at.exception
    assert lab.trainer.origin.base == BASE
    assert at.session_state["start_from"] == BASE


def _compared(at: AppTest) -> FromBase:
    return FromBase(BASE, base_config().replace(**TRANSFER_SETTINGS, seed=None))
