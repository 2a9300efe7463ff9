"""A growable array of float64 values or rows, for the records a run keeps as it goes."""

from __future__ import annotations

import numpy as np


class History:
    """A growable float64 array with amortised O(1) appends; `.values` is a view, no copy.

    row_shape: the shape of one entry, () for a series (values (N,)) or (W,) for a table
    (values (N, W)).
    """

    def __init__(self, values: np.ndarray | None = None, row_shape: tuple[int, ...] = ()):
        values = (
            np.zeros((0, *row_shape)) if values is None else np.asarray(values, dtype=np.float64)
        )
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
        self._size = min(self._size, size)

    @property
    def values(self) -> np.ndarray:
        return self._buffer[: self._size]

    def __len__(self) -> int:
        return self._size
