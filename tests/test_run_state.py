"""A run is a value: the Schedule's RunState, its marks and deltas, and live settings applied as
one LiveSettings value, the same way in the session and in Play's process."""

from __future__ import annotations

import dataclasses
import pathlib
import pickle

import numpy as np
import pytest

from rnnlab import Config, Trainer
from rnnlab import schedule as schedule_module
from rnnlab.schedule import LiveSettings, RunMarks, RunState, Schedule
from rnnlab.state import SettingChange
from rnnlab.timeline import TIMELINE_FIRST, TIMELINE_LATEST

SONGS = (pathlib.Path(__file__).resolve().parent.parent / "data" / "lyrics.txt").read_text()
SMALL = SONGS[:6000]
CONFIG = Config(hidden_size=24, seq_length=10, batch_size=2, seed=4, val_fraction=0.2)


def schedule(**settings) -> Schedule:
    return Schedule(Trainer(SMALL, CONFIG), validation_every_chars=200, **settings)


def test_a_run_state_is_a_frozen_value_that_later_training_does_not_change():
    run = schedule(temperature=0.7, stop_at_best=True)
    run.train(iterations=12)
    state = run.state()
    timeline, iteration = state.timeline, state.iteration
    run.train(iterations=30)
    assert state.timeline == timeline and state.iteration == iteration == 12
    assert (state.temperature, state.stop_at_best, state.validation_every_chars) == (0.7, True, 200)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.temperature = 1.0
    with pytest.raises(AttributeError):
        run.temperature = 1.0  # nothing outside the schedule's module writes its fields
    with pytest.raises(AttributeError):
        run.timeline = ()


def test_a_schedule_from_a_state_goes_on_exactly_as_the_original():
    original = schedule(temperature=0.5)
    original.train(iterations=26)
    copy = Schedule.from_state(SMALL, pickle.loads(pickle.dumps(original.state())))
    assert copy.timeline == original.timeline
    assert copy.training_seconds == original.training_seconds
    original.train(iterations=40)
    copy.train(iterations=40)
    np.testing.assert_array_equal(copy.trainer.state().params, original.trainer.state().params)
    assert copy.timeline == original.timeline  # the milestone at 50 was drawn alike
    assert copy.trainer.validation_history == original.trainer.validation_history


def test_load_state_brings_a_schedule_back_to_a_state_keeping_its_trainer():
    run = schedule()
    run.train(iterations=11)
    saved = run.state()
    trainer = run.trainer
    run.apply(LiveSettings(temperature=2.0, stop_at_best=True))
    run.train(iterations=40)
    run.load_state(saved)
    assert run.trainer is trainer
    assert run.state().iteration == 11 and run.timeline == saved.timeline
    assert (run.temperature, run.stop_at_best) == (1.0, False)


def test_a_mirror_follows_the_run_through_deltas_settings_and_a_rollback():
    original = schedule()
    mirror = Schedule.from_state(SMALL, original.state())
    for iterations in (1, 9, 15, 25):
        original.train(iterations=iterations)
        mirror.apply_delta(original.delta(mirror.marks(), with_model=True))
    original.apply(LiveSettings(learning_rate=0.05, temperature=0.3, stop_at_best=True))
    mirror.apply_delta(original.delta(mirror.marks()))
    assert mirror.timeline == original.timeline
    assert mirror.marks() == original.marks()
    assert (mirror.temperature, mirror.stop_at_best) == (0.3, True)
    assert mirror.trainer.config == original.trainer.config
    np.testing.assert_array_equal(mirror.trainer.state().params, original.trainer.state().params)
    # A delta from marks ahead of the run (a mirror of a run that was cut back) starts over
    # from where the run is: the mirror's extra timeline entries go.
    ahead = RunMarks(original.trainer.marks(), original.timeline_count + 3)
    delta = original.delta(ahead)
    assert delta.timeline_since == original.timeline_count and delta.new_timeline == ()


def test_a_long_runs_timeline_and_state_keep_a_size_of_their_own(monkeypatch):
    """However long a run trains, its timeline keeps its first and latest samples only, so that
    a RunState (Play's save point) has a size bounded beyond the trainer's own records."""
    monkeypatch.setattr(schedule_module, "MILESTONES", (1, 2))  # a sample every 4 iterations:
    monkeypatch.setattr(schedule_module, "MILESTONE_EVERY_AFTER", 4)  # a day of Play, shortened
    original = schedule()
    mirror = Schedule.from_state(SMALL, original.state())
    sizes = []
    for _ in range(4):
        original.train(iterations=150)
        mirror.apply_delta(original.delta(mirror.marks()))
        sizes.append(len(pickle.dumps(original.state(with_model=False).timeline)))
    iterations = [e.iteration for e in original.timeline]
    kept = [0, 1, 2, *range(4, 601, 4)]  # every sample the run drew
    assert original.timeline_count == len(kept)
    assert iterations == kept[:TIMELINE_FIRST] + kept[-TIMELINE_LATEST:]
    assert mirror.timeline == original.timeline
    assert mirror.timeline_count == original.timeline_count
    assert max(sizes) < 1.1 * min(sizes[1:])  # the same size from the first thousand on
    copy = Schedule.from_state(SMALL, pickle.loads(pickle.dumps(original.state())))
    copy.train(iterations=4)
    assert copy.timeline[-1].iteration == 604 and copy.timeline_count == len(kept) + 1


def test_apply_changes_each_named_setting_as_one_event_and_leaves_the_rest():
    run = schedule(temperature=0.8)
    run.train(iterations=3)
    run.apply(LiveSettings(learning_rate=0.02, seq_length=12))
    config = run.trainer.config
    assert (config.learning_rate, config.seq_length) == (0.02, 12)
    assert run.temperature == 0.8 and not run.stop_at_best
    assert {(e.name, e.new) for e in run.trainer.events if isinstance(e, SettingChange)} == {
        ("learning_rate", 0.02),
        ("seq_length", 12),
    }
    run.apply(LiveSettings())  # nothing named: nothing changes
    assert run.trainer.config == config


@pytest.mark.parametrize(
    "settings",
    [
        LiveSettings(learning_rate=-1.0, temperature=0.5),
        LiveSettings(temperature=float("nan"), learning_rate=0.02),
        LiveSettings(temperature=-0.1, stop_at_best=True),
        LiveSettings(seq_length=10**9, learning_rate=0.02),
        LiveSettings(seq_length=0, temperature=0.2),
    ],
)
def test_apply_with_a_bad_value_raises_and_changes_nothing(settings):
    run = schedule()
    run.train(iterations=2)
    before = run.state(with_model=False)
    with pytest.raises(ValueError):
        run.apply(settings)
    after = run.state(with_model=False)
    assert after.trainer.config == before.trainer.config
    assert after.trainer.events == before.trainer.events
    assert (after.temperature, after.stop_at_best) == (before.temperature, before.stop_at_best)


def test_a_run_state_carries_the_validation_cadence_and_the_timeline_switch():
    run = Schedule(Trainer(SMALL, CONFIG), keep_timeline=False, validation_every_chars=120)
    run.train(iterations=20)
    state = run.state()
    assert isinstance(state, RunState) and state.timeline == () and not state.keep_timeline
    copy = Schedule.from_state(SMALL, state)
    copy.train(iterations=20)
    run.train(iterations=20)
    assert copy.timeline == () and copy.validation_every_chars == 120
    assert copy.trainer.validation_history == run.trainer.validation_history
