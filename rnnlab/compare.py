"""Compare cells: RNN, GRU and LSTM trained in turn on one text for the same CPU time.

    results = compare_cells(text, CELL_PRESETS, seconds=30)
    for r in results: print(r.label, r.best_bits, r.sample)

A network is a Config (random weights) or a `FromBase` (a bundled base model's weights carried
over to the text, Trainer.from_base). Each network trains for `seconds` of CPU time of its own
training (validation reads are not counted against it), reading the validation loss every
`check_every` seconds on the same held-out characters, so the curves are comparable point by
point. The best model of each run is what its
sample comes from, as the dashboard keeps the best. `on_reading` hears every reading as it comes
(to draw progress) and `should_stop` is asked between slices (to stop early; what is done so far
is returned).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import Config
from .trainer import DivergenceError, Trainer
from .transfer import CHANGEABLE

# A slice of training between looks at the clock and at should_stop.
SLICE_ITERATIONS = 2
# Validation reads this many held-out characters at most: the same ones for every network.
COMPARE_VALIDATION_CHARS = 5000
SAMPLE_LENGTH = 300


@dataclass(frozen=True)
class FromBase:
    """A network that starts from a bundled base model: `config` is the run's (the base's
    network, with the transfer's training settings: rnnlab.transfer.new_config)."""

    base: str  # a bundled base's name (rnnlab.base_models())
    config: Config

    def replace(self, **changes) -> FromBase:
        return FromBase(self.base, self.config.replace(**changes))

    def trainer(self, text: str) -> Trainer:
        changes = {name: getattr(self.config, name) for name in CHANGEABLE}
        return Trainer.from_base(text, self.base, **changes)


def config_of(network: Config | FromBase) -> Config:
    return network.config if isinstance(network, FromBase) else network


@dataclass(frozen=True)
class Reading:
    """One network's validation loss after `seconds` of training CPU time."""

    label: str
    seconds: float
    iteration: int
    bits: float  # bits per character on the held-out text


@dataclass
class CellResult:
    label: str
    config: Config
    readings: list[Reading] = field(default_factory=list)
    iterations: int = 0
    seconds: float = 0.0
    sample: str = ""
    stopped_early: bool = False  # asked to stop, or training diverged
    note: str = ""  # why it stopped early, when it did

    @property
    def best_bits(self) -> float:
        return min((r.bits for r in self.readings), default=math.inf)


def compare_cells(
    text: str,
    configs: dict[str, Config | FromBase],
    seconds: float,
    on_reading: Callable[[Reading], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    check_every: float | None = None,
    sample_temperature: float = 0.8,
) -> list[CellResult]:
    """Train each of `configs` (label -> Config or FromBase, every one holding some text out) in
    turn for `seconds` of CPU time on `text`; their validation readings, best sample and
    counts."""
    if seconds <= 0:
        raise ValueError("Give each network some time to train (seconds > 0).")
    for label, network in configs.items():
        if config_of(network).val_fraction <= 0:
            raise ValueError(f"{label}: comparing needs held-out text (val_fraction > 0).")
    check_every = check_every or max(seconds / 20, 0.25)
    results = []
    for label, network in configs.items():
        result = CellResult(label, config_of(network))
        results.append(result)
        if should_stop and should_stop():
            result.stopped_early, result.note = True, "stopped before it started"
            continue
        trainer = network.trainer(text) if isinstance(network, FromBase) else Trainer(text, network)
        _train_one(trainer, result, seconds, check_every, on_reading, should_stop)
        if trainer.best is not None:
            trainer.restore_best()
        result.sample = trainer.sample(SAMPLE_LENGTH, temperature=sample_temperature, seed=0)
        result.iterations = trainer.iteration
    return results


def _train_one(
    trainer: Trainer,
    result: CellResult,
    seconds: float,
    check_every: float,
    on_reading: Callable[[Reading], None] | None,
    should_stop: Callable[[], bool] | None,
) -> None:
    def read() -> None:
        nats = trainer.record_validation(COMPARE_VALIDATION_CHARS)
        reading = Reading(result.label, result.seconds, trainer.iteration, nats / math.log(2))
        result.readings.append(reading)
        if on_reading:
            on_reading(reading)

    read()  # where every network starts: about log2 of the vocabulary
    next_check = check_every
    while result.seconds < seconds:
        if should_stop and should_stop():
            result.stopped_early, result.note = True, "stopped"
            break
        started = time.process_time()
        try:
            trainer.step(SLICE_ITERATIONS)
        except DivergenceError as error:
            result.stopped_early, result.note = True, str(error)
            break
        finally:
            result.seconds += time.process_time() - started
        if result.seconds >= next_check or result.seconds >= seconds:
            read()
            next_check = result.seconds + check_every
