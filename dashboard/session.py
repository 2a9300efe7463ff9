"""One dashboard session: the text, the live run, earlier runs, the latest sample, messages.

The page keeps exactly one `Lab` per browser session and only wires widgets to its methods and
draws what `snapshot()` returns. Every public method takes the lab's lock itself (the page's
script thread, widget callbacks and the live feed's requests may come at once), and either
succeeds completely or raises ValueError with the lab exactly as it was.

The run is trained by one of two runners, each ending in an Outcome the page is told of
(dashboard.outcomes): Step and Train N here (dashboard.local_runner), Play in a process of its
own (dashboard.play_runner), the lab's schedule then a mirror of it, brought up to date by
every snapshot(). Compare cells trains other networks in a process of its own
(dashboard.comparison). No method waits on another process with the lab's lock held: Play's
answers (to a sync, a stop, a change of settings) and a stopped comparison's end are waited for
with the lock let go, so a process that stops answering never holds up the page's snapshots.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Callable, Iterator

from rnnlab import budget, checkpoint
from rnnlab.compare import FromBase
from rnnlab.config import Config
from rnnlab.corpora import Corpus
from rnnlab.overfitting import detect_since_restore
from rnnlab.presets import STOP_AT_BEST
from rnnlab.sampling import SampleSettings
from rnnlab.schedule import LiveSettings, Schedule, TimelineEntry, validation_cadence
from rnnlab.state import Origin
from rnnlab.text import Vocab
from rnnlab.trainer import Trainer

from . import limits, local_runner, outcomes
from .comparison import Comparison
from .latest_sample import PLAY_SAMPLE_EVERY, LatestSample
from .limits import COMPARE_SECONDS, fits, networks_to_compare
from .live_snapshot import Busy, LiveSnapshot, stats
from .local_runner import TRAIN_MAX_SECONDS
from .outcomes import Outcome
from .pending import pending_changes
from .play_runner import PlayRunner
from .runs import Run, archived, kept
from .starts import CURRENT, RANDOM_START, Start, from_trainer, start_of_run
from .text_analysis import TextAnalysis, analysis_for
from .timeline_copies import TimelineCopies

__all__ = ["PLAY_SAMPLE_EVERY", "TRAIN_MAX_SECONDS", "Busy", "Lab", "LiveSnapshot"]


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
        self.start = start  # where the current run's weights came from
        self.offered_start: Start | None = None  # an uploaded checkpoint to start from
        self.sample = LatestSample()
        self.runs: tuple[Run, ...] = ()
        self.run_number = 1
        self.pending_corpus: Corpus | None = None  # a text chosen or uploaded, not yet applied
        self.comparison: Comparison | None = None  # the latest Compare cells, running or done
        self._messages: list[tuple[str, str]] = []  # (kind, text) for the page to show once
        self._player: PlayRunner | None = None
        self._timeline_copies = TimelineCopies()
        self._start_run(start.trainer(corpus.text, config), stop_at_best)

    # ---------------------------------------------------------------------------- reading
    @property
    def trainer(self) -> Trainer:
        return self._schedule.trainer

    @property
    def config(self) -> Config:
        """The current run's settings, its live ones as they are now."""
        with self.lock:
            return self.trainer.config

    @property
    def iteration(self) -> int:
        with self.lock:
            return self.trainer.iteration

    @property
    def vocab(self) -> Vocab:
        with self.lock:
            return self.trainer.vocab

    @property
    def origin(self) -> Origin | None:
        """The base model the current run started from, if it did."""
        with self.lock:
            return self.trainer.origin

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
        in order (two empty lists when not playing), for tests and benchmarks."""
        with self.lock:
            return ([], []) if self._player is None else self._player.traffic

    @property
    def sample_settings(self) -> SampleSettings:
        return self.sample.settings

    @property
    def latest_sample(self) -> str:
        return self.sample.text

    @property
    def timeline(self) -> tuple[TimelineEntry, ...]:
        return self._schedule.timeline

    @property
    def stop_at_best(self) -> bool:
        """Training stops by itself once the validation loss has turned up, holding the best."""
        return self._schedule.stop_at_best

    @property
    def analysis(self) -> TextAnalysis:
        """The current text's copy index and yardsticks (built in the background)."""
        return self._analysis

    @contextlib.contextmanager
    def model(self, fetch: bool = True) -> Iterator[Trainer]:
        """The run's trainer, to read the model as it is now, with the lab's lock held (see
        dashboard.model_reads). fetch: while playing, ask Play for its parameters first (if
        another question is under way, its answer brings them); otherwise the model is as the
        views last drew it."""
        if fetch:
            self._sync(with_model=True)
        with self.lock:
            yield self.trainer

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
        LiveSnapshot.timeline_replaces). copy_model=False: the state carries no model, for views
        that draw only the records and the numbers: the feed's polls copy nothing parameter-sized.
        """
        self._sync(with_model, wait=wait)
        if not self.lock.acquire(timeout=-1 if wait is None else wait):
            raise Busy("The session is busy; ask again.")
        try:
            state = self.trainer.state(with_model=copy_model)
            analysis = self._analysis
            # Read before the meters: the index becoming ready after this only costs a replace.
            ready = analysis.index_ready
            timeline, replaces, mark = self._timeline_copies.since(
                self._schedule, timeline_since, ready
            )
            return LiveSnapshot(
                state, stats(state, self._schedule), self.runs, timeline, self.latest_sample,
                self.sample_settings, self.playing, self.corpus,
                yardsticks=analysis.yardsticks,
                yardsticks_in_sample=analysis.in_sample,
                latest_copy=analysis.meter(self.sample.shown),
                timeline_copies=tuple(analysis.meter(e.text) for e in timeline),
                copy_series=self.sample.series.lengths(analysis),
                overfitting=detect_since_restore(state.validation, state.events),
                stop_at_best=self.stop_at_best,
                timeline_mark=mark,
                timeline_replaces=replaces,
                analysis_failure=analysis.failure,
            )  # fmt: skip
        finally:
            self.lock.release()

    def checkpoint_bytes(self) -> bytes:
        """The model as a .npz checkpoint; while playing, the player's whole state of now."""
        self._sync(with_model=False, save_point=True)
        with self.lock:
            state = self._player.save_point.trainer if self.playing else self.trainer.state()
            buffer = io.BytesIO()
            checkpoint.save_state(state, buffer, self.trainer.text_digest)
            return buffer.getvalue()

    def pending_changes(
        self, wanted: Config, corpus: Corpus | None, start: Start | None = None
    ) -> list[str]:
        """Human-readable differences that need a new run to take effect (start: where the new
        run's weights would come from; None: as the current run's did)."""
        with self.lock:
            current = (self.trainer.config, self.corpus, self.start)
            return pending_changes(current, wanted, corpus, self.start if start is None else start)

    # ---------------------------------------------------------------------------- messages
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

    def _told(self, outcome: Outcome | None) -> None:
        """Tell the page how a stretch of training ended; a run cut back is a new timeline."""
        if outcome is None:
            return
        if outcome.cut_back:
            self._timeline_copies.replaced()
        self._messages.extend(outcomes.messages(outcome))

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
        with self._paused():  # the run is archived, or started from, as the player left it
            corpus = corpus or self.corpus
            start = self.start if start is None else start
            if start.kind == CURRENT:
                start = from_trainer(self.trainer, f"the model of run {self.run_number}")
            config = start.config(config)
            fits(config, corpus.vocab.size)
            trainer = start.trainer(corpus.text, config)
            self.sample.forget_prime_unless(trainer.vocab.chars)
            self._next_run(trainer, corpus, start)
            self.pending_corpus = None

    def load_checkpoint(self, data: bytes) -> None:
        """Resume from checkpoint bytes made on this corpus; ValueError for a checkpoint that
        cannot be read or does not fit leaves all as it was (it is checked before Play pauses)."""
        saved = checkpoint.read(io.BytesIO(data))
        with self.lock:
            corpus = self.corpus
        fits(saved.state.config, corpus.vocab.size)
        trainer = Trainer.from_state(corpus.text, saved.state)
        with self._paused():
            if self.corpus is not corpus:
                raise ValueError("The text changed meanwhile: load the checkpoint again.")
            self._next_run(trainer, self.corpus, start_of_run(trainer))
            if saved.text_digest not in (None, trainer.text_digest):
                self._messages.append(("warning", outcomes.OTHER_TEXT))

    def _next_run(self, trainer: Trainer, corpus: Corpus, start: Start) -> None:
        """Archive the current run (if it trained) and go on with `trainer`'s, on `corpus`."""
        if self.trainer.iteration:
            run = archived(self.run_number, self.corpus.name, self.trainer)
            self.runs, gone = kept(self.runs, run)
            self._messages.extend(("warning", text) for text in gone)
        self.corpus, self.start = corpus, start
        self.run_number += 1
        self._start_run(trainer, self._schedule.stop_at_best)

    def _start_run(self, trainer: Trainer, stop_at_best: bool) -> None:
        """A schedule, analysis and copy series for a new or loaded trainer."""
        temperature = self.sample.settings.temperature
        self._schedule = Schedule(trainer, temperature=temperature, stop_at_best=stop_at_best)
        self._timeline_copies.replaced()
        self._analysis = analysis_for(trainer.train_text, trainer.held_out_text)
        self.sample.new_run()
        self.refresh_sample()

    # ---------------------------------------------------------------------- live settings
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
        with self.lock:
            self.sample.change(settings, self.trainer, self.playing)

    def set_stop_at_best(self, on: bool) -> None:
        """Stop training by itself once the validation loss has turned up, holding the best."""
        self._apply(LiveSettings(stop_at_best=bool(on)))

    def _apply(self, settings: LiveSettings) -> None:
        """Change live settings here (ValueError leaves all as it was), then, while playing, in
        the player's run (its turn waited for with the lab's lock let go)."""
        with self.lock:
            self._schedule.apply(settings)
            runner = self._player
        if runner is None:
            return
        came_back = runner.send(settings)
        if came_back is not None:
            with self.lock:
                if self._player is runner:
                    self._ended(runner.take(self._schedule, came_back).outcome)
                if self._player is None:  # to the run as the process had it
                    self._schedule.apply(settings)

    def restore_best(self) -> None:
        """Pause, and bring back the model at the lowest validation loss of the run;
        ValueError (with nothing changed but the pause) when there is none yet."""
        with self._paused():
            best = self.trainer.best
            if best is None:
                raise ValueError(
                    "There is no best model yet: it is kept at each validation check, after "
                    f"every {validation_cadence(self.trainer):,} characters trained, when part "
                    "of the text is held out."
                )
            self.trainer.restore_best()
            self.refresh_sample()
            self._messages.append(("success", outcomes.restored(best)))

    # ----------------------------------------------------------------------------- training
    def train(
        self,
        iterations: int | None = None,
        seconds: float | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> Outcome:
        """Train here (pausing first): Step and Train N (dashboard.local_runner: the page waits
        meanwhile). How it ended is told to the page."""
        with self._paused():
            schedule = self._schedule
        outcome = local_runner.train_here(
            self.lock, schedule, iterations, seconds,
            interrupted=lambda: self.playing or self._schedule is not schedule,
            on_progress=on_progress,
        )  # fmt: skip
        with self.lock:
            self._told(outcome)
            self.refresh_sample()
        return outcome

    def play(self) -> None:
        """Train in a process of its own until pause(), a divergence, or nobody looks any more."""
        with self.lock:
            if self._player is None:
                if self.comparing:
                    raise ValueError("Compare cells is running: stop it, or wait, to Play.")
                budget.check(
                    self.trainer.config, self.trainer.vocab.size, limits.SESSION_MEMORY_BYTES, 2
                )
                self._player = PlayRunner(self.corpus.text, self._schedule)

    def pause(self) -> None:
        """Stop playing. Once this returns, the lab holds the player's whole state, exactly."""
        with self._paused():
            pass

    def close(self) -> None:
        """The session has ended: stop the play process (keeping its state, should the session
        come back) and nothing more is trained."""
        self.stop_comparison()
        if self._stopped_playing():
            self.notify("success", outcomes.PAGE_CLOSED)

    @contextlib.contextmanager
    def _paused(self) -> Iterator[None]:
        """The lab's lock, held with nothing playing: the play process is stopped first, its
        answer waited for with the lock let go (the page's snapshots meanwhile draw the mirror)."""
        while True:  # again if Play was pressed in between, from another thread
            self._stopped_playing()
            with self.lock:
                if self._player is None:
                    yield
                    return

    def _stopped_playing(self) -> bool:
        """Stop playing, waiting on the play process with the lab's lock let go; whether this
        call took a run back."""
        with self.lock:
            runner = self._player
        if runner is None:
            return False
        came_back = runner.ask_stop()
        with self.lock:
            if self._player is not runner:
                return False  # a snapshot's sync took the run back meanwhile
            self._ended(runner.take(self._schedule, came_back).outcome)
            return True

    def _sync(self, with_model: bool, save_point: bool = False, wait: float | None = None) -> None:
        """While playing, bring the mirror up to date with the player (which also tells it that
        someone is looking), and take the run back once it has come back. The lab's lock is let
        go while the player answers (see dashboard.play_runner), and when another question is
        under way this one is not asked (that one's answer brings the mirror up to date), but
        for a save point. wait: give up after this many seconds if the lab is busy (Busy)."""
        if not self.lock.acquire(timeout=-1 if wait is None else wait):
            raise Busy("The session is busy; ask again.")
        try:
            runner = self._player
            if runner is None:
                return
            question = runner.question(self._schedule, with_model, self.sample.wanted(), save_point)
        finally:
            self.lock.release()
        asked = runner.ask(question, wait=None if save_point else 0)
        if asked is None:
            return
        with self.lock:  # an answer is never dropped: it may hold the whole run
            if self._player is not runner:
                return  # paused meanwhile: the pause took the run back
            synced = runner.take(self._schedule, asked)
            if synced.timeline_cut:
                self._timeline_copies.replaced()
            if synced.sample is not None:
                self.sample.took(synced.sample, self.trainer)
            self._ended(synced.outcome)

    def _ended(self, outcome: Outcome | None) -> None:
        """The player's run has come back (stopped, or failed): the lab trains it again."""
        if outcome is None:
            return
        self._player = None
        self._timeline_copies.replaced()
        self._told(outcome)
        self.refresh_sample()

    # ------------------------------------------------------------------------- compare cells
    @property
    def comparing(self) -> bool:
        return self.comparison is not None and self.comparison.running

    @property
    def holds_a_slot(self) -> bool:
        """Whether this session holds one of the server's process slots (playing or comparing)."""
        with self.lock:
            return self.playing or (self.comparison is not None and self.comparison.holds_a_slot)

    def compare_cells(self, configs: dict[str, Config | FromBase], seconds: float) -> None:
        """Train each of `configs` in turn for `seconds` of CPU time on this text, in a process
        of its own (a process slot: it takes a core). The session's own run is left as it is."""
        if seconds not in COMPARE_SECONDS:
            raise ValueError(f"Compare for {', '.join(map(str, COMPARE_SECONDS))} seconds each.")
        with self.lock:
            if self.playing or self.comparing:
                raise ValueError("Pause Play (or wait for the comparison) first.")
            configs = networks_to_compare(configs, self.trainer, len(self.corpus.text))
            self.comparison = Comparison(self.corpus.text, configs, seconds)

    def stop_comparison(self) -> None:
        with self.lock:
            comparison = self.comparison
        if comparison is not None and comparison.running:
            comparison.stop()  # waits for the killed process, with the lab's lock let go

    # ----------------------------------------------------------------------------- sampling
    def refresh_sample(self) -> None:
        with self.lock:
            self.sample.draw(self.trainer)
