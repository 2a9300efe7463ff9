"""A finished run kept for the chart: plain data, what the figures draw of earlier runs.

A session keeps its latest MAX_RUNS runs, each at RUN_POINTS points of its smoothed loss at most:
what the chart draws of it, whatever the run's length."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.architecture import network_label
from rnnlab.config import Config
from rnnlab.state import Event, Origin, initial_config
from rnnlab.trainer import Trainer

# Earlier runs a session keeps for the chart (the oldest go first), and the points of each.
MAX_RUNS = 10
RUN_POINTS = 800


@dataclass(frozen=True)
class Run:
    """A finished run kept for comparison: what it was trained with and how its loss went (the
    chart's resolution of it: RUN_POINTS)."""

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


def archived(number: int, corpus_name: str, trainer: Trainer) -> Run:
    """The run `trainer` trained, as the chart keeps it."""
    rows = len(trainer.smooth_losses)
    keep = np.unique(np.linspace(0, rows - 1, min(rows, RUN_POINTS)).astype(np.int64))
    return Run(
        number=number,
        corpus_name=corpus_name,
        config=initial_config(trainer.config, trainer.events),
        trained=trainer.iteration,
        iterations=trainer.loss_iterations[keep],
        smooth_losses=np.array(trainer.smooth_losses[keep]),
        validation_history=trainer.validation_history,
        events=trainer.events,
        origin=trainer.origin,
    )


def kept(runs: tuple[Run, ...], run: Run) -> tuple[tuple[Run, ...], list[str]]:
    """The runs a session keeps once `run` is added, and what to tell the page of those that go."""
    runs = runs + (run,)
    gone = [
        f"Run {dropped.number} left the chart: a session keeps its latest {MAX_RUNS} runs."
        for dropped in runs[:-MAX_RUNS]
    ]
    return runs[-MAX_RUNS:], gone
