"""Every engine benchmark runs here in its quick mode, so that a change that breaks one fails here
(their figures are read in their full runs, never asserted as wall-clock times)."""

from __future__ import annotations

import re

from test_bases import run_bench


def test_the_long_run_bench_runs_in_its_quick_mode_and_its_records_stop_growing() -> None:
    result = run_bench("bench/long_run.py", "--quick")
    assert result.returncode == 0, result.stderr
    assert "slowest of load, CSV and archive" in result.stdout, result.stdout
    assert "1,000,000" in result.stdout  # the long run's iterations, reloaded from its checkpoint


def test_the_cell_features_bench_runs_in_its_quick_mode() -> None:
    result = run_bench("bench/cell_features.py", "--quick")
    assert result.returncode == 0, result.stderr
    for label in ("RNN", "GRU", "LSTM"):
        assert f"\n{label} (" in result.stdout, result.stdout
    assert "\nc " in result.stdout  # the LSTM's cell state is one of the signals


def test_the_cells_bench_runs_in_its_quick_mode() -> None:
    result = run_bench("bench/cells.py", "--quick")
    assert result.returncode == 0, result.stderr
    assert "One step at H=256, B=32, T=50" in result.stdout, result.stdout
    assert "Training characters per second at H=512, B=32, T=50" in result.stdout
    assert all(f"\n{cell} " in result.stdout for cell in ("rnn", "gru", "lstm"))


def test_the_cells_quality_bench_runs_in_its_quick_mode() -> None:
    result = run_bench("bench/cells_quality.py", "--quick")
    assert result.returncode == 0, result.stderr
    assert "\nsongbook\n" in result.stdout and "\nshakespeare\n" in result.stdout, result.stdout
    assert "GRU H=128 Adam f32" in result.stdout and "LSTM H=256 Adam f32" in result.stdout


def test_the_copy_index_bench_runs_in_its_quick_mode() -> None:
    result = run_bench("bench/copy_index.py", "--quick")
    assert result.returncode == 0, result.stderr
    assert "query cpu ms" in result.stdout, result.stdout
    assert all(f"\n{text} " in result.stdout for text in ("shakespeare", "markov", "repeated"))


def test_the_health_overhead_bench_runs_in_its_quick_mode() -> None:
    result = run_bench("bench/health_overhead.py", "--quick")
    assert result.returncode == 0, result.stderr
    assert "ratio on/off" in result.stdout, result.stdout
    assert "isolated: one record" in result.stdout


def test_the_time_to_words_bench_runs_in_its_quick_mode() -> None:
    result = run_bench("bench/time_to_words.py", "--quick")
    assert result.returncode == 0, result.stderr
    assert all(f"\n{run} " in result.stdout for run in ("baseline", "classic", "dashboard"))
    assert "sooner than baseline" in result.stdout, result.stdout


def test_the_speed_bench_runs_in_its_quick_mode() -> None:
    result = run_bench("bench/speed.py", "--quick")
    assert result.returncode == 0, result.stderr
    assert "speed targets met" in result.stdout, result.stdout
    assert "\nH=100 T=25 B=1 " in result.stdout and "bytes per character" in result.stdout


def test_the_pace_bench_runs_in_its_quick_mode() -> None:
    result = run_bench("bench/pace.py", "--quick")
    assert result.returncode == 0, result.stderr
    assert "estimate / measured: median" in result.stdout, result.stdout


def test_the_presets_by_validation_bench_runs_in_its_quick_mode() -> None:
    result = run_bench("bench/presets_by_validation.py", "--quick")
    assert result.returncode == 0, result.stderr
    assert "stage 2 ran at the best stage-1 pair" in result.stdout, result.stdout
    assert " defaults " in result.stdout and " classic " in result.stdout


def test_the_play_minute_bench_runs_in_its_quick_mode() -> None:
    result = run_bench("bench/play_minute.py", "--quick")
    assert result.returncode == 0, result.stderr
    for text in ("songbook", "shakespeare 25 kB"):
        assert f"  {text}: stop at best on (the default): median gap" in result.stdout, (
            result.stdout
        )


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
