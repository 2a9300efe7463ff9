"""One dashboard session: the text, the live run, earlier runs, the latest sample, messages.

The page keeps exactly one `Lab` per browser session and only wires widgets to its methods and
draws what `snapshot()` returns. Every public method takes the lab's lock itself (the page's
script thread, widget callbacks and the live feed's requests may come at once), and either
succeeds completely or raises ValueError with the lab exactly as it was.

While playing, a child process trains (dashboard/player.py) and the lab's trainer is a mirror of
it, brought up to date by every snapshot().
"""

from __future__ import annotations

import functools
import io
import itertools
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rnnlab import budget, checkpoint, pace
from rnnlab.compare import FromBase, config_of
from rnnlab.config import Config
from rnnlab.copying import CopyReport
from rnnlab.corpora import Corpus
from rnnlab.insight import DrawnText, SnippetTrace, run_snippet, sample_side_by_side
from rnnlab.overfitting import Overfitting, detect_since_restore
from rnnlab.presets import DASHBOARD_DEFAULTS, STOP_AT_BEST
from rnnlab.sampling import SampleSettings
from rnnlab.schedule import (
    LiveSettings,
    RunState,
    Schedule,
    TimelineEntry,
    TrainReport,
    validation_cadence,
)
from rnnlab.state import (
    TrainerState,
    bits_per_char,
    chars_seen_at,
    initial_config,
    per_iteration_at,
)
from rnnlab.trainer import Trainer, check_text_fits

from .comparison import Comparison
from .player import Player, PlayerFailed, Stopped
from .process_slots import SLOTS
from .runs import Run
from .starts import CURRENT, RANDOM_START, Start, from_trainer, start_of_run
from .text_analysis import TextAnalysis, analysis_for

# The memory one session may use, both processes counted while playing (docs/hosting.md).
SESSION_MEMORY_BYTES = int(float(os.environ.get("RNNLAB_SESSION_MEMORY_MB", "768")) * 2**20)

# One iteration cannot be interrupted and holds the session's lock: settings whose single
# iteration would take longer than this, in seconds, are refused (docs/hosting.md).
MAX_SECONDS_PER_ITERATION = float(os.environ.get("RNNLAB_MAX_SECONDS_PER_ITERATION", "2"))


# Compare cells: the CPU seconds each network may train, as the page offers them.
COMPARE_SECONDS = (10, 30, 60, 120)

# Step and Train N run in the page's own run, which waits for them: at most this long, in
# slices of this much work with the session's lock let go between them.
TRAIN_MAX_SECONDS = 120.0
TRAIN_SLICE_SECONDS = 0.25
# Between two slices the trainer waits this long with the lock let go: a thread's lock is not
# fair, and one that let go and took it again at once would starve whoever waits for it.
TRAIN_SLICE_GAP = 0.005

# Hyperparameters that shape the model: changing them needs a new model (a new run).
STRUCTURAL = (
    "cell",
    "layers",
    "optimizer",
    "dtype",
    "hidden_size",
    "batch_size",
    "seed",
    "val_fraction",
    "dropout",
)
# While playing, the player draws the latest sample at most this often: a person reads a
# 300-character sample in no less, and each costs the training a few milliseconds.
PLAY_SAMPLE_EVERY = 1.0
# While playing, the player hands over its whole state this often, so that if it fails the run
# goes on from there rather than from where Play was pressed.
PLAY_SAVE_POINT_EVERY = 30.0
# A player nobody has looked at for this long stops by itself (the browser tab was closed). Long
# enough for a background tab, which browsers let refresh only about once a minute.
PLAY_IDLE_TIMEOUT = 150.0
# However often someone looks, a Play ends after this long: a tab left open on a shared server
# does not keep a core for ever.
PLAY_MAX_SECONDS = 6 * 3600.0
# Generate writes at most this many characters: a page or two, still checked for copies at once.
GENERATE_MAX_CHARS = 5000
# Inside the network reads at most this much text: its heatmaps grow with every character.
SNIPPET_MAX_CHARS = 1000
# The timeline's samples the views show: the first ones (every milestone up to 7,500) and the
# latest ones; a day of Play makes thousands.
TIMELINE_FIRST = 16
TIMELINE_LATEST = 40
# The name of the thread that watches a comparison to its end, then frees its slot.
COMPARISON_WATCHER = "comparison-watcher"
# Earlier runs a session keeps for the chart (the oldest go first), and the points of each.
MAX_RUNS = 10
RUN_POINTS = 800
# The copy meter's series keeps the latest samples' readings, this many at most.
COPY_SERIES_LENGTH = 2000
# Timeline generations, unique across the server's labs: a mark names one (Lab.snapshot).
_timeline_generations = itertools.count(1)


@dataclass(frozen=True)
class LiveSnapshot:
    """Everything the views draw, taken in one moment under the lab's lock."""

    state: TrainerState
    stats: dict[str, float | int | None]
    runs: tuple[Run, ...]
    # The timeline entries to send: all those shown (the first and the latest, thinned) when
    # timeline_replaces, else only those new since the mark the caller brought (see timeline_mark).
    timeline: tuple[TimelineEntry, ...]
    latest_sample: str
    sample_settings: SampleSettings
    playing: bool
    corpus: Corpus
    # Measured against the text (None until its analysis is ready, which may take a while):
    yardsticks: dict[str, float] | None  # bits per character (rnnlab.yardsticks)
    yardsticks_in_sample: bool  # True when nothing is held out: measured on the training text
    latest_copy: CopyReport | None  # the copy meter on the latest sample (prime included)
    timeline_copies: tuple[CopyReport | None, ...]  # and on each timeline sample
    copy_series: np.ndarray  # (k, 2) rows of (iteration, longest copy) of the latest samples
    overfitting: Overfitting | None  # the validation loss has turned up, if it has
    stop_at_best: bool
    # Which timeline a holder of `timeline` has now: bring it back to snapshot() for the changes.
    timeline_mark: str = ""
    timeline_replaces: bool = True  # `timeline` is the whole shown timeline, not an addition
    analysis_failure: str | None = None  # why the text has no yardsticks or copy meter, if so


class Busy(RuntimeError):
    """The lab was busy (training, answering another request) for longer than the caller waits."""


class Lab:
    def __init__(
        self,
        corpus: Corpus,
        config: Config,
        stop_at_best: bool = STOP_AT_BEST,
        start: Start = RANDOM_START,
    ):
        self.lock = threading.RLock()
        self.corpus = corpus
        config = start.config(config)
        fits(config, corpus.vocab.size)
        self.trainer = start.trainer(corpus.text, config)
        self.start = start  # where the current run's weights came from
        self.offered_start: Start | None = None  # an uploaded checkpoint to start from
        self.sample_settings = SampleSettings()
        self.runs: tuple[Run, ...] = ()
        self.run_number = 1
        self.latest_sample = ""
        self.pending_corpus: Corpus | None = None  # a text chosen or uploaded, not yet applied
        self._schedule = Schedule(self.trainer, stop_at_best=stop_at_best)
        self._timeline_generation = next(_timeline_generations)
        self._analysis = analysis_for(self.trainer.train_text, self.trainer.held_out_text)
        self._copy_series: list[tuple[int, str]] = []  # (iteration, latest sample with its prime)
        self._messages: list[tuple[str, str]] = []  # (kind, text) for the page to show once
        self._player: Player | None = None
        self.comparison: Comparison | None = None  # the latest Compare cells, running or done
        self._play_save_point: RunState | None = None  # while playing: where to go on from
        self._sampled_at = self._saved_at = 0.0
        self.refresh_sample()

    # ---------------------------------------------------------------------------- reading
    @property
    def playing(self) -> bool:
        return self._player is not None

    @property
    def player_pid(self) -> int | None:
        """The play process's id while playing, else None (for tests and diagnostics)."""
        with self.lock:
            return None if self._player is None else self._player.pid

    @property
    def play_traffic(self) -> tuple[list[int], list[int]]:
        """The sizes in bytes of the messages sent to and received from the current play process,
        in order (copies; two empty lists when not playing), for tests and benchmarks."""
        with self.lock:
            player = self._player
            if player is None:
                return [], []
            return list(player.bytes_sent), list(player.bytes_received)

    @property
    def timeline(self) -> tuple[TimelineEntry, ...]:
        return self._schedule.timeline

    @property
    def stop_at_best(self) -> bool:
        """Training stops by itself once the validation loss has turned up, holding the best."""
        return self._schedule.stop_at_best

    def snapshot(
        self,
        with_model: bool = False,
        wait: float | None = None,
        timeline_since: str = "",
        copy_model: bool = True,
    ) -> LiveSnapshot:
        """What the views draw, brought up to date with the player first while playing.

        with_model: the views that show the model itself (parameters, hidden state) need its
        latest parameters from the player; the loss chart and the stats do not. wait: give up
        after this many seconds if the lab is busy (Busy), rather than wait for it.
        timeline_since: the timeline_mark of a snapshot whose timeline the caller holds; the new
        snapshot's timeline is then only what was added since, unless that copy is no longer
        valid (a new run, a rollback, a pause, the copy meter becoming ready: see
        LiveSnapshot.timeline_replaces). copy_model=False: the state carries no model
        (Trainer.state(with_model=False)), for views that draw only the records and the
        numbers: the live feed's polls then copy nothing parameter-sized.
        """
        if not self.lock.acquire(timeout=-1 if wait is None else wait):
            raise Busy("The session is busy; ask again.")
        try:
            return self._snapshot(with_model, timeline_since, copy_model)
        finally:
            self.lock.release()

    def _snapshot(self, with_model: bool, timeline_since: str, copy_model: bool) -> LiveSnapshot:
        # The caller holds the lock.
        self._sync(with_model)
        state = self.trainer.state(with_model=copy_model)
        analysis = self._analysis
        shown = self.sample_settings.prime + self.latest_sample
        # Read before the meters: the index becoming ready after this only costs a replace later.
        meters_ready = analysis.index_ready
        timeline, replaces, mark = self._timeline_since(timeline_since, meters_ready)
        return LiveSnapshot(
            state,
            self._stats(state),
            self.runs,
            timeline,
            self.latest_sample,
            self.sample_settings,
            self.playing,
            self.corpus,
            yardsticks=analysis.yardsticks,
            yardsticks_in_sample=analysis.in_sample,
            latest_copy=analysis.meter(shown),
            timeline_copies=tuple(analysis.meter(e.text) for e in timeline),
            copy_series=self._copy_lengths(analysis),
            overfitting=detect_since_restore(state.validation, state.events),
            stop_at_best=self.stop_at_best,
            timeline_mark=mark,
            timeline_replaces=replaces,
            analysis_failure=analysis.failure,
        )

    def _timeline_since(
        self, mark: str, meters_ready: bool
    ) -> tuple[tuple[TimelineEntry, ...], bool, str]:
        """(entries, replaces, new mark): the entries added since `mark` if a holder of it can
        add them to its copy, else the whole shown timeline. A mark names the timeline's
        generation (a new one whenever it is replaced or cut back rather than added to), whether
        the copy meter had read its samples, and how many entries it had."""
        timeline = self._schedule.timeline
        valid_for = f"{self._timeline_generation}.{int(meters_ready)}."
        now = f"{valid_for}{len(timeline)}"
        held = _entries_held(mark, valid_for)
        # More new entries than the view keeps at the end: the holder's first ones may be
        # short of TIMELINE_FIRST, so it gets the whole thinned timeline instead.
        if held is not None and 0 <= len(timeline) - held <= TIMELINE_LATEST:
            return tuple(timeline[held:]), False, now
        return thinned(timeline), True, now

    def _timeline_replaced(self) -> None:
        """The timeline was replaced or cut back (not added to): copies of it are no good."""
        self._timeline_generation = next(_timeline_generations)

    def _copy_lengths(self, analysis: TextAnalysis) -> np.ndarray:
        rows = []
        for iteration, sample in self._copy_series:
            reading = analysis.meter(sample)
            if reading is not None:
                rows.append((iteration, reading.length))
        return np.array(rows, dtype=np.float64).reshape(-1, 2)

    def generate(
        self, length: int, temperature: float, prime: str = ""
    ) -> tuple[str, CopyReport | None]:
        """A longer piece (prime included) from the model as it is now, and its copy meter
        reading (None until the text's index is ready); ValueError for settings out of range
        or a prime the model cannot read."""
        if isinstance(length, bool) or not isinstance(length, int):
            raise ValueError("Generate needs a whole number of characters.")
        if not 1 <= length <= GENERATE_MAX_CHARS:
            raise ValueError(f"Generate writes 1 to {GENERATE_MAX_CHARS:,} characters.")
        settings = SampleSettings(temperature=temperature, prime=prime)  # checks both
        with self.lock:
            self._sync(with_model=True)
            if prime:
                self.trainer.vocab.encode(prime)  # raises ValueError naming unknown characters
            text = settings.prime + self.trainer.sample(
                length, prime=prime or None, temperature=temperature
            )
            return text, self._analysis.meter(text)

    def take_messages(self) -> list[tuple[str, str]]:
        """Messages for the page since it last asked ("error" or "success", text), each once."""
        with self.lock:
            messages, self._messages = self._messages, []
            return messages

    def notify(self, kind: str, text: str) -> None:
        with self.lock:
            self._messages.append((kind, text))

    @property
    def has_messages(self) -> bool:
        """Whether a message waits for the page (read without the lock: a glance, never a wait)."""
        return bool(self._messages)

    def pending_changes(
        self, wanted: Config, corpus: Corpus | None, start: Start | None = None
    ) -> list[str]:
        """Human-readable differences that need a new run to take effect (start: where the new
        run's weights would come from; None: as the current run's did)."""
        start = self.start if start is None else start
        current = self.trainer.config
        if start.ready:
            wanted = start.config(wanted)
        changes = [
            f"{name.replace('_', ' ')}: {getattr(current, name)} → {getattr(wanted, name)}"
            for name in STRUCTURAL
            if name != "seed" and getattr(wanted, name) != getattr(current, name)
        ]
        if wanted.seed is not None and wanted.seed != current.seed:
            changes.append(f"seed: {current.seed} → {wanted.seed}")
        if corpus is not None and corpus != self.corpus:
            changes.append(f"text: {self.corpus.name} → {corpus.name}")
        if start.key != self.start.key:
            changes.insert(0, f"start from: {self.start.describe()} → {start.describe()}")
        return changes

    def run_snippet(self, text: str) -> SnippetTrace:
        """The model (as of the last snapshot) run over `text`; ValueError for unknown or too
        much text."""
        if len(text) > SNIPPET_MAX_CHARS:
            raise ValueError(
                f"The snippet is {len(text):,} characters long; the views read at most "
                f"{SNIPPET_MAX_CHARS:,}."
            )
        with self.lock:
            return run_snippet(self.trainer, None, text)

    def sample_side_by_side(self, n: int = 200) -> tuple[DrawnText, DrawnText]:
        """A sample at the sample settings' temperature beside the greedy one, same start."""
        with self.lock:
            s = self.sample_settings
            return sample_side_by_side(
                self.trainer,
                n=n,
                prime=s.prime or None,
                temperature=s.temperature or 1.0,
                seed=self.trainer.iteration,
            )

    # ------------------------------------------------------------------------------- runs
    def offer_text(self, corpus: Corpus | None) -> None:
        """A text to train on from the next new run (None: keep the current one)."""
        with self.lock:
            self.pending_corpus = corpus

    def offer_start(self, start: Start | None) -> None:
        """An uploaded checkpoint to start a new run from (None: it was removed)."""
        with self.lock:
            self.offered_start = start

    def withdraw_uploaded_text(self) -> None:
        """The uploaded file was removed: so is the text it offered, if it is still pending."""
        with self.lock:
            if self.pending_corpus is not None and self.pending_corpus.source == "upload":
                self.pending_corpus = None

    def new_run(
        self, config: Config, corpus: Corpus | None = None, start: Start | None = None
    ) -> None:
        """Start a new run (Reset / Apply); the current one is kept for comparison.

        start: where its weights come from (None: as the current run's did); the current model
        is taken as it is now. The new trainer is built first, so settings that do not fit the
        text raise ValueError and leave the current run untouched (but paused).
        """
        with self.lock:
            corpus = corpus or self.corpus
            start = self.start if start is None else start
            if start.kind == CURRENT:
                self._stop_player()  # its latest state, as the player left it
                start = from_trainer(self.trainer, f"the model of run {self.run_number}")
            config = start.config(config)
            fits(config, corpus.vocab.size)
            trainer = start.trainer(corpus.text, config)
            self._stop_player()  # the run is archived as the player left it
            self._archive_current()
            self.corpus, self.trainer, self.start = corpus, trainer, start
            self.pending_corpus = None
            self.run_number += 1
            s = self.sample_settings
            if not set(s.prime) <= set(trainer.vocab.chars):
                # A prime written for the old text can hold characters the new model cannot read.
                self.sample_settings = SampleSettings(s.length, s.temperature, "")
            self._start_schedule()
            self.refresh_sample()

    def load_checkpoint(self, data: bytes) -> None:
        """Resume from checkpoint bytes made on this corpus; ValueError leaves all as it was."""
        with self.lock:
            saved = checkpoint.read(io.BytesIO(data))
            fits(saved.state.config, self.corpus.vocab.size)
            trainer = Trainer.from_state(self.corpus.text, saved.state)
            other_text = saved.text_digest not in (None, trainer.text_digest)
            self._stop_player()
            self._archive_current()
            self.trainer = trainer
            self.start = start_of_run(trainer)
            self.run_number += 1
            self._start_schedule()
            self.refresh_sample()
            if other_text:
                self._messages.append(
                    (
                        "warning",
                        "This checkpoint was made on a different text with the same characters. "
                        "It was loaded, and goes on learning from this text; its records and "
                        "samples so far are the other text's.",
                    )
                )

    def _start_schedule(self) -> None:
        """A schedule, analysis and copy series for a new or loaded trainer."""
        self._schedule = Schedule(
            self.trainer,
            temperature=self.sample_settings.temperature,
            stop_at_best=self._schedule.stop_at_best,
        )
        self._timeline_replaced()
        self._analysis = analysis_for(self.trainer.train_text, self.trainer.held_out_text)
        self._copy_series = []

    def checkpoint_bytes(self) -> bytes:
        """The model as a .npz checkpoint; while playing, the player's whole state of now."""
        with self.lock:
            self._sync(with_model=False, save_point=True)
            state = self._play_save_point.trainer if self.playing else self.trainer.state()
            buffer = io.BytesIO()
            checkpoint.save_state(state, buffer, self.trainer.text_digest)
            return buffer.getvalue()

    def history_csv(self) -> str:
        """The live run's history, one row per iteration, as CSV text."""
        with self.lock:
            return history_csv(self.trainer.state())

    def _archive_current(self) -> None:
        t = self.trainer
        if t.iteration == 0:
            return
        rows = len(t.smooth_losses)
        keep = np.unique(np.linspace(0, rows - 1, min(rows, RUN_POINTS)).astype(np.int64))
        run = Run(
            number=self.run_number,
            corpus_name=self.corpus.name,
            config=initial_config(t.config, t.events),
            trained=t.iteration,
            iterations=t.loss_iterations[keep],
            smooth_losses=np.array(t.smooth_losses[keep]),
            validation_history=t.validation_history,
            events=t.events,
            origin=t.origin,
        )
        runs = self.runs + (run,)
        for dropped in runs[:-MAX_RUNS]:
            self._messages.append(
                (
                    "warning",
                    f"Run {dropped.number} left the chart: a session keeps its latest {MAX_RUNS} "
                    "runs.",
                )
            )
        self.runs = runs[-MAX_RUNS:]

    # ---------------------------------------------------------------------- live settings
    # Each is checked on the lab's own trainer first (ValueError leaves all as it was), then,
    # while playing, passed on to the player's.
    def set_learning_rate(self, learning_rate: float) -> None:
        self._apply(LiveSettings(learning_rate=learning_rate))

    def set_seq_length(self, seq_length: int) -> None:
        with self.lock:
            wanted = self.trainer.config.replace(seq_length=seq_length)  # checks type and range
            fits(wanted, self.trainer.vocab.size, 2 if self.playing else 1)
            self._apply(LiveSettings(seq_length=seq_length))

    def set_sample_settings(self, length: int, temperature: float, prime: str) -> None:
        """Change how samples are drawn; ValueError for values out of range or a prime with
        characters the model does not know."""
        settings = SampleSettings(length, temperature, prime)
        with self.lock:
            if prime:
                self.trainer.vocab.encode(prime)  # raises ValueError naming unknown characters
            self._apply(LiveSettings(temperature=temperature))
            self.sample_settings = settings
            self._sampled_at = 0.0  # draw it again now
            if not self.playing:
                self.refresh_sample()

    def set_stop_at_best(self, on: bool) -> None:
        """Stop training by itself once the validation loss has turned up, holding the best."""
        self._apply(LiveSettings(stop_at_best=bool(on)))

    def _apply(self, settings: LiveSettings) -> None:
        """Change live settings here (ValueError leaves all as it was), then, while playing, in
        the player's run."""
        with self.lock:
            self._schedule.apply(settings)
            if self._player is None:
                return
            try:
                self._player.change_settings(settings)
            except PlayerFailed as failure:
                self._player_failed(failure)

    def restore_best(self) -> None:
        """Pause, and bring back the model at the lowest validation loss of the run;
        ValueError (with nothing changed but the pause) when there is none yet."""
        with self.lock:
            self._stop_player()
            best = self.trainer.best
            if best is None:
                raise ValueError(
                    "There is no best model yet: it is kept at each validation check, after "
                    f"every {validation_cadence(self.trainer):,} characters trained, when part "
                    "of the text is held out."
                )
            self.trainer.restore_best()
            self.refresh_sample()
            self._messages.append(
                (
                    "success",
                    f"Brought back the model of iteration {best.iteration:,} (validation "
                    f"{best.validation / math.log(2):.3f} bits/char).",
                )
            )

    # ----------------------------------------------------------------------------- training
    def train(
        self,
        iterations: int | None = None,
        seconds: float | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> TrainReport:
        """Train here (pausing first): Step and Train N, for TRAIN_MAX_SECONDS at most (the page
        waits meanwhile). A divergence is reported, with the trainer rolled back, and told to the
        page, as is a stop at the best or at the time limit."""
        limit = TRAIN_MAX_SECONDS if seconds is None else min(seconds, TRAIN_MAX_SECONDS)
        with self.lock:
            self._stop_player()
        report = self._train_in_slices(iterations, limit, on_progress)
        with self.lock:
            if report.divergence:
                self._timeline_replaced()  # cut back to the rolled-back model
                self._paused_because(report.divergence)
            if report.stopped_at_best:
                self._stopped_at_best(report.stopped_at_best)
            elif (
                iterations is not None and report.iterations < iterations and not report.divergence
            ):
                self._messages.append(
                    (
                        "success",
                        f"Trained {report.iterations:,} of {iterations:,} iterations: a Train "
                        f"runs for {TRAIN_MAX_SECONDS:g} seconds at most. Press it again to go "
                        "on, or Play.",
                    )
                )
            self.refresh_sample()
            return report

    def _train_in_slices(
        self,
        iterations: int | None,
        seconds: float,
        on_progress: Callable[[int, int], None] | None,
    ) -> TrainReport:
        """Schedule.train in slices of TRAIN_SLICE_SECONDS, the lock taken for each and let go
        between them, so the live feed and the page's other requests get their turn during a
        long Train N (and a Stop, which interrupts the page's run, lands between two slices)."""
        done, spent, report = 0, 0.0, TrainReport(0, 0.0)
        while True:
            left = seconds - spent
            target = None if iterations is None else iterations - done
            progress = None
            if on_progress is not None:
                progress = functools.partial(_progress_from, on_progress, done, iterations)
            with self.lock:
                if self.playing:  # Play has started meanwhile: the player trains now
                    break
                report = self._schedule.train(target, min(left, TRAIN_SLICE_SECONDS), progress)
            done, spent = done + report.iterations, spent + report.seconds
            finished = target is not None and report.iterations >= target
            if report.divergence or report.stopped_at_best or finished or spent >= seconds:
                break
            time.sleep(TRAIN_SLICE_GAP)
        return TrainReport(done, spent, report.divergence, report.stopped_at_best)

    def play(self) -> None:
        """Train in a process of its own until pause(), a divergence, or nobody looks any more."""
        with self.lock:
            if self._player is None:
                if self.comparing:
                    raise ValueError("Compare cells is running: stop it, or wait, to Play.")
                budget.check(self.trainer.config, self.trainer.vocab.size, SESSION_MEMORY_BYTES, 2)
                SLOTS.take(self, "playing")
                try:
                    self._play_save_point = self._schedule.state()
                    self._saved_at = time.monotonic()
                    self._player = Player(
                        self.corpus.text, self._play_save_point, PLAY_IDLE_TIMEOUT, PLAY_MAX_SECONDS
                    )
                except BaseException:
                    SLOTS.give_back(self)
                    raise

    def pause(self) -> None:
        """Stop playing. Once this returns, the lab holds the player's whole state, exactly."""
        with self.lock:
            self._stop_player()

    def close(self) -> None:
        """The session has ended: stop the play process (keeping its state, should the session
        come back) and nothing more is trained."""
        with self.lock:
            self.stop_comparison()
            if self._player is not None:
                self._stop_player()
                self._messages.append(("success", "Training paused: the page was closed."))

    def _stop_player(self) -> None:
        player, self._player = self._player, None
        SLOTS.give_back(self)
        if player is None:
            return
        try:
            self._take_back(player.stop())
        except PlayerFailed as failure:
            self._player_failed(failure)

    def _sync(self, with_model: bool, save_point: bool = False) -> None:
        """While playing, bring the mirror up to date with the player (which also tells it that
        someone is looking). When the player has stopped by itself, take its state back.
        save_point: have the player hand over its whole state now."""
        if self._player is None:
            return
        now = time.monotonic()
        sample = self.sample_settings if now - self._sampled_at >= PLAY_SAMPLE_EVERY else None
        whole = save_point or now - self._saved_at >= PLAY_SAVE_POINT_EVERY
        try:
            answer = self._player.sync(self._schedule.marks(), with_model, sample, whole)
        except PlayerFailed as failure:
            self._player_failed(failure)
            return
        if answer.stopped is not None:
            self._player = None
            SLOTS.give_back(self)
            self._take_back(answer.stopped)
            return
        progress = answer.progress
        if progress.delta.timeline_since < self._schedule.timeline_length:
            self._timeline_replaced()  # cut back, not added to
        self._schedule.apply_delta(progress.delta)
        if progress.sample is not None:
            self.latest_sample, self._sampled_at = progress.sample, now
            self._note_sample()
        if progress.save_point is not None:
            self._play_save_point, self._saved_at = progress.save_point, now

    def _take_back(self, stopped: Stopped) -> None:
        self._schedule.load_state(stopped.run)
        self._timeline_replaced()
        if stopped.divergence:
            self._paused_because(stopped.divergence)
        if stopped.stopped_at_best:
            self._stopped_at_best(stopped.stopped_at_best)
        self.refresh_sample()

    def _player_failed(self, failure: PlayerFailed) -> None:
        """Go on from the player's last whole state (its last save point, or where Play was
        pressed), with the live settings as they are now."""
        self._player = None
        SLOTS.give_back(self)
        save_point, config, schedule = self._play_save_point, self.trainer.config, self._schedule
        now = LiveSettings(
            config.learning_rate, config.seq_length, schedule.temperature, schedule.stop_at_best
        )
        schedule.load_state(save_point)
        schedule.apply(now)
        self._timeline_replaced()
        self._paused_because(
            f"The training process failed ({failure}). The model is as it was at iteration "
            f"{save_point.iteration:,}."
        )
        self.refresh_sample()

    def _paused_because(self, reason: str) -> None:
        self._messages.append(("error", f"Training paused. {reason}"))

    def _stopped_at_best(self, turn: Overfitting) -> None:
        self._messages.append(
            (
                "success",
                f"Stopped at the best validation point: the validation loss had not improved "
                f"for {turn.checks} checks since iteration {turn.best_iteration:,} "
                f"({turn.best / math.log(2):.3f} bits/char; the last was "
                f"{turn.latest / math.log(2):.3f}). The model of iteration "
                f"{turn.best_iteration:,} is back. To watch it memorise the text instead, turn "
                "off “Stop at the best validation point” and press Play.",
            )
        )

    # ------------------------------------------------------------------------- compare cells
    @property
    def comparing(self) -> bool:
        return self.comparison is not None and self.comparison.running

    @property
    def holds_a_slot(self) -> bool:
        """Whether this session holds one of the server's process slots (playing or comparing)."""
        return SLOTS.holds(self)

    def compare_cells(self, configs: dict[str, Config | FromBase], seconds: float) -> None:
        """Train each of `configs` in turn for `seconds` of CPU time on this text, in a process
        of its own (a Play slot: it takes a core). The session's own run is left as it is."""
        if seconds not in COMPARE_SECONDS:
            raise ValueError(f"Compare for {', '.join(map(str, COMPARE_SECONDS))} seconds each.")
        with self.lock:
            if self.playing or self.comparing:
                raise ValueError("Pause Play (or wait for the comparison) first.")
            val = self.trainer.config.val_fraction or DASHBOARD_DEFAULTS.val_fraction
            configs = {name: c.replace(val_fraction=val, seed=None) for name, c in configs.items()}
            for network in configs.values():
                config = config_of(network)
                # The session's own run stays in memory beside the one being compared.
                budget.check(
                    config, self.trainer.vocab.size, SESSION_MEMORY_BYTES, 2,
                    "the network compared and the session's own run",
                )  # fmt: skip
                check_text_fits(len(self.corpus.text), config)
            SLOTS.take(self, "playing or comparing")
            try:
                self.comparison = Comparison(self.corpus.text, configs, seconds)
            except BaseException:
                SLOTS.give_back(self)
                raise
            threading.Thread(
                target=self._release_when_compared, name=COMPARISON_WATCHER, daemon=True
            ).start()

    def _release_when_compared(self) -> None:
        """Watch the comparison: end it at its hard deadline (a child that hangs or is stopped
        never gets there by itself), then free the slot, unless something newer holds it."""
        comparison = self.comparison
        while comparison is not None and comparison.running:
            if time.monotonic() > comparison.deadline:
                comparison.stop()
            time.sleep(0.2)
        with self.lock:
            if self.comparison is comparison and self._player is None:
                SLOTS.give_back(self)

    def stop_comparison(self) -> None:
        with self.lock:
            if self.comparison is not None and self.comparison.running:
                self.comparison.stop()
            if self._player is None:
                SLOTS.give_back(self)

    # ----------------------------------------------------------------------------- sampling
    def refresh_sample(self) -> None:
        with self.lock:
            s = self.sample_settings
            self._sampled_at = time.monotonic()
            self.latest_sample = self.trainer.sample(
                s.length, prime=s.prime or None, temperature=s.temperature
            )
            self._note_sample()

    def _note_sample(self) -> None:
        """Keep the latest sample for the copy meter's series (measured when drawn)."""
        entry = (self.trainer.iteration, self.sample_settings.prime + self.latest_sample)
        if self._copy_series and self._copy_series[-1][0] == entry[0]:
            self._copy_series[-1] = entry  # the same model: one point
        else:
            self._copy_series.append(entry)
        del self._copy_series[:-COPY_SERIES_LENGTH]

    # -------------------------------------------------------------------------------- stats
    def _stats(self, state: TrainerState) -> dict[str, float | int | None]:
        val = float(state.validation[-1, 1]) if len(state.validation) else None
        return {
            "iteration": state.iteration,
            "epochs": self.trainer.epochs,
            "chars_seen": state.chars_seen,
            "chars_per_second": self._schedule.chars_per_second,
            "parameters": self.trainer.param_count,
            "smooth_loss": state.smooth_loss,
            "bits_per_char": bits_per_char(state.smooth_loss, state.config.seq_length),
            "val_nats_per_char": val,
            "val_bits_per_char": None if val is None else val / math.log(2),
        }


def fits(config: Config, vocab_size: int, processes: int = 1) -> None:
    """ValueError, naming a setting that fits, when a run at `config` (in `processes` processes)
    would need more memory than a session may use, or one iteration would take too long."""
    budget.check(config, vocab_size, SESSION_MEMORY_BYTES, processes)
    pace.check(config, vocab_size, MAX_SECONDS_PER_ITERATION)


def _entries_held(mark: str, valid_for: str) -> int | None:
    """How many timeline entries the holder of `mark` has, if its copy is of the timeline that
    marks starting `valid_for` name; None if not (or the mark is not one of ours)."""
    held = mark.removeprefix(valid_for) if mark.startswith(valid_for) else ""
    return int(held) if held.isdigit() and len(held) <= 12 else None


def _progress_from(
    on_progress: Callable[[int, int], None], before: int, total: int, done: int, _: int
) -> None:
    """A slice's progress (done of its own target) as the whole Train's (before + done of
    total)."""
    on_progress(before + done, total)


def thinned(timeline: Sequence[TimelineEntry]) -> tuple[TimelineEntry, ...]:
    """The timeline entries the views show: the first TIMELINE_FIRST (noise turning into words)
    and the latest TIMELINE_LATEST, so that a snapshot costs the same however long the run."""
    if len(timeline) <= TIMELINE_FIRST + TIMELINE_LATEST:
        return tuple(timeline)
    return tuple(timeline[:TIMELINE_FIRST]) + tuple(timeline[-TIMELINE_LATEST:])


def history_csv(state: TrainerState) -> str:
    """A run's history as CSV text: one row per row of its loss record, which is one per
    iteration but for a long run's older history (rnnlab.records), where a row stands for
    `iterations` iterations ending at `iteration`, with their mean raw loss and the smoothed loss
    at its end (sequence length, learning rate and bits per character at its end too). Bounded
    however long the run trained."""
    ends = state.loss_iterations
    spans = np.diff(ends, prepend=0)
    seq = per_iteration_at(state.config, state.events, "seq_length", ends - 1)
    lr = per_iteration_at(state.config, state.events, "learning_rate", ends - 1)
    chars = chars_seen_at(state.config, state.events, ends)
    bits = state.losses / seq / math.log(2)
    validation = dict(state.validation_history)
    lines = [
        "iteration,iterations,chars_seen,seq_length,learning_rate,loss,smooth_loss,bits_per_char,"
        "val_nats_per_char"
    ]
    for row in zip(
        ends.tolist(), spans.tolist(), chars.tolist(), seq.tolist(), lr.tolist(),
        state.losses.tolist(), state.smooth_losses.tolist(), bits.tolist(), strict=True,
    ):  # fmt: skip
        end, span, seen, length, rate, loss, smooth, per_char = row
        val = validation.get(end)
        lines.append(
            f"{end},{span},{int(seen)},{int(length)},{rate:g},{loss:.6f},{smooth:.6f},"
            f"{per_char:.6f},{'' if val is None else f'{val:.6f}'}"
        )
    return "\n".join(lines) + "\n"
