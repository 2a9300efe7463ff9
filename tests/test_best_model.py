"""The best model of a run: kept at each new lowest validation loss, brought back on request or
when the Schedule stops at the turn, and carried by states, deltas and checkpoints."""

from __future__ import annotations

import io
import json
import math
import pathlib

import numpy as np
import pytest

from rnnlab import Config, DivergenceError, Trainer, overfitting
from rnnlab.schedule import VALIDATION_CHARS, Schedule
from rnnlab.state import ModelRestored, SettingChange, event_from_dict

SONGS = (pathlib.Path(__file__).resolve().parent.parent / "data" / "lyrics.txt").read_text()
# A few kB memorised by a wide model at a high rate: validation turns up within a second.
SMALL = SONGS[:4000]
OVERFITTING = Config(
    hidden_size=64, seq_length=25, learning_rate=0.1, batch_size=4, seed=0, val_fraction=0.2
)


def overfitting_run(validation_every_chars: int = 2000) -> tuple[Trainer, Schedule]:
    trainer = Trainer(SMALL, OVERFITTING)
    schedule = Schedule(
        trainer,
        keep_timeline=False,
        validation_every_chars=validation_every_chars,
        stop_at_best=True,
    )
    return trainer, schedule


def test_each_new_lowest_validation_keeps_a_copy_of_the_parameters() -> None:
    trainer = Trainer(SMALL, OVERFITTING)
    assert trainer.best is None
    kept = []
    for _ in range(30):
        trainer.step(20)
        value = trainer.record_validation()
        if value == min(v for _, v in trainer.validation_history):
            kept.append((trainer.iteration, value, trainer.state().params))
    iteration, value, params = min(kept, key=lambda k: k[1])
    assert trainer.best.iteration == iteration
    assert trainer.best.validation == value
    np.testing.assert_array_equal(trainer.best.params, params)
    assert not trainer.best.params.flags.writeable


def test_restore_best_brings_the_best_parameters_back_and_marks_it() -> None:
    trainer = Trainer(SMALL, OVERFITTING)
    trainer.step(50)
    trainer.record_validation()
    best = trainer.best
    trainer.step(50)
    trainer.restore_best()
    np.testing.assert_array_equal(trainer.state().params, best.params)
    assert not trainer.hidden.any()
    assert trainer.events[-1] == ModelRestored(100, 50)
    assert trainer.validation_loss() == best.validation  # the same model reads the same text


def test_restore_best_without_a_validation_point_says_why() -> None:
    trainer = Trainer(SMALL, OVERFITTING)
    with pytest.raises(ValueError, match="no best model yet"):
        trainer.restore_best()


def test_detect_waits_for_patience_checks_above_the_best() -> None:
    record = [(i * 10, v) for i, v in enumerate([5.0, 4.0, 3.0, 3.1, 3.0, 3.3])]
    assert overfitting.detect(record, patience=4) is None  # three after the best (3.0 is first)
    turn = overfitting.detect(record + [(60, 3.4)], patience=4)
    assert (turn.best_iteration, turn.best, turn.checks, turn.latest) == (20, 3.0, 4, 3.4)
    assert turn.rise == pytest.approx(3.4 / 3.0 - 1)
    # Checks up to a restore at iteration 40 do not count.
    assert overfitting.detect(record + [(60, 3.4)], patience=4, after_iteration=40) is None
    assert overfitting.detect([], patience=1) is None


def test_stop_at_best_stops_at_the_turn_and_holds_the_best_model() -> None:
    trainer, schedule = overfitting_run()
    report = schedule.train(iterations=20_000)
    turn = report.stopped_at_best
    assert turn is not None and report.iterations < 20_000
    assert turn.checks == overfitting.PATIENCE
    assert turn.best_iteration == trainer.best.iteration < trainer.iteration
    assert trainer.events[-1] == ModelRestored(trainer.iteration, turn.best_iteration)
    # What a user holds after the stop is the best model: it scores the best value exactly.
    assert trainer.validation_loss(VALIDATION_CHARS) == trainer.best.validation == turn.best


def test_playing_on_after_a_stop_gives_the_best_model_a_new_patience() -> None:
    trainer, schedule = overfitting_run()
    first = schedule.train(iterations=20_000).stopped_at_best
    checks_before = len(trainer.validation_history)
    second = schedule.train(iterations=20_000)
    assert len(trainer.validation_history) - checks_before >= overfitting.PATIENCE
    if second.stopped_at_best is not None:
        assert trainer.best.iteration >= first.best_iteration


def test_without_stop_at_best_training_goes_past_the_turn() -> None:
    trainer = Trainer(SMALL, OVERFITTING)
    report = Schedule(trainer, keep_timeline=False, validation_every_chars=2000).train(
        iterations=1500
    )
    assert report.stopped_at_best is None and report.iterations == 1500
    assert overfitting.detect(trainer.validation_record) is not None
    assert not any(isinstance(event, ModelRestored) for event in trainer.events)


def test_best_model_and_restore_event_survive_a_checkpoint_bit_for_bit() -> None:
    trainer, schedule = overfitting_run()
    schedule.train(iterations=20_000)
    buffer = io.BytesIO()
    trainer.save(buffer)
    loaded = Trainer.load(io.BytesIO(buffer.getvalue()), SMALL)
    assert loaded.best.iteration == trainer.best.iteration
    assert loaded.best.validation == trainer.best.validation
    np.testing.assert_array_equal(loaded.best.params, trainer.best.params)
    assert loaded.events == trainer.events
    trainer.step(30)
    loaded.step(30)
    np.testing.assert_array_equal(loaded.losses, trainer.losses)


def checkpoint_with(trainer: Trainer, **members: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    trainer.save(buffer)
    with np.load(io.BytesIO(buffer.getvalue())) as npz:
        arrays = {name: npz[name] for name in npz.files}
    out = io.BytesIO()
    np.savez(out, **(arrays | members))
    return out.getvalue()


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ({"best": np.array(json.dumps({"iteration": 10**9, "validation": 1.0}))}, "beyond"),
        ({"best": np.array(json.dumps({"iteration": 1}))}, "exactly"),
        ({"best": np.array(json.dumps({"iteration": 1, "validation": "x"}))}, "number"),
        ({"best_params": np.zeros(3)}, "'best_params' has shape"),
        ({"best_params": np.full(1, np.nan)}, "'best_params' has shape"),
        (
            {"events": np.array(json.dumps([{"kind": "restored", "iteration": 5}]))},
            "malformed",
        ),
        (
            {
                "events": np.array(
                    json.dumps([{"kind": "restored", "iteration": 5, "from_iteration": 9}])
                )
            },
            "earlier",
        ),
    ],
)
def test_a_crafted_best_model_or_restore_event_is_refused(members, words) -> None:
    trainer = Trainer(SMALL, OVERFITTING)
    trainer.step(20)
    trainer.record_validation()
    with pytest.raises(ValueError, match=words):
        Trainer.load(io.BytesIO(checkpoint_with(trainer, **members)), SMALL)


def test_a_best_model_of_the_right_size_holding_nan_is_refused() -> None:
    trainer = Trainer(SMALL, OVERFITTING)
    trainer.step(20)
    trainer.record_validation()
    nan = np.full(trainer.param_count, np.nan)
    with pytest.raises(ValueError, match="best model must hold .* finite parameters"):
        Trainer.load(io.BytesIO(checkpoint_with(trainer, best_params=nan)), SMALL)


def test_a_mirror_receives_the_best_model_in_deltas_with_the_model() -> None:
    trainer = Trainer(SMALL, OVERFITTING)
    mirror = Trainer.from_state(SMALL, trainer.state())
    for _ in range(5):
        trainer.step(20)
        trainer.record_validation()
        assert not trainer.delta(mirror.marks()).best_changed  # not without the model
        delta = trainer.delta(mirror.marks(), with_model=True)
        mirror.apply_delta(delta)
        np.testing.assert_array_equal(mirror.best.params, trainer.best.params)
    # Nothing new: the best is not sent again.
    assert not trainer.delta(mirror.marks(), with_model=True).best_changed


def test_a_rollback_brings_back_the_best_model_of_its_snapshot() -> None:
    trainer = Trainer(SMALL, OVERFITTING)
    trainer.step(20)
    trainer.record_validation()
    kept = trainer.best
    trainer.set_learning_rate(0.1)  # a snapshot here, holding the best of iteration 20
    trainer.step(20)
    trainer.record_validation()
    assert trainer.best.iteration == 40
    trainer.divergence_factor = 0.01  # any ordinary loss now counts as a blow-up
    with pytest.raises(DivergenceError, match="rolled back to iteration 20"):
        trainer.step(1)
    assert trainer.best is kept


def test_events_round_trip_through_their_dict_form() -> None:
    for event in (SettingChange(3, "learning_rate", 0.1, 0.05), ModelRestored(9, 4)):
        assert event_from_dict(event.to_dict()) == event
    with pytest.raises(ValueError):
        ModelRestored(3, 4)
    assert math.isfinite(overfitting.PATIENCE)
