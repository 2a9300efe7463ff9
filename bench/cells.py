"""What a GRU or an LSTM step costs against the RNN's, and what float32 gains over float64.

    python bench/cells.py [--repeats 7] [--seconds 1.5] [--quick]

Two tables, on Tiny Shakespeare (../shared/data/tinyshakespeare.txt), one BLAS thread:

1. Seconds per iteration of each cell at H=256, B=32, T=50 (float64, Adagrad), and the ratio to
   the RNN's. Targets: an LSTM step costs at most 4.5x an RNN step (it has 4x the matrix work),
   a GRU step at most 3.5x.
2. Training characters per second of each cell at H=512, B=32, T=50 in float32 and in float64,
   and the ratio. Target: float32 at least 1.6x as fast, for every cell.

Every configuration is timed in CPU seconds for about --seconds per repeat; the repeats go round
all configurations in turn (interleaved, so a noisy neighbour hits them alike) and the medians are
reported.

--quick: 1 repeat of about 0.01 s per configuration (seconds, for the test suite).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import rnnlab  # noqa: E402

TEXT_FILE = REPO.parent / "shared/data/tinyshakespeare.txt"
CELLS = ("rnn", "gru", "lstm")
STEP_TARGETS = {"gru": 3.5, "lstm": 4.5}
FLOAT32_TARGET = 1.6


def seconds_per_iteration(trainer: rnnlab.Trainer, seconds: float) -> float:
    """CPU seconds per iteration, measured over about `seconds`."""
    trainer.step(1)
    start = time.process_time()
    iterations = 0
    while time.process_time() - start < seconds:
        trainer.step(2)
        iterations += 2
    return (time.process_time() - start) / iterations


def measure(configs: dict[str, rnnlab.Config], text: str, repeats: int, seconds: float):
    trainers = {name: rnnlab.Trainer(text, config) for name, config in configs.items()}
    for trainer in trainers.values():
        trainer.health_every = 10  # as the dashboard trains
    times: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(repeats):
        for name, trainer in trainers.items():
            times[name].append(seconds_per_iteration(trainer, seconds))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.seconds = 1, 0.01
    text = TEXT_FILE.read_text(encoding="utf-8")
    print(f"{os.cpu_count()} cores; one BLAS thread; {args.repeats} interleaved repeats; medians")

    base = rnnlab.Config(hidden_size=256, batch_size=32, seq_length=50, learning_rate=0.01, seed=0)
    steps = measure({cell: base.replace(cell=cell) for cell in CELLS}, text, args.repeats,
                    args.seconds)  # fmt: skip
    print("\nOne step at H=256, B=32, T=50 (float64, Adagrad)")
    print(f"{'cell':6} {'ms/iteration':>13} {'x RNN':>7} {'target':>8}")
    for cell in CELLS:
        ratio = steps[cell] / steps["rnn"]
        target = STEP_TARGETS.get(cell)
        verdict = (
            "" if target is None else f"<= {target:g}  {'met' if ratio <= target else 'MISSED'}"
        )
        print(f"{cell:6} {steps[cell] * 1e3:13.2f} {ratio:7.2f} {verdict:>8}")

    wide = rnnlab.Config(hidden_size=512, batch_size=32, seq_length=50, learning_rate=0.01, seed=0)
    configs = {
        f"{cell} {dtype}": wide.replace(cell=cell, dtype=dtype)
        for cell in CELLS
        for dtype in ("float64", "float32")
    }
    speeds = measure(configs, text, args.repeats, args.seconds)
    chars = wide.chars_per_iteration
    print("\nTraining characters per second at H=512, B=32, T=50")
    print(f"{'cell':6} {'float64':>10} {'float32':>10} {'ratio':>7} {'target':>8}")
    for cell in CELLS:
        f64, f32 = chars / speeds[f"{cell} float64"], chars / speeds[f"{cell} float32"]
        ratio = f32 / f64
        verdict = f">= {FLOAT32_TARGET:g}  {'met' if ratio >= FLOAT32_TARGET else 'MISSED'}"
        print(f"{cell:6} {f64:10,.0f} {f32:10,.0f} {ratio:7.2f} {verdict}")


if __name__ == "__main__":
    main()
