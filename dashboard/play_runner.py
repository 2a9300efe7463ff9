"""Play: a session's run trained in a process of its own, the session's schedule a mirror of it.

The runner holds one of the server's process slots for as long as its process trains, keeps the
player's latest whole run (a save point) so that a failed process costs at most
PLAY_SAVE_POINT_EVERY seconds of training, and ends in an `Outcome` like Step and Train N.
Nothing here waits on the process with the session's lock held: the session builds a
`question` under its lock, lets it go, `ask`s (the runner's own lock puts questions in a row),
then takes the lock again to `take` the answer; a stop (`ask_stop`) and a change of settings
(`send`) wait their turn the same way, the lock let go.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from rnnlab.sampling import SampleSettings
from rnnlab.schedule import LiveSettings, RunState, Schedule

from .outcomes import Outcome
from .player import Player, PlayerFailed, Stopped, Sync, SyncAnswer
from .process_slots import SLOTS

# While playing, the player hands over its whole run this often, so that if it fails the run
# goes on from there rather than from where Play was pressed.
PLAY_SAVE_POINT_EVERY = 30.0
# A player nobody has looked at for this long stops by itself (the browser tab was closed). Long
# enough for a background tab, which browsers let refresh only about once a minute.
PLAY_IDLE_TIMEOUT = 150.0
# However often someone looks, a Play ends after this long: a tab left open on a shared server
# does not keep a core for ever.
PLAY_MAX_SECONDS = 6 * 3600.0


@dataclass(frozen=True)
class Synced:
    """What a sync brought besides the mirror's update: a new latest sample if one was asked
    for; whether the timeline was cut back (not only added to); how the run ended, if it did."""

    sample: str | None = None
    timeline_cut: bool = False
    outcome: Outcome | None = None


class PlayRunner:
    """One Play of `schedule`'s run, holding one of the server's process slots while it trains."""

    def __init__(self, text: str, schedule: Schedule) -> None:
        """ValueError when the server runs as many processes as it may; PlayerFailed when the
        process cannot start."""
        SLOTS.take(self, "playing")
        try:
            self.save_point: RunState = schedule.state()
            self._saved_at = time.monotonic()
            self._player = Player(text, self.save_point, PLAY_IDLE_TIMEOUT, PLAY_MAX_SECONDS)
        except BaseException:
            SLOTS.give_back(self)
            raise
        self._turn = threading.Lock()  # one question at a time to the process
        self._asked = self._taken = 0  # answers numbered in the order they came
        self._last: tuple[int, SyncAnswer | PlayerFailed] | None = None  # once the run came back

    @property
    def pid(self) -> int:
        return self._player.pid

    @property
    def traffic(self) -> tuple[list[int], list[int]]:
        """The sizes in bytes of the messages sent and received so far (copies)."""
        return list(self._player.bytes_sent), list(self._player.bytes_received)

    # ------------------------------------------------------------------ sync, in three steps
    def question(
        self,
        schedule: Schedule,
        with_model: bool,
        sample: SampleSettings | None,
        save_point: bool = False,
    ) -> Sync:
        """What to ask to bring the mirror `schedule` up to date (the session's lock held).
        sample: have the player draw a new latest sample with these settings; save_point: have
        it hand over its whole run now."""
        whole = save_point or time.monotonic() - self._saved_at >= PLAY_SAVE_POINT_EVERY
        return Sync(schedule.marks(), with_model, sample, whole)

    def ask(
        self, question: Sync, wait: float | None = None
    ) -> tuple[int, SyncAnswer | PlayerFailed] | None:
        """The player's numbered answer (without the session's lock: this waits on the process).
        None when another question is in the way for longer than `wait` seconds: its answer
        will bring the mirror up to date as well. Once the run has come back (stopped, or the
        process failed), that last answer again, without asking."""
        if not self._turn.acquire(timeout=-1 if wait is None else wait):
            return None
        try:
            return self._last or self._asked_now(lambda: self._player.sync(question))
        finally:
            self._turn.release()

    def take(self, schedule: Schedule, asked: tuple[int, SyncAnswer | PlayerFailed]) -> Synced:
        """Bring the mirror `schedule` up to date with an answer of ask() (the session's lock
        held again). Once the run has come back, the Synced says how: the runner is done then,
        and `schedule` holds the run to go on from. An answer older than one taken already is
        left: the newer one covers it."""
        number, answer = asked
        if isinstance(answer, PlayerFailed):
            return Synced(outcome=self._recover(schedule, answer))
        if answer.stopped is not None:
            return Synced(outcome=self._take_back(schedule, answer.stopped))
        if number < self._taken:
            return Synced()
        self._taken = number
        progress = answer.progress
        cut = progress.delta.timeline_since < schedule.timeline_count
        schedule.apply_delta(progress.delta)
        if progress.save_point is not None:
            self.save_point, self._saved_at = progress.save_point, time.monotonic()
        return Synced(progress.sample, cut)

    def _asked_now(self, asking: Callable[[], SyncAnswer]) -> tuple[int, SyncAnswer | PlayerFailed]:
        """Ask (holding the turn), numbering the answer; keep it if the run came back."""
        self._asked += 1
        try:
            answer: SyncAnswer | PlayerFailed = asking()
        except PlayerFailed as failure:
            answer = failure
        asked = (self._asked, answer)
        if isinstance(answer, PlayerFailed) or answer.stopped is not None:
            self._last = asked
        return asked

    # ------------------------------------------------------------- stop and change, likewise
    def ask_stop(self) -> tuple[int, SyncAnswer | PlayerFailed]:
        """Have the player stop and hand its whole run back (without the session's lock: this
        waits on the process); `take` the answer."""
        with self._turn:
            return self._last or self._asked_now(self._stopped)

    def send(self, settings: LiveSettings) -> tuple[int, SyncAnswer | PlayerFailed] | None:
        """Change live settings in the player's run (without the session's lock: this waits its
        turn). None once sent; the run's last answer if it has come back meanwhile (then
        `take` it, and apply the settings to the run it brings)."""
        with self._turn:
            if self._last is None:
                try:
                    self._player.change_settings(settings)
                    return None
                except PlayerFailed as failure:
                    self._last = (self._asked, failure)
            return self._last

    def _stopped(self) -> SyncAnswer:
        return SyncAnswer(stopped=self._player.stop())

    def _take_back(self, schedule: Schedule, stopped: Stopped) -> Outcome:
        SLOTS.give_back(self)
        schedule.load_state(stopped.run)
        return Outcome(divergence=stopped.divergence, stopped_at_best=stopped.stopped_at_best)

    def _recover(self, schedule: Schedule, failure: PlayerFailed) -> Outcome:
        """Go on from the player's last save point (or where Play was pressed), with the live
        settings as they are now."""
        SLOTS.give_back(self)
        config = schedule.trainer.config
        now = LiveSettings(
            config.learning_rate, config.seq_length, schedule.temperature, schedule.stop_at_best
        )
        schedule.load_state(self.save_point)
        schedule.apply(now)
        return Outcome(failure=str(failure), failed_back_to=self.save_point.iteration)
