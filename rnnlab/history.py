"""A growable array of float64 values or rows, for the records a run keeps as it goes."""

from __future__ import annotations

import numpy as np


class History:
    """A growable float64 array with amortised O(1) appends.

    `values` is a read-only view, no copy, and it never changes afterwards: appends write past
    every view handed out, and `truncate` moves to a fresh buffer. So a TrainerState can hold
    these views as its records, and taking one stays O(1) however long the run.

    row_shape: the shape of one entry, () for a series (values (N,)) or (W,) for a table
    (values (N, W)).
    """

    def __init__(self, values: np.ndarray | None = None, row_shape: tuple[int, ...] = ()):
        values = (
            np.zeros((0, *row_shape)) if values is None else np.asarray(values, dtype=np.float64)
        )
        if values.shape[1:] != row_shape:
            raise ValueError(f"History rows must have shape {row_shape}, got {values.shape[1:]}.")
        self._buffer = np.empty((max(1024, 2 * len(values)), *row_shape))
        self._buffer[: len(values)] = values
        self._size = len(values)

    def append(self, value: float | np.ndarray) -> None:
        self._reserve(self._size + 1)
        self._buffer[self._size] = value
        self._size += 1

    def extend(self, values: np.ndarray) -> None:
        needed = self._size + len(values)
        self._reserve(needed)
        self._buffer[self._size : needed] = values
        self._size = needed

    def _reserve(self, needed: int) -> None:
        if needed > len(self._buffer):  # at least double: appends stay amortised O(1)
            grown = np.empty((max(needed, 2 * len(self._buffer)), *self._buffer.shape[1:]))
            grown[: self._size] = self._buffer[: self._size]
            self._buffer = grown

    def truncate(self, size: int) -> None:
        """Keep the first `size` entries. Views handed out before keep what they showed."""
        if size < self._size:
            kept = self._buffer[:size]
            self._buffer = np.empty_like(self._buffer)
            self._buffer[:size] = kept
            self._size = size

    @property
    def values(self) -> np.ndarray:
        view = self._buffer[: self._size]
        view.flags.writeable = False
        return view

    def __len__(self) -> int:
        return self._size
