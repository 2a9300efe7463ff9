"""bench/hostile.py in its quick mode, against a server of its own: hostile visitors beside the
players are refused clearly, the server's memory stays under its target, and no play process
(the stopped one included) outlives its tab. Its page times are read in its full run, never
asserted."""

from __future__ import annotations

import re

from test_bases import run_bench


def test_the_hostile_bench_runs_in_its_quick_mode_within_its_bounds() -> None:
    # A stopped play process is given up in 5 s, not the shipped 60.
    result = run_bench("bench/hostile.py", "--quick", timeout=600, RNNLAB_ANSWER_TIMEOUT="5")
    out = result.stdout
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"zip bomb .* told: .*bomb\.npz was not loaded.*'params'", out), out
    assert re.search(r"same checkpoint .* told: .*Resumed from mine-1\.npz", out), out
    peak = int(re.search(r"peak RSS .*?([\d,]+) MB", out).group(1).replace(",", ""))
    assert peak <= 1536, out
    assert re.search(r"play processes left after the tabs closed\s+0 ", out), out
