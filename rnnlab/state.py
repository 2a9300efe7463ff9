"""A trainer's whole state as one immutable value, and the delta form that keeps a mirror of it.

`Trainer.state()` hands out a `TrainerState`; `Trainer.from_state(text, state)` builds a trainer
from one, and `trainer.load_state(state)` puts one back. Checkpoints encode this value, rollback
snapshots are this value, and the play process hands it back at a pause. While playing, a mirror
is kept up to date with `TrainerDelta`s: what changed since some `Marks`.

Arrays in a state are read-only. The records (losses, validation, health) are views of the
trainer's append-only histories, so taking a state costs one copy of the parameters and the
optimizer memory, however long the run.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .architecture import Architecture
from .config import Config
from .records import row_iterations

# Settings that may change during a run (every other field of Config needs a new model).
LIVE_SETTINGS = ("learning_rate", "seq_length")


@dataclass(frozen=True)
class SettingChange:
    """A live setting changed from `old` to `new`, in force from iteration `iteration + 1` on."""

    iteration: int
    name: str  # one of LIVE_SETTINGS
    old: float
    new: float

    def __post_init__(self) -> None:
        if self.name not in LIVE_SETTINGS:
            raise ValueError(f"{self.name!r} is not a setting that changes during a run.")
        if isinstance(self.iteration, bool) or not isinstance(self.iteration, int):
            raise ValueError("A setting change's iteration must be a whole number.")
        if self.iteration < 0:
            raise ValueError("A setting change's iteration cannot be negative.")
        for value in (self.old, self.new):
            # Config checks the type and the range of each value.
            Config().replace(**{self.name: value})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Any) -> SettingChange:
        if not isinstance(values, dict) or set(values) != {"iteration", "name", "old", "new"}:
            raise ValueError("A setting change needs exactly iteration, name, old and new.")
        return cls(**values)


@dataclass(frozen=True)
class ModelRestored:
    """At `iteration`, the parameters of the best validation point (`from_iteration`) came back."""

    iteration: int
    from_iteration: int

    def __post_init__(self) -> None:
        for value in (self.iteration, self.from_iteration):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(
                    "A restored model's iterations must be whole numbers, not negative."
                )
        if self.from_iteration > self.iteration:
            raise ValueError("A model can only be restored from an earlier iteration.")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "restored", **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, values: Any) -> ModelRestored:
        if not isinstance(values, dict) or set(values) != {"kind", "iteration", "from_iteration"}:
            raise ValueError("A restored model needs exactly kind, iteration and from_iteration.")
        return cls(values["iteration"], values["from_iteration"])


# What happened during a run besides training: marked on the loss chart, kept in checkpoints.
Event = SettingChange | ModelRestored


def event_from_dict(values: Any) -> Event:
    """An event from its to_dict() form; ValueError when it is neither kind."""
    if isinstance(values, dict) and values.get("kind") == "restored":
        return ModelRestored.from_dict(values)
    return SettingChange.from_dict(values)


@dataclass(frozen=True, eq=False)
class BestModel:
    """The parameters at the lowest validation loss a run has reached (kept to bring back)."""

    iteration: int
    validation: float  # nats per character
    params: np.ndarray  # (P,) read-only


# The longest base name an Origin keeps (a file name, or a bundled base's name).
MAX_BASE_NAME = 200


@dataclass(frozen=True)
class Origin:
    """Where a run's first weights came from when not from random numbers: a base model whose
    weights it took over (rnnlab.transfer), and how the two vocabularies met."""

    base: str  # the base's name ("english"), or what it was ("a checkpoint", a file name)
    known: str  # the text's characters the base knew: they kept their weights
    kin: tuple[tuple[str, str], ...]  # (new character, the known one it started from)
    new: str  # the text's characters the base never saw, with no kin: started fresh
    dropped: str  # the base's characters this text lacks: their outputs left the model

    def __post_init__(self) -> None:
        if not isinstance(self.base, str) or not 0 < len(self.base) <= MAX_BASE_NAME:
            raise ValueError(f"A base's name is 1 to {MAX_BASE_NAME} characters of text.")
        for name in ("known", "new", "dropped"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"An origin's {name} characters must be a string.")
        if not isinstance(self.kin, tuple) or not all(
            isinstance(pair, tuple)
            and len(pair) == 2
            and all(isinstance(c, str) and len(c) == 1 for c in pair)
            for pair in self.kin
        ):
            raise ValueError("An origin's kin must be pairs of single characters.")

    @property
    def text_chars(self) -> int:
        """Distinct characters of the text trained on."""
        return len(self.known) + len(self.kin) + len(self.new)

    def describe(self) -> str:
        """In a sentence: "Started from english, which knew 78 of the text's 85 characters; …"."""
        first = (
            f"Started from {self.base}, which knew {len(self.known)} of the text's "
            f"{self.text_chars} characters"
        )
        return "; ".join([first, *self.details()]) + "."

    def details(self) -> list[str]:
        """What became of the characters the base did not know, and of those the text lacks."""
        parts = []
        if self.kin:
            kin = ", ".join(f"{shown(c)} from {shown(k)}" for c, k in self.kin)
            parts.append(f"{_count(len(self.kin), 'new one starts', 'new ones start')} from a "
                         f"known one ({kin})")  # fmt: skip
        if self.new:
            fresh = ", ".join(shown(c) for c in self.new)
            parts.append(f"{_count(len(self.new), 'starts', 'start')} fresh ({fresh})")
        if self.dropped:
            parts.append(
                f"{_count(len(self.dropped), 'of its characters is', 'of its characters are')} "
                "not in this text"
            )
        return parts

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "kin": [list(pair) for pair in self.kin]}

    @classmethod
    def from_dict(cls, values: Any) -> Origin:
        fields = {"base", "known", "kin", "new", "dropped"}
        if not isinstance(values, dict) or set(values) != fields:
            raise ValueError(f"An origin needs exactly {', '.join(sorted(fields))}.")
        kin = values["kin"]
        if not isinstance(kin, list) or not all(isinstance(pair, list) for pair in kin):
            raise ValueError("An origin's kin must be a list of pairs.")
        return cls(
            values["base"], values["known"], tuple(tuple(pair) for pair in kin),
            values["new"], values["dropped"],
        )  # fmt: skip


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def shown(char: str) -> str:
    """A character as a person can see it in a sentence: quoted, with blanks named."""
    names = {" ": "space", "\n": "newline", "\t": "tab", "\r": "carriage return"}
    if char in names or not char.isprintable():
        return names.get(char, repr(char))
    return f'"{char}"' if char == "'" else f"'{char}'"


@dataclass(frozen=True, eq=False)
class TrainerState:
    """Everything needed to go on training exactly, and to draw every view of a run.

    P is the number of parameters, B the batch size, H the hidden size, n the iteration.
    """

    config: Config
    vocab: str  # the sorted distinct characters of the text; ids index into it
    params: np.ndarray  # (P,) the flat parameter buffer (layout: model.FlatParams)
    optimizer_memory: np.ndarray  # (k·P,) the optimizer's memory (rnnlab.optimizer)
    hidden: np.ndarray  # (B, S) each stream's carried state (rnnlab.architecture)
    pointer: int  # where the streams read next, within their segment
    iteration: int
    chars_seen: int
    smooth_loss: float
    losses: np.ndarray  # (r,) raw loss of each iteration (of each block of them when thinned)
    smooth_losses: np.ndarray  # (r,)
    validation: np.ndarray  # (m, 2) rows of (iteration, nats per character)
    events: tuple[Event, ...]
    health: np.ndarray  # (k, W) rows of health.HealthLog
    sample_rng: dict  # the sampler's bit generator state (numpy's own form)
    best: BestModel | None = None  # the model at the lowest validation loss so far
    dropout_rng: dict | None = None  # the dropout masks' bit generator (None: from the seed)
    origin: Origin | None = None  # the base model the run started from, if it did
    # (t,) the iteration each of the first t loss rows ends at, once a long run's older records
    # were thinned (rnnlab.records); None or empty: one row per iteration
    thinned_ends: np.ndarray | None = None

    @property
    def loss_iterations(self) -> np.ndarray:
        """(r,) the iteration (1-based) each row of `losses` and `smooth_losses` ends at."""
        return row_iterations(len(self.losses), _ends(self.thinned_ends))

    @property
    def validation_history(self) -> list[tuple[int, float]]:
        return [(int(i), float(v)) for i, v in self.validation]

    @property
    def arch(self) -> Architecture:
        """The network the parameters belong to (how to name and shape them)."""
        return Architecture.of(self.config, len(self.vocab))


@dataclass(frozen=True)
class Marks:
    """How many entries of each record a mirror already holds."""

    losses: int = 0
    validation: int = 0
    health: int = 0
    rollbacks: int = 0  # rollbacks of the trainer seen so far: records before them may differ
    best_iteration: int = -1  # the iteration of the best model held (-1: none)
    # times the records were rewritten (thinned, or put back by a rollback): when a mirror's
    # count differs, its records are replaced, not added to
    rewrites: int = 0


@dataclass(frozen=True, eq=False)
class TrainerDelta:
    """What changed in a trainer since some Marks: the new records and the current counters.

    Records restart at `since` (not the Marks asked with) when the trainer rolled back past
    them: a mirror first cuts its records to `since`, then appends. The parameters and hidden
    state come only when asked for (the views that show the model), as they are most of the
    bytes.
    """

    since: Marks  # where the new records start, and the trainer's rollback count
    config: Config
    events: tuple[Event, ...]
    pointer: int
    iteration: int
    chars_seen: int
    smooth_loss: float
    new_losses: np.ndarray  # (n,)
    new_smooth_losses: np.ndarray  # (n,)
    new_validation: np.ndarray  # (m, 2)
    new_health: np.ndarray  # (k, W)
    params: np.ndarray | None = None  # (P,)
    hidden: np.ndarray | None = None  # (B, H)
    best_changed: bool = False  # then `best` is the new best model (None: there is none)
    best: BestModel | None = None
    rewrites: int = 0  # the trainer's Marks.rewrites; `since` is all zeros when it changed
    thinned_ends: np.ndarray | None = None  # with a rewrite: the loss record's thinned ends


def frozen(array: np.ndarray) -> np.ndarray:
    """A read-only copy of `array`: float32 stays float32 (a float32 model's snapshots are
    half the size), anything else becomes float64."""
    array = np.asarray(array)
    copy = np.array(array, dtype=np.float32 if array.dtype == np.float32 else np.float64)
    copy.flags.writeable = False
    return copy


def setting_changes(events: tuple[Event, ...] | list) -> list[SettingChange]:
    return [event for event in events if isinstance(event, SettingChange)]


def initial_config(config: Config, events: tuple[Event, ...] | list) -> Config:
    """The config a run started with, undoing the mid-run changes recorded in `events`."""
    first: dict[str, float] = {}
    for event in setting_changes(events):
        first.setdefault(event.name, event.old)
    return config.replace(**first)


def per_iteration(
    config: Config, events: tuple[Event, ...] | list, name: str, n: int
) -> np.ndarray:
    """Value of live setting `name` used at each of n iterations, (n,), from the change events."""
    values = np.full(n, getattr(initial_config(config, events), name), dtype=np.float64)
    for event in setting_changes(events):
        if event.name == name:
            values[event.iteration :] = event.new
    return values


def per_iteration_at(
    config: Config, events: tuple[Event, ...] | list, name: str, indices: np.ndarray
) -> np.ndarray:
    """per_iteration(...)[indices] without building the whole run's array: (k,) for (k,) indices
    of iterations (0-based), in time linear in k and the number of events."""
    indices = np.asarray(indices, dtype=np.int64)
    values = np.full(len(indices), getattr(initial_config(config, events), name), dtype=np.float64)
    for event in setting_changes(events):
        if event.name == name:
            values[indices >= event.iteration] = event.new
    return values


def chars_seen_at(
    config: Config, events: tuple[Event, ...] | list, counts: np.ndarray
) -> np.ndarray:
    """Characters trained after each of `counts` iterations, (k,): the cumulative sum of every
    iteration's seq_length × batch_size, in time linear in k and the number of events."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = [0] + [e.iteration for e in setting_changes(events) if e.name == "seq_length"]
    lengths = per_iteration_at(config, events, "seq_length", np.array(starts))
    chars = np.zeros(len(counts), dtype=np.float64)
    done = 0.0  # characters before the current stretch of one sequence length
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else None
        inside = counts >= start if end is None else (counts >= start) & (counts < end)
        chars[inside] = done + (counts[inside] - start) * lengths[k] * config.batch_size
        if end is not None:
            done += (end - start) * lengths[k] * config.batch_size
    return chars


def bits_per_char(nats_per_chunk: float, seq_length: int) -> float:
    """A loss summed over a chunk of seq_length characters, as bits per character."""
    return nats_per_chunk / seq_length / math.log(2)


def _ends(thinned: np.ndarray | None) -> np.ndarray:
    return np.zeros(0, np.int64) if thinned is None else np.asarray(thinned, np.int64)
