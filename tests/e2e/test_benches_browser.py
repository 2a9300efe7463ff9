"""The browser benchmarks run here in their quick mode, each against a server of its own, so that a
change to the page that breaks one fails here (their figures are read in their full runs, never
asserted as wall-clock times; counts are)."""

from __future__ import annotations

import re

from test_bases import run_bench

BROWSER_BENCH_TIMEOUT = 600


def test_the_dashboard_speed_bench_plays_past_the_best_in_its_quick_mode() -> None:
    result = run_bench("bench/dashboard_speed.py", "--quick", timeout=BROWSER_BENCH_TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    for label in ("ratio dashboard / engine alone", "page refreshes while playing",
                  "longest the page was blocked", "click on Pause until it shows"):  # fmt: skip
        assert label in result.stdout, result.stdout


def test_the_load_bench_runs_in_its_quick_mode_and_leaves_no_play_process() -> None:
    result = run_bench("bench/load.py", "--quick", timeout=BROWSER_BENCH_TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    row = re.search(r"\n\s+2\s+(\d+)\s+(\d+)\s+.*MB\s+(\d+)\n", result.stdout)
    assert row, result.stdout
    playing, told, left = map(int, row.groups())
    assert playing >= 1 and playing + told == 2 and left == 0, result.stdout
