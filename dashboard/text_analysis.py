"""What the page measures a run against: the text's yardsticks and its copy index, built once per
split of a text and shared by every session that trains on it.

A small text's take a fraction of a second; the largest upload's take minutes and hundreds of MB
(docs/hosting.md), and the page must not wait: until they are ready, the chart has no yardstick
lines and samples no copy meter. They are built by ANALYSIS_WORKERS threads for the whole server,
one analysis at a time each, in the order asked for; an analysis nobody holds any more (every
session that asked for it moved on) is dropped before it starts, or between its steps; and one that
would need more than ANALYSIS_MEMORY_BYTES is not made at all (its failure says so).
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import weakref
from collections import OrderedDict

from rnnlab.copying import CopyIndex, CopyReport, meter
from rnnlab.yardsticks import LZMA_MAX_DICTIONARY, baselines

# Finished analyses kept for texts no session trains on any more: a few, as a text comes back
# often (the built-in ones, a Reset that keeps the text). One not finished is held only by the
# sessions that asked for it.
KEPT = 4
# Samples whose meter readings an analysis remembers (each sample is measured once).
MEASURED_SAMPLES = 2000
# Threads that build analyses, for the whole server, and the memory one analysis may take.
ANALYSIS_WORKERS = max(1, int(os.environ.get("RNNLAB_ANALYSIS_WORKERS", "1")))
ANALYSIS_MEMORY_BYTES = int(float(os.environ.get("RNNLAB_ANALYSIS_MEMORY_MB", "400")) * 2**20)
# Bytes per character of the training text an analysis takes at its peak (bench/copy_index.py
# measures the copy index's build), and what lzma's dictionary costs besides (its encoder).
BYTES_PER_CHAR = 16
LZMA_BYTES_PER_DICTIONARY_BYTE = 11


def memory_needed(train_chars: int, held_out_chars: int) -> int:
    """About the most memory the analysis of such a split takes while it is built."""
    dictionary = min(LZMA_MAX_DICTIONARY, 1 << max(0, train_chars + held_out_chars).bit_length())
    return BYTES_PER_CHAR * train_chars + LZMA_BYTES_PER_DICTIONARY_BYTE * dictionary


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
        self.key = ""  # analysis_for's name for its split
        needed = memory_needed(len(train_text), len(held_out_text))
        if needed > ANALYSIS_MEMORY_BYTES:
            self.failure = (
                "The text is too long to measure here: its yardsticks and copy index would need "
                f"about {needed / 2**20:,.0f} MB, more than the "
                f"{ANALYSIS_MEMORY_BYTES / 2**20:,.0f} MB an analysis may take."
            )
            return
        _submit(self, train_text, held_out_text)

    def set_results(self, index: CopyIndex | None, yardsticks: dict[str, float] | None) -> None:
        """What a worker built (None: not that one yet)."""
        with self._lock:
            self._index = index or self._index
            self._yardsticks = yardsticks or self._yardsticks

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


_analyses: weakref.WeakValueDictionary[str, TextAnalysis] = weakref.WeakValueDictionary()
_kept: OrderedDict[str, TextAnalysis] = OrderedDict()  # the latest finished ones
_analyses_lock = threading.Lock()
# (weak reference to the analysis, training text, held-out text), in the order asked for.
_jobs: queue.Queue = queue.Queue()
_workers: list[threading.Thread] = []
_workers_lock = threading.Lock()


def _submit(analysis: TextAnalysis, train_text: str, held_out_text: str) -> None:
    _jobs.put((weakref.ref(analysis), train_text, held_out_text))
    with _workers_lock:
        while len(_workers) < ANALYSIS_WORKERS:
            worker = threading.Thread(target=_work, daemon=True, name="analysis")
            _workers.append(worker)
            worker.start()


def _work() -> None:
    while True:
        wanted, train_text, held_out_text = _jobs.get()
        try:
            _build(wanted, train_text, held_out_text)
        except (MemoryError, ValueError) as error:
            analysis = wanted()
            if analysis is not None:
                analysis.failure = f"Measuring it failed ({type(error).__name__}: {error})."
            del analysis


def _build(wanted: weakref.ref, train_text: str, held_out_text: str) -> None:
    """The index, then the yardsticks, each only if someone still holds the analysis (which is
    held weakly meanwhile: a session that moves on frees it, and its work stops at the next
    step)."""
    if wanted() is None:
        return  # every session that asked has moved on: not built at all
    index = CopyIndex(train_text)  # first: it is what every sample waits for
    analysis = wanted()
    if analysis is None:
        return
    analysis.set_results(index, None)
    del analysis, index
    yardsticks = baselines(train_text, held_out_text or None)
    analysis = wanted()
    if analysis is not None:
        analysis.set_results(None, yardsticks)
        _keep(analysis)


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
            analysis.key = key
        if key in _kept:
            _kept.move_to_end(key)
        return analysis


def _keep(analysis: TextAnalysis) -> None:
    with _analyses_lock:
        _kept[analysis.key] = analysis
        _kept.move_to_end(analysis.key)
        while len(_kept) > KEPT:
            _kept.popitem(last=False)
