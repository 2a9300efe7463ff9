"""What happens around the training steps: milestone samples, validation, speed.

A `Schedule` drives one Trainer in slices: it keeps a sample at milestone iterations (the
timeline "from noise to words"), measures the validation loss after every VALIDATION_EVERY_CHARS
characters trained, keeps the training speed, and turns a divergence into a report. Step, Train N
and Play in the dashboard and the command line all train through it, so a run's records are the
same whichever way it was trained.

    schedule = Schedule(trainer)
    report = schedule.train(iterations=1000)   # or seconds=0.5
    schedule.timeline[-1].text
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from . import overfitting
from .state import TrainerState
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


# A slice is about this much work; between slices a caller can look up (progress, questions).
SLICE_SECONDS = 0.05


@dataclass(frozen=True)
class TimelineEntry:
    """A sample kept at a milestone iteration."""

    iteration: int
    smooth_loss: float
    text: str


@dataclass(frozen=True)
class TrainReport:
    """What one call of Schedule.train did, and why it stopped early if it did: a divergence
    (the reason), or the validation loss turning up with stop_at_best (the best model, brought
    back, and the turn)."""

    iterations: int
    seconds: float
    divergence: str | None = None
    stopped_at_best: overfitting.Overfitting | None = None


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
    """

    def __init__(
        self,
        trainer: Trainer,
        timeline: tuple[TimelineEntry, ...] | list[TimelineEntry] = (),
        temperature: float = 1.0,
        keep_timeline: bool = True,
        validation_every_chars: int | None = None,
        stop_at_best: bool = False,
    ):
        if validation_every_chars is None:
            validation_every_chars = validation_cadence(trainer)
        if validation_every_chars < 1:
            raise ValueError("Validation needs a cadence of at least one character.")
        self.trainer = trainer
        self.validation_every_chars = validation_every_chars
        self.temperature = temperature
        self.keep_timeline = keep_timeline
        self.stop_at_best = stop_at_best
        self.timeline: list[TimelineEntry] = list(timeline)
        self.training_seconds = 0.0
        self.chars_per_second = 0.0  # lately: an average over the last few slices
        if keep_timeline and not self.timeline:
            self._keep_sample()

    def train(
        self,
        iterations: int | None = None,
        seconds: float | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> TrainReport:
        """Train `iterations` more, or for about `seconds` of wall time, whichever comes first.

        on_progress(done, total) is called after each slice when counting iterations. A
        divergence ends the call with the trainer
        rolled back, samples of undone iterations dropped, and the reason in the report.
        """
        t = self.trainer
        start_iteration, started = t.iteration, time.perf_counter()
        target = None if iterations is None else t.iteration + iterations
        divergence = turn = None
        try:
            while (
                (target is None or t.iteration < target)
                and (seconds is None or time.perf_counter() - started < seconds)
                and turn is None
            ):
                size = self._slice_size(target, seconds)
                slice_started = time.perf_counter()
                t.step(size)
                self._note_speed(size * t.config.chars_per_iteration, slice_started)
                turn = self._after_slice()
                if on_progress is not None and target is not None:
                    on_progress(t.iteration - start_iteration, iterations)
        except DivergenceError as error:
            divergence = str(error)
            # The rollback undid iterations: samples kept from them no longer describe the model.
            self.timeline = [entry for entry in self.timeline if entry.iteration <= t.iteration]
        return TrainReport(
            t.iteration - start_iteration, time.perf_counter() - started, divergence, turn
        )

    def _slice_size(self, target: int | None, seconds: float | None) -> int:
        """Iterations to run before looking up: about SLICE_SECONDS of work, ending at the next
        milestone or validation point."""
        t = self.trainer
        size = 1
        if self.chars_per_second:
            seconds_per_iteration = t.config.chars_per_iteration / self.chars_per_second
            work = SLICE_SECONDS if seconds is None else min(SLICE_SECONDS, seconds)
            size = max(1, int(work / seconds_per_iteration))
        size = min(size, self._iterations_to_validation())
        if self.keep_timeline:
            size = min(size, next_milestone(t.iteration) - t.iteration)
        if target is not None:
            size = min(size, target - t.iteration)
        return max(1, size)

    def _iterations_to_validation(self) -> int:
        """Iterations until the one that takes chars_seen past the next multiple of the cadence
        (slices end there, so validation reads that iteration's model)."""
        t, every = self.trainer, self.validation_every_chars
        next_mark = (t.chars_seen // every + 1) * every
        return -(-(next_mark - t.chars_seen) // t.config.chars_per_iteration)

    def _after_slice(self) -> overfitting.Overfitting | None:
        """Milestone sample and validation when due; the turn when stopping at the best."""
        t = self.trainer
        if self.keep_timeline and is_milestone(t.iteration):
            self._keep_sample()
        # The last iteration took chars_seen past a multiple of the cadence.
        every = self.validation_every_chars
        if not (t.val_size and t.chars_seen % every < t.config.chars_per_iteration):
            return None
        t.record_validation(VALIDATION_CHARS)
        if not self.stop_at_best:
            return None
        turn = overfitting.detect_since_restore(t.validation_record, t.events)
        if turn is not None and t.best is not None:
            t.restore_best()
            return turn
        return None

    def _keep_sample(self) -> None:
        t = self.trainer
        text = t.sample(
            TIMELINE_SAMPLE_LENGTH, temperature=self.temperature or 1.0, seed=t.iteration
        )
        self.timeline.append(TimelineEntry(t.iteration, t.smooth_loss, text))

    def _note_speed(self, chars: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        self.training_seconds += elapsed
        if elapsed > 0:
            rate = chars / elapsed
            # Steady enough to read, quick to follow a change of settings.
            self.chars_per_second = (
                rate if not self.chars_per_second else 0.8 * self.chars_per_second + 0.2 * rate
            )
