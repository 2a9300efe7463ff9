"""How close is rnnlab.pace's estimate of the seconds per iteration to what training takes?

For each setting of a grid (cell, hidden size, sequence length, batch size, vocabulary size;
the gated cells with Adam in float32 as well, as Compare cells trains them), trains a
Trainer on text of that many different characters through the engine's Schedule in
the way Play does (slices of iterations, validation off), and prints the estimate, the measured
seconds per iteration (the median of --repeats blocks of about --block seconds each, CPU time of
this process, one BLAS thread as the app runs) and their ratio. It also prints what the
calibration took and the rates it measured.

    python bench/pace.py [--repeats 5] [--block 0.3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the app and its play process run
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import rnnlab  # noqa: E402
from rnnlab import pace  # noqa: E402

# (cell, H, T, B, V, optimizer, dtype): the defaults, the classic, and the corners a visitor
# can reach; the gated cells as the dashboard and Compare cells train them.
RNN = ("rnn", "adagrad", "float64")
GRID = [
    (16, 25, 1, 65, RNN),
    (64, 25, 16, 65, RNN),
    (100, 25, 1, 65, RNN),
    (128, 50, 32, 65, RNN),
    (256, 25, 1, 65, RNN),
    (256, 100, 16, 65, RNN),
    (512, 50, 1, 65, RNN),
    (512, 100, 64, 65, RNN),
    (64, 25, 16, 512, RNN),
    (256, 50, 32, 512, RNN),
    (1024, 25, 16, 65, RNN),
    (1024, 100, 32, 512, RNN),
    (64, 25, 16, 65, ("gru", "adagrad", "float64")),
    (128, 50, 32, 65, ("gru", "adam", "float32")),
    (512, 50, 32, 65, ("gru", "adam", "float32")),
    (64, 25, 16, 65, ("lstm", "adagrad", "float64")),
    (128, 50, 32, 65, ("lstm", "adam", "float32")),
    (256, 25, 1, 65, ("lstm", "adam", "float32")),
    (512, 50, 32, 65, ("lstm", "adam", "float32")),
    (256, 100, 16, 512, ("lstm", "adagrad", "float64")),
]
QUICK = [GRID[1], GRID[5], GRID[8], GRID[10], GRID[13], GRID[16]]


def text_of(vocab_size: int, length: int = 400_000, seed: int = 0) -> str:
    """Text of `vocab_size` characters, the k-th about 1/k as frequent (as in natural text)."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, vocab_size + 1)
    ids = rng.choice(vocab_size, size=length, p=weights / weights.sum())
    ids[:vocab_size] = np.arange(vocab_size)  # every character occurs
    return "".join(chr(0x21 + i) if i < 94 else chr(0x100 + i) for i in ids)


def measured(config: rnnlab.Config, text: str, repeats: int, block: float) -> float:
    """Median CPU seconds per iteration over `repeats` blocks of about `block` seconds."""
    trainer = rnnlab.Trainer(text, config)
    trainer.divergence_factor = 0  # the bench measures time, whatever the loss does
    trainer.step(2)  # warm up
    started = time.process_time()
    trainer.step(2)
    per_iteration = max((time.process_time() - started) / 2, 1e-6)
    n = max(1, int(block / per_iteration))
    times = []
    for _ in range(repeats):
        started = time.process_time()
        trainer.step(n)
        times.append((time.process_time() - started) / n)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--block", type=float, default=0.3, help="seconds per timed block")
    parser.add_argument("--quick", action="store_true", help="four settings of the grid")
    args = parser.parse_args()

    rates = pace.machine_rates()
    print(
        f"calibration: {rates.calibration_seconds * 1000:.1f} ms; "
        f"{1 / rates.flop / 1e9:.1f} GFLOP/s in products, "
        f"{1 / rates.touch / 1e9:.2f} G element touches/s, "
        f"{rates.transcendental * 1e9:.2f} ns per tanh, {rates.call * 1e6:.2f} µs per call"
    )
    print(
        f"{'cell':>5} {'H':>5} {'T':>4} {'B':>4} {'V':>4} {'optimizer':>9} {'dtype':>7} "
        f"{'estimate':>11} {'measured':>11} {'ratio':>6}"
    )
    ratios = []
    texts: dict[int, str] = {}
    for H, T, B, V, (cell, optimizer, dtype) in QUICK if args.quick else GRID:
        config = rnnlab.Config(
            hidden_size=H, seq_length=T, batch_size=B, seed=0, cell=cell, optimizer=optimizer,
            dtype=dtype, learning_rate=0.002 if optimizer == "adam" else 0.1,
        )  # fmt: skip
        text = texts.setdefault(V, text_of(V))
        estimate = pace.seconds_per_iteration(config, V)
        actual = measured(config, text, args.repeats, args.block)
        ratios.append(estimate / actual)
        print(
            f"{cell:>5} {H:>5} {T:>4} {B:>4} {V:>4} {optimizer:>9} {dtype:>7} "
            f"{_time(estimate):>11} {_time(actual):>11} {estimate / actual:>6.2f}"
        )
    print(
        f"estimate / measured: median {statistics.median(ratios):.2f}, "
        f"range {min(ratios):.2f}-{max(ratios):.2f}"
    )


def _time(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    main()
