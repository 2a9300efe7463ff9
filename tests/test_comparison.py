"""Compare cells from a session: a process of its own, counted as a Play slot, stoppable."""

from __future__ import annotations

import threading
import time

import pytest

from dashboard import comparison, limits
from dashboard.comparison import Cancelled, Finished
from dashboard.process_slots import SLOTS
from dashboard.session import Lab
from rnnlab import Config
from rnnlab.corpora import builtin_corpus
from tests.process_tree import children
from tests.waiting import wait_until

SONGBOOK = builtin_corpus("Songbook (bundled lyrics)")
SMALL = {
    cell.upper(): Config(cell=cell, hidden_size=16, seq_length=10, batch_size=4,
                         learning_rate=0.01, optimizer="adam", val_fraction=0.1)
    for cell in ("rnn", "gru", "lstm")
}  # fmt: skip


@pytest.fixture
def lab():
    lab = Lab(SONGBOOK, Config(hidden_size=16, seq_length=10, batch_size=4, seed=0,
                               val_fraction=0.1))  # fmt: skip
    yield lab
    lab.close()


def test_a_comparison_trains_each_cell_in_a_child_and_reports_as_it_goes(lab):
    iteration = lab.trainer.iteration
    lab.compare_cells(SMALL, 10)
    assert lab.comparing
    assert lab.comparison.status() == ("RNN", 0.0, 0.0)  # before the first reading
    wait_until(lambda: len(lab.comparison.progress()[0]) >= 2)
    label, seconds, share = lab.comparison.status()
    assert label == "RNN" and 0 < seconds and 0 < share <= seconds / 10 / 3 + 1e-9
    with pytest.raises(ValueError, match="Compare cells is running"):
        lab.play()
    wait_until(lambda: not lab.comparing, timeout=120)
    readings, results, outcome = lab.comparison.progress()
    assert isinstance(outcome, Finished)
    assert [r.label for r in results] == ["RNN", "GRU", "LSTM"]
    assert {r.label for r in readings} == {"RNN", "GRU", "LSTM"}
    assert all(r.seconds >= 10 and r.sample for r in results)
    assert lab.trainer.iteration == iteration  # the session's own run is left as it was
    wait_until(lambda: not lab.holds_a_slot, timeout=5)


def comparing_children() -> set[int]:
    import os

    return children(os.getpid(), "dashboard.comparison")


def alive(pid: int) -> bool:
    return pid in comparing_children()


def test_stopping_ends_the_child_and_frees_the_slot(lab):
    lab.compare_cells(SMALL, 60)
    pid = lab.comparison.pid
    assert alive(pid)
    wait_until(lambda: len(lab.comparison.progress()[0]) >= 2)
    lab.stop_comparison()
    assert not lab.comparing and not alive(pid)
    readings, _, outcome = lab.comparison.progress()
    assert isinstance(outcome, Cancelled) and readings
    assert not lab.holds_a_slot


def test_a_comparison_takes_a_play_slot(lab, monkeypatch):
    monkeypatch.setattr(SLOTS, "limit", 1)
    other = Lab(SONGBOOK, Config(hidden_size=16, seq_length=10, seed=1, val_fraction=0.1))
    try:
        other.play()
        with pytest.raises(ValueError, match="as many as this server runs at once"):
            lab.compare_cells(SMALL, 10)
        assert lab.comparison is None
    finally:
        other.close()


def test_closing_the_session_ends_its_comparison(lab):
    lab.compare_cells(SMALL, 60)
    pid = lab.comparison.pid
    lab.close()
    assert not alive(pid)


def test_a_text_too_short_or_an_odd_budget_is_refused_before_starting(lab):
    with pytest.raises(ValueError, match="seconds"):
        lab.compare_cells(SMALL, 7)
    with pytest.raises(ValueError, match="at least"):
        lab.compare_cells({"LSTM": SMALL["LSTM"].replace(seq_length=500, batch_size=64)}, 10)
    assert lab.comparison is None


def test_a_comparison_over_the_memory_budget_is_refused_before_starting(lab, monkeypatch):
    monkeypatch.setattr(limits, "SESSION_MEMORY_BYTES", 16 * 2**20)
    with pytest.raises(ValueError, match="the network compared and the session's own run"):
        lab.compare_cells({"LSTM": SMALL["LSTM"].replace(hidden_size=512)}, 10)
    assert lab.comparison is None and not lab.holds_a_slot


def watchers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == comparison.COMPARISON_WATCHER}


def test_a_new_comparison_keeps_its_slot_when_the_stopped_one_is_released(lab):
    others = watchers()  # an earlier test's, ending
    lab.compare_cells(SMALL, 60)
    (first,) = watchers() - others
    lab.stop_comparison()
    lab.compare_cells(SMALL, 60)
    first.join(timeout=30)  # the first one's watcher has seen it end and let its slot go
    assert not first.is_alive()
    assert lab.comparing and lab.holds_a_slot
    lab.stop_comparison()
    assert not lab.holds_a_slot


def test_the_session_ends_a_comparison_past_its_deadline(lab):
    lab.compare_cells(SMALL, 60)
    pid = lab.comparison.pid
    lab.comparison.deadline = time.monotonic()  # as if it had hung for its whole lifetime
    wait_until(lambda: not lab.comparing, timeout=10)
    assert isinstance(lab.comparison.progress()[2], Cancelled) and not alive(pid)
    wait_until(lambda: not lab.holds_a_slot, timeout=5)
