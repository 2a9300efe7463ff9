"""What the views draw, taken in one moment: a LiveSnapshot, and the stats above the chart."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnnlab.copying import CopyReport
from rnnlab.corpora import Corpus
from rnnlab.overfitting import Overfitting
from rnnlab.sampling import SampleSettings
from rnnlab.schedule import Schedule, TimelineEntry
from rnnlab.state import TrainerState, bits_per_char

from .runs import Run


@dataclass(frozen=True)
class LiveSnapshot:
    """Everything the views draw, taken in one moment under the lab's lock."""

    state: TrainerState
    stats: dict[str, float | int | None]
    runs: tuple[Run, ...]
    # The timeline entries to send: all those kept (the first and the latest) when
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


def stats(state: TrainerState, schedule: Schedule) -> dict[str, float | int | None]:
    """The numbers above the chart, of `state` (a state of `schedule`'s trainer)."""
    val = float(state.validation[-1, 1]) if len(state.validation) else None
    return {
        "iteration": state.iteration,
        "epochs": schedule.trainer.epochs,
        "chars_seen": state.chars_seen,
        "chars_per_second": schedule.chars_per_second,
        "parameters": schedule.trainer.param_count,
        "smooth_loss": state.smooth_loss,
        "bits_per_char": bits_per_char(state.smooth_loss, state.config.seq_length),
        "val_nats_per_char": val,
        "val_bits_per_char": None if val is None else val / math.log(2),
    }
