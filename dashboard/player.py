"""Play: a run trained in a process of its own, mirrored back into the session a few times a second.

Why a process: in the web server's process, training and the page's drawing share one
interpreter lock, and every redraw holds the training up. So Play starts a fresh interpreter
(`python -m dashboard.player`) that runs the engine's Schedule on a Trainer built from the
session's RunState, in the Schedule's slices. Between slices it answers questions.

The session always asks and the child always answers, one message for one question, so nothing
piles up when nobody looks. The messages are the dataclasses below, on the wire of dashboard.wire:

    Start (the text and a RunState)  -> (nothing: the child starts training)
    Sync (the mirror's RunMarks)     -> Progress (a RunDelta, and when asked the latest sample,
                                        the parameters, a save point: the whole RunState)
                                        or Stopped (when training stopped by itself)
    ChangeSettings(LiveSettings)     -> Done
    Stop                             -> Stopped (the whole RunState); the child ends
A child that fails answers Failed(message) and ends. A child not asked anything for
`idle_timeout` seconds (the tab was closed), or that has trained for `max_seconds`, stops training
and waits, keeping the model; when its standard input closes (the server, or the session that
played, is gone) it ends.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
import traceback
import weakref
from dataclasses import dataclass
from typing import BinaryIO

from rnnlab.overfitting import Overfitting
from rnnlab.sampling import SampleSettings
from rnnlab.schedule import LiveSettings, RunDelta, RunMarks, RunState, Schedule

from . import children
from .wire import Failed, child_environment, close_quietly, read_into, write_message

# How long the session waits for an answer before it gives the child up as hung. One slice is
# at most one iteration over its time budget, and the per-iteration time limit bounds that.
ANSWER_TIMEOUT = float(os.environ.get("RNNLAB_ANSWER_TIMEOUT", "60"))
# After it is killed, how long to wait for the kernel to end a child before going on without it.
KILL_WAIT = 5.0


class PlayerFailed(RuntimeError):
    """The child process failed, hung or vanished."""


# ---------------------------------------------------------------------------------- messages
@dataclass(frozen=True)
class Start:
    text: str
    run: RunState
    idle_timeout: float
    max_seconds: float  # of training, however often someone asks: Play's hard limit


@dataclass(frozen=True)
class Sync:
    marks: RunMarks  # of the session's mirror
    with_model: bool  # send the parameters and hidden state
    sample: SampleSettings | None  # draw a new latest sample with these settings
    save_point: bool  # send the whole state too


@dataclass(frozen=True)
class Progress:
    delta: RunDelta
    sample: str | None = None
    save_point: RunState | None = None


@dataclass(frozen=True)
class ChangeSettings:
    settings: LiveSettings


@dataclass(frozen=True)
class Done:
    pass


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Stopped:
    run: RunState
    divergence: str | None  # why training stopped by itself, if it did
    stopped_at_best: Overfitting | None = None  # or because the validation loss turned up


@dataclass(frozen=True)
class SyncAnswer:
    """What Player.sync returns: progress while playing, or the whole state once stopped."""

    progress: Progress | None = None
    stopped: Stopped | None = None


# ---------------------------------------------------------------------------- the parent's side
class Player:
    """The session's side: a child process training a copy of one run.

    Not thread-safe by itself; the session calls it holding its lock. `bytes_sent` and
    `bytes_received` count each message's size (for the benchmarks).
    """

    def __init__(
        self, text: str, run: RunState, idle_timeout: float, max_seconds: float = float("inf")
    ) -> None:
        # A fresh interpreter (quick to start), not multiprocessing: its spawn
        # and forkserver run the parent's main script again in the child, and fork copies a web
        # server's threads' locks in whatever state they are.
        self._process = children.spawn("dashboard.player", child_environment())
        # A player dropped without stop() (its session ended while playing) closes the child's
        # standard input, so that the child ends: Popen keeps itself, and so that pipe, alive for
        # as long as its child runs.
        weakref.finalize(self, close_quietly, self._process.stdin)
        self._answers: queue.Queue = queue.Queue()
        threading.Thread(
            target=read_into, args=(self._process.stdout, self._answers), daemon=True
        ).start()
        self.bytes_sent: list[int] = []
        self.bytes_received: list[int] = []
        try:
            start = Start(text, run, idle_timeout, max_seconds)
            self.bytes_sent.append(write_message(self._process.stdin, start))
        except OSError as error:
            self.kill()
            raise PlayerFailed(f"the training process could not start ({error!r})") from error

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    @property
    def pid(self) -> int:
        return self._process.pid

    def sync(self, question: Sync) -> SyncAnswer:
        """What changed since the question's marks; once the child has stopped by itself (a
        divergence, the best validation point, or nobody asked for a long time), its whole run."""
        answer = self._ask(question)
        if isinstance(answer, Stopped):
            self._end()
            return SyncAnswer(stopped=answer)
        return SyncAnswer(progress=answer)

    def change_settings(self, settings: LiveSettings) -> None:
        """Change live settings in the child (the session has checked the values already)."""
        self._ask(ChangeSettings(settings))

    def stop(self) -> Stopped:
        """Stop training and take the child's whole state back; the child ends."""
        answer = self._ask(Stop())
        self._end()
        return answer

    def kill(self) -> None:
        """End the child now, whatever it is doing (a stopped child too), never waiting on it:
        the process first, then its input. Its output is the reader thread's, which reads the
        end of it once the process is gone."""
        try:
            self._process.kill()
        except OSError:
            pass  # already reaped
        close_quietly(self._process.stdin)
        try:
            self._process.wait(timeout=KILL_WAIT)
        except subprocess.TimeoutExpired:
            pass  # the kernel finishes it; Popen reaps it later

    def _ask(self, question: object) -> object:
        try:
            self.bytes_sent.append(self._write(question))
            answer, size = self._answers.get(timeout=ANSWER_TIMEOUT)
        except queue.Empty:
            self.kill()
            raise PlayerFailed(f"no answer within {ANSWER_TIMEOUT:g} s") from None
        except OSError as error:
            self.kill()
            raise PlayerFailed(f"the training process ended unexpectedly ({error!r})") from error
        if isinstance(answer, EOFError):
            self.kill()
            raise PlayerFailed("the training process ended unexpectedly")
        if isinstance(answer, Failed):
            self.kill()
            raise PlayerFailed(answer.message)
        self.bytes_received.append(size)
        return answer

    def _write(self, message: object) -> int:
        """write_message to the child, giving it up (killed) if its input stays full for
        ANSWER_TIMEOUT: a stopped child reads nothing, and a large message would wait for it."""
        written: list[int] = []
        errors: list[BaseException] = []

        def write() -> None:
            try:
                written.append(write_message(self._process.stdin, message))
            except BaseException as error:  # noqa: BLE001 - handed to the asking thread
                errors.append(error)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(ANSWER_TIMEOUT)
        if writer.is_alive():
            self.kill()  # which ends the write with a broken pipe
            raise queue.Empty
        if errors:
            raise errors[0]
        return written[0]

    def _end(self) -> None:
        close_quietly(self._process.stdin)
        try:
            self._process.wait(timeout=KILL_WAIT)  # it ends right after its last answer
        except subprocess.TimeoutExpired:
            self.kill()


# ------------------------------------------------------------------------------ the child
def serve(inbox_stream: BinaryIO, outbox: BinaryIO) -> None:
    """The child's main loop: train between questions, answer each one."""
    inbox: queue.Queue = queue.Queue()
    threading.Thread(target=read_into, args=(inbox_stream, inbox), daemon=True).start()
    try:
        _serve(inbox, outbox)
    except (EOFError, OSError):
        return  # the session is gone: nobody is left to answer
    except BaseException:  # report, so that the session can say what happened
        try:
            write_message(outbox, Failed(traceback.format_exc(limit=1).strip().splitlines()[-1]))
        except OSError:
            pass


def _serve(inbox: queue.Queue, outbox: BinaryIO) -> None:
    start, _ = inbox.get()
    if not isinstance(start, Start):
        raise EOFError("no Start message")
    _Child(start, inbox, outbox).serve()


class _Child:
    """The child's run: one Schedule.train call while playing, answering every question waiting
    between its slices; once training has stopped, answering as questions come."""

    def __init__(self, start: Start, inbox: queue.Queue, outbox: BinaryIO) -> None:
        self.schedule = Schedule.from_state(start.text, start.run)
        self.start, self.inbox, self.outbox = start, inbox, outbox
        self.playing, self.done = True, False
        self.divergence: str | None = None
        self.turn: Overfitting | None = None
        self.asked_at = self.started = time.monotonic()

    def serve(self) -> None:
        while not self.done:
            if self.playing and not self._over():
                report = self.schedule.train(seconds=self._left(), between_slices=self._between)
                if report.divergence or report.stopped_at_best:
                    self.playing = False
                    self.divergence, self.turn = report.divergence, report.stopped_at_best
            else:
                self.playing = False
                self._answer(self.inbox.get())

    def _between(self) -> bool:
        """Between two slices: answer every question waiting; True to stop training."""
        while not self.inbox.empty() and not self.done:
            self._answer(self.inbox.get())
        return self.done or self._over()

    def _over(self) -> bool:
        """Nobody asked for a long time (the tab was closed), or Play's hard limit is reached."""
        now = time.monotonic()
        if self.playing and now - self.started > self.start.max_seconds:
            self.divergence = f"Play stops after {self.start.max_seconds / 3600:g} hours."
            return True
        return now - self.asked_at > self.start.idle_timeout

    def _left(self) -> float:
        return max(0.0, self.start.max_seconds - (time.monotonic() - self.started))

    def _answer(self, received: tuple[object, int]) -> None:
        question = received[0]
        self.asked_at = time.monotonic()
        if isinstance(question, EOFError):
            raise question
        if isinstance(question, Stop) or (isinstance(question, Sync) and not self.playing):
            write_message(self.outbox, Stopped(self.schedule.state(), self.divergence, self.turn))
            self.done = True
        elif isinstance(question, Sync):
            write_message(self.outbox, _progress(self.schedule, question))
        elif isinstance(question, ChangeSettings):
            self.schedule.apply(question.settings)
            write_message(self.outbox, Done())
        else:
            raise TypeError(f"unexpected message {type(question).__name__}")


def _progress(schedule: Schedule, question: Sync) -> Progress:
    sample = None
    if question.sample is not None:
        s = question.sample
        sample = schedule.trainer.sample(s.length, prime=s.prime or None, temperature=s.temperature)
    return Progress(
        delta=schedule.delta(question.marks, with_model=question.with_model),
        sample=sample,
        save_point=schedule.state() if question.save_point else None,
    )


if __name__ == "__main__":
    # Messages must be made by the importable dashboard.player (the parent unpickles them by
    # that name), not by this __main__ copy of the module.
    from dashboard.player import serve as serve_parent

    # Only messages go to standard output: anything printed goes to standard error instead.
    messages_out = sys.stdout.buffer
    sys.stdout = sys.stderr
    serve_parent(sys.stdin.buffer, messages_out)
    sys.stderr.flush()
    # Not a normal shutdown: the thread reading standard input may still be blocked in a read,
    # which the interpreter's finalisation would wait on.
    os._exit(0)
