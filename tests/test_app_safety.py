"""No traceback ever reaches a visitor: every callback and every view turns a failure, MemoryError
included, into a message, and the model is as it was."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
from test_app import errors, lab_of, open_app, open_view, shown, step, upload_text

from dashboard import live_feed
from dashboard.limits import SNIPPET_MAX_CHARS
from dashboard.model_reads import snippet_trace
from dashboard.session import Lab
from rnnlab.text import MAX_VOCAB

CONFIG_TOML = Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml"


def test_the_shipped_config_shows_no_error_details() -> None:
    config = tomllib.loads(CONFIG_TOML.read_text())
    assert config["client"]["showErrorDetails"] == "none"


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (MemoryError(), "not enough memory"),
        (RuntimeError("/srv/secret/path.py exploded"), "Something went wrong (RuntimeError)"),
    ],
)
def test_a_failing_callback_becomes_a_message_and_changes_nothing(monkeypatch, failure, words):
    at = open_app()
    before = lab_of(at).trainer.state()

    def fail(self, *args, **kwargs):
        raise failure

    monkeypatch.setattr(Lab, "train", fail)
    at.button(key="step").click().run()
    assert not at.exception, at.exception
    assert any(words in message for message in errors(at)), errors(at)
    assert not any("/srv" in message or "Traceback" in message for message in errors(at))
    after = lab_of(at).trainer.state()
    assert after.iteration == before.iteration
    np.testing.assert_array_equal(after.params, before.params)
    monkeypatch.undo()
    step(at)  # and the page goes on working
    assert lab_of(at).trainer.iteration == before.iteration + 1


def test_a_view_that_fails_to_draw_says_so_and_the_rest_of_the_page_works(monkeypatch):
    at = open_app()

    def fail(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(live_feed, "panel_content", fail)
    at.run()
    assert not at.exception, at.exception
    assert any("not enough memory" in message for message in errors(at))
    monkeypatch.undo()
    open_view(at, "Model & runs")
    assert not at.exception and not at.error


def test_the_typed_snippet_and_the_prime_have_a_length_limit():
    at = open_app()
    assert at.text_input(key="prime").max_chars is not None
    at.session_state["view"] = "Inside the network"
    at.run()
    at.radio(key="snippet_source").set_value("Type your own").run()
    area = at.text_area(key="snippet_text")
    assert area.max_chars == SNIPPET_MAX_CHARS
    with pytest.raises(ValueError, match="at most 1,000"):
        snippet_trace(lab_of(at), "a" * (SNIPPET_MAX_CHARS + 1))


def test_settings_over_the_sessions_memory_budget_are_refused_on_apply():
    at = open_app()
    lab = lab_of(at)
    trainer = lab.trainer
    at.slider(key="seq_length").set_value(500).run()  # fits at the current size
    assert trainer.config.seq_length == 500
    at.slider(key="hidden_size").set_value(1024).run()
    at.select_slider(key="batch_size").set_value(256).run()
    at.button(key="apply").click().run()
    assert not at.exception, at.exception
    assert any("Nothing was changed" in e and "a session may use here" in e for e in errors(at))
    assert lab.trainer is trainer


def test_an_upload_with_a_huge_vocabulary_shares_one_symbol_among_its_rarest_characters():
    rng = np.random.default_rng(0)
    weights = 1 / np.arange(1, 20_001)  # 20,000 CJK characters, the k-th about 1/k as frequent
    ids = rng.choice(20_000, size=200_000, p=weights / weights.sum())
    text = "".join(chr(0x4E00 + i) for i in ids)
    at = open_app()
    lab = lab_of(at)
    upload_text(at, "zhongwen.txt", text.encode("utf-8"))
    assert not at.exception and not errors(at), errors(at)
    rare = lab.pending_corpus.rare
    assert rare is not None and rare.distinct == len(set(text))
    notes = [shown(i.value) for i in at.info]
    assert any(
        note.startswith(
            f"{rare.merged:,} rare characters ({rare.share:.1%} of the text) share "
            "one symbol ⟨\ufffd⟩"
        )
        and f"the text has {len(set(text)):,} different characters" in note
        for note in notes
    ), notes
    at.button(key="apply").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert lab.corpus.name == "zhongwen.txt" and lab.trainer.vocab.size == MAX_VOCAB
    step(at)
    assert lab.trainer.iteration == 1
