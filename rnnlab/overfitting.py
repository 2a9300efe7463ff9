"""Is the model still learning, or memorising? Read from the validation record.

A small text is memorised quickly: the training loss goes on falling while the loss on held-out
text turns up. `detect` says so once the validation loss has stayed above its best for
PATIENCE checks in a row; the Schedule can then stop and bring back the best model, and the
dashboard explains what happened and what to try.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .state import Event, ModelRestored

# Checks in a row above the best before calling it a turn, not noise: one or two higher points
# happen on the way down too.
PATIENCE = 4


@dataclass(frozen=True)
class Overfitting:
    """The validation loss has not improved since `best_iteration` for `checks` checks."""

    best_iteration: int
    best: float  # nats per character
    latest_iteration: int
    latest: float  # nats per character
    checks: int  # validation checks since the best, all above it

    @property
    def rise(self) -> float:
        """How much worse the latest check is than the best, as a share of the best."""
        return self.latest / self.best - 1.0


def detect(
    validation: np.ndarray, patience: int = PATIENCE, after_iteration: int = -1
) -> Overfitting | None:
    """The turn in a validation record (m, 2) of (iteration, nats per character), or None.

    None until the last `patience` checks all came after the lowest one: the best is the first
    lowest point, so a later check that only equals it does not count as an improvement. Only
    checks after `after_iteration` count (the best model was brought back there: it gets a new
    chance to improve).
    """
    if patience < 1:
        raise ValueError("patience must be at least one check.")
    values = np.asarray(validation, dtype=np.float64).reshape(-1, 2)
    if len(values) <= patience:
        return None
    best = int(np.argmin(values[:, 1]))
    counted = values[best + 1 :, 0] > after_iteration
    checks = int(counted.sum())
    if checks < patience:
        return None
    return Overfitting(
        best_iteration=int(values[best, 0]),
        best=float(values[best, 1]),
        latest_iteration=int(values[-1, 0]),
        latest=float(values[-1, 1]),
        checks=checks,
    )


def detect_since_restore(
    validation: np.ndarray, events: tuple[Event, ...], patience: int = PATIENCE
) -> Overfitting | None:
    """detect(), counting only checks after the best model last came back (a restore gives it a
    new chance): what the Schedule stops on, and what the dashboard warns of."""
    restored = [e.iteration for e in events if isinstance(e, ModelRestored)]
    return detect(validation, patience, after_iteration=max(restored, default=-1))
