"""The session model without Streamlit: runs, milestones, validation, export and failure paths."""

from __future__ import annotations

import csv
import io
import math
import os
import re
import time

import numpy as np
import pytest

from dashboard import session as lab_module
from dashboard.session import MILESTONES, VALIDATION_EVERY_CHARS, Lab, initial_config, per_iteration
from rnnlab import Config, Trainer
from rnnlab.corpora import Corpus, builtin_corpus, uploaded_corpus

SONGBOOK = builtin_corpus("Songbook (bundled lyrics)")
SMALL = Config(
    hidden_size=16, seq_length=8, learning_rate=0.1, batch_size=1, seed=0, val_fraction=0.1
)
CSV_COLUMNS = [
    "iteration",
    "chars_seen",
    "seq_length",
    "learning_rate",
    "loss",
    "smooth_loss",
    "bits_per_char",
    "val_nats_per_char",
]


def make_lab(**changes) -> Lab:
    return Lab.create(SONGBOOK, SMALL.replace(**changes))


def snapshot(lab: Lab) -> dict:
    return {
        "trainer": lab.trainer,
        "iteration": lab.trainer.iteration,
        "params": {name: value.copy() for name, value in lab.trainer.params.items()},
        "runs": list(lab.runs),
        "run_number": lab.run_number,
        "timeline": list(lab.timeline),
        "corpus": lab.corpus,
        "sample_settings": lab.sample_settings,
        "latest_sample": lab.latest_sample,
    }


def assert_unchanged(lab: Lab, before: dict) -> None:
    assert lab.trainer is before["trainer"]
    assert lab.trainer.iteration == before["iteration"]
    for name, value in before["params"].items():
        np.testing.assert_array_equal(lab.trainer.params[name], value)
    assert lab.runs == before["runs"]
    assert lab.run_number == before["run_number"]
    assert lab.timeline == before["timeline"]
    assert lab.corpus is before["corpus"]
    assert lab.sample_settings == before["sample_settings"]
    assert lab.latest_sample == before["latest_sample"]


def other_texts_checkpoint(config: Config) -> bytes:
    other = Trainer("xyz zyx yxz " * 100, config)
    other.step(3)
    buffer = io.BytesIO()
    other.save(buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------------ timeline, validation
def test_milestones_keep_a_sample_in_the_timeline_at_iterations_1_10_25_and_on():
    lab = make_lab(val_fraction=0.0)
    assert [e.iteration for e in lab.timeline] == [0]
    lab.train(iterations=60)
    assert [e.iteration for e in lab.timeline] == [0, 1, 10, 25, 50]
    lab.train(iterations=240)
    assert [e.iteration for e in lab.timeline] == [0, *[m for m in MILESTONES if m <= 300]]
    assert all(entry.text for entry in lab.timeline[1:])


def test_validation_loss_is_recorded_every_100_000_characters_trained():
    lab = make_lab(val_fraction=0.1, seq_length=50, batch_size=8)  # 400 characters an iteration
    assert VALIDATION_EVERY_CHARS == 100_000
    lab.train(iterations=600)
    assert [i for i, _ in lab.trainer.validation_history] == [250, 500]
    # Counted in characters: 240,000 so far; at 200 an iteration, the 60,000 to the next 300,000
    # take 300 iterations.
    lab.set_seq_length(25)
    lab.train(iterations=500)
    history = lab.trainer.validation_history
    assert [i for i, _ in history] == [250, 500, 900]
    assert lab.trainer.chars_seen == 600 * 400 + 500 * 200
    assert all(math.isfinite(v) and v > 0 for _, v in history)
    assert lab.stats()["val_bits_per_char"] == pytest.approx(history[-1][1] / math.log(2))


def test_no_validation_is_recorded_without_held_out_text():
    lab = make_lab(val_fraction=0.0)
    lab.train(iterations=200)
    assert lab.trainer.validation_history == []
    assert lab.stats()["val_nats_per_char"] is None


# --------------------------------------------------------------------------------- new runs
def test_pending_changes_list_exactly_the_structural_differences_and_the_text():
    lab = make_lab()
    poems = builtin_corpus("Poems (bundled)")
    wanted = SMALL.replace(hidden_size=24, batch_size=2, seed=99, val_fraction=0.2)
    assert lab.pending_changes(wanted, poems) == [
        "hidden size: 16 → 24",
        "batch size: 1 → 2",
        "val fraction: 0.1 → 0.2",
        "seed: 0 → 99",
        f"text: {SONGBOOK.name} → {poems.name}",
    ]


def test_live_settings_a_random_seed_and_the_same_text_are_not_pending_changes():
    lab = make_lab()
    live_only = SMALL.replace(seq_length=30, learning_rate=0.5, seed=None)
    assert lab.pending_changes(live_only, None) == []
    assert lab.pending_changes(SMALL, builtin_corpus("Songbook (bundled lyrics)")) == []


def test_new_run_archives_the_current_run_and_starts_from_iteration_zero():
    lab = make_lab()
    lab.train(iterations=12)
    lab.set_learning_rate(0.05)
    lab.train(iterations=3)
    lab.new_run(SMALL.replace(hidden_size=20))
    assert lab.trainer.iteration == 0 and lab.trainer.config.hidden_size == 20
    assert lab.run_number == 2
    (run,) = lab.runs
    assert run.number == 1 and len(run.losses) == 15
    assert run.config == SMALL  # the config the run started with, before the change of rate
    assert [e.iteration for e in lab.timeline] == [0]


def test_new_run_after_no_training_keeps_no_empty_run():
    lab = make_lab()
    lab.new_run(SMALL.replace(seed=5))
    assert lab.runs == [] and lab.trainer.config.seed == 5


def test_new_run_with_a_config_that_does_not_fit_the_text_raises_and_leaves_the_lab_untouched():
    lab = make_lab()
    lab.train(iterations=5)
    before = snapshot(lab)
    with pytest.raises(ValueError, match="needs at least"):
        lab.new_run(SMALL.replace(seq_length=500, batch_size=256))
    with pytest.raises(ValueError, match="needs at least"):
        lab.new_run(SMALL, Corpus("tiny.txt", "hello", "upload"))
    assert_unchanged(lab, before)


def test_new_run_on_a_text_without_the_primes_characters_clears_the_prime():
    lab = make_lab()
    lab.set_sample_settings(length=40, temperature=0.7, prime="Verse")
    lab.new_run(SMALL, Corpus("abc.txt", "abc cab bca " * 100, "upload"))
    assert lab.corpus.name == "abc.txt"
    assert (lab.sample_settings.length, lab.sample_settings.temperature) == (40, 0.7)
    assert lab.sample_settings.prime == ""
    assert len(lab.latest_sample) == 40 and set(lab.latest_sample) <= set("abc ")
    report = lab.train(iterations=2)
    assert report.error is None and lab.trainer.iteration == 2


def test_new_run_keeps_a_prime_the_new_text_can_read():
    lab = make_lab()
    lab.set_sample_settings(length=40, temperature=0.7, prime="the")
    lab.new_run(SMALL.replace(hidden_size=12))
    assert lab.sample_settings.prime == "the"


# ------------------------------------------------------------------------------- sampling
def test_sample_settings_with_an_unknown_prime_character_raise_and_keep_the_old_settings():
    lab = make_lab()
    before = (lab.sample_settings, lab.latest_sample)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        lab.set_sample_settings(length=50, temperature=1.0, prime="snow☃")
    for length, temperature in ((0, 1.0), (5001, 1.0), (50, -0.1), (50, math.nan)):
        with pytest.raises(ValueError):
            lab.set_sample_settings(length=length, temperature=temperature, prime="")
    assert (lab.sample_settings, lab.latest_sample) == before


def test_sample_settings_redraw_the_latest_sample():
    lab = make_lab()
    lab.train(iterations=5)
    lab.set_sample_settings(length=60, temperature=0.0, prime="The ")
    assert lab.latest_sample == lab.trainer.sample(60, prime="The ", temperature=0.0)


# --------------------------------------------------------------------------------- export
def test_history_csv_has_one_row_per_iteration_with_the_documented_columns(monkeypatch):
    # A validation every 500 characters: 480 in the first 60 iterations, then 12 an iteration.
    monkeypatch.setattr(lab_module, "VALIDATION_EVERY_CHARS", 500)
    lab = make_lab(val_fraction=0.1)
    lab.train(iterations=60)
    lab.set_seq_length(12)
    lab.set_learning_rate(0.05)
    lab.train(iterations=40)
    t = lab.trainer
    rows = list(csv.DictReader(io.StringIO(lab.history_csv())))
    assert list(rows[0]) == CSV_COLUMNS
    assert [int(r["iteration"]) for r in rows] == list(range(1, 101))
    seq = np.array([int(r["seq_length"]) for r in rows])
    assert (seq[:60] == 8).all() and (seq[60:] == 12).all()
    lr = np.array([float(r["learning_rate"]) for r in rows])
    assert (lr[:60] == 0.1).all() and (lr[60:] == 0.05).all()
    chars = np.array([int(r["chars_seen"]) for r in rows])
    np.testing.assert_array_equal(chars, np.cumsum(seq))
    assert chars[-1] == t.chars_seen
    loss = np.array([float(r["loss"]) for r in rows])
    np.testing.assert_allclose(loss, t.losses, atol=1e-6)
    np.testing.assert_allclose([float(r["smooth_loss"]) for r in rows], t.smooth_losses, atol=1e-6)
    bits = [float(r["bits_per_char"]) for r in rows]
    np.testing.assert_allclose(bits, loss / seq / math.log(2), atol=1e-5)
    validation = {
        int(r["iteration"]): float(r["val_nats_per_char"]) for r in rows if r["val_nats_per_char"]
    }
    assert validation == pytest.approx(dict(t.validation_history), abs=1e-6)
    assert list(validation) == [62]


def test_initial_config_and_per_iteration_follow_the_change_events():
    config = SMALL.replace(learning_rate=0.05, seq_length=30)
    events = [
        {"iteration": 3, "name": "learning_rate", "old": 0.1, "new": 0.2},
        {"iteration": 4, "name": "seq_length", "old": 8, "new": 30},
        {"iteration": 5, "name": "learning_rate", "old": 0.2, "new": 0.05},
    ]
    assert initial_config(config, events) == SMALL
    np.testing.assert_array_equal(
        per_iteration(config, events, "learning_rate", 7), [0.1, 0.1, 0.1, 0.2, 0.2, 0.05, 0.05]
    )
    np.testing.assert_array_equal(
        per_iteration(config, events, "seq_length", 6), [8, 8, 8, 8, 30, 30]
    )
    assert initial_config(config, []) == config


# ------------------------------------------------------------------------------- training
class FakeClock:
    """perf_counter that moves 10 ms per reading: time passes without waiting for it."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 0.01
        return self.now

    def monotonic(self) -> float:
        return self.now


def test_train_for_seconds_stops_once_the_time_is_used(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(lab_module, "time", clock)
    lab = make_lab()
    report = lab.train(seconds=0.1)
    assert report.error is None
    assert report.iterations >= 1 and lab.trainer.iteration == report.iterations
    assert report.seconds == pytest.approx(clock.now - 0.01)
    assert report.seconds < 0.2  # it stopped at the first look after 0.1 s, not later
    assert lab.recent_chars_per_second > 0
    assert lab.train(seconds=0.0).iterations == 0


def test_train_for_iterations_reports_progress_and_trains_exactly_that_many():
    lab = make_lab()
    progress = []
    report = lab.train(iterations=30, on_progress=lambda *done_total: progress.append(done_total))
    assert report.iterations == 30 and lab.trainer.iteration == 30
    assert progress[-1] == (30, 30)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)


def test_divergence_inside_train_is_reported_stops_play_and_drops_samples_from_undone_iterations():
    lab = make_lab(hidden_size=32, seq_length=10, seed=3, val_fraction=0.0)
    lab.train(iterations=49)
    lab.set_learning_rate(10.0)  # a rollback snapshot is taken here, at iteration 49
    lab.playing = True
    report = lab.train(iterations=200)
    assert report.error is not None and "diverged" in report.error and "rolled back" in report.error
    assert lab.divergence_message == report.error, "kept for the page to tell"
    assert not lab.playing
    rollback = int(re.search(r"rolled back to iteration (\d+)", report.error).group(1))
    t = lab.trainer
    assert t.iteration == rollback == 49
    assert report.iterations == 0
    assert len(t.losses) == len(t.smooth_losses) == 49
    # The milestone sample at 50 came from an iteration the rollback undid.
    assert [e.iteration for e in lab.timeline] == [0, 1, 10, 25]
    lab.set_learning_rate(0.1)
    assert lab.train(iterations=1).error is None
    assert [e.iteration for e in lab.timeline] == [0, 1, 10, 25, 50]


# ---------------------------------------------------------------------------- checkpoints
def test_load_checkpoint_restores_the_saved_state_and_keeps_the_run_it_replaces():
    lab = make_lab()
    lab.train(iterations=20)
    data = lab.checkpoint_bytes()
    saved = {name: value.copy() for name, value in lab.trainer.params.items()}
    lab.train(iterations=7)
    lab.load_checkpoint(data)
    assert lab.trainer.iteration == 20
    for name, value in saved.items():
        np.testing.assert_array_equal(lab.trainer.params[name], value)
    assert [len(run.losses) for run in lab.runs] == [27]
    assert lab.run_number == 2
    assert [e.iteration for e in lab.timeline] == [20]


def test_load_checkpoint_of_another_texts_model_raises_and_leaves_the_lab_unchanged():
    lab = make_lab()
    lab.train(iterations=5)
    before = snapshot(lab)
    with pytest.raises(ValueError, match="different vocabulary"):
        lab.load_checkpoint(other_texts_checkpoint(SMALL))
    with pytest.raises(ValueError):
        lab.load_checkpoint(b"PK\x03\x04 not really a zip")
    assert_unchanged(lab, before)


# ------------------------------------------------------------------------------- uploads
def test_uploaded_corpus_refuses_files_over_the_size_limit():
    with pytest.raises(ValueError, match="the limit is"):
        uploaded_corpus("big.txt", b"a" * 101, max_bytes=100)
    assert uploaded_corpus("ok.txt", b"ab" * 50, max_bytes=100).text == "ab" * 50
    with pytest.raises(ValueError, match="is 51.0 MB; the limit is 50 MB"):
        uploaded_corpus("huge.txt", b"a" * 51_000_000, max_bytes=50_000_000)


# ----------------------------------------------------------------------------------- playing
def _wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _synced(lab: Lab) -> Lab:
    """The lab brought up to date with its player, as the page does on every refresh."""
    lab.sync()
    return lab


def _trained_headless(config: Config, events: list[dict], iterations: int) -> Trainer:
    """A trainer given the same steps and setting changes as a played run, in this process."""
    trainer = Trainer(SONGBOOK.text, initial_config(config, events))
    for event in events:
        trainer.step(event["iteration"] - trainer.iteration)
        {"learning_rate": trainer.set_learning_rate, "seq_length": trainer.set_seq_length}[
            event["name"]
        ](event["new"])
    trainer.step(iterations - trainer.iteration)
    return trainer


def test_play_trains_in_another_process_and_pause_brings_back_its_exact_state():
    lab = make_lab(seed=1)
    trainer = lab.trainer
    lab.play()
    try:
        _wait_until(lambda: _synced(lab).trainer.iteration >= 30)
        with lab.lock:  # while the page holds the lock, the lab's mirror stands still
            held_at = lab.trainer.iteration
            time.sleep(0.3)
            assert lab.trainer.iteration == held_at
            lab.set_learning_rate(0.02)  # a setting changed while playing applies at once
        _wait_until(lambda: _synced(lab).trainer.iteration >= held_at + 30)
    finally:
        lab.pause()
    assert not lab.playing and lab._player is None
    assert lab.trainer is trainer, "the lab's trainer object stays; the state comes back into it"
    t = lab.trainer
    assert t.iteration >= held_at + 30
    assert len(t.losses) == len(t.smooth_losses) == t.iteration
    assert [(e["name"], e["new"]) for e in t.events] == [("learning_rate", 0.02)]
    assert held_at <= t.events[0]["iteration"] < t.iteration, "applied where the player was"
    # Playing trains exactly as stepping does: the same steps in this process give the same model.
    same = _trained_headless(t.config, t.events, t.iteration)
    for name, value in same.params.items():
        np.testing.assert_allclose(t.params[name], value, rtol=0, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(t.losses, same.losses, rtol=1e-12)
    np.testing.assert_allclose(t.adagrad_memory["Whh"], same.adagrad_memory["Whh"], rtol=1e-12)
    assert t.pointer == same.pointer and t.chars_seen == same.chars_seen
    np.testing.assert_allclose(t.hidden, same.hidden, rtol=0, atol=1e-12)
    assert lab.latest_sample, "the player keeps a fresh sample"
    # The player process has ended; training goes on here from where it stopped.
    assert lab.train(iterations=5).iterations == 5
    assert len(t.losses) == t.iteration


def test_while_playing_sync_brings_over_what_the_views_draw():
    lab = make_lab(seed=2, seq_length=50, batch_size=8)  # a validation every 250 iterations
    start = lab.trainer.params["Whh"].copy()
    lab.play()
    try:
        _wait_until(lambda: _synced(lab).trainer.iteration >= 260)
        t = lab.trainer
        assert len(t.losses) == len(t.smooth_losses) == t.iteration
        assert t.smooth_losses[-1] == t.smooth_loss
        assert not np.array_equal(t.params["Whh"], start), "the mirror's parameters move"
        assert len(t.health) == len(range(0, t.iteration, t.health_every))
        assert [i for i, _ in t.validation_history] == list(range(250, t.iteration + 1, 250))
        assert [e.iteration for e in lab.timeline] == [0] + [
            m for m in MILESTONES if m <= t.iteration
        ]
        assert lab.stats()["chars_per_second"] > 0
        snap = lab.snapshot()
        assert snap.curve.iteration == t.iteration and len(snap.curve.losses) == t.iteration
    finally:
        lab.pause()


def test_play_again_after_pause_continues_the_same_run_with_one_player():
    lab = make_lab(seed=1)
    lab.play()
    _wait_until(lambda: _synced(lab).trainer.iteration >= 10)
    lab.play()  # already playing: nothing changes
    first = lab._player
    lab.pause()
    paused_at = lab.trainer.iteration
    lab.play()
    assert lab._player is not first and not first.alive, "one player process at a time"
    trainer = lab.trainer
    _wait_until(lambda: _synced(lab).trainer.iteration >= paused_at + 30)
    lab.pause()
    assert lab.trainer is trainer and lab.run_number == 1
    assert len(lab.trainer.losses) == lab.trainer.iteration


def test_sample_settings_and_sequence_length_changed_while_playing_reach_the_player():
    lab = make_lab(seed=4)
    lab.play()
    try:
        _wait_until(lambda: _synced(lab).trainer.iteration >= 5)
        lab.set_seq_length(12)
        lab.set_sample_settings(40, 0.5, "the ")
        with pytest.raises(ValueError):
            lab.set_seq_length(10**6)  # checked on the mirror; the player never sees it
        at = _synced(lab).trainer.iteration
        _wait_until(lambda: _synced(lab).trainer.iteration >= at + 20)
    finally:
        lab.pause()
    t = lab.trainer
    assert t.config.seq_length == 12
    assert [(e["name"], e["new"]) for e in t.events] == [("seq_length", 12)]
    assert len(lab.latest_sample) == 40
    # Characters seen count 8 per iteration before the change and 12 after.
    changed_at = t.events[0]["iteration"]
    assert t.chars_seen == 8 * changed_at + 12 * (t.iteration - changed_at)


def test_a_divergence_while_playing_stops_the_player_and_leaves_the_reason():
    lab = make_lab(seed=3)
    lab.train(iterations=30)
    lab.set_learning_rate(10.0)
    lab.play()
    _wait_until(lambda: not _synced(lab).playing)
    assert lab._player is None
    assert lab.divergence_message is not None and "rolled back" in lab.divergence_message
    assert lab.trainer.iteration == len(lab.trainer.losses)
    assert np.isfinite(lab.trainer.smooth_loss)


def test_a_player_nobody_watches_stops_by_itself_and_keeps_the_model(monkeypatch):
    monkeypatch.setattr(lab_module, "PLAY_IDLE_TIMEOUT", 0.3)
    lab = make_lab(seed=1)
    lab.play()
    time.sleep(1.5)  # nobody asks: the player stops training after 0.3 s and waits
    lab.sync()  # the page comes back
    assert not lab.playing and lab._player is None
    assert lab.divergence_message is None
    stopped_at = lab.trainer.iteration
    assert stopped_at > 0 and len(lab.trainer.losses) == stopped_at
    lab.play()
    _wait_until(lambda: _synced(lab).trainer.iteration > stopped_at)
    lab.pause()


def test_a_player_that_dies_leaves_the_lab_as_of_its_last_sync_and_says_so():
    lab = make_lab(seed=5)
    lab.play()
    _wait_until(lambda: _synced(lab).trainer.iteration >= 20)
    lab._player._process.kill()
    lab._player._process.wait()
    synced_at = lab.trainer.iteration
    lab.sync()
    assert not lab.playing and lab._player is None
    assert "training process" in lab.divergence_message
    assert f"iteration {synced_at:,}" in lab.divergence_message
    t = lab.trainer
    assert t.iteration == synced_at == len(t.losses)
    assert lab.train(iterations=10).iterations == 10, "training goes on from the last sync"


def test_the_player_trains_in_a_session_of_its_own_and_ends_when_the_lab_is_gone():
    lab = make_lab(seed=7)
    lab.play()
    process = lab._player._process
    try:
        _wait_until(lambda: _synced(lab).trainer.iteration >= 5)
        # Its own session, so its own scheduling group: training gets a fair share of the CPU
        # against a browser's many threads.
        assert os.getsid(process.pid) == process.pid != os.getsid(0)
        lab._player._connection.close()  # as when the web server exits (or Ctrl-C stops it)
        process.wait(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0


def test_reset_while_playing_keeps_the_run_as_the_player_left_it():
    lab = make_lab(seed=6)
    lab.play()
    _wait_until(lambda: _synced(lab).trainer.iteration >= 20)
    lab.new_run(SMALL.replace(seed=7))
    assert not lab.playing and lab._player is None
    archived = lab.runs[-1]
    assert len(archived.losses) >= 20
    assert lab.trainer.iteration == 0 and lab.run_number == 2
