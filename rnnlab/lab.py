"""One dashboard session's state: the corpus, the live run, earlier runs, samples, throughput.

The dashboard keeps exactly one `Lab` per browser session and only wires widgets to its methods.
Everything a person can lose lives here, so every method either succeeds completely or raises
ValueError (or reports a DivergenceError) with the lab exactly as it was.
"""

from __future__ import annotations

import io
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .config import Config
from .corpora import Corpus
from .player import Player, PlayerFailed
from .trainer import DivergenceError, Trainer

# Hyperparameters that shape the model: changing them needs a new model (a new run).
STRUCTURAL = ("hidden_size", "batch_size", "seed", "val_fraction")
# Iterations at which a sample is kept in the timeline: dense early, when change is fastest.
MILESTONES = (
    1,
    10,
    25,
    50,
    100,
    200,
    300,
    500,
    750,
    1000,
    1500,
    2000,
    3000,
    4000,
    5000,
    7500,
    10000,
)
MILESTONE_EVERY_AFTER = 5000
TIMELINE_SAMPLE_LENGTH = 200
# Validation loss is measured on at most VALIDATION_CHARS held-out characters (enough for a steady
# number) after every VALIDATION_EVERY_CHARS characters trained. Reading the held-out text is one
# character at a time, so its cost does not shrink with the batch as training's does: every 100
# iterations it took 6% of the training time at the dashboard's defaults (B=16) and 33% at the
# classic B=1. Counted in characters it is 2.4% and 0.8%: a point every 250 iterations at the
# defaults, every 4,000 at B=1, T=25.
VALIDATION_CHARS = 5000
VALIDATION_EVERY_CHARS = 100_000
# While playing, the latest sample is drawn again at most this often (a sample of 300 characters
# costs about 9 ms; the live view asks every 0.4 s).
PLAY_SAMPLE_EVERY = 0.4
# A player nobody has looked at for this long stops by itself (the browser tab was closed). Long
# enough for a background tab, which browsers let refresh only about once a minute.
PLAY_IDLE_TIMEOUT = 150.0


@dataclass
class SampleSettings:
    length: int = 300
    temperature: float = 1.0
    prime: str = ""


@dataclass
class TimelineEntry:
    iteration: int
    smooth_loss: float
    text: str


@dataclass
class Run:
    """A finished run kept for comparison: what it was trained with and how its loss went."""

    number: int
    corpus_name: str
    config: Config  # as the run started
    losses: np.ndarray
    smooth_losses: np.ndarray
    validation_history: list[tuple[int, float]]
    events: list[dict]

    @property
    def label(self) -> str:
        return f"Run {self.number}: {run_label(self.config)}"


@dataclass(frozen=True)
class CurveSnapshot:
    """What the loss chart reads from a trainer, copied: it can be drawn while training goes on."""

    config: Config
    events: list[dict]
    losses: np.ndarray  # (iteration,) raw loss per iteration
    smooth_losses: np.ndarray  # (iteration,)
    validation_history: list[tuple[int, float]]
    iteration: int


@dataclass(frozen=True)
class LiveSnapshot:
    """Everything the Training view shows, taken in one moment under the lab's lock."""

    stats: dict[str, float | int | None]
    curve: CurveSnapshot
    runs: list[Run]
    timeline: list[TimelineEntry]
    latest_sample: str
    sample_settings: SampleSettings
    playing: bool


@dataclass
class TrainReport:
    iterations: int
    seconds: float
    error: str | None = None


def run_label(config: Config) -> str:
    return (
        f"H={config.hidden_size} T={config.seq_length} lr={config.learning_rate:g} "
        f"B={config.batch_size} seed={config.seed}"
    )


def initial_config(config: Config, events: list[dict]) -> Config:
    """The config a run started with, undoing the mid-run changes recorded in `events`."""
    first: dict[str, object] = {}
    for event in events:
        first.setdefault(event["name"], event["old"])
    return config.replace(**first)


def per_iteration(config: Config, events: list[dict], name: str, n: int) -> np.ndarray:
    """Value of hyperparameter `name` used at each of n iterations, (n,), from the change events."""
    values = np.full(n, getattr(initial_config(config, events), name), dtype=np.float64)
    for event in events:
        if event["name"] == name:
            values[event["iteration"] :] = event["new"]
    return values


@dataclass
class Lab:
    corpus: Corpus
    trainer: Trainer
    sample_settings: SampleSettings = field(default_factory=SampleSettings)
    runs: list[Run] = field(default_factory=list)
    run_number: int = 1
    timeline: list[TimelineEntry] = field(default_factory=list)
    latest_sample: str = ""
    playing: bool = False
    training_seconds: float = 0.0
    recent_chars_per_second: float = 0.0
    pending_corpus: Corpus | None = None  # a text chosen or uploaded but not yet applied
    notices: list[tuple[str, str]] = field(default_factory=list)  # (kind, message) for the page
    # Why training last stopped by itself (a divergence on any path: Step, Train N or Play; or a
    # failed player), until the page has told it; None when there is nothing to tell.
    divergence_message: str | None = None
    # Held by whoever reads or changes the lab: the page's script threads and widget callbacks.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    # While playing, the process that trains; self.trainer is then its mirror (see player.py).
    _player: Player | None = field(default=None, repr=False, compare=False)
    _sampled_at: float = field(default=0.0, repr=False, compare=False)

    @classmethod
    def create(cls, corpus: Corpus, config: Config) -> Lab:
        lab = cls(corpus, Trainer(corpus.text, config))
        lab._start_run()
        return lab

    # --------------------------------------------------------------------------------- runs
    def new_run(self, config: Config, corpus: Corpus | None = None) -> None:
        """Start a new run (Reset / Apply); the current one is kept for comparison.

        The new trainer is built first, so a config that does not fit the text raises ValueError
        and leaves the current run untouched.
        """
        corpus = corpus or self.corpus
        trainer = Trainer(corpus.text, config)
        self.pause()  # the run is archived as the player left it
        self._archive_current()
        self.corpus, self.trainer = corpus, trainer
        self.run_number += 1
        s = self.sample_settings
        if not set(s.prime) <= set(trainer.vocab.chars):
            # A prime written for the old text can hold characters the new model cannot read.
            self.sample_settings = SampleSettings(s.length, s.temperature, "")
        self._start_run()

    def load_checkpoint(self, data: bytes) -> None:
        """Resume from checkpoint bytes made on this corpus; ValueError leaves all as it was."""
        trainer = Trainer.load(io.BytesIO(data), self.corpus.text)
        self.pause()
        self._archive_current()
        self.trainer = trainer
        self.run_number += 1
        self.timeline = []
        self.training_seconds = 0.0
        self.refresh_sample()
        self.timeline.append(
            TimelineEntry(trainer.iteration, trainer.smooth_loss, self.latest_sample)
        )

    def checkpoint_bytes(self) -> bytes:
        """The model as a .npz checkpoint; while playing, as of the last sync()."""
        buffer = io.BytesIO()
        self.trainer.save(buffer)
        return buffer.getvalue()

    def _archive_current(self) -> None:
        t = self.trainer
        if t.iteration == 0:
            return
        self.runs.append(
            Run(
                number=self.run_number,
                corpus_name=self.corpus.name,
                config=initial_config(t.config, t.events),
                losses=t.losses.copy(),
                smooth_losses=t.smooth_losses.copy(),
                validation_history=list(t.validation_history),
                events=list(t.events),
            )
        )

    def _start_run(self) -> None:
        self.timeline = []
        self.training_seconds = 0.0
        self.recent_chars_per_second = 0.0
        self.refresh_sample()
        self.timeline.append(TimelineEntry(0, self.trainer.smooth_loss, self.latest_sample))

    def pending_changes(self, wanted: Config, corpus: Corpus | None) -> list[str]:
        """Human-readable differences that need a new run to take effect."""
        current = self.trainer.config
        changes = [
            f"{name.replace('_', ' ')}: {getattr(current, name)} → {getattr(wanted, name)}"
            for name in STRUCTURAL
            if name != "seed" and getattr(wanted, name) != getattr(current, name)
        ]
        if wanted.seed is not None and wanted.seed != current.seed:
            changes.append(f"seed: {current.seed} → {wanted.seed}")
        if corpus is not None and corpus != self.corpus:
            changes.append(f"text: {self.corpus.name} → {corpus.name}")
        return changes

    # ---------------------------------------------------------------------- live settings
    # Each applies to the lab's own trainer first, which checks the value (ValueError leaves all
    # as it was), then, while playing, to the player's.
    def set_learning_rate(self, learning_rate: float) -> None:
        with self.lock:
            self.trainer.set_learning_rate(learning_rate)
            self._tell_player("set_learning_rate", learning_rate)

    def set_seq_length(self, seq_length: int) -> None:
        with self.lock:
            self.trainer.set_seq_length(seq_length)
            self._tell_player("set_seq_length", seq_length)

    # ----------------------------------------------------------------------------- training
    def train(
        self,
        iterations: int | None = None,
        seconds: float | None = None,
        on_progress=None,
        refresh_sample: bool = True,
    ) -> TrainReport:
        """Train for a number of iterations, or for about `seconds` of wall time.

        Samples are kept at milestone iterations, validation loss is measured after every
        VALIDATION_EVERY_CHARS characters trained, and a divergence is reported (with the trainer
        rolled back) instead of raised. on_progress(done, total) is called between slices when
        counting. A playing lab pauses first.
        """
        if self._player is not None:
            self.pause()
        t = self.trainer
        start_iteration, started = t.iteration, time.perf_counter()
        target = None if iterations is None else t.iteration + iterations
        error = None
        try:
            while True:
                now = time.perf_counter()
                if target is not None and t.iteration >= target:
                    break
                if seconds is not None and now - started >= seconds:
                    break
                slice_size = self._slice_size(target, seconds)
                slice_started = now
                t.step(slice_size)
                elapsed = time.perf_counter() - slice_started
                self._note_speed(slice_size * t.config.chars_per_iteration, elapsed)
                self._after_iterations()
                if on_progress is not None and target is not None:
                    on_progress(iterations - (target - t.iteration), iterations)
        except DivergenceError as divergence:
            error = str(divergence)
            self.divergence_message = error
            self.playing = False
            # The rollback undid iterations: samples kept from them no longer describe the model.
            self.timeline = [entry for entry in self.timeline if entry.iteration <= t.iteration]
        if refresh_sample or error:
            self.refresh_sample()
        return TrainReport(t.iteration - start_iteration, time.perf_counter() - started, error)

    # ------------------------------------------------------------------------------ playing
    def play(self) -> None:
        """Train in a process of its own until pause(), a divergence, or nobody looks any more.

        Meanwhile self.trainer is a mirror of the player's trainer, brought up to date by sync().
        """
        with self.lock:
            if self._player is None:
                self._player = Player(self, PLAY_IDLE_TIMEOUT)
            self.playing = True

    def pause(self) -> None:
        """Stop playing. Once this returns, the lab holds the player's whole state, exactly."""
        with self.lock:
            self.playing = False
            player, self._player = self._player, None
            if player is not None:
                try:
                    player.stop(self)
                except PlayerFailed as failure:
                    self._player_failed(failure)
                self.refresh_sample()

    def sync(self) -> None:
        """While playing: bring the lab up to date with the player (and tell it someone is
        looking). When the player has stopped by itself, the lab takes its state back and stops
        playing; divergence_message says why."""
        with self.lock:
            if self._player is None:
                return
            try:
                still_playing = self._player.sync(self)
            except PlayerFailed as failure:
                self._player_failed(failure)
                still_playing = False
            if not still_playing:
                self._player = None
                self.playing = False
                self.refresh_sample()
            elif time.monotonic() - self._sampled_at >= PLAY_SAMPLE_EVERY:
                self.refresh_sample()

    def _tell_player(self, method: str, *args) -> None:
        if self._player is None:
            return
        try:
            self._player.call(method, *args)
        except PlayerFailed as failure:
            self._player_failed(failure)

    def _player_failed(self, failure: PlayerFailed) -> None:
        """Stop playing and go on from the last sync: its parameters, optimizer memory and
        history are whole."""
        self._player = None
        self.playing = False
        self.trainer._take_snapshot()
        self.divergence_message = (
            f"The training process failed ({failure}). The model is as it was at iteration "
            f"{self.trainer.iteration:,}."
        )

    def _slice_size(self, target: int | None, seconds: float | None) -> int:
        """Iterations to run before looking up: to the next milestone, about 50 ms of work."""
        t = self.trainer
        per_iteration_seconds = t.config.chars_per_iteration / max(
            self.recent_chars_per_second, 1.0
        )
        work = min(0.05, seconds) if seconds is not None else 0.05
        size = max(1, int(work / per_iteration_seconds)) if self.recent_chars_per_second else 1
        size = min(
            size,
            self._next_milestone() - t.iteration,
            self._iterations_to_validation(),
        )
        if target is not None:
            size = min(size, target - t.iteration)
        return max(1, size)

    def _next_milestone(self) -> int:
        it = self.trainer.iteration
        for milestone in MILESTONES:
            if milestone > it:
                return milestone
        return (it // MILESTONE_EVERY_AFTER + 1) * MILESTONE_EVERY_AFTER

    def _iterations_to_validation(self) -> int:
        """Iterations until the one that takes chars_seen past the next multiple of
        VALIDATION_EVERY_CHARS (slices end there, so validation reads that iteration's model)."""
        t = self.trainer
        next_mark = (t.chars_seen // VALIDATION_EVERY_CHARS + 1) * VALIDATION_EVERY_CHARS
        return -(-(next_mark - t.chars_seen) // t.config.chars_per_iteration)

    def _after_iterations(self) -> None:
        t = self.trainer
        if t.iteration in MILESTONES or (
            t.iteration >= MILESTONES[-1] and t.iteration % MILESTONE_EVERY_AFTER == 0
        ):
            text = t.sample(
                TIMELINE_SAMPLE_LENGTH,
                temperature=self.sample_settings.temperature or 1.0,
                seed=t.iteration,
            )
            self.timeline.append(TimelineEntry(t.iteration, t.smooth_loss, text))
        # The last iteration took chars_seen past a multiple of VALIDATION_EVERY_CHARS.
        if t.val_size and t.chars_seen % VALIDATION_EVERY_CHARS < t.config.chars_per_iteration:
            t.record_validation(VALIDATION_CHARS)

    def _note_speed(self, chars: int, seconds: float) -> None:
        self.training_seconds += seconds
        if seconds > 0:
            rate = chars / seconds
            # An average over the last few slices: steady enough to read, quick to follow changes.
            self.recent_chars_per_second = (
                rate
                if not self.recent_chars_per_second
                else 0.8 * self.recent_chars_per_second + 0.2 * rate
            )

    # ----------------------------------------------------------------------------- sampling
    def refresh_sample(self) -> None:
        self._sampled_at = time.monotonic()
        s = self.sample_settings
        self.latest_sample = self.trainer.sample(
            s.length, prime=s.prime or None, temperature=s.temperature
        )

    def set_sample_settings(self, length: int, temperature: float, prime: str) -> None:
        """Change how samples are drawn; a prime with characters the model does not know raises."""
        if prime:
            self.trainer.vocab.encode(prime)  # raises ValueError naming unknown characters
        if not 1 <= length <= 5000:
            raise ValueError("The sample length must be between 1 and 5000 characters.")
        if not 0 <= temperature <= 10 or not math.isfinite(temperature):
            raise ValueError("The temperature must be between 0 (greedy) and 10.")
        with self.lock:
            self.sample_settings = SampleSettings(length, temperature, prime)
            self.refresh_sample()
            self._tell_player("set_sample_settings", length, temperature, prime)

    # -------------------------------------------------------------------------------- export
    def history_csv(self) -> str:
        """The live run's history, one row per iteration, as CSV text; while playing, as of the
        last sync()."""
        t = self.trainer
        n = t.iteration
        seq = per_iteration(t.config, t.events, "seq_length", n)
        lr = per_iteration(t.config, t.events, "learning_rate", n)
        chars = np.cumsum(seq * t.config.batch_size)
        validation = dict(t.validation_history)
        lines = [
            "iteration,chars_seen,seq_length,learning_rate,loss,smooth_loss,bits_per_char,val_nats_per_char"
        ]
        for i in range(n):
            val = validation.get(i + 1)
            bits = t.losses[i] / seq[i] / math.log(2)
            lines.append(
                f"{i + 1},{int(chars[i])},{int(seq[i])},{lr[i]:g},"
                f"{t.losses[i]:.6f},{t.smooth_losses[i]:.6f},"
                f"{bits:.6f},{'' if val is None else f'{val:.6f}'}"
            )
        return "\n".join(lines) + "\n"

    def snapshot(self) -> LiveSnapshot:
        """A copy of what the Training view draws, taken holding `lock` (copies take microseconds;
        drawing takes tens of milliseconds, during which callbacks need not wait)."""
        t = self.trainer
        curve = CurveSnapshot(
            t.config,
            list(t.events),
            t.losses.copy(),
            t.smooth_losses.copy(),
            list(t.validation_history),
            t.iteration,
        )
        return LiveSnapshot(
            self.stats(), curve, list(self.runs), list(self.timeline), self.latest_sample,
            self.sample_settings, self.playing,
        )  # fmt: skip

    def stats(self) -> dict[str, float | int | None]:
        t = self.trainer
        val = t.validation_history[-1][1] if t.validation_history else None
        return {
            "iteration": t.iteration,
            "epochs": t.epochs,
            "chars_seen": t.chars_seen,
            "chars_per_second": self.recent_chars_per_second,
            "parameters": t.param_count,
            "smooth_loss": t.smooth_loss,
            "bits_per_char": t.smooth_loss / t.config.seq_length / math.log(2),
            "val_nats_per_char": val,
            "val_bits_per_char": None if val is None else val / math.log(2),
        }
