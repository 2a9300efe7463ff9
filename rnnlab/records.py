"""A run's records, bounded however long it trains: every iteration of the recent past, and the
older history thinned.

The loss record keeps one row per iteration until it holds MAX_LOSS_ROWS rows; then its older
half is thinned, two rows into one: the raw loss of a thinned row is the mean over the iterations
it stands for (weighted by how many each held), its smoothed loss the last one's (the smoothed loss
moves by a thousandth of the difference each iteration, so its value at the end of a block is the
curve there). The iteration each thinned row ends at is kept, so the chart, the CSV and the
checkpoint say what each row is. After a thinning the record holds three quarters of its limit,
the newest half of it one row per iteration; the older rows grow coarser each time, as a
log-scaled memory of a long run.

Tables whose rows are samples with their iteration in the first column (validation points, the
health log) are thinned the same way, keeping every second row of the older half.
"""

from __future__ import annotations

import numpy as np

from .history import History

MAX_LOSS_ROWS = 100_000
MAX_TABLE_ROWS = 20_000


class LossRecord:
    """The raw and smoothed loss, one row per iteration while under MAX_LOSS_ROWS rows.

    losses, smooth_losses: (r,) read-only views; thinned: (t,) the iteration (1-based) each of the
    first t rows ends at, int64; the rows after them are the iterations that follow, one each.
    """

    def __init__(
        self,
        losses: np.ndarray | None = None,
        smooth_losses: np.ndarray | None = None,
        thinned: np.ndarray | None = None,
        limit: int | None = None,
    ):
        self.limit = limit or MAX_LOSS_ROWS  # read here, so that tests may lower it
        self._losses = History(losses)
        self._smooth = History(smooth_losses)
        self._thinned = np.zeros(0, np.int64) if thinned is None else np.array(thinned, np.int64)
        self._thinned.flags.writeable = False
        if len(self._losses) != len(self._smooth) or len(self._thinned) > len(self._losses):
            raise ValueError("A loss record needs as many smoothed losses as losses.")

    def append(self, loss: float, smooth_loss: float) -> bool:
        """Add one iteration's row; True when that thinned the record."""
        self._losses.append(loss)
        self._smooth.append(smooth_loss)
        if len(self._losses) >= self.limit:
            self.thin()
            return True
        return False

    def extend(self, losses: np.ndarray, smooth_losses: np.ndarray) -> None:
        """Add rows as another record has them (a mirror following its original, which thins
        before it would reach the limit): no thinning here."""
        self._losses.extend(losses)
        self._smooth.extend(smooth_losses)

    def truncate(self, rows: int) -> None:
        """Keep the first `rows` rows (at least the thinned ones)."""
        self._losses.truncate(max(rows, len(self._thinned)))
        self._smooth.truncate(max(rows, len(self._thinned)))

    def thin(self) -> None:
        """Merge the older half of the rows two by two (see the module's docstring)."""
        half = len(self._losses) // 2 // 2 * 2
        ends = self.iterations()[:half]
        spans = np.diff(ends, prepend=0).astype(np.float64)
        raw = self._losses.values[:half]
        merged = (raw[0::2] * spans[0::2] + raw[1::2] * spans[1::2]) / (spans[0::2] + spans[1::2])
        losses = np.concatenate([merged, self._losses.values[half:]])
        smooth = np.concatenate([self._smooth.values[1:half:2], self._smooth.values[half:]])
        self._thinned = np.array(ends[1::2], np.int64)
        self._thinned.flags.writeable = False
        self._losses, self._smooth = History(losses), History(smooth)

    def iterations(self) -> np.ndarray:
        """(r,) the iteration (1-based) each row ends at."""
        return row_iterations(len(self._losses), self._thinned)

    @property
    def losses(self) -> np.ndarray:
        return self._losses.values

    @property
    def smooth_losses(self) -> np.ndarray:
        return self._smooth.values

    @property
    def thinned(self) -> np.ndarray:
        return self._thinned

    def __len__(self) -> int:
        return len(self._losses)


def rows_for(iteration: int, thinned: np.ndarray) -> int:
    """The rows a loss record of a run at `iteration` holds, with `thinned` as its thinned ends."""
    last = int(thinned[-1]) if len(thinned) else 0
    return len(thinned) + iteration - last


def thin_table(rows: np.ndarray) -> np.ndarray:
    """A table of samples (iteration first) with every second row of its older half dropped."""
    half = len(rows) // 2
    return np.concatenate([rows[:half:2], rows[half:]])


def row_iterations(rows: int, thinned: np.ndarray) -> np.ndarray:
    """(rows,) the iteration each of `rows` loss rows ends at, the first len(thinned) of them
    thinned (ending at `thinned`) and the rest one iteration each."""
    t = len(thinned)
    last = int(thinned[-1]) if t else 0
    return np.concatenate([np.asarray(thinned, np.int64), np.arange(last + 1, last + 1 + rows - t)])


def iterations_at(indices: np.ndarray, thinned: np.ndarray) -> np.ndarray:
    """The iteration rows `indices` of a loss record end at (as row_iterations(...)[indices],
    without building the whole array)."""
    indices = np.asarray(indices, np.int64)
    thinned = np.asarray(thinned, np.int64)
    t = len(thinned)
    last = int(thinned[-1]) if t else 0
    inside = indices < t
    return np.where(inside, thinned[np.minimum(indices, max(t - 1, 0))] if t else 0,
                    last + indices - t + 1)  # fmt: skip
