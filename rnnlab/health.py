"""Training health: gradient norms, the share of gradients the clip cuts, and saturation of the
hidden units and (GRU, LSTM) of each gate.

The trainer calls `HealthLog.record` every `health_every`-th iteration, after the backward pass
and before the ±5 clip, so the norms are those of the raw gradients. One record costs a few
reductions over arrays the step already holds, which is why it can stay on while training.
"""

from __future__ import annotations

import math

import numpy as np

from . import records
from .architecture import Architecture
from .history import History
from .model import GRAD_CLIP, PARAM_NAMES
from .records import thin_table

# |h| above this counts as saturated: tanh'(h) = 1 - h² < 0.1, so almost no gradient flows back.
SATURATION_THRESHOLD = 0.95
# A sigmoid gate within this of 0 or 1 counts as saturated: σ' < 0.05, a fifth of its most.
GATE_SATURATION = 0.05
TANH_GATES = ("n", "g")  # the candidate values; the other gates are sigmoids


def saturated_share(gate: str, acts: list[np.ndarray]) -> float:
    """Share of a gate's activations (arrays of any shape) that are saturated."""
    count = size = 0
    for a in acts:
        if gate in TANH_GATES:
            count += np.count_nonzero(np.abs(a) > SATURATION_THRESHOLD)
        else:
            count += np.count_nonzero((a < GATE_SATURATION) | (a > 1.0 - GATE_SATURATION))
        size += a.size
    return count / max(size, 1)


class HealthLog:
    """Growable table of health records, one row per recorded iteration.

    Columns: the iteration (1-based, as `trainer.iteration` reads after that step), then for
    every parameter its gradient norm, then for every parameter the share of its entries beyond
    ±5, then that share over all parameters, the share of saturated hidden activations in the
    chunk, the chunk's mean |h|, and for every gate the share of its activations saturated.
    """

    def __init__(
        self,
        rows: np.ndarray | None = None,
        names: tuple[str, ...] = PARAM_NAMES,
        gates: tuple[str, ...] = (),
    ):
        """rows: a table to start from, e.g. a TrainerState's `health` (copied); names: the
        parameters'; gates: the cell's gate names (none for the RNN)."""
        self.names = tuple(names)
        self.gates = tuple(gates)
        self._table = History(rows, row_shape=(self.columns(len(self.names), len(self.gates)),))

    @classmethod
    def of(cls, arch: Architecture, rows: np.ndarray | None = None) -> HealthLog:
        """The log of a network `arch` (its parameters' and gates' columns)."""
        return cls(rows, arch.param_names, arch.gate_names)

    @staticmethod
    def columns(n_params: int = len(PARAM_NAMES), n_gates: int = 0) -> int:
        """Width of a row: iteration, n norms, n clip shares, total clip share, saturation, |h|,
        one saturation per gate."""
        return 4 + 2 * n_params + n_gates

    def record(
        self,
        iteration: int,
        grads: dict[str, np.ndarray],
        hidden: np.ndarray | list[np.ndarray],
        gates: dict[str, list[np.ndarray]] | None = None,
    ) -> bool:
        """Append one row; True when that thinned the log (rnnlab.records).

        grads: unclipped gradients keyed like the parameters; hidden: the chunk's hidden states,
        any shape, e.g. (T, B, H), or a list of them (one per layer); gates: gate name -> its
        activations in each layer.
        """
        n = len(self.names)
        row = np.empty(self.columns(n, len(self.gates)))
        row[0] = iteration
        total_clipped = total_size = 0
        for i, name in enumerate(self.names):
            # order="K" reads each view in memory order, so even the transposed Wxh is not copied.
            g = grads[name].ravel(order="K")
            norm = math.sqrt(np.dot(g, g))
            # No entry exceeds the norm, so below the clip value there is nothing to count.
            clipped = np.count_nonzero(np.abs(g) > GRAD_CLIP) if norm > GRAD_CLIP else 0
            row[1 + i] = norm
            row[1 + n + i] = clipped / g.size
            total_clipped += clipped
            total_size += g.size
        layers = hidden if isinstance(hidden, list) else [hidden]
        magnitudes = [np.abs(h) for h in layers]
        size = sum(m.size for m in magnitudes)
        row[1 + 2 * n] = total_clipped / total_size
        row[2 + 2 * n] = sum(np.count_nonzero(m > SATURATION_THRESHOLD) for m in magnitudes) / size
        row[3 + 2 * n] = sum(float(m.sum()) for m in magnitudes) / size
        for k, gate in enumerate(self.gates):
            row[4 + 2 * n + k] = saturated_share(gate, (gates or {}).get(gate, []))
        self._table.append(row)
        if len(self._table) >= records.MAX_TABLE_ROWS:  # a long run's older rows are thinned
            self._table = History(thin_table(self._table.values), row_shape=(row.size,))
            return True
        return False

    @property
    def rows(self) -> np.ndarray:
        """The whole table, (N, 4 + 2·len(names)), a read-only view that never changes."""
        return self._table.values

    def extend(self, rows: np.ndarray) -> None:
        """Append rows taken from another log's `rows` (a TrainerDelta's, on a mirror)."""
        self._table.extend(rows)

    def truncate(self, rows: int) -> None:
        """Keep the first `rows` rows (a rollback, or a mirror catching up with a delta)."""
        self._table.truncate(rows)

    def __len__(self) -> int:
        return len(self._table)

    @property
    def iterations(self) -> np.ndarray:
        """Recorded iterations (N,), 1-based, increasing."""
        return self.rows[:, 0].astype(np.int64)

    @property
    def grad_norms(self) -> dict[str, np.ndarray]:
        """Euclidean norm of each parameter's gradient before clipping, name -> (N,)."""
        return {name: self.rows[:, 1 + i] for i, name in enumerate(self.names)}

    @property
    def total_grad_norm(self) -> np.ndarray:
        """Norm of all gradients together before clipping, (N,)."""
        norms = self.rows[:, 1 : 1 + len(self.names)]
        return np.sqrt((norms**2).sum(axis=1))

    @property
    def clip_shares(self) -> dict[str, np.ndarray]:
        """Share of each parameter's gradient entries beyond ±5 (cut by the clip), name -> (N,)."""
        n = len(self.names)
        return {name: self.rows[:, 1 + n + i] for i, name in enumerate(self.names)}

    @property
    def clip_share(self) -> np.ndarray:
        """Share of all gradient entries beyond ±5, (N,)."""
        return self.rows[:, 1 + 2 * len(self.names)]

    @property
    def saturation(self) -> np.ndarray:
        """Share of the chunk's hidden activations with |h| > 0.95, (N,)."""
        return self.rows[:, 2 + 2 * len(self.names)]

    @property
    def mean_abs_hidden(self) -> np.ndarray:
        """Mean |h| over the chunk's hidden activations, (N,)."""
        return self.rows[:, 3 + 2 * len(self.names)]

    @property
    def gate_saturation(self) -> dict[str, np.ndarray]:
        """Share of each gate's activations saturated (σ within 0.05 of 0 or 1, |tanh| > 0.95),
        gate name -> (N,); empty for the RNN."""
        start = 4 + 2 * len(self.names)
        return {gate: self.rows[:, start + k] for k, gate in enumerate(self.gates)}
