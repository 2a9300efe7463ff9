"""Play: a lab's training in a process of its own, mirrored back into the lab a few times a second.

While playing, the dashboard redraws itself every 0.4 s. Inside one process that drawing and the
training share one interpreter lock: with training on a thread, the web server used 0.9 of a core
and every redraw held the training up; with training here, the server uses 0.13
(bench/dashboard_speed.py). So Play sends a copy of the lab's trainer to a child process, which
trains it in slices of PLAY_SLICE_SECONDS, and the lab's own trainer becomes a mirror:
`Player.sync` brings over what the page draws (parameters, hidden state, new losses, validation,
health records, milestone samples). `Player.stop` brings back the child's whole state, so after a
pause the lab goes on exactly where the child stopped. (The latest sample is drawn by the lab from
its mirror: the web server has time to spare, the child has not.)

The lab always asks and the child always answers, one message for one question, so nothing piles
up in the pipe when nobody looks. A child that is not asked anything for `idle_timeout` seconds
(the browser tab was closed) stops training and waits, keeping the model, until it is asked again
or the lab is gone. When training stops by itself (a divergence), the child also waits, and its
next answer is its whole state.

Questions (parent -> child) and answers (child -> parent):
    ("sync", Marks)          -> ("progress", Progress) or ("stopped", FinalState)
    ("call", name, args)     -> ("done", None): a Lab method that changes a live setting
    ("stop", None)           -> ("stopped", FinalState)
A child that fails sends ("failed", message) and ends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # lab.py imports this module; the child imports Lab when it starts
    from .config import Config
    from .lab import Lab, SampleSettings, TimelineEntry
    from .trainer import Trainer

# Between slices the child looks for questions, so a question waits at most one slice (plus one
# iteration), and a look costs one poll. 30 ms slices had the page's sync take 46-57 ms (median,
# most of it waiting); 15 ms slices, 30-33 ms, at the same training speed.
PLAY_SLICE_SECONDS = 0.015
# How long the lab waits for an answer before it gives the child up as hung. One slice is at
# most one iteration over its time budget, and the largest models take well under a second.
ANSWER_TIMEOUT = 60.0
# Fields of the trainer that stay with the child when it hands its state back: the text (which
# the lab's trainer already holds, and which can be 50 MB) and what was derived from it.
_TEXT_FIELDS = ("_train", "_val", "vocab")


class PlayerFailed(RuntimeError):
    """The child process failed or vanished; the lab keeps the state of the last sync."""


@dataclass(frozen=True)
class Marks:
    """How much of each growing record the lab's mirror already holds."""

    losses: int
    health: int
    validation: int
    timeline: int

    @classmethod
    def of(cls, lab: Lab) -> Marks:
        t = lab.trainer
        return cls(len(t.losses), len(t.health), len(t.validation_history), len(lab.timeline))


@dataclass(frozen=True)
class Progress:
    """What changed in the child since the marks: enough to draw every view of the model."""

    iteration: int
    pointer: int
    chars_seen: int
    smooth_loss: float
    config: Config
    events: list[dict]
    hidden: np.ndarray  # (B, H)
    params: np.ndarray  # (P,) the flat parameter buffer
    adagrad_memory: np.ndarray  # (P,)
    new_losses: np.ndarray  # (n,)
    new_smooth_losses: np.ndarray  # (n,)
    new_health_rows: np.ndarray  # (m, columns)
    new_validation: list[tuple[int, float]]
    new_timeline: list[TimelineEntry]
    training_seconds: float
    recent_chars_per_second: float


@dataclass(frozen=True)
class FinalState:
    """The child's whole state when it stops: the trainer without its text, and the lab's part."""

    trainer_fields: dict
    timeline: list[TimelineEntry]
    training_seconds: float
    recent_chars_per_second: float
    divergence_message: str | None


@dataclass(frozen=True)
class _Start:
    trainer: Trainer  # with its text
    sample_settings: SampleSettings
    timeline: list[TimelineEntry]
    training_seconds: float
    recent_chars_per_second: float
    idle_timeout: float


class Player:
    """The parent's side: a child process training a copy of one lab's trainer.

    Not thread-safe by itself; the lab calls it holding its lock.
    """

    def __init__(self, lab: Lab, idle_timeout: float):
        # A fresh interpreter (about 0.2 s to start), not multiprocessing: its spawn and
        # forkserver run the parent's main script again in the child, and fork copies a web
        # server's threads' locks in whatever state they are.
        ours, theirs = socket.socketpair()
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "rnnlab.player", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=_child_environment(),
                # A session of its own is a scheduling group of its own (Linux autogroups): the
                # training then gets a fair share of the CPU against a browser's many threads on
                # the same machine. Measured while playing on 2 cores: waiting to run 16% of the
                # time -> 8%. It still ends with the server: it reads EOF from the socket.
                start_new_session=True,
            )
        self._connection = Connection(ours.detach())
        self._connection.send(
            _Start(
                lab.trainer,
                lab.sample_settings,
                lab.timeline,
                lab.training_seconds,
                lab.recent_chars_per_second,
                idle_timeout,
            )
        )

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def sync(self, lab: Lab) -> bool:
        """Bring the lab's mirror up to date; False when the child has stopped and handed its
        whole state back (training diverged, or nobody had asked for a long time)."""
        kind, payload = self._ask(("sync", Marks.of(lab)))
        if kind == "progress":
            _apply_progress(lab, payload)
            return True
        self._take_back(lab, payload)
        return False

    def call(self, name: str, *args) -> None:
        """Run a live-setting method of the child's lab (the lab has already checked the value
        on its own mirror, so the child cannot refuse it)."""
        self._ask(("call", name, args))

    def stop(self, lab: Lab) -> None:
        """Stop training and take the child's whole state back into the lab; the child ends."""
        _, payload = self._ask(("stop", None))
        self._take_back(lab, payload)

    def kill(self) -> None:
        self._connection.close()
        if self.alive:
            self._process.kill()
        self._process.wait(timeout=5)

    def _ask(self, question: tuple) -> tuple[str, object]:
        try:
            self._connection.send(question)
            if not self._connection.poll(ANSWER_TIMEOUT):
                raise PlayerFailed(f"no answer within {ANSWER_TIMEOUT:g} s")
            kind, payload = self._connection.recv()
        except (EOFError, OSError) as error:
            self.kill()
            raise PlayerFailed(f"the training process ended unexpectedly ({error!r})") from error
        except PlayerFailed:
            self.kill()
            raise
        if kind == "failed":
            self.kill()
            raise PlayerFailed(payload)
        return kind, payload

    def _take_back(self, lab: Lab, final: FinalState) -> None:
        lab.trainer.__dict__.update(final.trainer_fields)
        lab.timeline = final.timeline
        lab.training_seconds = final.training_seconds
        lab.recent_chars_per_second = final.recent_chars_per_second
        if final.divergence_message:
            lab.divergence_message = final.divergence_message
        self._connection.close()
        self._process.wait(timeout=5)  # it ends right after answering


def _child_environment() -> dict[str, str]:
    """The parent's environment, with this copy of rnnlab first on the child's import path."""
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    return env


def _apply_progress(lab: Lab, progress: Progress) -> None:
    t = lab.trainer
    t.iteration, t.pointer = progress.iteration, progress.pointer
    t.chars_seen, t.smooth_loss = progress.chars_seen, progress.smooth_loss
    t.config, t.events = progress.config, progress.events
    t.hidden = progress.hidden
    t._params.flat[...] = progress.params
    t._optimizer.memory[...] = progress.adagrad_memory
    t._losses.extend(progress.new_losses)
    t._smooth_losses.extend(progress.new_smooth_losses)
    t.health.extend(progress.new_health_rows)
    t.validation_history.extend(progress.new_validation)
    lab.timeline.extend(progress.new_timeline)
    lab.training_seconds = progress.training_seconds
    lab.recent_chars_per_second = progress.recent_chars_per_second


# ------------------------------------------------------------------------------ the child
def serve(connection: Connection) -> None:
    """The child's main loop: train between questions, answer each one."""
    try:
        _serve_questions(connection)
    except (EOFError, OSError):
        return  # the lab is gone: nobody is left to answer
    except Exception:  # report, so that the lab can say what happened
        try:
            connection.send(("failed", traceback.format_exc(limit=5)))
        except OSError:
            pass


def _serve_questions(connection) -> None:
    from .lab import Lab

    start: _Start = connection.recv()
    lab = Lab(
        corpus=None,
        trainer=start.trainer,
        sample_settings=start.sample_settings,
        timeline=list(start.timeline),
        playing=True,
        training_seconds=start.training_seconds,
        recent_chars_per_second=start.recent_chars_per_second,
    )
    asked_at = time.monotonic()
    while True:
        if time.monotonic() - asked_at > start.idle_timeout:
            lab.playing = False
        # Answer every question waiting; when not training, wait for the next one.
        while connection.poll(0 if lab.playing else None):
            question = connection.recv()
            asked_at = time.monotonic()
            kind = question[0]
            if kind == "stop" or (kind == "sync" and not lab.playing):
                connection.send(("stopped", _final_state(lab)))
                return
            if kind == "sync":
                connection.send(("progress", _progress(lab, question[1])))
            else:  # "call"
                _, name, args = question
                getattr(lab, name)(*args)
                connection.send(("done", None))
        if lab.playing:
            lab.train(seconds=PLAY_SLICE_SECONDS, refresh_sample=False)  # stops on divergence


def _progress(lab: Lab, marks: Marks) -> Progress:
    t = lab.trainer
    return Progress(
        iteration=t.iteration,
        pointer=t.pointer,
        chars_seen=t.chars_seen,
        smooth_loss=t.smooth_loss,
        config=t.config,
        events=t.events,
        hidden=t.hidden,
        params=t._params.flat,
        adagrad_memory=t._optimizer.memory,
        new_losses=t.losses[marks.losses :],
        new_smooth_losses=t.smooth_losses[marks.losses :],
        new_health_rows=t.health.rows[marks.health :],
        new_validation=t.validation_history[marks.validation :],
        new_timeline=lab.timeline[marks.timeline :],
        training_seconds=lab.training_seconds,
        recent_chars_per_second=lab.recent_chars_per_second,
    )


def _final_state(lab: Lab) -> FinalState:
    fields = {k: v for k, v in lab.trainer.__dict__.items() if k not in _TEXT_FIELDS}
    return FinalState(
        fields,
        lab.timeline,
        lab.training_seconds,
        lab.recent_chars_per_second,
        lab.divergence_message,
    )


if __name__ == "__main__":
    # Objects must be made by the importable rnnlab.player (the parent unpickles them by that
    # name), not by this __main__ copy of the module.
    from rnnlab.player import serve as serve_parent

    serve_parent(Connection(int(sys.argv[1])))
