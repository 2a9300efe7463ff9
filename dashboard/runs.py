"""A finished run kept for the chart: plain data, what the figures draw of earlier runs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.architecture import network_label
from rnnlab.config import Config
from rnnlab.state import Event, Origin


@dataclass(frozen=True)
class Run:
    """A finished run kept for comparison: what it was trained with and how its loss went (the
    chart's resolution of it: dashboard.session.RUN_POINTS)."""

    number: int
    corpus_name: str
    config: Config  # as the run started
    trained: int  # iterations
    # What the chart draws of it: its smoothed loss at RUN_POINTS rows at most, (k,) each.
    iterations: np.ndarray
    smooth_losses: np.ndarray
    validation_history: list[tuple[int, float]]
    events: tuple[Event, ...]
    origin: Origin | None = None  # the base model it started from, if it did

    @property
    def label(self) -> str:
        return f"Run {self.number}: {run_label(self.config, self.origin)}"


def run_label(config: Config, origin: Origin | None = None) -> str:
    return (
        f"{network_label(config)}{f' from {origin.base}' if origin else ''}, "
        f"H={config.hidden_size} T={config.seq_length} lr={config.learning_rate:g} "
        f"B={config.batch_size} seed={config.seed}"
        + (f" dropout={config.dropout:g}" if config.dropout else "")
    )
