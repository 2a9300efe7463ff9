"""Step and Train N: a session's run trained in the server's process, while the page waits.

One Schedule.train call, with the session's lock held while it trains and let go between its
slices every TRAIN_LOCK_SECONDS, so that the live feed and the page's other requests get their
turn during a long Train N (and a Stop, which interrupts the page's run, lands between two).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rnnlab.schedule import Schedule

from .outcomes import Outcome

# Step and Train N run in the page's own run, which waits for them: at most this long.
TRAIN_MAX_SECONDS = 120.0
# The session's lock is let go after this much training, for this long: a thread's lock is not
# fair, and one that let go and took it again at once would starve whoever waits for it.
TRAIN_LOCK_SECONDS = 0.25
TRAIN_LOCK_GAP = 0.005


def train_here(
    lock: threading.RLock,
    schedule: Schedule,
    iterations: int | None,
    seconds: float | None,
    interrupted: Callable[[], bool],
    on_progress: Callable[[int, int], None] | None = None,
) -> Outcome:
    """Train `schedule` for `iterations`, or `seconds` (TRAIN_MAX_SECONDS at most), taking
    `lock` (which the caller must not hold) and letting it go now and then. interrupted() is
    asked each time the lock is taken back (Play started meanwhile, or a new run): training
    stops there. on_progress(done, total) is called each time the lock is let go, and at the
    end."""
    limit = TRAIN_MAX_SECONDS if seconds is None else min(seconds, TRAIN_MAX_SECONDS)
    start_iteration = schedule.trainer.iteration
    held_since = time.monotonic()

    def between_slices() -> bool:
        nonlocal held_since
        if time.monotonic() - held_since < TRAIN_LOCK_SECONDS:
            return False
        if on_progress is not None and iterations is not None:
            on_progress(schedule.trainer.iteration - start_iteration, iterations)
        lock.release()
        try:
            time.sleep(TRAIN_LOCK_GAP)
        finally:
            lock.acquire()
        held_since = time.monotonic()
        return interrupted()

    with lock:
        if interrupted():
            return Outcome(asked_for=iterations, time_limit=TRAIN_MAX_SECONDS)
        report = schedule.train(iterations, limit, between_slices=between_slices)
        if on_progress is not None and iterations is not None:
            on_progress(report.iterations, iterations)
    return Outcome(
        iterations=report.iterations,
        seconds=report.seconds,
        asked_for=iterations,
        divergence=report.divergence,
        stopped_at_best=report.stopped_at_best,
        time_limit=TRAIN_MAX_SECONDS,
    )
