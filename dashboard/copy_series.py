"""The copy meter's series: the latest samples as they were drawn, read by the meter when asked
(the text's index may not be ready when a sample is drawn)."""

from __future__ import annotations

import numpy as np

from .text_analysis import TextAnalysis

# The series keeps the latest samples' readings, this many at most.
COPY_SERIES_LENGTH = 2000


class CopySeries:
    def __init__(self) -> None:
        self._samples: list[tuple[int, str]] = []  # (iteration, sample with its prime)

    def note(self, iteration: int, sample: str) -> None:
        """Keep a sample drawn at `iteration`; a later one at the same iteration replaces it
        (the same model: one point)."""
        if self._samples and self._samples[-1][0] == iteration:
            self._samples[-1] = (iteration, sample)
        else:
            self._samples.append((iteration, sample))
        del self._samples[:-COPY_SERIES_LENGTH]

    def lengths(self, analysis: TextAnalysis) -> np.ndarray:
        """(k, 2) rows of (iteration, longest stretch copied) of the samples the meter can read."""
        rows = []
        for iteration, sample in self._samples:
            reading = analysis.meter(sample)
            if reading is not None:
                rows.append((iteration, reading.length))
        return np.array(rows, dtype=np.float64).reshape(-1, 2)
