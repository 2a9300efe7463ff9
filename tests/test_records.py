"""A run's records stay bounded however long it trains (rnnlab/records.py), and stay honest:
the thinned loss record accounts for every iteration, a mirror and a resumed run hold exactly the
original's records, and a run of ten million iterations reloads its own checkpoint."""

from __future__ import annotations

import dataclasses
import io
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard import model_reads
from dashboard.exports import history_csv
from dashboard.runs import MAX_RUNS, RUN_POINTS
from dashboard.session import Lab
from rnnlab import Config, Trainer, records
from rnnlab.corpora import builtin_corpus
from rnnlab.records import LossRecord, iterations_at, row_iterations
from rnnlab.trainer import SNAPSHOT_EVERY

TEXT = "the cat sat on the mat. the dog ate my hat! " * 12
CONFIG = Config(hidden_size=6, seq_length=4, seed=0, val_fraction=0.2)
SONGBOOK = builtin_corpus("Songbook (bundled lyrics)")
SONGBOOK_CONFIG = Config(hidden_size=16, seq_length=8, seed=0, val_fraction=0.1)


def smoothed(raw: np.ndarray, start: float = 10.0) -> np.ndarray:
    """The trainer's smoothed loss after each iteration of `raw`."""
    out, value = np.empty_like(raw), start
    for k, loss in enumerate(raw):
        value = value * 0.999 + loss * 0.001
        out[k] = value
    return out


def filled(raw: np.ndarray, limit: int) -> tuple[LossRecord, list[int]]:
    """A record of `limit` rows fed `raw`, and its length after every append."""
    record, lengths = LossRecord(limit=limit), []
    for loss, smooth in zip(raw, smoothed(raw), strict=True):
        record.append(loss, smooth)
        lengths.append(len(record))
    return record, lengths


# ------------------------------------------------------------------------------ the record
def test_a_loss_record_stays_under_its_limit_and_accounts_for_every_iteration():
    raw = np.random.default_rng(0).uniform(1.0, 60.0, 20_000)
    record, lengths = filled(raw, limit=64)
    assert max(lengths) < 64 and lengths[:63] == list(range(1, 64))
    ends = record.iterations()
    assert ends[-1] == len(raw) and (np.diff(ends) > 0).all()
    spans = np.diff(ends, prepend=0)
    # Each row's raw loss is the mean over the iterations it stands for.
    starts = ends - spans
    expected = np.array([raw[a:b].mean() for a, b in zip(starts, ends, strict=True)])
    np.testing.assert_allclose(record.losses, expected, rtol=1e-12)
    # Its smoothed loss is the curve where the row ends; the newest rows are the iterations.
    np.testing.assert_array_equal(record.smooth_losses, smoothed(raw)[ends - 1])
    newest = len(record) - len(record.thinned)
    assert newest >= 32 and (spans[-newest:] == 1).all()
    np.testing.assert_array_equal(record.losses[-newest:], raw[-newest:])


def test_the_default_limit_holds_a_long_run_in_a_hundred_thousand_rows():
    raw = np.full(3 * records.MAX_LOSS_ROWS, 20.0)
    record, lengths = filled(raw, limit=None)
    assert max(lengths) == records.MAX_LOSS_ROWS - 1
    assert record.iterations()[-1] == len(raw)
    np.testing.assert_array_equal(record.losses, 20.0)


@given(
    thinned=st.lists(st.integers(1, 50), max_size=30).map(lambda steps: np.cumsum(steps)),
    extra=st.integers(0, 40),
    data=st.data(),
)
def test_iterations_at_picks_rows_of_row_iterations(thinned, extra, data):
    thinned = np.asarray(thinned, np.int64)
    rows = len(thinned) + extra
    every = row_iterations(rows, thinned)
    if rows == 0:
        return
    picks = np.array(data.draw(st.lists(st.integers(0, rows - 1), min_size=1, max_size=20)))
    np.testing.assert_array_equal(iterations_at(picks, thinned), every[picks])


# ----------------------------------------------------------------------------- the trainer
@pytest.fixture
def small_limits(monkeypatch):
    """Limits low enough that a few hundred iterations pass them several times."""
    monkeypatch.setattr(records, "MAX_LOSS_ROWS", 40)
    monkeypatch.setattr(records, "MAX_TABLE_ROWS", 8)


def trained(iterations: int, every: int = 10) -> Trainer:
    """A trainer with a validation point every `every` iterations and health every 2."""
    trainer = Trainer(TEXT, CONFIG)
    trainer.health_every = 2
    for _ in range(iterations // every):
        trainer.step(every)
        trainer.record_validation()
    return trainer


def records_of(trainer: Trainer) -> dict[str, np.ndarray]:
    return {
        "losses": trainer.losses.copy(),
        "smooth_losses": trainer.smooth_losses.copy(),
        "loss_iterations": trainer.loss_iterations.copy(),
        "validation": trainer.state().validation.copy(),
        "health": trainer.health.rows.copy(),
    }


def assert_same_records(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_array_equal(actual[name], value, err_msg=name)


def test_a_trainer_past_the_limits_keeps_bounded_records_that_end_where_it_is(small_limits):
    trainer = trained(600)
    assert trainer.iteration == 600
    assert len(trainer.losses) < 40 and len(trainer.smooth_losses) == len(trainer.losses)
    assert trainer.loss_iterations[-1] == 600 and trainer.smooth_losses[-1] == trainer.smooth_loss
    assert len(trainer.validation_history) < 8 and trainer.validation_history[-1][0] == 600
    assert len(trainer.health.rows) < 8 and trainer.health.rows[-1, 0] > 600 - 2


def test_a_mirror_following_deltas_holds_the_records_of_its_original(small_limits):
    original = Trainer(TEXT, CONFIG)
    original.health_every = 2
    mirror = Trainer.from_state(TEXT, original.state())
    marks = original.marks()
    for _ in range(70):  # past every limit several times, a delta every 7 iterations
        original.step(7)
        original.record_validation()
        mirror.apply_delta(original.delta(marks))
        marks = original.marks()
        assert_same_records(records_of(mirror), records_of(original))
    assert mirror.marks().rewrites == original.marks().rewrites > 10


def test_a_thinned_run_saves_and_resumes_bit_for_bit(small_limits):
    trainer = trained(400)
    assert len(trainer.state().thinned_ends)
    buffer = io.BytesIO()
    trainer.save(buffer)
    buffer.seek(0)
    resumed = Trainer.load(buffer, TEXT)
    resumed.health_every = 2  # not part of a checkpoint
    assert_same_records(records_of(resumed), records_of(trainer))
    for run in (trainer, resumed):
        run.step(123)
    assert_same_records(records_of(resumed), records_of(trainer))
    np.testing.assert_array_equal(resumed.state().params, trainer.state().params)


def test_a_rollback_after_thinning_brings_back_the_records_as_they_were(small_limits):
    trainer = trained(300)  # a rollback snapshot is taken at 300
    at_snapshot = records_of(trainer)
    rewrites = trainer.marks().rewrites
    while trainer.marks().rewrites == rewrites:  # until the records are thinned once more
        trainer.step()
    assert trainer.iteration < 300 + SNAPSHOT_EVERY
    trainer.params["Why"][...] *= 1e6  # the next chunk's loss is far past uniform guessing's
    with pytest.raises(ArithmeticError, match="rolled back to iteration 300"):
        trainer.step()
    assert_same_records(records_of(trainer), at_snapshot)
    trainer.step(50)
    twin = trained(300)
    twin.step(50)
    assert_same_records(records_of(trainer), records_of(twin))


def test_a_state_claiming_more_rows_than_a_record_keeps_is_refused():
    trainer = trained(20)
    state = trainer.state()
    n = records.MAX_LOSS_ROWS + 5
    crafted = dataclasses.replace(
        state, iteration=n, losses=np.full(n, 9.0), smooth_losses=np.full(n, 9.0)
    )
    with pytest.raises(ValueError, match="would hold 100,005 rows"):
        Trainer.from_state(TEXT, crafted)


# ------------------------------------------------------------------ ten million iterations
def long_run_state(iterations: int = 10_000_000, trainer: Trainer | None = None):
    """A real state whose loss record is what a run of `iterations` iterations keeps."""
    state = (trainer or trained(20)).state()
    newest = records.MAX_LOSS_ROWS // 2
    older = records.MAX_LOSS_ROWS // 4
    ends = np.linspace(1, iterations - newest, older).round().astype(np.int64)
    rows = older + newest
    return dataclasses.replace(
        state,
        iteration=iterations,
        chars_seen=iterations * state.config.seq_length,
        losses=np.linspace(60.0, 20.0, rows),
        smooth_losses=np.linspace(70.0, 25.0, rows),
        thinned_ends=ends,
    )


def test_a_run_of_ten_million_iterations_reloads_its_own_checkpoint_and_writes_a_bounded_csv():
    state = long_run_state()
    trainer = Trainer.from_state(TEXT, state)
    buffer = io.BytesIO()
    trainer.save(buffer)
    assert buffer.tell() < 4 * 10**6
    buffer.seek(0)
    loaded = Trainer.load(buffer, TEXT)
    assert loaded.iteration == 10_000_000
    np.testing.assert_array_equal(loaded.loss_iterations, state.loss_iterations)
    lines = history_csv(loaded.state()).splitlines()
    assert len(lines) == 1 + len(state.losses) <= records.MAX_LOSS_ROWS
    last = lines[-1].split(",")
    assert last[0] == "10000000" and last[1] == "1"
    first = lines[1].split(",")
    assert first[0] == "1" and first[1] == "1"
    loaded.step(3)
    assert loaded.loss_iterations[-1] == 10_000_003


def test_a_checkpoint_made_before_thinning_is_thinned_as_it_is_read():
    """Checkpoints from before 2026-12-04 kept one row per iteration; a long one loads bounded."""
    trainer = trained(20)
    state = trainer.state()
    n = 3 * records.MAX_LOSS_ROWS
    raw = np.random.default_rng(1).uniform(5.0, 50.0, n)
    legacy = dataclasses.replace(
        state, iteration=n, chars_seen=n * CONFIG.seq_length, losses=raw, smooth_losses=raw
    )
    buffer = io.BytesIO()
    np.savez(buffer, **_checkpoint_arrays(trainer, legacy))
    buffer.seek(0)
    loaded = Trainer.load(buffer, TEXT)
    assert len(loaded.losses) < records.MAX_LOSS_ROWS
    ends = loaded.loss_iterations
    assert ends[-1] == n
    spans = np.diff(ends, prepend=0)
    np.testing.assert_allclose((loaded.losses * spans).sum(), raw.sum(), rtol=1e-12)


def _checkpoint_arrays(trainer: Trainer, legacy) -> dict[str, np.ndarray]:
    """The members of `trainer`'s checkpoint with the records of `legacy` and no thinned ends,
    as a checkpoint written before records were thinned."""
    buffer = io.BytesIO()
    trainer.save(buffer)
    buffer.seek(0)
    with np.load(buffer) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays.pop("thinned_ends", None)
    arrays |= {
        "iteration": np.array(legacy.iteration),
        "chars_seen": np.array(legacy.chars_seen),
        "losses": legacy.losses,
        "smooth_losses": legacy.smooth_losses,
    }
    return arrays


def test_the_dashboard_loads_a_ten_million_iteration_checkpoint_and_exports_it_bounded():
    lab = Lab(SONGBOOK, SONGBOOK_CONFIG, stop_at_best=False)
    lab.train(iterations=5)
    long = Trainer.from_state(SONGBOOK.text, long_run_state(trainer=lab.trainer))
    buffer = io.BytesIO()
    long.save(buffer)
    lab.load_checkpoint(buffer.getvalue())
    assert lab.trainer.iteration == 10_000_000
    tracemalloc.start()
    try:
        text = model_reads.history_csv(lab)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert text.count("\n") == 1 + len(lab.trainer.losses) <= records.MAX_LOSS_ROWS
    assert peak < 20 * len(text) + 50 * 10**6, f"writing the CSV took {peak / 1e6:.0f} MB"
    lab.load_checkpoint(buffer.getvalue())  # the run it replaces is archived: what the chart draws
    (first, second) = lab.runs
    assert second.trained == 10_000_000 and len(second.smooth_losses) <= RUN_POINTS
    assert second.iterations[0] == 1 and second.iterations[-1] == 10_000_000


def test_a_session_keeps_its_latest_runs_and_says_which_left_the_chart():
    lab = Lab(SONGBOOK, SONGBOOK_CONFIG, stop_at_best=False)
    for _ in range(MAX_RUNS + 2):
        lab.train(iterations=2)
        lab.new_run(lab.trainer.config)
    assert [run.number for run in lab.runs] == list(range(3, MAX_RUNS + 3))
    told = [text for kind, text in lab.take_messages() if kind == "warning"]
    assert told == [
        f"Run {k} left the chart: a session keeps its latest {MAX_RUNS} runs." for k in (1, 2)
    ]


def test_an_archived_run_keeps_its_curve_at_the_charts_resolution():
    lab = Lab(SONGBOOK, SONGBOOK_CONFIG.replace(hidden_size=4, seq_length=2), stop_at_best=False)
    lab.train(iterations=2 * RUN_POINTS + 7)
    smooth = lab.trainer.smooth_losses.copy()
    lab.new_run(lab.trainer.config)
    (run,) = lab.runs
    assert len(run.smooth_losses) == len(run.iterations) == RUN_POINTS
    assert run.iterations[0] == 1 and run.iterations[-1] == 2 * RUN_POINTS + 7
    np.testing.assert_array_equal(run.smooth_losses, smooth[run.iterations - 1])
