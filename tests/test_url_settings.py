"""Settings in the address: what a link asks for, what is ignored and why, and the round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard import url_settings
from rnnlab.config import Config
from rnnlab.corpora import builtin_corpus, uploaded_corpus
from rnnlab.presets import DASHBOARD_DEFAULTS

LEARNING_RATES = (1e-3, 0.01, 0.02, 0.05, 0.1)
CONTROLS = url_settings.Controls(LEARNING_RATES, (1, 2, 4, 8, 16), 4, 0.05)


def test_a_link_gives_its_settings_over_the_defaults() -> None:
    query = {"text": "poems", "hidden": "64", "seq": "40", "lr": "0.02", "batch": "8"}
    query |= {"seed": "3", "val": "0.2", "temp": "0.5"}
    asked = url_settings.read(query, DASHBOARD_DEFAULTS, CONTROLS)
    assert asked.config == Config(
        hidden_size=64, seq_length=40, learning_rate=0.02, batch_size=8, seed=3, val_fraction=0.2
    )
    assert asked.text == "Poems (bundled)"
    assert asked.temperature == 0.5
    assert asked.ignored == ()


def test_no_query_keeps_the_defaults() -> None:
    asked = url_settings.read({}, DASHBOARD_DEFAULTS, CONTROLS)
    assert (asked.config, asked.text, asked.temperature, asked.ignored) == (
        DASHBOARD_DEFAULTS,
        None,
        None,
        (),
    )


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("hidden", "abc", "not a whole number"),
        ("hidden", "2", "between"),
        ("hidden", "66", "steps of 4"),
        ("seq", "1e9", "not a whole number"),
        ("seq", "100000", "between"),
        ("lr", "nan", "not a finite number"),
        ("lr", "0.07", "slider offers"),
        ("batch", "3", "one of"),
        ("seed", "-1", "between"),
        ("val", "0.13", "steps of 0.05"),
        ("val", "0.9", "between"),
        ("temp", "5", "between 0 and 2"),
        ("temp", "0.33", "steps of 0.05"),
        ("text", "../../etc/passwd", "not a built-in text"),
    ],
)
def test_a_bad_value_is_ignored_with_a_reason_and_the_rest_applies(key, value, words) -> None:
    asked = url_settings.read(
        {key: value, "hidden": "64"} if key != "hidden" else {key: value},
        DASHBOARD_DEFAULTS,
        CONTROLS,
    )
    assert len(asked.ignored) == 1
    assert asked.ignored[0].startswith(f"{key}={value!r}") and words in asked.ignored[0]
    if key != "hidden":
        assert asked.config.hidden_size == 64
    else:
        assert asked.config.hidden_size == DASHBOARD_DEFAULTS.hidden_size


def test_write_then_read_gives_the_same_settings() -> None:
    config = Config(
        hidden_size=128, seq_length=33, learning_rate=0.01, batch_size=4, seed=99, val_fraction=0.15
    )
    query = url_settings.write(config, builtin_corpus("Poems (bundled)"), 0.85)
    asked = url_settings.read(query, DASHBOARD_DEFAULTS, CONTROLS)
    assert (asked.config, asked.text, asked.temperature, asked.ignored) == (
        config,
        "Poems (bundled)",
        0.85,
        (),
    )


def test_an_uploaded_text_is_left_out_of_the_address() -> None:
    corpus = uploaded_corpus("songs.txt", b"la la la, the river runs " * 10)
    query = url_settings.write(DASHBOARD_DEFAULTS.replace(seed=1), corpus, 1.0)
    assert "text" not in query


@given(
    hidden=st.integers(1, 256).map(lambda k: 4 * k),
    seq=st.integers(2, 500),
    lr=st.sampled_from(LEARNING_RATES),
    batch=st.sampled_from(CONTROLS.batch_sizes),
    seed=st.integers(0, 2**32 - 1),
    val_steps=st.integers(0, 10),
    temp_steps=st.integers(0, 40),
)
def test_every_setting_the_controls_can_show_round_trips(
    hidden, seq, lr, batch, seed, val_steps, temp_steps
) -> None:
    config = Config(
        hidden_size=hidden,
        seq_length=seq,
        learning_rate=lr,
        batch_size=batch,
        seed=seed,
        val_fraction=round(val_steps * 0.05, 10),
    )
    temperature = round(temp_steps * 0.05, 10)
    query = url_settings.write(config, builtin_corpus("Songbook (bundled lyrics)"), temperature)
    asked = url_settings.read(query, DASHBOARD_DEFAULTS, CONTROLS)
    assert asked.ignored == ()
    assert asked.config == config and asked.temperature == temperature
