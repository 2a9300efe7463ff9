"""The text analyses (yardsticks and copy index): one queue for the server, built one at a time,
shared by the sessions that ask for the same split, never built when nobody wants them any more,
and refused when they would need more memory than an analysis may take."""

from __future__ import annotations

import gc
import threading
import time

import pytest
from waiting import wait_until

from dashboard import text_analysis
from dashboard.text_analysis import analysis_for

DEADLINE = 30.0


def unique_text(tag: str, n: int = 3000) -> str:
    return f"{tag} {time.monotonic_ns()} " + "the river runs to the sea, " * (n // 27)


class RecordingIndex:
    """Stands in for CopyIndex: records which texts were indexed and how many at once, and can
    be held up until released."""

    def __init__(self) -> None:
        self.indexed: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self.release = threading.Event()
        self.release.set()
        self.lock = threading.Lock()

    def __call__(self, text: str):
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.indexed.append(text)
        self.release.wait(DEADLINE)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        return text_analysis.CopyIndex.__wrapped__(text)  # the real one


@pytest.fixture
def recording(monkeypatch) -> RecordingIndex:
    recorder = RecordingIndex()
    real = text_analysis.CopyIndex

    class Recorded:
        __wrapped__ = real

        def __new__(cls, text):
            return recorder(text)

    monkeypatch.setattr(text_analysis, "CopyIndex", Recorded)
    return recorder


def test_analyses_asked_at_once_are_built_one_at_a_time(recording) -> None:
    analyses = [analysis_for(unique_text(f"t{k}"), "held out text") for k in range(4)]
    wait_until(lambda: all(a.yardsticks is not None for a in analyses))
    assert recording.most_at_once == 1 == text_analysis.ANALYSIS_WORKERS
    assert all(a.index_ready and a.failure is None for a in analyses)


def test_the_same_split_is_shared_and_another_split_is_its_own() -> None:
    text = unique_text("shared")
    first = analysis_for(text[:2000], text[2000:])
    assert analysis_for(text[:2000], text[2000:]) is first
    assert analysis_for(text[:2500], text[2500:]) is not first


def test_an_analysis_nobody_holds_any_more_is_never_built(recording) -> None:
    recording.release.clear()  # the worker is held up by the first analysis
    first = analysis_for(unique_text("first"), "held out")
    wait_until(lambda: recording.running == 1)
    dropped_text = unique_text("dropped")
    dropped = analysis_for(dropped_text, "held out")
    kept = analysis_for(unique_text("kept"), "held out")
    del dropped
    gc.collect()
    recording.release.set()
    wait_until(lambda: kept.yardsticks is not None and first.yardsticks is not None)
    assert dropped_text not in recording.indexed


def test_a_text_too_long_to_measure_is_refused_before_anything_is_built(
    monkeypatch, recording
) -> None:
    monkeypatch.setattr(text_analysis, "ANALYSIS_MEMORY_BYTES", 1_000_000)
    text = unique_text("long", 200_000)
    analysis = analysis_for(text, "held out")
    assert analysis.failure is not None and "too long to measure here" in analysis.failure
    assert "MB" in analysis.failure
    time.sleep(0.2)
    assert text not in recording.indexed and analysis.yardsticks is None
