"""What the page measures a run against: the text's yardsticks and its copy index, built once per
training text in a background thread and shared by every session that trains on it.

The songbook's take a fraction of a second; a 50 MB text's take a minute or more, and the page
must not wait: until `ready`, the chart has no yardstick lines and samples no copy meter.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from rnnlab.copying import CopyIndex, CopyReport, meter
from rnnlab.yardsticks import baselines

# Analyses kept for texts no session trains on any more: a few, as a text comes back often
# (the built-in ones, a Reset that keeps the text).
KEPT = 4
# Samples whose meter readings an analysis remembers (each sample is measured once).
MEASURED_SAMPLES = 2000


class TextAnalysis:
    """Yardsticks (bits per character) of a held-out part under models of the training part (or
    in-sample when nothing is held out), and the copy index of the training part."""

    def __init__(self, train_text: str, held_out_text: str) -> None:
        self._lock = threading.Lock()
        self._yardsticks: dict[str, float] | None = None
        self._index: CopyIndex | None = None
        self._readings: OrderedDict[str, CopyReport] = OrderedDict()
        self.failure: str | None = None
        self.in_sample = not held_out_text
        threading.Thread(
            target=self._build, args=(train_text, held_out_text), daemon=True, name="analysis"
        ).start()

    def _build(self, train_text: str, held_out_text: str) -> None:
        try:
            index = CopyIndex(train_text)  # first: it is what every sample waits for
            with self._lock:
                self._index = index
            yardsticks = baselines(train_text, held_out_text or None)
            with self._lock:
                self._yardsticks = yardsticks
        except (MemoryError, ValueError) as error:
            self.failure = f"{type(error).__name__}: {error}"

    @property
    def yardsticks(self) -> dict[str, float] | None:
        """Bits per character by name (rnnlab.yardsticks.NAMES), or None until measured."""
        with self._lock:
            return self._yardsticks

    @property
    def index_ready(self) -> bool:
        with self._lock:
            return self._index is not None

    def meter(self, sample: str) -> CopyReport | None:
        """The copy meter's reading of `sample`, or None until the index is built."""
        with self._lock:
            index = self._index
            if index is None:
                return None
            reading = self._readings.get(sample)
            if reading is not None:
                self._readings.move_to_end(sample)
                return reading
        reading = meter(sample, index)
        with self._lock:
            self._readings[sample] = reading
            while len(self._readings) > MEASURED_SAMPLES:
                self._readings.popitem(last=False)
        return reading


_analyses: OrderedDict[str, TextAnalysis] = OrderedDict()
_analyses_lock = threading.Lock()


def analysis_for(train_text: str, held_out_text: str) -> TextAnalysis:
    """The analysis of this split of a text, started now or shared with earlier callers."""
    digest = hashlib.sha256()
    for part in (train_text, held_out_text):
        encoded = part.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "little") + encoded)
    key = digest.hexdigest()
    with _analyses_lock:
        analysis = _analyses.get(key)
        if analysis is None:
            analysis = _analyses[key] = TextAnalysis(train_text, held_out_text)
        _analyses.move_to_end(key)
        while len(_analyses) > KEPT:
            _analyses.popitem(last=False)
        return analysis
