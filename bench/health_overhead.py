"""Does recording training health slow training down?

Trains two identical trainers at the defaults (H=100, T=25, B=1), one recording health every 10
iterations and one never, in interleaved timed blocks (the order alternates every repeat, so
drift in machine speed hits both alike), and prints the chars/s of both and their ratio. Rates
are given by CPU time of this process (robust when other processes share the machine) and by
wall-clock time. Because a ~1% effect drowns in the noise of a shared machine, the cost of one
`HealthLog.record` call is also timed on its own and set against the cost of one step.

    python bench/health_overhead.py [--text data/lyrics.txt] [--steps 200] [--repeats 40] [--quick]

--quick: 4 blocks of 20 iterations per variant (seconds, for the test suite).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import rnnlab  # noqa: E402
from rnnlab.health import HealthLog  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--text", default=str(ROOT / "data" / "lyrics.txt"))
    parser.add_argument("--steps", type=int, default=200, help="iterations per timed block")
    parser.add_argument("--repeats", type=int, default=40, help="timed blocks per variant")
    parser.add_argument("--every", type=int, default=10, help="health_every when recording")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats = 20, 4

    text, _ = rnnlab.load_text(Path(args.text).read_bytes())
    config = rnnlab.Config(seed=0)
    off, on = "health_every=0", f"health_every={args.every}"
    trainers = {off: rnnlab.Trainer(text, config), on: rnnlab.Trainer(text, config)}
    trainers[off].health_every = 0
    trainers[on].health_every = args.every
    for trainer in trainers.values():  # warm up caches and BLAS
        trainer.step(args.steps // 4)

    names = [off, on]
    chars = args.steps * config.seq_length * config.batch_size
    cpu_rates: dict[str, list[float]] = {name: [] for name in names}
    wall_rates: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(args.repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            trainers[name].step(args.steps)
            cpu_rates[name].append(chars / (time.process_time() - cpu_start))
            wall_rates[name].append(chars / (time.perf_counter() - wall_start))

    print(
        f"H={config.hidden_size} T={config.seq_length} B={config.batch_size} "
        f"V={trainers[off].vocab.size}: {args.repeats} interleaved blocks of {args.steps} "
        "iterations per variant"
    )
    for clock, rates in (("CPU", cpu_rates), ("wall", wall_rates)):
        for name in names:
            values = rates[name]
            print(
                f"  {clock:>4} {name:>16}: median {statistics.median(values):>8,.0f} chars/s "
                f"(min {min(values):,.0f}, max {max(values):,.0f})"
            )
        ratios = [b / a for a, b in zip(rates[off], rates[on], strict=True)]
        low, _, high = statistics.quantiles(ratios, n=4)
        print(
            f"  {clock:>4} ratio on/off: median {statistics.median(ratios):.3f} "
            f"(quartiles {low:.3f}..{high:.3f})"
        )
    assert (trainers[on].losses == trainers[off].losses).all(), "recording changed training"

    # One record, alone, on arrays of the sizes a step hands it: unclipped gradients of one chunk
    # (T, B) and hidden states (T, B, H).
    trainer, log = trainers[off], HealthLog()
    T, B, H = config.seq_length, config.batch_size, config.hidden_size
    ids = np.random.default_rng(0).integers(0, trainer.vocab.size, size=(T + 1, B))
    _, grads, _ = rnnlab.loss_and_grads(trainer.params, ids[:-1], ids[1:], np.zeros((H, B)), False)
    hidden = np.tanh(np.random.default_rng(1).standard_normal((T, B, H)))
    calls = 5000
    start = time.process_time()
    for i in range(calls):
        log.record(i, grads, hidden)
    record_us = (time.process_time() - start) / calls * 1e6
    step_us = 1e6 * config.seq_length * config.batch_size / statistics.median(cpu_rates[off])
    share = record_us / args.every / step_us
    print(
        f"  isolated: one record {record_us:.1f} us, one step {step_us:.0f} us -> "
        f"{share:.2%} extra per iteration at health_every={args.every} "
        f"(expected ratio {1 / (1 + share):.3f})"
    )


if __name__ == "__main__":
    main()
