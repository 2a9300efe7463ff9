"""The memory budget: estimated from the settings before anything is allocated, and refused with
the biggest factor and a setting that fits."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from dashboard import limits, local_runner, play_runner
from dashboard.process_slots import SLOTS
from dashboard.session import Lab
from rnnlab import Config, Trainer, budget
from rnnlab.corpora import builtin_corpus
from rnnlab.schedule import Schedule

SONGBOOK = builtin_corpus("Songbook (bundled lyrics)")
GB = 2**30


@pytest.mark.parametrize(
    "settings",
    [
        {"hidden_size": 256, "batch_size": 64, "seq_length": 100},
        {"hidden_size": 512},
        {"hidden_size": 100, "batch_size": 256, "seq_length": 200},
        {"cell": "lstm", "layers": 2, "optimizer": "adam", "hidden_size": 256},
        {"cell": "gru", "dtype": "float32", "optimizer": "rmsprop", "hidden_size": 384},
        {"cell": "rnn", "layers": 3, "optimizer": "adam", "hidden_size": 256},
        {"cell": "lstm", "dtype": "float32", "hidden_size": 128, "batch_size": 128},
        {"cell": "gru", "layers": 2, "dropout": 0.3, "hidden_size": 128, "batch_size": 128},
    ],
)
def test_the_estimate_covers_what_training_allocates(settings):
    """For the classic and for every cell, layer count, optimizer and precision."""
    config = Config(**{"batch_size": 32, "seq_length": 50, "seed": 0, "val_fraction": 0.1,
                       **settings})  # fmt: skip
    tracemalloc.start()
    try:
        trainer = Trainer(SONGBOOK.text * 6, config)
        Schedule(trainer, keep_timeline=False).train(iterations=30)
        trainer.state()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    estimate = budget.training_bytes(config, trainer.vocab.size).total
    assert 0.8 * peak <= estimate <= 2.0 * peak, (peak, estimate)


def test_the_largest_settings_are_refused_naming_the_chunk_and_a_batch_that_fits():
    config = Config(hidden_size=1024, batch_size=256, seq_length=500)
    with pytest.raises(ValueError) as refused:
        budget.check(config, 63, 768 * 2**20)
    message = str(refused.value)
    assert "GB" in message and "chunk buffers" in message
    assert "A batch size of" in message and "would fit" in message
    fitting = int(message.split("A batch size of ")[1].split()[0])
    budget.check(config.replace(batch_size=fitting), 63, 768 * 2**20)


def test_a_huge_vocabulary_is_refused_naming_the_hidden_size():
    config = Config(hidden_size=1024, batch_size=1, seq_length=25)
    with pytest.raises(ValueError, match="parameter copies .hidden size 1024.*A hidden size of"):
        budget.check(config, 20_000, 768 * 2**20)


def test_playing_counts_both_processes():
    config = Config(hidden_size=512, batch_size=64, seq_length=100)
    cost = budget.training_bytes(config, 63).total
    budget.check(config, 63, int(cost * 1.5))
    with pytest.raises(ValueError, match="twice"):
        budget.check(config, 63, int(cost * 1.5), processes=2)


def test_the_session_refuses_over_budget_settings_before_allocating(monkeypatch):
    monkeypatch.setattr(limits, "SESSION_MEMORY_BYTES", 20 * 2**20)
    lab = Lab(SONGBOOK, Config(hidden_size=64, batch_size=16, seed=0), stop_at_best=False)
    trainer, config = lab.trainer, lab.trainer.config
    with pytest.raises(ValueError, match="more than the 20 MB"):
        lab.new_run(config.replace(batch_size=256, hidden_size=512))
    with pytest.raises(ValueError, match="more than the 20 MB"):
        lab.set_seq_length(500)
    assert lab.trainer is trainer and lab.trainer.config == config and lab.trainer.events == ()
    monkeypatch.setattr(
        limits, "SESSION_MEMORY_BYTES", int(1.2 * budget.training_bytes(config, 63).total)
    )
    with pytest.raises(ValueError, match="twice"):
        lab.play()
    assert not lab.playing


def test_play_is_capped_across_sessions_and_the_others_keep_stepping(monkeypatch):
    monkeypatch.setattr(SLOTS, "limit", 1)
    small = Config(hidden_size=16, seq_length=8, batch_size=1, seed=0)
    first = Lab(SONGBOOK, small, stop_at_best=False)
    second = Lab(SONGBOOK, small, stop_at_best=False)
    first.play()
    try:
        with pytest.raises(ValueError, match="1 other session is playing.*Step and Train still"):
            second.play()
        assert not second.playing
        assert second.train(iterations=3).iterations == 3
        first.play()  # already playing: no change, no refusal
    finally:
        first.pause()
    second.play()  # a place is free again
    second.pause()


def test_train_n_is_bounded_in_time_and_says_how_far_it_got(monkeypatch):
    monkeypatch.setattr(local_runner, "TRAIN_MAX_SECONDS", 0.3)
    lab = Lab(SONGBOOK, Config(hidden_size=16, seq_length=8, seed=0), stop_at_best=False)
    report = lab.train(iterations=10**7)
    assert 0 < report.iterations < 10**7 and report.seconds < 5
    [(kind, message)] = lab.take_messages()
    assert kind == "success"
    assert message.startswith(f"Trained {report.iterations:,} of 10,000,000 iterations")


def test_play_has_a_hard_time_limit_whoever_looks(monkeypatch):
    monkeypatch.setattr(play_runner, "PLAY_MAX_SECONDS", 1.5)
    lab = Lab(SONGBOOK, Config(hidden_size=16, seq_length=8, seed=0), stop_at_best=False)
    lab.play()
    deadline = time.monotonic() + 30
    while lab.snapshot().playing:  # looking all the while, as an open tab does
        assert time.monotonic() < deadline, "Play went on past its limit"
        time.sleep(0.1)
    [(kind, message)] = lab.take_messages()
    assert kind == "error" and "Play stops after" in message
    assert lab.trainer.iteration > 0


def test_a_float32_run_keeps_its_copies_in_float32_and_the_estimate_covers_a_long_run():
    """With all rollback snapshots taken (6 × 25 iterations), where parameter copies dominate."""
    config = Config(cell="lstm", optimizer="adam", dtype="float32", hidden_size=256,
                    batch_size=2, seq_length=10, seed=0, val_fraction=0.1)  # fmt: skip
    tracemalloc.start()
    try:
        trainer = Trainer(SONGBOOK.text, config)
        Schedule(trainer, keep_timeline=False).train(iterations=170)
        trainer.record_validation(500)  # a best model kept
        state = trainer.state()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert state.params.dtype == state.optimizer_memory.dtype == np.float32
    assert trainer.best is not None and trainer.best.params.dtype == np.float32
    estimate = budget.training_bytes(config, trainer.vocab.size)
    assert estimate.parameters > estimate.chunk
    assert 0.8 * peak <= estimate.total <= 2.0 * peak, (peak, estimate.total)
