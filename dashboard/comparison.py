"""Compare cells in a process of its own, so the server and its pages keep their core.

The session starts `python -m dashboard.comparison`, writes one `Request` to its standard input
(on the wire of dashboard.wire, as Play's), and a reader thread collects what the child writes
back as it happens: a `Reading` per validation point, a `CellResult` as each network finishes,
then `Finished` (or `Failed`). Stopping is ending the child: the outcome is then `Cancelled`.
The child ends by itself once it has done its work, when its standard input closes (the server
or the session is gone), and after `Request.max_seconds` in any case.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass

from rnnlab.compare import CellResult, FromBase, Reading, compare_cells
from rnnlab.config import Config

from . import children
from .process_slots import SLOTS
from .wire import Failed, child_environment, messages, read_message, write_message


@dataclass(frozen=True)
class Request:
    text: str
    configs: dict[str, Config | FromBase]
    seconds: float  # of training CPU time for each network
    max_seconds: float  # the child's whole life, however the work goes


@dataclass(frozen=True)
class Finished:
    pass


@dataclass(frozen=True)
class Cancelled:
    """The session ended the comparison before it finished."""


# The name of the thread that watches a comparison to its end, then frees its process slot.
COMPARISON_WATCHER = "comparison-watcher"


class Comparison:
    """One comparison running in a child process, holding one of the server's process slots
    until it ends; read its progress with `progress()`."""

    def __init__(self, text: str, configs: dict[str, Config | FromBase], seconds: float):
        """ValueError when the server runs as many processes as it may."""
        SLOTS.take(self, "playing or comparing")
        try:
            self._start(text, configs, seconds)
        except BaseException:
            SLOTS.give_back(self)
            raise
        threading.Thread(target=self._watch, name=COMPARISON_WATCHER, daemon=True).start()

    def _start(self, text: str, configs: dict[str, Config | FromBase], seconds: float) -> None:
        self.labels = tuple(configs)
        self.seconds = seconds
        self._lock = threading.Lock()
        self._readings: list[Reading] = []
        self._results: list[CellResult] = []
        self._outcome: Finished | Failed | Cancelled | None = None
        self._stopped = False
        # One BLAS thread: the comparison is one core's work, as Play is.
        env = child_environment()
        env |= dict.fromkeys(("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"), "1")
        self._process = children.spawn("dashboard.comparison", env, stderr=False)
        # Validation reads and the samples come on top of the training time.
        request = Request(text, configs, seconds, max_seconds=len(configs) * (2 * seconds + 60))
        # Past this the session ends the child itself, whatever state it is in.
        self.deadline = time.monotonic() + request.max_seconds + 30
        try:
            write_message(self._process.stdin, request)
        except OSError:
            self._outcome = Failed("The comparison could not be started.")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _watch(self) -> None:
        """End the child at its hard deadline (one that hangs or is stopped never gets there by
        itself), then free the slot."""
        while self.running:
            if time.monotonic() > self.deadline:
                self.stop()
            time.sleep(0.2)
        SLOTS.give_back(self)

    @property
    def holds_a_slot(self) -> bool:
        return SLOTS.holds(self)

    def _read(self) -> None:
        for message in messages(self._process.stdout):
            with self._lock:
                if isinstance(message, Reading):
                    self._readings.append(message)
                elif isinstance(message, CellResult):
                    self._results.append(message)
                else:
                    self._outcome = message
                    break
        with self._lock:
            if self._outcome is None:  # the stream ended first: say how
                self._outcome = (
                    Cancelled()
                    if self._stopped
                    else Failed("The comparison process ended unexpectedly.")
                )
        self._process.wait()

    @property
    def running(self) -> bool:
        with self._lock:
            return self._outcome is None

    def progress(
        self,
    ) -> tuple[list[Reading], list[CellResult], Finished | Failed | Cancelled | None]:
        """Copies of the readings and finished networks so far, and the outcome once there is
        one."""
        with self._lock:
            return list(self._readings), list(self._results), self._outcome

    def stop(self) -> None:
        """End the child now; what it reported so far stays readable."""
        self._stopped = True
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._reader.join(timeout=5)  # so the outcome is set when this returns
        SLOTS.give_back(self)

    def status(self) -> tuple[str, float, float]:
        """While running: the network training now, its training CPU-seconds so far, and the
        share of the whole comparison done (0..1)."""
        with self._lock:
            latest = self._readings[-1] if self._readings else None
        label = latest.label if latest else self.labels[0]
        seconds = latest.seconds if latest else 0.0
        done = self.labels.index(label) + min(seconds / self.seconds, 1.0)
        return label, seconds, min(1.0, done / len(self.labels))

    @property
    def pid(self) -> int:
        return self._process.pid


def _child() -> None:
    out = sys.stdout.buffer
    request, _ = read_message(sys.stdin.buffer)
    deadline = time.monotonic() + request.max_seconds
    lock = threading.Lock()

    def send(message) -> None:
        with lock:
            write_message(out, message)

    def orphaned() -> None:
        # The parent holds our standard input open for as long as it wants us; EOF means it is
        # gone (or stopped us), and nothing else will end this process.
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=orphaned, daemon=True).start()
    try:
        for label, config in request.configs.items():
            [result] = compare_cells(
                request.text,
                {label: config},
                request.seconds,
                on_reading=send,
                should_stop=lambda: time.monotonic() > deadline,
            )
            send(result)
        send(Finished())
    except Exception as error:  # noqa: BLE001 - reported to the page as a message, not a trace
        traceback.print_exc(file=sys.stderr)
        send(Failed(f"The comparison failed: {type(error).__name__}: {error}"))


if __name__ == "__main__":
    # Run the module's own copy, not __main__'s: what it pickles must name dashboard.comparison.
    from dashboard.comparison import _child as child

    child()
