"""Training health: gradient norms, the share of gradients the clip cuts, and tanh saturation.

The trainer calls `HealthLog.record` every `health_every`-th iteration, after the backward pass
and before the ±5 clip, so the norms are those of the raw gradients. One record costs a few
reductions over arrays the step already holds, which is why it can stay on while training.
"""

from __future__ import annotations

import math

import numpy as np

from .history import History
from .model import GRAD_CLIP, PARAM_NAMES

# |h| above this counts as saturated: tanh'(h) = 1 - h² < 0.1, so almost no gradient flows back.
SATURATION_THRESHOLD = 0.95


class HealthLog:
    """Growable table of health records, one row per recorded iteration.

    Columns: the iteration (1-based, as `trainer.iteration` reads after that step), then for
    every parameter its gradient norm, then for every parameter the share of its entries beyond
    ±5, then that share over all parameters, the share of saturated hidden activations in the
    chunk and the chunk's mean |h|.
    """

    def __init__(self, rows: np.ndarray | None = None, names: tuple[str, ...] = PARAM_NAMES):
        """rows: a table to start from, e.g. a TrainerState's `health` (copied)."""
        self.names = tuple(names)
        self._table = History(rows, row_shape=(self.columns(len(self.names)),))

    @staticmethod
    def columns(n_params: int = len(PARAM_NAMES)) -> int:
        """Width of a row: iteration, n norms, n clip shares, total clip share, saturation, |h|."""
        return 4 + 2 * n_params

    def record(self, iteration: int, grads: dict[str, np.ndarray], hidden: np.ndarray) -> None:
        """Append one row.

        grads: unclipped gradients keyed like the parameters; hidden: the chunk's hidden states,
        any shape, e.g. (T, B, H).
        """
        n = len(self.names)
        row = np.empty(4 + 2 * n)
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
        magnitude = np.abs(hidden)
        row[1 + 2 * n] = total_clipped / total_size
        row[2 + 2 * n] = np.count_nonzero(magnitude > SATURATION_THRESHOLD) / magnitude.size
        row[3 + 2 * n] = magnitude.mean()
        self._table.append(row)

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
