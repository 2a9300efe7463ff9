"""How a stretch of training ended, whichever runner trained it, and what the page is told.

Step and Train N (dashboard.local_runner) and Play (dashboard.play_runner) both end in an
`Outcome`; `messages` turns one into the page's messages, so that a divergence, a stop at the
best validation point or a failed process reads the same whichever way the run was trained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rnnlab.overfitting import Overfitting
from rnnlab.state import BestModel

OTHER_TEXT = (
    "This checkpoint was made on a different text with the same characters. It was loaded, and "
    "goes on learning from this text; its records and samples so far are the other text's."
)
PAGE_CLOSED = "Training paused: the page was closed."


@dataclass(frozen=True)
class Outcome:
    """iterations, seconds: trained in this stretch (0 when not counted); asked_for: the
    iterations a Train N asked for (None: not a Train N); divergence, stopped_at_best: why
    training stopped by itself, if it did; failure: the process that trained failed, and the
    run went back to `failed_back_to` (an iteration)."""

    iterations: int = 0
    seconds: float = 0.0
    asked_for: int | None = None
    divergence: str | None = None
    stopped_at_best: Overfitting | None = None
    failure: str | None = None
    failed_back_to: int = 0
    time_limit: float = 0.0  # a Train N's limit in seconds, for its message

    @property
    def cut_back(self) -> bool:
        """Whether the run went back to an earlier model (its timeline with it)."""
        return bool(self.divergence or self.failure)


def messages(outcome: Outcome) -> list[tuple[str, str]]:
    """(kind, text) for the page: "error", "success" or "warning"."""
    said = []
    if outcome.failure:
        said.append(
            (
                "error",
                f"Training paused. The training process failed ({outcome.failure}). The model "
                f"is as it was at iteration {outcome.failed_back_to:,}.",
            )
        )
    if outcome.divergence:
        said.append(("error", f"Training paused. {outcome.divergence}"))
    if outcome.stopped_at_best:
        said.append(("success", stopped_at_best(outcome.stopped_at_best)))
    elif (
        outcome.asked_for is not None
        and outcome.iterations < outcome.asked_for
        and not outcome.divergence
    ):
        said.append(
            (
                "success",
                f"Trained {outcome.iterations:,} of {outcome.asked_for:,} iterations: a Train "
                f"runs for {outcome.time_limit:g} seconds at most. Press it again to go on, or "
                "Play.",
            )
        )
    return said


def stopped_at_best(turn: Overfitting) -> str:
    return (
        f"Stopped at the best validation point: the validation loss had not improved for "
        f"{turn.checks} checks since iteration {turn.best_iteration:,} "
        f"({turn.best / math.log(2):.3f} bits/char; the last was "
        f"{turn.latest / math.log(2):.3f}). The model of iteration {turn.best_iteration:,} is "
        "back. To watch it memorise the text instead, turn off “Stop at the best validation "
        "point” and press Play."
    )


def restored(best: BestModel) -> str:
    return (
        f"Brought back the model of iteration {best.iteration:,} (validation "
        f"{best.validation / math.log(2):.3f} bits/char)."
    )
