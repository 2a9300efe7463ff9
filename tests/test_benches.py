"""Benchmarks of this issue's bounds run in their quick mode, so that a change that breaks one
fails here (their figures are read in their full runs, never asserted as wall-clock times)."""

from __future__ import annotations

from test_bases import run_bench


def test_the_long_run_bench_runs_in_its_quick_mode_and_its_records_stop_growing() -> None:
    result = run_bench("bench/long_run.py", "--quick")
    assert result.returncode == 0, result.stderr
    assert "slowest of load, CSV and archive" in result.stdout, result.stdout
    assert "1,000,000" in result.stdout  # the long run's iterations, reloaded from its checkpoint
