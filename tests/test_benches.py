"""Every engine benchmark runs here in its quick mode, so that a change that breaks one fails here
(their figures are read in their full runs, never asserted as wall-clock times)."""

from __future__ import annotations

import re

import pytest
from test_bases import run_bench


def test_the_long_run_bench_runs_in_its_quick_mode_and_its_records_stop_growing() -> None:
    result = run_bench("bench/long_run.py", "--quick")
    assert result.returncode == 0, result.stderr
    assert "slowest of load, CSV and archive" in result.stdout, result.stdout
    assert "1,000,000" in result.stdout  # the long run's iterations, reloaded from its checkpoint


# What each benchmark prints in its quick mode, whatever its figures: its tables' headers and
# rows (the text around a figure, never the figure).
PRINTS = {
    "cell_features": ("\nRNN (", "\nGRU (", "\nLSTM (", "\nc "),  # c: the LSTM's cell state
    "cells": (
        "One step at H=256, B=32, T=50", "Training characters per second at H=512, B=32, T=50",
        "\nrnn ", "\ngru ", "\nlstm ",
    ),
    "cells_quality": (
        "\nsongbook\n", "\nshakespeare\n", "GRU H=128 Adam f32", "LSTM H=256 Adam f32",
    ),
    "gated_speed": (
        "baseline: ", "new/old", "\nLSTM H=128 T=50 B=32 f32 Adam ",
        "\nGRU H=512 T=50 B=32 f32 Adam ", "\nRNN H=100 T=25 B=64 f64 Adagrad ",
    ),
    "copy_index": ("query cpu ms", "\nshakespeare ", "\nmarkov ", "\nrepeated "),
    "health_overhead": ("ratio on/off", "isolated: one record"),
    "time_to_words": ("\nbaseline ", "\nclassic ", "\ndashboard ", "sooner than baseline"),
    "speed": ("speed targets met", "\nH=100 T=25 B=1 ", "bytes per character"),
    "pace": ("estimate / measured: median",),
    "presets_by_validation": ("stage 2 ran at the best stage-1 pair", " defaults ", " classic "),
    "play_minute": tuple(
        f"  {text}: stop at best on (the default): median gap"
        for text in ("songbook", "shakespeare 25 kB")
    ),
}  # fmt: skip


@pytest.mark.parametrize("bench", sorted(PRINTS))
def test_each_benchmark_runs_in_its_quick_mode(bench: str) -> None:
    result = run_bench(f"bench/{bench}.py", "--quick")
    assert result.returncode == 0, result.stderr
    missing = [label for label in PRINTS[bench] if label not in result.stdout]
    assert not missing, f"{missing} not in:\n{result.stdout}"


def test_the_play_traffic_bench_runs_in_its_quick_mode_within_its_byte_targets() -> None:
    # Bytes, not seconds: what Play sends is the same on any machine.
    result = run_bench("bench/play_traffic.py", "--quick")
    assert result.returncode == 0, result.stderr
    start = float(re.search(r"At Play, .* ratio ([\d.]+) \(target <= 1\.2\)", result.stdout)[1])
    poll = int(
        re.search(r"While playing .*: median ([\d,]+) bytes", result.stdout)[1].replace(",", "")
    )
    assert start <= 1.2 and poll <= 50_000, result.stdout
    assert "A poll of the live feed while playing H=1024" in result.stdout
