"""Hyperparameters: one frozen dataclass, with defaults, valid ranges and help text.

The dashboard's sliders and the CLI's flags both read their ranges from here, so a value that one
accepts the other accepts too.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _spec(default: Any, low: float | None, high: float | None, help: str) -> Any:
    return field(default=default, metadata={"range": (low, high), "help": help})


def _choice(default: str, choices: tuple[str, ...], help: str) -> Any:
    return field(default=default, metadata={"choices": choices, "help": help})


# The recurrent cells, and the gate blocks each step's fused product computes (in row order).
CELL_GATES = {"rnn": (), "gru": ("r", "z", "n"), "lstm": ("i", "f", "o", "g")}


@dataclass(frozen=True)
class Config:
    """Every hyperparameter of a run. The defaults are the classic min-char-rnn's."""

    hidden_size: int = _spec(100, 4, 1024, "Units in each hidden layer (H).")
    seq_length: int = _spec(
        25,
        2,
        500,
        "Characters per chunk: backprop through time is truncated after this many steps (T).",
    )
    learning_rate: float = _spec(
        0.1, 1e-5, 10.0, "Adagrad step size. Large values are allowed so divergence can be watched."
    )
    batch_size: int = _spec(
        1, 1, 256, "Independent streams trained together, starting at evenly spaced offsets (B)."
    )
    seed: int | None = _spec(
        None, 0, 2**32 - 1, "Seed for the initial weights; None draws one (and records it)."
    )
    val_fraction: float = _spec(
        0.0,
        0.0,
        0.5,
        "Share of the text held out at the end for validation; 0 trains on all of it.",
    )
    cell: str = _choice(
        "rnn",
        tuple(CELL_GATES),
        "The recurrent cell: the classic tanh RNN, a GRU (reset and update gates) or an LSTM "
        "(a cell state behind input, forget and output gates).",
    )
    layers: int = _spec(1, 1, 3, "Recurrent layers stacked, each reading the one below.")
    optimizer: str = _choice(
        "adagrad",
        ("adagrad", "rmsprop", "adam"),
        "The update rule: the classic Adagrad, RMSprop (decay 0.95) or Adam (0.9, 0.999).",
    )
    dtype: str = _choice(
        "float64",
        ("float64", "float32"),
        "Precision of every number the model computes with; float32 halves the memory traffic.",
    )
    dropout: float = _spec(
        0.0,
        0.0,
        0.7,
        "Share of units dropped at random while training, between stacked layers and before the "
        "output layer (never on the recurrent path): a regulariser for small texts; 0 is off.",
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "seed" and value is None:
                continue
            if "choices" in f.metadata:
                if not isinstance(value, str) or value not in f.metadata["choices"]:
                    raise ValueError(
                        f"{f.name} must be one of {', '.join(f.metadata['choices'])}; "
                        f"got {value!r}."
                    )
                continue
            low, high = f.metadata["range"]
            integral = f.type in ("int", "int | None")
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
                raise ValueError(f"{f.name} must be a number, got {value!r}.")
            # Range first, on plain Python numbers: int(nan), int(inf) and float(10**400) raise
            # errors that do not name the field.
            value = int(value) if isinstance(value, numbers.Integral) else float(value)
            if not (isinstance(value, int) or math.isfinite(value)) or not low <= value <= high:
                raise ValueError(
                    f"{f.name} must be between {_fmt(low)} and {_fmt(high)}, got {value!r}."
                )
            if integral and value != int(value):
                raise ValueError(f"{f.name} must be a whole number, got {value!r}.")
            if integral:
                object.__setattr__(self, f.name, int(value))
            else:
                object.__setattr__(self, f.name, float(value))

    @classmethod
    def range(cls, name: str) -> tuple[float, float]:
        """(low, high), inclusive, of the field `name`."""
        return cls._field(name).metadata["range"]

    @classmethod
    def choices(cls, name: str) -> tuple[str, ...]:
        """The values the text field `name` accepts."""
        return cls._field(name).metadata["choices"]

    @classmethod
    def kind(cls, name: str) -> type:
        """int, float or str: what the field `name` holds."""
        f = cls._field(name)
        return str if "choices" in f.metadata else float if f.type == "float" else int

    @classmethod
    def help(cls, name: str) -> str:
        return cls._field(name).metadata["help"]

    @classmethod
    def default(cls, name: str) -> Any:
        return cls._field(name).default

    @classmethod
    def _field(cls, name: str) -> dataclasses.Field:
        for f in dataclasses.fields(cls):
            if f.name == name:
                return f
        raise KeyError(f"Config has no field {name!r}.")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Config:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"Unknown hyperparameters: {', '.join(sorted(unknown))}.")
        return cls(**values)

    def split_sizes(self, n_chars: int) -> tuple[int, int]:
        """(trained on, held out) characters of a text of n_chars at this val_fraction: the end
        is held out, unless that would be under two characters (one input and one target)."""
        held_out = int(n_chars * self.val_fraction)
        held_out = held_out if held_out >= 2 else 0
        return n_chars - held_out, held_out

    @property
    def gates(self) -> int:
        """Blocks of H rows in each layer's weights: 1 for the RNN, 3 for a GRU, 4 for an LSTM."""
        return max(1, len(CELL_GATES[self.cell]))

    @property
    def chars_per_iteration(self) -> int:
        """Characters one iteration trains on: seq_length in each of batch_size streams."""
        return self.seq_length * self.batch_size

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


# Short names of the fields, for the command line's flags (--hidden 128) and the dashboard's
# address (?hidden=128): short name -> Config field.
SHORT_NAMES = {
    "hidden": "hidden_size",
    "seq": "seq_length",
    "lr": "learning_rate",
    "batch": "batch_size",
    "seed": "seed",
    "val": "val_fraction",
    "cell": "cell",
    "layers": "layers",
    "opt": "optimizer",
    "dtype": "dtype",
    "dropout": "dropout",
}


def _fmt(x: float | None) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


# The settings a refusal may propose to lower, in words.
SIZE_NAMES = {
    "seq_length": "sequence length",
    "batch_size": "batch size",
    "hidden_size": "hidden size",
}


def smaller_setting(config: Config, names: tuple[str, ...], fits: Callable[[Config], bool]) -> str:
    """A sentence proposing the first of `names` (SIZE_NAMES), halved until `fits(config)` holds
    (a hidden size in the slider's steps of 4), for a refusal to end with."""
    for name in names:
        low = int(Config.range(name)[0])
        value = getattr(config, name)
        while value > low:
            value = max(low, value // 2)
            if name == "hidden_size":
                value = max(low, value - value % 4)
            if fits(config.replace(**{name: value})):
                return f"A {SIZE_NAMES[name]} of {value} would fit."
    return "Lower the hidden size, batch size or sequence length."
