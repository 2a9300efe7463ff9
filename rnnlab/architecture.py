"""The shape of a network: which cell, how many layers, how wide, in which precision.

An `Architecture` names every parameter array and its shape, and says how the carried state is
laid out. Everything that sizes or reads parameters (the model, the optimizers, checkpoints, the
memory budget, the views) asks it, so a new cell or layer count changes one place.

Parameters, column-vector maths, G gate blocks of H rows each (1 rnn; 3 gru: r, z, n; 4 lstm:
i, f, o, g):

    layer 1:       Wxh (G·H, V)    Whh (G·H, H)    bh (G·H, 1)
    layer k ≥ 2:   Wxh{k} (G·H, H) Whh{k} (G·H, H) bh{k} (G·H, 1)   (input: layer k−1's h)
    output:        Why (V, H)      by (V, 1)        (from the top layer's h)

in the canonical order Wxh, Whh, Wxh2, Whh2, …, Why, bh, bh2, …, by, which for one RNN layer is
exactly the classic's (Wxh, Whh, Why, bh, by). The carried state of one stream is (S,), per layer
h then (LSTM only) c: S = L·H, or 2·L·H for an LSTM.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import CELL_GATES, Config


@dataclass(frozen=True)
class Architecture:
    cell: str = "rnn"
    layers: int = 1
    hidden_size: int = 100
    vocab_size: int = 1
    dtype: str = "float64"

    @classmethod
    def of(cls, config: Config, vocab_size: int) -> Architecture:
        return cls(config.cell, config.layers, config.hidden_size, vocab_size, config.dtype)

    @classmethod
    def from_params(cls, params: dict[str, np.ndarray]) -> Architecture:
        """The architecture a dict of parameters (as `params_of` names them) belongs to."""
        H = params["Whh"].shape[1]
        gates = params["Whh"].shape[0] // H
        cell = {1: "rnn", 3: "gru", 4: "lstm"}.get(gates)
        if cell is None or params["Whh"].shape[0] != gates * H:
            raise ValueError(f"Whh of shape {params['Whh'].shape} is no known cell's.")
        layers = 1 + sum(f"Whh{k}" in params for k in (2, 3))
        dtype = np.dtype(params["Whh"].dtype).name
        return cls(cell, layers, H, params["Why"].shape[0], dtype)

    @property
    def gates(self) -> int:
        return max(1, len(CELL_GATES[self.cell]))

    @property
    def gate_names(self) -> tuple[str, ...]:
        return CELL_GATES[self.cell]

    @property
    def lstm(self) -> bool:
        return self.cell == "lstm"

    @property
    def float(self) -> type:
        return np.float32 if self.dtype == "float32" else np.float64

    @property
    def itemsize(self) -> int:
        return np.dtype(self.float).itemsize

    def layer_names(self, layer: int) -> tuple[str, str, str]:
        """(input weights, recurrent weights, bias) of layer 0..L−1."""
        suffix = "" if layer == 0 else str(layer + 1)
        return f"Wxh{suffix}", f"Whh{suffix}", f"bh{suffix}"

    @property
    def param_shapes(self) -> dict[str, tuple[int, int]]:
        """Name -> (rows, columns), in the canonical order (weights, output weights, biases)."""
        H, V, GH = self.hidden_size, self.vocab_size, self.gates * self.hidden_size
        weights, biases = {}, {}
        for layer in range(self.layers):
            wx, wh, b = self.layer_names(layer)
            weights[wx] = (GH, V if layer == 0 else H)
            weights[wh] = (GH, H)
            biases[b] = (GH, 1)
        return {**weights, "Why": (V, H), **biases, "by": (V, 1)}

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(self.param_shapes)

    @property
    def param_count(self) -> int:
        return sum(rows * columns for rows, columns in self.param_shapes.values())

    @property
    def state_size(self) -> int:
        """Numbers a stream carries from one chunk to the next (S)."""
        return self.layers * self.hidden_size * (2 if self.lstm else 1)

    def h_slice(self, layer: int) -> slice:
        """Where layer's hidden state h sits in a state (S,)."""
        start = layer * self.hidden_size * (2 if self.lstm else 1)
        return slice(start, start + self.hidden_size)

    def c_slice(self, layer: int) -> slice:
        """Where an LSTM layer's cell state c sits in a state (S,)."""
        start = (2 * layer + 1) * self.hidden_size
        return slice(start, start + self.hidden_size)

    @property
    def label(self) -> str:
        """A short name for legends: "RNN", "2-layer LSTM", "GRU float32"."""
        name = self.cell.upper()
        layers = f"{self.layers}-layer " if self.layers > 1 else ""
        precision = " float32" if self.dtype == "float32" else ""
        return f"{layers}{name}{precision}"


def network_label(config: Config) -> str:
    """The network and how it learns, in a few words: "RNN", "2-layer LSTM float32, Adam"."""
    label = Architecture.of(config, 1).label
    names = {"adagrad": "Adagrad", "rmsprop": "RMSprop", "adam": "Adam"}
    return label if config.optimizer == "adagrad" else f"{label}, {names[config.optimizer]}"
