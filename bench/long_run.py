"""A run's records stay the same size however long it trains (rnnlab/records.py).

    python bench/long_run.py [--iterations 1000000] [--quick]

Trains a tiny network (H=4, T=2, B=1, Adagrad: the most iterations a second) for
--iterations and prints, at every power of ten and at the end, how many rows its records hold,
the bytes of its checkpoint and of its history CSV, and the time to write them: the rows stop
growing once the run passes 100,000 iterations. Then the same for a run of ten million
iterations (its state as the trainer would hold it: one row per iteration of the newest half,
the older rows thinned), reloaded from its own checkpoint through the dashboard's session, its
CSV written, and the chart's points for an archived run: target within 2 s each.

--quick: 30,000 iterations and a run of one million (seconds, for the test suite).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard import model_reads  # noqa: E402
from dashboard.exports import history_csv  # noqa: E402
from dashboard.session import Lab  # noqa: E402
from rnnlab import Config, Trainer, records  # noqa: E402
from rnnlab.corpora import builtin_corpus  # noqa: E402

SONGBOOK = builtin_corpus("Songbook (bundled lyrics)")
SMALLEST = Config(hidden_size=4, seq_length=2, batch_size=1, seed=0, val_fraction=0.1)


def sizes(trainer: Trainer) -> dict[str, float]:
    """Rows of each record, checkpoint and CSV bytes, and the seconds to write each."""
    state = trainer.state()
    started = time.perf_counter()
    buffer = io.BytesIO()
    trainer.save(buffer)
    saved = time.perf_counter() - started
    started = time.perf_counter()
    text = history_csv(state)
    written = time.perf_counter() - started
    return {
        "iteration": trainer.iteration,
        "loss rows": len(state.losses),
        "validation rows": len(state.validation),
        "health rows": len(state.health),
        "checkpoint MB": buffer.tell() / 1e6,
        "save s": saved,
        "CSV MB": len(text) / 1e6,
        "CSV s": written,
    }


def grow(iterations: int) -> list[dict[str, float]]:
    """Train SMALLEST on the songbook, a validation point every 1,000 iterations (as Play's
    cadence would at this size), measuring at each power of ten and the end."""
    trainer = Trainer(SONGBOOK.text, SMALLEST)
    marks = {10**k for k in range(3, 10) if 10**k < iterations} | {iterations}
    rows = []
    while trainer.iteration < iterations:
        trainer.step(1_000)
        trainer.record_validation(max_chars=200)
        if trainer.iteration in marks:
            rows.append(sizes(trainer))
    return rows


def long_state(iterations: int):
    """The state a run of `iterations` iterations holds (records thinned as the trainer thins
    them: the newest half one row per iteration, the older quarter one row per block)."""
    trainer = Trainer(SONGBOOK.text, SMALLEST)
    trainer.step(10)
    state = trainer.state()
    newest, older = records.MAX_LOSS_ROWS // 2, records.MAX_LOSS_ROWS // 4
    rows = newest + older
    return dataclasses.replace(
        state,
        iteration=iterations,
        chars_seen=iterations * SMALLEST.seq_length,
        losses=np.linspace(60.0, 20.0, rows),
        smooth_losses=np.linspace(70.0, 25.0, rows),
        thinned_ends=np.linspace(1, iterations - newest, older).round().astype(np.int64),
    )


def reload(iterations: int, repeats: int) -> dict[str, float]:
    """Median seconds for the session to load the run's checkpoint, write its CSV, and archive
    it (what Reset does), over `repeats`."""
    buffer = io.BytesIO()
    Trainer.from_state(SONGBOOK.text, long_state(iterations)).save(buffer)
    data = buffer.getvalue()
    times: dict[str, list[float]] = {"load s": [], "CSV s": [], "archive s": []}
    for _ in range(repeats):
        lab = Lab(SONGBOOK, SMALLEST, stop_at_best=False)
        started = time.perf_counter()
        lab.load_checkpoint(data)
        times["load s"].append(time.perf_counter() - started)
        started = time.perf_counter()
        model_reads.history_csv(lab)
        times["CSV s"].append(time.perf_counter() - started)
        started = time.perf_counter()
        lab.new_run(lab.trainer.config)
        times["archive s"].append(time.perf_counter() - started)
        lab.close()
    return {"checkpoint MB": len(data) / 1e6} | {k: statistics.median(v) for k, v in times.items()}


def table(rows: list[dict[str, float]]) -> str:
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for row in rows:
        cells = [f"{v:,}" if isinstance(v, int) else f"{v:.3f}" for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1_000_000)
    parser.add_argument("--long", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.iterations, args.long, args.repeats = 30_000, 1_000_000, 1
    print(f"# Records of a long run ({date.today()}, H=4 T=2 B=1 Adagrad, the songbook)\n")
    print(table(grow(args.iterations)))
    print(f"\n# A run of {args.long:,} iterations through the session (median of {args.repeats})\n")
    reloaded = reload(args.long, args.repeats)
    print(table([reloaded]))
    worst = max(reloaded["load s"], reloaded["CSV s"], reloaded["archive s"])
    print(f"\nslowest of load, CSV and archive: {worst:.3f} s (target within 2 s)")


if __name__ == "__main__":
    main()
