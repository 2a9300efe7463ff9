"""The session (dashboard/session.py) without Streamlit: runs, milestones, validation, export,
Play and failure paths."""

from __future__ import annotations

import csv
import functools
import gc
import io
import math
import os
import re
import signal
import statistics
import threading
import time
import warnings

import numpy as np
import pytest
from waiting import wait_until

from dashboard import latest_sample, local_runner, model_reads, play_runner
from dashboard import session as lab_module
from dashboard.exports import history_csv
from dashboard.session import Lab, LiveSnapshot
from rnnlab import Config, Trainer
from rnnlab import schedule as schedule_module
from rnnlab import state as state_module
from rnnlab.corpora import Corpus, builtin_corpus, uploaded_corpus
from rnnlab.presets import DASHBOARD_DEFAULTS
from rnnlab.schedule import MILESTONES, VALIDATION_EVERY_CHARS, Schedule
from rnnlab.state import SettingChange, TrainerState, initial_config, per_iteration

SONGBOOK = builtin_corpus("Songbook (bundled lyrics)")
SMALL = Config(
    hidden_size=16, seq_length=8, learning_rate=0.1, batch_size=1, seed=0, val_fraction=0.1
)
CSV_COLUMNS = [
    "iteration",
    "iterations",
    "chars_seen",
    "seq_length",
    "learning_rate",
    "loss",
    "smooth_loss",
    "bits_per_char",
    "val_nats_per_char",
]


def make_lab(**changes) -> Lab:
    # Without stopping at the best: Play's exactness tests compare with a headless run that
    # trains on however long the machine lets the player run.
    return Lab(SONGBOOK, SMALL.replace(**changes), stop_at_best=False)


def remember(lab: Lab) -> dict:
    return {
        "trainer": lab.trainer,
        "iteration": lab.trainer.iteration,
        "params": {name: value.copy() for name, value in lab.trainer.params.items()},
        "runs": lab.runs,
        "run_number": lab.run_number,
        "timeline": lab.timeline,
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
    assert lab.snapshot().stats["val_bits_per_char"] == pytest.approx(history[-1][1] / math.log(2))


def test_no_validation_is_recorded_without_held_out_text():
    lab = make_lab(val_fraction=0.0)
    lab.train(iterations=200)
    assert lab.trainer.validation_history == []
    assert lab.snapshot().stats["val_nats_per_char"] is None


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
    assert run.number == 1 and run.trained == len(run.smooth_losses) == 15
    assert run.config == SMALL  # the config the run started with, before the change of rate
    assert [e.iteration for e in lab.timeline] == [0]


def test_new_run_after_no_training_keeps_no_empty_run():
    lab = make_lab()
    lab.new_run(SMALL.replace(seed=5))
    assert lab.runs == () and lab.trainer.config.seed == 5


def test_new_run_with_a_config_that_does_not_fit_the_text_raises_and_leaves_the_lab_untouched():
    lab = make_lab()
    lab.train(iterations=5)
    before = remember(lab)
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
    assert report.divergence is None and lab.trainer.iteration == 2


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
    monkeypatch.setattr(
        lab_module, "Schedule", functools.partial(Schedule, validation_every_chars=500)
    )
    lab = make_lab(val_fraction=0.1)
    lab.train(iterations=60)
    lab.set_seq_length(12)
    lab.set_learning_rate(0.05)
    lab.train(iterations=40)
    t = lab.trainer
    rows = list(csv.DictReader(io.StringIO(model_reads.history_csv(lab))))
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
    assert model_reads.history_csv(lab) == history_csv(lab.snapshot().state), "one writer for both"


def test_initial_config_and_per_iteration_follow_the_change_events():
    config = SMALL.replace(learning_rate=0.05, seq_length=30)
    events = (
        SettingChange(3, "learning_rate", 0.1, 0.2),
        SettingChange(4, "seq_length", 8, 30),
        SettingChange(5, "learning_rate", 0.2, 0.05),
    )
    assert initial_config(config, events) == SMALL
    np.testing.assert_array_equal(
        per_iteration(config, events, "learning_rate", 7), [0.1, 0.1, 0.1, 0.2, 0.2, 0.05, 0.05]
    )
    np.testing.assert_array_equal(
        per_iteration(config, events, "seq_length", 6), [8, 8, 8, 8, 30, 30]
    )
    assert initial_config(config, ()) == config


# ------------------------------------------------------------------------------- training
class FakeClock:
    """perf_counter that moves 10 ms per reading: time passes without waiting for it."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 0.01
        return self.now


def test_train_for_seconds_stops_once_the_time_is_used(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(schedule_module, "time", clock)
    lab = make_lab()
    report = lab.train(seconds=0.1)
    assert report.divergence is None
    assert report.iterations >= 1 and lab.trainer.iteration == report.iterations
    assert report.seconds == pytest.approx(clock.now - 0.01)
    assert report.seconds < 0.2  # it stopped at the first look after 0.1 s, not later
    assert lab.snapshot().stats["chars_per_second"] > 0
    assert lab.train(seconds=0.0).iterations == 0


def test_train_for_iterations_reports_progress_and_trains_exactly_that_many():
    lab = make_lab()
    progress = []
    report = lab.train(iterations=30, on_progress=lambda *done_total: progress.append(done_total))
    assert report.iterations == 30 and lab.trainer.iteration == 30
    assert progress[-1] == (30, 30)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)


def test_divergence_inside_train_is_reported_told_to_the_page_and_drops_undone_samples():
    lab = make_lab(hidden_size=32, seq_length=10, seed=3, val_fraction=0.0)
    lab.train(iterations=49)
    lab.set_learning_rate(10.0)  # a rollback snapshot is taken here, at iteration 49
    report = lab.train(iterations=200)
    error = report.divergence
    assert error is not None and "diverged" in error and "rolled back" in error
    assert lab.take_messages() == [("error", f"Training paused. {error}")], "for the page to tell"
    assert lab.take_messages() == [], "each message is told once"
    rollback = int(re.search(r"rolled back to iteration (\d+)", error).group(1))
    t = lab.trainer
    assert t.iteration == rollback == 49
    assert report.iterations == 0
    assert len(t.losses) == len(t.smooth_losses) == 49
    # The milestone sample at 50 came from an iteration the rollback undid.
    assert [e.iteration for e in lab.timeline] == [0, 1, 10, 25]
    lab.set_learning_rate(0.1)
    assert lab.train(iterations=1).divergence is None
    assert [e.iteration for e in lab.timeline] == [0, 1, 10, 25, 50]
    assert lab.take_messages() == []


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
    assert [run.trained for run in lab.runs] == [27]
    assert lab.run_number == 2
    assert [e.iteration for e in lab.timeline] == [20]


def test_load_checkpoint_of_another_texts_model_raises_and_leaves_the_lab_unchanged():
    lab = make_lab()
    lab.train(iterations=5)
    before = remember(lab)
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
    # MB of 10^6 bytes, as the browser's uploader counts the limit: 49,900,000 bytes fit.
    limit = 50 * 10**6
    with pytest.raises(ValueError, match="is 50.1 MB; the limit is 50 MB"):
        uploaded_corpus("huge.txt", b"a" * (limit + 100_000), max_bytes=limit)
    assert len(uploaded_corpus("big.txt", b"a" * 49_900_000, max_bytes=limit).text) == 49_900_000


@pytest.mark.parametrize(("text", "held"), [(b"a", "1 character;"), (b"ab", "2 characters;")])
def test_a_text_too_short_to_train_says_how_short_and_what_is_needed(text, held):
    with pytest.raises(ValueError, match=f"holds only {held} a model needs at least 3"):
        uploaded_corpus("tiny.txt", text)
    corpus = uploaded_corpus("three.txt", b"abc")
    Trainer(corpus.text, Config(hidden_size=4, seq_length=2, seed=0)).step(3)  # 3 is enough


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-be", "utf-16", "utf-16-be"])
def test_utf_16_and_utf_32_with_a_byte_order_mark_are_read_as_text(encoding):
    data = ("" if encoding in ("utf-32", "utf-16") else "\ufeff") + "Grüße, river\n" * 3
    corpus = uploaded_corpus("wide.txt", data.encode(encoding))
    assert corpus.text == "Grüße, river\n" * 3


# ----------------------------------------------------------------------------------- playing
# Waiting is polling with a deadline for the state that proves what a test waits for; the
# deadlines are generous, for a slow machine that shares its cores with other work.
DEADLINE = 60.0


def _wait_for(lab: Lab, condition, timeout: float = DEADLINE) -> LiveSnapshot:
    """Look at the lab, as the page does on every refresh, until `condition(snapshot)` holds."""

    def holds() -> LiveSnapshot | None:
        snap = lab.snapshot()
        return snap if condition(snap) else None

    return wait_until(holds, "the lab's snapshot to show it", timeout)


def _trained_headless(
    config: Config, events: tuple[SettingChange, ...], iterations: int
) -> Trainer:
    """A trainer given the same steps and setting changes as a played run, in this process, on
    the engine's schedule (so with the same validations) but without drawing samples."""
    trainer = Trainer(SONGBOOK.text, initial_config(config, events))
    schedule = Schedule(trainer, keep_timeline=False)
    for event in events:
        schedule.train(iterations=event.iteration - trainer.iteration)
        getattr(trainer, f"set_{event.name}")(event.new)
    schedule.train(iterations=iterations - trainer.iteration)
    return trainer


def _assert_same_training(played: TrainerState, headless: TrainerState) -> None:
    """Everything that training made is the same (not the sampler's random stream: the player
    draws the latest samples from it, a headless run does not)."""
    assert played.config == headless.config and played.events == headless.events
    assert (played.iteration, played.pointer, played.chars_seen) == (
        headless.iteration,
        headless.pointer,
        headless.chars_seen,
    )
    assert played.smooth_loss == pytest.approx(headless.smooth_loss, rel=1e-12)
    for name in (
        "params",
        "optimizer_memory",
        "hidden",
        "losses",
        "smooth_losses",
        "validation",
        "health",
    ):
        played_value, headless_value = getattr(played, name), getattr(headless, name)
        assert played_value.shape == headless_value.shape, name
        np.testing.assert_allclose(
            played_value, headless_value, rtol=1e-12, atol=1e-12, err_msg=name
        )


def _process_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_play_trains_in_another_process_and_pause_brings_back_its_exact_state():
    lab = make_lab(seed=1)
    trainer = lab.trainer
    lab.play()
    try:
        changed_at = _wait_for(lab, lambda s: s.state.iteration >= 30).state.iteration
        lab.set_learning_rate(0.02)  # a setting changed while playing applies at once
        # The player may be ahead of what the lab saw: wait for 30 iterations after the change.
        _wait_for(
            lab, lambda s: s.state.events and s.state.iteration >= s.state.events[0].iteration + 30
        )
    finally:
        lab.pause()
    assert not lab.playing and lab.player_pid is None
    assert lab.trainer is trainer, "the lab's trainer object stays; the state comes back into it"
    t = lab.trainer
    assert t.iteration >= changed_at + 30
    assert len(t.losses) == len(t.smooth_losses) == t.iteration
    assert [(e.name, e.new) for e in t.events] == [("learning_rate", 0.02)]
    assert changed_at <= t.events[0].iteration < t.iteration, "applied where the player was"
    # Playing trains exactly as stepping does: the same steps in this process give the same model.
    same = _trained_headless(t.config, t.events, t.iteration)
    _assert_same_training(lab.snapshot().state, same.state())
    assert lab.latest_sample
    # The player process has ended; training goes on here from where it stopped.
    assert lab.train(iterations=5).iterations == 5
    assert len(t.losses) == t.iteration


def test_at_the_dashboard_defaults_syncs_are_small_and_a_pause_brings_the_whole_run_back():
    config = DASHBOARD_DEFAULTS.replace(seed=0)
    lab = Lab(SONGBOOK, config, stop_at_best=False)
    lab.play()
    try:
        syncs = 0
        last = _wait_for(lab, lambda s: s.state.iteration > 0).state.iteration
        while syncs < 20:  # syncs that each bring new iterations, as the page's do
            last = _wait_for(lab, lambda s, after=last: s.state.iteration > after).state.iteration
            syncs += 1
        _, received = lab.play_traffic
        assert len(received) >= syncs, "one answer for every sync"
        assert statistics.median(received) < 50_000, "syncs without the model carry no model"
        lab.snapshot(with_model=True)
        _, received = lab.play_traffic
        assert received[-1] > 50_000, "the bound tells syncs with and without the model apart"
    finally:
        lab.pause()
    assert lab.play_traffic == ([], []), "no player, no traffic"
    t = lab.trainer
    assert t.iteration >= last and t.events == ()
    # Exactness is checked at the small settings above: at these sizes BLAS may round a matrix
    # product differently in two processes (alignment), and thousands of iterations amplify that.
    state = lab.snapshot().state
    assert len(state.losses) == len(state.smooth_losses) == state.iteration
    assert state.chars_seen == state.iteration * config.chars_per_iteration
    assert np.isfinite(state.params).all() and state.smooth_loss < state.losses[0]


def test_step_or_train_n_while_playing_pauses_first_and_goes_on_from_the_players_state():
    lab = make_lab(seed=8)
    lab.play()
    try:
        _wait_for(lab, lambda s: s.state.iteration >= 10)
        report = lab.train(iterations=5)
    finally:
        lab.pause()
    assert report.iterations == 5 and report.divergence is None
    t = lab.trainer
    assert not lab.playing and t.iteration >= 15 and len(t.losses) == t.iteration
    _assert_same_training(
        lab.snapshot().state, _trained_headless(SMALL.replace(seed=8), (), t.iteration).state()
    )


def test_while_playing_a_snapshot_brings_over_what_the_views_draw():
    lab = make_lab(seed=2, seq_length=50, batch_size=8)  # a validation every 250 iterations
    start = lab.trainer.params["Whh"].copy()
    lab.play()
    try:
        snap = _wait_for(lab, lambda s: s.state.iteration >= 260)
        state = snap.state
        assert snap.playing and lab.playing
        assert len(state.losses) == len(state.smooth_losses) == state.iteration
        assert state.smooth_losses[-1] == state.smooth_loss
        assert len(state.health) == len(range(0, state.iteration, lab.trainer.health_every))
        assert [i for i, _ in state.validation_history] == list(
            range(250, state.iteration + 1, 250)
        )
        assert [e.iteration for e in snap.timeline] == [0] + [
            m for m in MILESTONES if m <= state.iteration
        ]
        assert snap.stats["iteration"] == state.iteration
        assert snap.stats["chars_per_second"] > 0
        # The parameters come over only for the views that show the model.
        np.testing.assert_array_equal(lab.trainer.params["Whh"], start)
        with_model = lab.snapshot(with_model=True)
        moved = lab.trainer.params["Whh"].copy()
        assert not np.array_equal(moved, start), "the mirror's parameters move"
        np.testing.assert_array_equal(with_model.state.params, lab.trainer.state().params)
        _wait_for(lab, lambda s: s.state.iteration > with_model.state.iteration)
        np.testing.assert_array_equal(lab.trainer.params["Whh"], moved)
    finally:
        lab.pause()
    # Validated where stepping headless validates, on the same model.
    t = lab.trainer
    assert len(t.validation_history) >= 1
    _assert_same_training(
        lab.snapshot().state, _trained_headless(t.config, (), t.iteration).state()
    )


def test_play_again_after_pause_continues_the_same_run_with_one_player():
    lab = make_lab(seed=1)
    assert lab.player_pid is None
    lab.play()
    first = lab.player_pid
    _wait_for(lab, lambda s: s.state.iteration >= 10)
    lab.play()  # already playing: nothing changes
    assert lab.player_pid == first
    lab.pause()
    assert lab.player_pid is None and _process_is_gone(first), "the player ends at a pause"
    paused_at = lab.trainer.iteration
    trainer = lab.trainer
    lab.play()
    try:
        assert lab.player_pid not in (None, first), "one player process at a time"
        _wait_for(lab, lambda s: s.state.iteration >= paused_at + 30)
    finally:
        lab.pause()
    assert lab.trainer is trainer and lab.run_number == 1 and lab.runs == ()
    assert len(lab.trainer.losses) == lab.trainer.iteration
    t = lab.trainer
    _assert_same_training(
        lab.snapshot().state, _trained_headless(t.config, (), t.iteration).state()
    )


def test_sample_settings_and_sequence_length_changed_while_playing_reach_the_player():
    lab = make_lab(seed=4)
    lab.play()
    try:
        _wait_for(lab, lambda s: s.state.iteration >= 5)
        lab.set_seq_length(12)
        lab.set_sample_settings(40, 0.5, "the ")
        with pytest.raises(ValueError):
            lab.set_seq_length(10**6)  # checked on the mirror; the player never sees it
        at = lab.snapshot().state.iteration
        _wait_for(lab, lambda s: s.state.iteration >= at + 20)
        # The player draws the latest sample with the new settings (at most once a second).
        _wait_for(lab, lambda s: len(s.latest_sample) == 40)
    finally:
        lab.pause()
    t = lab.trainer
    assert t.config.seq_length == 12
    assert [(e.name, e.new) for e in t.events] == [("seq_length", 12)]
    assert len(lab.latest_sample) == 40
    # Characters seen count 8 per iteration before the change and 12 after.
    changed_at = t.events[0].iteration
    assert t.chars_seen == 8 * changed_at + 12 * (t.iteration - changed_at)


def test_a_divergence_while_playing_stops_the_player_and_tells_the_page_why():
    lab = make_lab(seed=3)
    lab.train(iterations=30)
    lab.set_learning_rate(10.0)
    lab.play()
    snap = _wait_for(lab, lambda s: not s.playing)
    assert lab.player_pid is None
    ((kind, text),) = lab.take_messages()
    assert kind == "error" and text.startswith("Training paused. ") and "diverged" in text
    rollback = int(re.search(r"rolled back to iteration (\d+)", text).group(1))
    t = lab.trainer
    assert snap.state.iteration == t.iteration == rollback == len(t.losses) >= 30
    assert np.isfinite(t.smooth_loss)
    assert all(e.iteration <= rollback for e in snap.timeline)
    lab.set_learning_rate(0.1)
    assert lab.train(iterations=5).divergence is None and t.iteration == rollback + 5


def test_a_player_nobody_watches_stops_by_itself_and_keeps_the_model(monkeypatch):
    monkeypatch.setattr(play_runner, "PLAY_IDLE_TIMEOUT", 0.3)
    lab = make_lab(seed=1)
    lab.play()
    # Every look tells the player that someone watches, so look less often than its idle
    # timeout: once nobody has asked for that long it stops training and waits, and the next
    # look finds it stopped and takes its state back.
    deadline = time.monotonic() + DEADLINE
    while True:
        time.sleep(1.0)
        snap = lab.snapshot()
        if not snap.playing:
            break
        assert time.monotonic() < deadline, "the player kept playing"
    assert lab.player_pid is None
    assert lab.take_messages() == [], "stopping for want of a watcher is no failure"
    stopped_at = snap.state.iteration
    assert stopped_at > 0 and len(snap.state.losses) == stopped_at
    _assert_same_training(
        snap.state, _trained_headless(SMALL.replace(seed=1), (), stopped_at).state()
    )
    monkeypatch.undo()  # watched from now on
    lab.play()
    try:
        _wait_for(lab, lambda s: s.state.iteration > stopped_at)
    finally:
        lab.pause()


class StillClock:
    """The session's monotonic clock, moved only by the test: no save point (or sample) is
    asked for until it says so."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.mark.parametrize("save_point", [False, True], ids=["where-play-was-pressed", "save-point"])
def test_a_player_that_dies_leaves_the_lab_at_the_last_whole_state_it_handed_over(
    monkeypatch, save_point
):
    clock = StillClock()
    monkeypatch.setattr(latest_sample, "time", clock)
    monkeypatch.setattr(play_runner, "time", clock)
    config = SMALL.replace(seed=5)
    lab = Lab(SONGBOOK, config, stop_at_best=False)
    lab.train(iterations=12)
    handed_over = lab.snapshot().state  # where Play is pressed
    lab.play()
    pid = lab.player_pid
    try:
        _wait_for(lab, lambda s: s.state.iteration >= handed_over.iteration + 20)
        if save_point:
            clock.now += play_runner.PLAY_SAVE_POINT_EVERY
            handed_over = lab.snapshot().state  # this sync brings the player's whole state too
            _wait_for(lab, lambda s: s.state.iteration >= handed_over.iteration + 20)
        os.kill(pid, signal.SIGKILL)
        snap = lab.snapshot()
    finally:
        if not _process_is_gone(pid):
            os.kill(pid, signal.SIGKILL)
    assert not snap.playing and lab.player_pid is None
    n = handed_over.iteration
    assert n >= 12 + 20 * save_point
    state = snap.state
    assert state.iteration == len(state.losses) == len(state.smooth_losses) == n
    np.testing.assert_array_equal(state.losses, handed_over.losses)
    np.testing.assert_array_equal(state.smooth_losses, handed_over.smooth_losses)
    assert [e.iteration for e in snap.timeline] == [0] + [m for m in MILESTONES if m <= n]
    _assert_same_training(state, _trained_headless(config, (), n).state())
    ((kind, text),) = lab.take_messages()
    assert kind == "error" and "training process failed" in text
    assert f"as it was at iteration {n:,}." in text
    # Training goes on from there, here or playing again.
    assert lab.train(iterations=10).iterations == 10
    assert lab.trainer.iteration == len(lab.trainer.losses) == n + 10
    lab.play()
    try:
        _wait_for(lab, lambda s: s.state.iteration >= n + 20)
    finally:
        lab.pause()
    t = lab.trainer
    _assert_same_training(lab.snapshot().state, _trained_headless(config, (), t.iteration).state())


def test_the_player_trains_in_a_session_of_its_own_and_ends_when_the_lab_is_gone():
    lab = make_lab(seed=7)
    lab.play()
    pid = lab.player_pid
    ended = False
    try:
        _wait_for(lab, lambda s: s.state.iteration >= 5)
        # Its own session, so its own scheduling group: training gets a fair share of the CPU
        # against a browser's many threads.
        assert os.getsid(pid) == pid != os.getsid(0)
        # The browser session ends while playing and the server lets go of its lab: the player
        # reads the end of its input and ends.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)  # "subprocess is still running"
            del lab
            gc.collect()
        deadline = time.monotonic() + DEADLINE
        while not ended:
            assert time.monotonic() < deadline, "the player outlived its lab"
            time.sleep(0.01)
            ended, status = os.waitpid(pid, os.WNOHANG)
    finally:
        if not ended:
            os.kill(pid, signal.SIGKILL)
    assert os.waitstatus_to_exitcode(status) == 0


def test_reset_while_playing_keeps_the_run_as_the_player_left_it():
    lab = make_lab(seed=6)
    lab.play()
    _wait_for(lab, lambda s: s.state.iteration >= 20)
    lab.new_run(SMALL.replace(seed=7))
    assert not lab.playing and lab.player_pid is None
    (archived,) = lab.runs
    assert archived.number == 1 and archived.config == SMALL.replace(seed=6)
    assert archived.trained == len(archived.smooth_losses) >= 20
    assert lab.trainer.iteration == 0 and lab.run_number == 2


def test_a_checkpoint_downloaded_while_playing_is_the_players_whole_state_of_that_moment():
    lab = make_lab(seed=8)
    lab.play()
    try:
        _wait_for(lab, lambda snap: snap.state.iteration >= 40)
        data = lab.checkpoint_bytes()
        assert lab.playing, "downloading does not stop the play"
    finally:
        lab.pause()
    saved = Trainer.load(io.BytesIO(data), SONGBOOK.text)
    assert saved.iteration >= 40
    headless = _trained_headless(saved.config, saved.events, saved.iteration)
    _assert_same_training(saved.state(), headless.state())


# ---------------------------------------------------------------- learning or copying
# On the songbook these settings find their best validation point at iteration 1,250 and stop
# at the turn at 2,250 (4 checks later): a run that overfits within seconds.
OVERFITS_SOON = Config(
    hidden_size=100, seq_length=25, learning_rate=0.05, batch_size=16, seed=0, val_fraction=0.1
)


def _analysed(lab: Lab) -> LiveSnapshot:
    """A snapshot once the text's yardsticks and copy index are ready (a background thread)."""
    return _wait_for(lab, lambda snap: snap.yardsticks is not None and snap.latest_copy)


def test_play_stops_by_itself_at_the_turn_holding_the_best_model():
    lab = Lab(SONGBOOK, OVERFITS_SOON, stop_at_best=True)
    lab.play()
    snap = _wait_for(lab, lambda snap: not snap.playing)
    [(kind, message)] = lab.take_messages()
    assert kind == "success" and message.startswith("Stopped at the best validation point")
    best = snap.state.best
    assert f"since iteration {best.iteration:,}" in message
    assert snap.state.events[-1].from_iteration == best.iteration
    # The model held is the best one: it reads the held-out text exactly as well.
    assert lab.trainer.validation_loss(schedule_module.VALIDATION_CHARS) == best.validation
    # The model held is the best: no warning until it has had a new chance.
    assert snap.overfitting is None


def test_stop_at_best_turned_off_while_playing_reaches_the_player():
    lab = Lab(SONGBOOK, OVERFITS_SOON, stop_at_best=True)
    lab.play()
    lab.set_stop_at_best(False)
    # Past the turn that stops a run with these settings (test above), still playing.
    snap = _wait_for(lab, lambda snap: snap.state.iteration > 4000 or not snap.playing)
    assert snap.playing and not snap.stop_at_best
    lab.pause()
    assert lab.take_messages() == []


def test_train_n_stops_at_the_turn_too_and_says_so():
    lab = Lab(SONGBOOK, OVERFITS_SOON, stop_at_best=True)
    report = lab.train(iterations=5000)
    assert report.stopped_at_best is not None and report.iterations < 5000
    assert lab.take_messages()[0][1].startswith("Stopped at the best validation point")


def test_restore_best_brings_back_the_best_model_and_says_which():
    lab = Lab(SONGBOOK, OVERFITS_SOON, stop_at_best=False)
    with pytest.raises(ValueError, match="no best model yet"):
        lab.restore_best()
    lab.train(iterations=3000)
    best = lab.trainer.best
    assert best.iteration < 3000  # the songbook turns well before this
    lab.restore_best()
    np.testing.assert_array_equal(lab.trainer.state().params, best.params)
    assert lab.take_messages()[-1] == (
        "success",
        f"Brought back the model of iteration {best.iteration:,} (validation "
        f"{best.validation / math.log(2):.3f} bits/char).",
    )


def test_the_latest_sample_and_the_timeline_carry_the_copy_meter():
    lab = make_lab(learning_rate=0.1)
    lab.train(iterations=60)
    snap = _analysed(lab)
    shown = snap.sample_settings.prime + snap.latest_sample
    start, end = snap.latest_copy.span
    assert snap.latest_copy.length >= 1
    assert shown[start:end] in lab.trainer.train_text
    assert shown[start : end + 1] not in lab.trainer.train_text or end == len(shown)
    assert len(snap.timeline_copies) == len(snap.timeline)
    for entry, reading in zip(snap.timeline, snap.timeline_copies, strict=True):
        assert entry.text[reading.span[0] : reading.span[1]] in lab.trainer.train_text
    assert snap.copy_series[-1].tolist() == [lab.trainer.iteration, snap.latest_copy.length]


def test_yardsticks_are_measured_on_the_held_out_part_and_shared_by_sessions():
    first, second = make_lab(), make_lab(seed=5)
    a, b = _analysed(first), _analysed(second)
    assert a.yardsticks is b.yardsticks  # one analysis of one text, for every session
    assert not a.yardsticks_in_sample
    held_out = first.trainer.held_out_text
    assert held_out and SONGBOOK.text.endswith(held_out)
    assert set(a.yardsticks) == {"uniform", "unigram", "bigram", "compressor"}


def test_generate_writes_from_the_prime_and_measures_what_it_copied():
    lab = make_lab()
    lab.train(iterations=200)
    _analysed(lab)
    text, reading = model_reads.generate(lab, 1200, 0.0, "The ")
    assert text.startswith("The ") and len(text) == 4 + 1200
    assert text[reading.span[0] : reading.span[1]] in lab.trainer.train_text
    again, _ = model_reads.generate(lab, 1200, 0.0, "The ")
    assert again == text  # greedy: the same model writes the same piece


@pytest.mark.parametrize(
    ("length", "temperature", "prime", "words"),
    [
        (0, 1.0, "", "1 to 5,000"),
        (5001, 1.0, "", "1 to 5,000"),
        (True, 1.0, "", "whole number"),
        (100, 3.0, "", "temperature"),
        (100, 1.0, "\x00", "not in"),
    ],
)
def test_generate_refuses_settings_out_of_range(length, temperature, prime, words):
    lab = make_lab()
    with pytest.raises(ValueError, match=words):
        model_reads.generate(lab, length, temperature, prime)


def test_a_checkpoint_made_on_another_text_with_the_same_characters_is_told():
    lab = make_lab()
    lab.train(iterations=10)
    saved = lab.checkpoint_bytes()
    shuffled = "".join(reversed(SONGBOOK.text))  # the same characters, another text
    other = Lab(uploaded_corpus("reversed.txt", shuffled.encode()), SMALL, stop_at_best=False)
    other.load_checkpoint(saved)
    assert other.trainer.iteration == 10
    [(kind, message)] = other.take_messages()
    assert kind == "warning" and "different text with the same characters" in message
    lab.load_checkpoint(saved)  # its own text: nothing to tell
    assert lab.take_messages() == []


def test_close_stops_the_player_keeping_its_state_and_says_so_once():
    lab = make_lab()
    lab.play()
    _wait_for(lab, lambda s: s.state.iteration > 10)
    pid = lab.player_pid
    lab.close()
    assert not lab.playing and lab.trainer.iteration > 10
    assert lab.take_messages() == [("success", "Training paused: the page was closed.")]
    deadline = time.monotonic() + 10
    while not _process_is_gone(pid):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    lab.close()  # again, or when nothing plays: nothing to tell
    assert lab.take_messages() == []


def test_sampled_settings_and_characters_equal_the_whole_runs_arrays():
    config = SMALL.replace(seq_length=40, batch_size=3, learning_rate=0.3)
    events = (
        SettingChange(0, "seq_length", 10, 20),
        SettingChange(5, "seq_length", 20, 30),
        SettingChange(5, "learning_rate", 0.1, 0.2),
        SettingChange(9, "seq_length", 30, 40),
        SettingChange(12, "learning_rate", 0.2, 0.3),
    )
    n = 20
    everywhere = np.arange(n)
    for name in ("seq_length", "learning_rate"):
        np.testing.assert_array_equal(
            state_module.per_iteration_at(config, events, name, everywhere),
            per_iteration(config, events, name, n),
        )
    whole = np.concatenate([[0], np.cumsum(per_iteration(config, events, "seq_length", n) * 3)])
    np.testing.assert_array_equal(
        state_module.chars_seen_at(config, events, np.arange(n + 1)), whole
    )
    np.testing.assert_array_equal(
        state_module.chars_seen_at(config, events, [17, 3]), whole[[17, 3]]
    )


# ------------------------------------------------------------------------ cells and layers
@pytest.mark.parametrize(
    "network",
    [
        {"cell": "lstm", "layers": 2, "optimizer": "adam", "dtype": "float32"},
        {"cell": "gru", "layers": 3, "optimizer": "rmsprop"},
    ],
)
def test_play_trains_every_network_exactly_as_stepping_does(network):
    lab = make_lab(seed=2, learning_rate=0.003, **network)
    lab.play()
    try:
        _wait_for(lab, lambda s: s.state.iteration >= 20)
    finally:
        lab.pause()
    t = lab.trainer
    assert (t.config.cell, t.config.layers) == (network["cell"], network["layers"])
    same = _trained_headless(t.config, t.events, t.iteration)
    _assert_same_training(lab.snapshot().state, same.state())
    assert lab.latest_sample and lab.train(iterations=3).iterations == 3


def test_a_long_train_lets_go_of_the_lab_between_slices(monkeypatch):
    """Train N holds the session's lock for one slice at a time: the live feed and the page's
    other requests get their turn meanwhile, and see the training go on."""
    monkeypatch.setattr(local_runner, "TRAIN_MAX_SECONDS", 3.0)
    lab = make_lab(seed=0)
    worker = threading.Thread(target=lab.train, kwargs={"iterations": 10**7}, daemon=True)
    worker.start()
    seen = []
    try:
        while worker.is_alive() and len(seen) < 4:
            last = seen[-1] if seen else 0
            # Glances without the lock (an int) until the training has gone on since the last look.
            wait_until(
                lambda last=last: lab.trainer.iteration > last or not worker.is_alive(), "training"
            )
            assert lab.lock.acquire(timeout=2.0), "the lock was held for a whole slice and more"
            try:
                seen.append(lab.trainer.iteration)
            finally:
                lab.lock.release()
    finally:
        worker.join()
    assert len(seen) >= 4 and seen == sorted(seen) and seen[-1] > seen[0]
    assert lab.trainer.iteration < 10**7  # stopped by the time limit, as it says


def _playing_from_iteration_5(seed: int) -> tuple[Lab, int]:
    """A lab stepped to iteration 5 (its last whole state), playing past iteration 10; and the
    play process's id."""
    lab = make_lab(seed=seed)
    lab.train(iterations=5)
    lab.play()
    _wait_for(lab, lambda s: s.state.iteration >= 10)
    return lab, lab.player_pid


def test_a_stopped_play_process_holds_its_session_only_for_the_give_up_time(monkeypatch):
    """A play process that stops answering (SIGSTOP) is given up after ANSWER_TIMEOUT: killed
    without waiting on it, its reader thread ends quietly, and the session goes on from its
    last whole state. (Before 2026-12-04 the kill waited for the stopped child for ever.)"""
    from dashboard import player as player_module

    monkeypatch.setattr(player_module, "ANSWER_TIMEOUT", 1.0)
    thread_errors = []
    monkeypatch.setattr(threading, "excepthook", thread_errors.append)
    lab, pid = _playing_from_iteration_5(seed=9)
    try:
        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        snap = lab.snapshot()
        waited = time.monotonic() - started
    finally:
        if not _process_is_gone(pid):
            os.kill(pid, signal.SIGKILL)
    assert not snap.playing and lab.player_pid is None
    assert waited < 1.0 + player_module.KILL_WAIT + 5, f"held for {waited:.1f} s"
    ((kind, text),) = lab.take_messages()
    assert kind == "error" and "no answer within 1 s" in text
    assert snap.state.iteration == 5  # where Play was pressed: its last whole state
    deadline = time.monotonic() + DEADLINE
    while not _process_is_gone(pid):
        assert time.monotonic() < deadline, "the stopped child was not ended"
        time.sleep(0.05)
    assert lab.train(iterations=3).iterations == 3
    assert not thread_errors, thread_errors


def test_a_stopped_play_process_never_holds_the_sessions_lock(monkeypatch):
    """While one sync waits on a play process that stopped answering (SIGSTOP), the lab's lock
    is free, and the page's and the feed's snapshots draw the mirror as it is rather than ask
    again; the waiting sync then gives the process up and the lab goes on from its last whole
    state."""
    from dashboard import player as player_module

    monkeypatch.setattr(player_module, "ANSWER_TIMEOUT", 4.0)
    asking = threading.Event()
    ask = play_runner.PlayRunner.ask

    def noted_ask(runner, question, wait=None):
        asking.set()
        return ask(runner, question, wait)

    monkeypatch.setattr(play_runner.PlayRunner, "ask", noted_ask)
    lab, pid = _playing_from_iteration_5(seed=11)
    try:
        os.kill(pid, signal.SIGSTOP)
        asking.clear()
        waiting = threading.Thread(target=lab.snapshot)
        waiting.start()
        assert asking.wait(timeout=10)
        time.sleep(0.2)  # well into its wait for the answer
        started = time.monotonic()
        assert lab.lock.acquire(timeout=1.0), "the lab's lock is held while the player is asked"
        lab.lock.release()
        seen = lab.snapshot(wait=1.0)  # another question is under way: the mirror as it is
        other = lab.snapshot()
        took = time.monotonic() - started
        assert seen.playing and other.playing and took < 2.0, f"waited {took:.1f} s"
        waiting.join(timeout=30)
        assert not waiting.is_alive()
    finally:
        if not _process_is_gone(pid):
            os.kill(pid, signal.SIGKILL)
    assert not lab.playing
    ((kind, text),) = lab.take_messages()
    assert kind == "error" and "no answer within 4 s" in text


@pytest.mark.parametrize("action", ["pause", "learning rate", "temperature", "reset"])
def test_pause_settings_and_reset_wait_on_a_stopped_play_process_without_the_lock(
    action, monkeypatch
):
    """Pause, a live setting and Reset wait their turn with a play process that stopped
    answering (SIGSTOP) with the lab's lock let go: the page's snapshots draw the mirror
    meanwhile. Once the process is given up, the action is done on the run it left."""
    from dashboard import player as player_module

    monkeypatch.setattr(player_module, "ANSWER_TIMEOUT", 3.0)
    waits = {name: threading.Event() for name in ("ask", "ask_stop", "send")}
    for name, entered in waits.items():
        method = getattr(play_runner.PlayRunner, name)

        def noted(runner, *args, method=method, entered=entered, **kwargs):
            entered.set()
            return method(runner, *args, **kwargs)

        monkeypatch.setattr(play_runner.PlayRunner, name, noted)
    lab, pid = _playing_from_iteration_5(seed=12)
    do, waits_in = {
        "pause": (lab.pause, "ask_stop"),
        "learning rate": (lambda: lab.set_learning_rate(0.02), "send"),
        "temperature": (lambda: lab.set_sample_settings(200, 0.6, ""), "send"),
        "reset": (lambda: lab.new_run(lab.trainer.config), "ask_stop"),
    }[action]
    failures = []

    def act() -> None:
        try:
            do()
        except Exception as error:  # reported by the test, not lost in the thread
            failures.append(error)

    try:
        os.kill(pid, signal.SIGSTOP)
        for entered in waits.values():
            entered.clear()
        # A sync first, so that the action waits its turn behind one that waits on the process.
        asking = threading.Thread(target=lab.snapshot)
        asking.start()
        assert waits["ask"].wait(timeout=10)
        acting = threading.Thread(target=act)
        acting.start()
        assert waits[waits_in].wait(timeout=10), f"{action} did not ask the player"
        time.sleep(0.2)  # well into its wait for its turn
        started = time.monotonic()
        assert lab.lock.acquire(timeout=1.0), f"{action} holds the lab's lock while it waits"
        lab.lock.release()
        assert lab.snapshot(wait=1.0).playing and time.monotonic() - started < 2.0
        for thread in (asking, acting):
            thread.join(timeout=30)
            assert not thread.is_alive()
    finally:
        if not _process_is_gone(pid):
            os.kill(pid, signal.SIGKILL)
    assert not failures, failures
    assert not lab.playing
    if action == "learning rate":
        assert lab.trainer.config.learning_rate == 0.02
    elif action == "temperature":
        assert lab.sample_settings.temperature == 0.6
    elif action == "reset":
        assert lab.trainer.iteration == 0 and lab.runs[-1].trained >= 5
