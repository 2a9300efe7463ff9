"""Compare cells: each network trains for the same CPU time, its readings and sample kept."""

from __future__ import annotations

import math

import pytest

from rnnlab import Config
from rnnlab.compare import compare_cells
from rnnlab.corpora import builtin_corpus
from rnnlab.presets import CELL_PRESETS

SONGBOOK = builtin_corpus("Songbook (bundled lyrics)").text
SMALL = {
    cell.upper(): Config(
        cell=cell, hidden_size=16, seq_length=10, batch_size=4, learning_rate=0.01,
        optimizer="adam", val_fraction=0.1, seed=1,
    )
    for cell in ("rnn", "gru", "lstm")
}  # fmt: skip


def test_each_cell_trains_for_the_budget_and_reports_readings_and_a_sample():
    heard = []
    results = compare_cells(SONGBOOK, SMALL, seconds=0.6, on_reading=heard.append)
    assert [r.label for r in results] == ["RNN", "GRU", "LSTM"]
    for result in results:
        assert result.seconds >= 0.6 and not result.stopped_early
        assert result.readings[0].seconds == 0 and result.readings[-1].seconds >= 0.6
        # It starts at about a uniform guess over the vocabulary and learns from there.
        assert result.readings[0].bits == pytest.approx(math.log2(70), abs=0.6)
        assert result.best_bits < result.readings[0].bits - 0.5
        assert len(result.sample) == 300 and set(result.sample) <= set(SONGBOOK)
        assert result.iterations > 0
    assert heard == [reading for result in results for reading in result.readings]


def test_stopping_ends_the_run_and_keeps_what_was_done():
    heard = []
    results = compare_cells(
        SONGBOOK, SMALL, seconds=30, on_reading=heard.append, should_stop=lambda: len(heard) >= 3
    )
    assert results[0].stopped_early and results[0].seconds < 30
    assert all(r.stopped_early for r in results[1:]) and not results[1].readings


def test_comparing_needs_held_out_text_and_time():
    with pytest.raises(ValueError, match="held-out"):
        compare_cells(SONGBOOK, {"RNN": Config(val_fraction=0.0)}, seconds=1)
    with pytest.raises(ValueError, match="seconds"):
        compare_cells(SONGBOOK, SMALL, seconds=0)


def test_the_presets_are_one_network_of_each_cell_holding_text_out():
    assert [c.cell for c in CELL_PRESETS.values()] == ["rnn", "gru", "lstm"]
    assert all(c.val_fraction > 0 for c in CELL_PRESETS.values())
