"""What happens around the training steps: milestone samples, validation, speed.

A `Schedule` drives one Trainer in slices: it keeps a sample at milestone iterations (the
timeline "from noise to words"), measures the validation loss after every VALIDATION_EVERY_CHARS
characters trained, keeps the training speed, and turns a divergence into a report. Step, Train N
and Play in the dashboard and the command line all train through it, so a run's records are the
same whichever way it was trained.

    schedule = Schedule(trainer)
    report = schedule.train(iterations=1000)   # or seconds=0.5
    schedule.timeline[-1].text

A run is a value too, as the Trainer's state is: `state()` is a frozen `RunState` (the trainer's
state, the timeline, the speed and the live settings) and `Schedule.from_state` goes on from one;
`delta(marks)` and `apply_delta` keep a mirror up to date; `apply(LiveSettings(...))` changes what
may change while it trains. Nothing outside this module writes a schedule's fields.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from . import overfitting
from .sampling import check_temperature
from .state import Marks, TrainerDelta, TrainerState
from .timeline import Timeline, TimelineEntry
from .trainer import DivergenceError, Trainer

# Iterations at which a sample is kept in the timeline: dense early, when change is fastest.
MILESTONES = (1, 10, 25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 7500)
MILESTONE_EVERY_AFTER = 5000  # then every this many iterations
TIMELINE_SAMPLE_LENGTH = 200
# Validation reads at most VALIDATION_CHARS held-out characters (enough for a steady number),
# after every VALIDATION_EVERY_CHARS characters trained. Counted in characters, not iterations:
# reading held-out text goes one character at a time and does not get cheaper with the batch.
VALIDATION_CHARS = 5000
VALIDATION_EVERY_CHARS = 100_000
# A run that starts from a base model is at its best within a few epochs of a small text (its
# held-out loss falls from the first iteration): it is checked four times as often, so that the
# best point is found and Play stops soon after it (docs/benchmarks.md, "Starting from a base
# model").
TRANSFER_VALIDATION_EVERY_CHARS = 25_000


def validation_cadence(run: Trainer | TrainerState) -> int:
    """Characters trained between validations: fewer for a run that started from a base."""
    return TRANSFER_VALIDATION_EVERY_CHARS if run.origin else VALIDATION_EVERY_CHARS


# A slice is about this much work. Between slices whoever trains looks up (the one slicing rule):
# Play's process answers the session's questions, Train N lets the session's lock go. Short, so
# that nobody waits long for either.
SLICE_SECONDS = 0.015


@dataclass(frozen=True)
class TrainReport:
    """What one call of Schedule.train did, and why it stopped early if it did: a divergence
    (the reason), or the validation loss turning up with stop_at_best (the best model, brought
    back, and the turn)."""

    iterations: int
    seconds: float
    divergence: str | None = None
    stopped_at_best: overfitting.Overfitting | None = None


@dataclass(frozen=True)
class LiveSettings:
    """Settings that may change while a run trains; None leaves one as it is.

    learning_rate and seq_length are the trainer's (each change is an event of its run);
    temperature is what milestone samples are drawn at; stop_at_best: see Schedule.
    """

    learning_rate: float | None = None
    seq_length: int | None = None
    temperature: float | None = None
    stop_at_best: bool | None = None


@dataclass(frozen=True)
class RunState:
    """A whole run, as a value: enough to go on training exactly (Schedule.from_state)."""

    trainer: TrainerState
    timeline: tuple[TimelineEntry, ...]  # the kept ones (rnnlab.timeline)
    timeline_count: int  # how many were ever kept
    timeline_cuts: int  # how many times it was cut back
    training_seconds: float
    chars_per_second: float
    temperature: float
    stop_at_best: bool
    validation_every_chars: int
    keep_timeline: bool = True

    @property
    def iteration(self) -> int:
        return self.trainer.iteration


@dataclass(frozen=True)
class RunMarks:
    """How far a run's records reach (a mirror's, to ask the original what changed since)."""

    trainer: Marks = Marks()
    timeline: int = 0  # the timeline's count
    timeline_cuts: int = 0


@dataclass(frozen=True)
class RunDelta:
    """What changed in a run since some RunMarks: the trainer's delta, the timeline's kept
    entries numbered `timeline_since` or later and its count, the speed and the live settings as
    they are now."""

    trainer: TrainerDelta
    timeline_since: int
    new_timeline: tuple[TimelineEntry, ...]
    timeline_count: int
    timeline_cuts: int
    training_seconds: float
    chars_per_second: float
    temperature: float
    stop_at_best: bool


def next_milestone(iteration: int) -> int:
    """The first milestone iteration after `iteration`."""
    for milestone in MILESTONES:
        if milestone > iteration:
            return milestone
    return (iteration // MILESTONE_EVERY_AFTER + 1) * MILESTONE_EVERY_AFTER


def is_milestone(iteration: int) -> bool:
    return iteration in MILESTONES or (
        iteration > MILESTONES[-1] and iteration % MILESTONE_EVERY_AFTER == 0
    )


class Schedule:
    """A trainer with its timeline of milestone samples, validation cadence and speed.

    temperature: what milestone samples are drawn at (0 is taken as 1: a greedy sample would
    repeat itself and say little about what the model learned). keep_timeline=False skips the
    milestone samples. validation_every_chars: the validation cadence, in characters trained
    (None: validation_cadence(trainer)).
    stop_at_best: once the validation loss has not improved for overfitting.PATIENCE checks,
    stop training and bring back the best model (see TrainReport.stopped_at_best).
    training_seconds, chars_per_second: the speed so far, for a run that goes on (from_state).
    """

    def __init__(
        self,
        trainer: Trainer,
        timeline: Timeline | None = None,
        temperature: float = 1.0,
        keep_timeline: bool = True,
        validation_every_chars: int | None = None,
        stop_at_best: bool = False,
        training_seconds: float = 0.0,
        chars_per_second: float = 0.0,
    ):
        if validation_every_chars is None:
            validation_every_chars = validation_cadence(trainer)
        if validation_every_chars < 1:
            raise ValueError("Validation needs a cadence of at least one character.")
        self.trainer = trainer
        self._validation_every_chars = validation_every_chars
        self._temperature = temperature
        self._keep_timeline = keep_timeline
        self._stop_at_best = stop_at_best
        self._timeline = Timeline() if timeline is None else timeline
        self._training_seconds = training_seconds
        self._chars_per_second = chars_per_second  # lately: an average over the last few slices
        if keep_timeline and not self._timeline:
            self._keep_sample()

    # ------------------------------------------------------------------------ reading
    @property
    def timeline(self) -> tuple[TimelineEntry, ...]:
        """The samples kept: the first ones and the latest (rnnlab.timeline)."""
        return self._timeline.entries

    @property
    def timeline_count(self) -> int:
        """How many samples were ever kept (the number the next one gets)."""
        return self._timeline.count

    def timeline_since(self, n: int) -> tuple[TimelineEntry, ...]:
        """The kept samples numbered n or later."""
        return self._timeline.since(n)

    @property
    def temperature(self) -> float:
        return self._temperature

    @property
    def stop_at_best(self) -> bool:
        return self._stop_at_best

    @property
    def validation_every_chars(self) -> int:
        return self._validation_every_chars

    @property
    def training_seconds(self) -> float:
        return self._training_seconds

    @property
    def chars_per_second(self) -> float:
        return self._chars_per_second

    # ------------------------------------------------------------------ the run as a value
    def state(self, with_model: bool = True) -> RunState:
        """The whole run now (a copy: later training does not change it)."""
        return RunState(
            self.trainer.state(with_model),
            self._timeline.entries,
            self._timeline.count,
            self._timeline.cuts,
            self._training_seconds,
            self._chars_per_second,
            self._temperature,
            self._stop_at_best,
            self._validation_every_chars,
            self._keep_timeline,
        )

    @classmethod
    def from_state(cls, text: str, state: RunState) -> Schedule:
        """Go on with the run `state` describes, on `text` (the one it was trained on)."""
        return cls(Trainer.from_state(text, state.trainer), **_settings_of(state))

    def load_state(self, state: RunState) -> None:
        """Become the run `state` describes, keeping this schedule's Trainer object."""
        self.trainer.load_state(state.trainer)
        self._timeline = Timeline(state.timeline, state.timeline_count, state.timeline_cuts)
        self._temperature, self._stop_at_best = state.temperature, state.stop_at_best
        self._validation_every_chars = state.validation_every_chars
        self._keep_timeline = state.keep_timeline
        self._training_seconds = state.training_seconds
        self._chars_per_second = state.chars_per_second

    def marks(self) -> RunMarks:
        """How far this run's records reach now."""
        return RunMarks(self.trainer.marks(), self._timeline.count, self._timeline.cuts)

    def delta(self, since: RunMarks, with_model: bool = False) -> RunDelta:
        """What changed since `since` (this run's marks, or a mirror's of it); with_model adds
        the parameters and hidden state."""
        timeline = self._timeline
        timeline_since = timeline.start_for(since.timeline, since.timeline_cuts)
        return RunDelta(
            self.trainer.delta(since.trainer, with_model),
            timeline_since,
            timeline.since(timeline_since),
            timeline.count,
            timeline.cuts,
            self._training_seconds,
            self._chars_per_second,
            self._temperature,
            self._stop_at_best,
        )

    def apply_delta(self, delta: RunDelta) -> None:
        """Bring this schedule, a mirror of the one that made `delta`, up to date with it (see
        Trainer.apply_delta: a mirror is for looking at)."""
        self.trainer.apply_delta(delta.trainer)
        self._timeline.extend(
            delta.timeline_since, delta.new_timeline, delta.timeline_count, delta.timeline_cuts
        )
        self._training_seconds, self._chars_per_second = (
            delta.training_seconds,
            delta.chars_per_second,
        )
        self._temperature, self._stop_at_best = delta.temperature, delta.stop_at_best

    def apply(self, settings: LiveSettings) -> None:
        """Change the live settings `settings` names. ValueError for a value out of range, with
        nothing changed."""
        t, temperature = self.trainer, settings.temperature
        if settings.learning_rate is not None:
            t.config.replace(learning_rate=settings.learning_rate)  # checks type and range first
        if temperature is not None:
            check_temperature(temperature)
        if settings.seq_length is not None:  # the one that can still fail: first
            t.set_seq_length(settings.seq_length)
        if settings.learning_rate is not None:
            t.set_learning_rate(settings.learning_rate)
        if settings.temperature is not None:
            self._temperature = float(settings.temperature)
        if settings.stop_at_best is not None:
            self._stop_at_best = bool(settings.stop_at_best)

    def cut_timeline(self, iteration: int) -> None:
        """Drop the samples of iterations after `iteration` (the model went back to it)."""
        self._timeline.cut_after(iteration)

    # ----------------------------------------------------------------------------- training

    def train(
        self,
        iterations: int | None = None,
        seconds: float | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        between_slices: Callable[[], bool] | None = None,
    ) -> TrainReport:
        """Train `iterations` more, or for about `seconds` of wall time, whichever comes first.

        on_progress(done, total) is called after each slice when counting iterations.
        between_slices() is called after each slice too; when it returns True, training stops
        there. A divergence ends the call with the trainer rolled back, samples of undone
        iterations dropped, and the reason in the report.
        """
        t = self.trainer
        start_iteration, started = t.iteration, time.perf_counter()
        target = None if iterations is None else t.iteration + iterations
        divergence = turn = None
        interrupted = False
        try:
            while (
                (target is None or t.iteration < target)
                and (seconds is None or time.perf_counter() - started < seconds)
                and turn is None
                and not interrupted
            ):
                size = self._slice_size(target, seconds)
                slice_started = time.perf_counter()
                t.step(size)
                self._note_speed(size * t.config.chars_per_iteration, slice_started)
                turn = self._after_slice()
                if on_progress is not None and target is not None:
                    on_progress(t.iteration - start_iteration, iterations)
                interrupted = between_slices is not None and between_slices()
        except DivergenceError as error:
            divergence = str(error)
            # The rollback undid iterations: samples kept from them no longer describe the model.
            self.cut_timeline(t.iteration)
        return TrainReport(
            t.iteration - start_iteration, time.perf_counter() - started, divergence, turn
        )

    def _slice_size(self, target: int | None, seconds: float | None) -> int:
        """Iterations to run before looking up: about SLICE_SECONDS of work, ending at the next
        milestone or validation point."""
        t = self.trainer
        size = 1
        if self._chars_per_second:
            seconds_per_iteration = t.config.chars_per_iteration / self._chars_per_second
            work = SLICE_SECONDS if seconds is None else min(SLICE_SECONDS, seconds)
            size = max(1, int(work / seconds_per_iteration))
        size = min(size, self._iterations_to_validation())
        if self._keep_timeline:
            size = min(size, next_milestone(t.iteration) - t.iteration)
        if target is not None:
            size = min(size, target - t.iteration)
        return max(1, size)

    def _iterations_to_validation(self) -> int:
        """Iterations until the one that takes chars_seen past the next multiple of the cadence
        (slices end there, so validation reads that iteration's model)."""
        t, every = self.trainer, self._validation_every_chars
        next_mark = (t.chars_seen // every + 1) * every
        return -(-(next_mark - t.chars_seen) // t.config.chars_per_iteration)

    def _after_slice(self) -> overfitting.Overfitting | None:
        """Milestone sample and validation when due; the turn when stopping at the best."""
        t = self.trainer
        if self._keep_timeline and is_milestone(t.iteration):
            self._keep_sample()
        # The last iteration took chars_seen past a multiple of the cadence.
        every = self._validation_every_chars
        if not (t.val_size and t.chars_seen % every < t.config.chars_per_iteration):
            return None
        t.record_validation(VALIDATION_CHARS)
        if not self._stop_at_best:
            return None
        turn = overfitting.detect_since_restore(t.validation_record, t.events)
        if turn is not None and t.best is not None:
            t.restore_best()
            return turn
        return None

    def _keep_sample(self) -> None:
        t = self.trainer
        text = t.sample(
            TIMELINE_SAMPLE_LENGTH, temperature=self._temperature or 1.0, seed=t.iteration
        )
        self._timeline.append(TimelineEntry(t.iteration, t.smooth_loss, text))

    def _note_speed(self, chars: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        self._training_seconds += elapsed
        if elapsed > 0:
            rate = chars / elapsed
            # Steady enough to read, quick to follow a change of settings.
            self._chars_per_second = (
                rate if not self._chars_per_second else 0.8 * self._chars_per_second + 0.2 * rate
            )


def _settings_of(state: RunState) -> dict:
    """Schedule's keyword arguments for all that `state` holds besides the trainer."""
    return {
        "timeline": Timeline(state.timeline, state.timeline_count, state.timeline_cuts),
        "temperature": state.temperature,
        "keep_timeline": state.keep_timeline,
        "validation_every_chars": state.validation_every_chars,
        "stop_at_best": state.stop_at_best,
        "training_seconds": state.training_seconds,
        "chars_per_second": state.chars_per_second,
    }
