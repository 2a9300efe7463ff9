"""Quality per CPU-second: validation bits/char after 60 and 300 CPU-seconds, for each cell.

    python bench/cells_quality.py [--seconds 60 300] [--jobs 2] [--texts songbook shakespeare]
                                 [--quick]

Each run trains one configuration in its own process with one BLAS thread, on the bundled
songbook and on Tiny Shakespeare (../shared/data/tinyshakespeare.txt), each with its last 10%
held out. Only training counts against the budget (CPU seconds of the process, validation
excluded); the validation loss is read every few seconds of training on the first
VALIDATION_CHARS characters of the held-out part, and the table gives, at each budget, the lowest
reached so far (the model the dashboard keeps with "stop at the best") and the one at that moment.
Runs go --jobs at a time; CPU seconds are per process, so running side by side does not change
the budget (it shares the memory bus, which costs a little speed).

The configurations are the dashboard's RNN defaults and, for each cell, settings chosen by the
pilot runs recorded in docs/benchmarks.md ("Cells compared").

--quick: budgets of 0.2 and 0.5 CPU-s, its results not saved (seconds, for the test suite).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import rnnlab  # noqa: E402
from rnnlab.corpora import builtin_corpus  # noqa: E402
from rnnlab.presets import DASHBOARD_DEFAULTS  # noqa: E402

SHAKESPEARE = REPO.parent / "shared/data/tinyshakespeare.txt"
VALIDATION_CHARS = 30_000
CHECK_EVERY = 5.0  # CPU seconds of training between validation readings
CONFIGS = {
    "RNN (dashboard defaults)": DASHBOARD_DEFAULTS.replace(seed=0),
    "RNN H=256 Adam f32": rnnlab.Config(
        hidden_size=256, seq_length=50, batch_size=32, learning_rate=0.002, optimizer="adam",
        dtype="float32", val_fraction=0.1, seed=0,
    ),
    "GRU H=128 Adam f32": rnnlab.Config(
        cell="gru", hidden_size=128, seq_length=50, batch_size=32, learning_rate=0.003,
        optimizer="adam", dtype="float32", val_fraction=0.1, seed=0,
    ),
    "LSTM H=128 Adam f32": rnnlab.Config(
        cell="lstm", hidden_size=128, seq_length=50, batch_size=32, learning_rate=0.003,
        optimizer="adam", dtype="float32", val_fraction=0.1, seed=0,
    ),
    "LSTM H=256 Adam f32": rnnlab.Config(
        cell="lstm", hidden_size=256, seq_length=50, batch_size=32, learning_rate=0.002,
        optimizer="adam", dtype="float32", val_fraction=0.1, seed=0,
    ),
}  # fmt: skip


def load(text_name: str) -> str:
    if text_name == "songbook":
        return builtin_corpus("Songbook (bundled lyrics)").text
    return SHAKESPEARE.read_text(encoding="utf-8")


def one_run(config_name: str, text_name: str, budgets: list[float]) -> dict:
    """Train one configuration; the validation readings at each budget, in bits/char."""
    trainer = rnnlab.Trainer(load(text_name), CONFIGS[config_name])
    trainer.divergence_factor = None  # a bench run reports what happens
    trained = 0.0
    best = math.inf
    results: dict[str, dict] = {}
    next_check = CHECK_EVERY
    readings = []
    while trained < max(budgets):
        start = time.process_time()
        trainer.step(5)
        trained += time.process_time() - start
        due = [b for b in budgets if trained >= b and str(b) not in results]
        if trained >= next_check or due:
            nats = trainer.validation_loss(VALIDATION_CHARS)
            bits = nats / math.log(2) if nats is not None and math.isfinite(nats) else math.inf
            best = min(best, bits)
            readings.append((round(trained, 1), round(bits, 4)))
            next_check = trained + CHECK_EVERY
            for budget in due:
                results[str(budget)] = {"now": bits, "best": best}
    return {
        "config": config_name,
        "text": text_name,
        "iterations": trainer.iteration,
        "chars": trainer.chars_seen,
        "results": results,
        "readings": readings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[60.0, 300.0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--texts", nargs="+", default=["songbook", "shakespeare"])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--one", nargs=2, metavar=("CONFIG", "TEXT"), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seconds = [0.2, 0.5]
    if args.one:
        print(json.dumps(one_run(args.one[0], args.one[1], args.seconds)))
        return

    def launch(job: tuple[str, str]) -> dict:
        command = [sys.executable, __file__, "--one", *job, "--seconds", *map(str, args.seconds)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    jobs = [(config, text) for text in args.texts for config in args.configs]
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(launch, jobs))
    if not args.quick:  # a quick run's figures would overwrite a full run's
        results_dir = REPO / "bench/results"
        results_dir.mkdir(exist_ok=True)
        (results_dir / "cells_quality.json").write_text(json.dumps(runs, indent=1))

    budgets = [str(b) for b in args.seconds]
    print(f"Validation bits/char (first {VALIDATION_CHARS:,} held-out characters; 10% held out);")
    print("best so far / at that moment, after each budget of training CPU-seconds")
    for text in args.texts:
        print(f"\n{text}")
        header = "".join(f"{float(b):>8g} s best {'now':>6}" for b in budgets)
        print(f"{'configuration':26}{header}  iterations")
        baseline = None
        for run in (r for r in runs if r["text"] == text):
            cells = "".join(
                f"{run['results'][b]['best']:15.3f} {run['results'][b]['now']:6.3f}"
                for b in budgets
            )
            print(f"{run['config']:26}{cells}  {run['iterations']:,}")
            if run["config"].startswith("RNN (dashboard"):
                baseline = run["results"][budgets[-1]]["best"]
        if baseline:
            winner = min(
                (r for r in runs if r["text"] == text),
                key=lambda r: r["results"][budgets[-1]]["best"],
            )
            gain = 1 - winner["results"][budgets[-1]]["best"] / baseline
            print(
                f"best: {winner['config']}, {gain:.1%} below the dashboard's RNN defaults "
                f"after {float(budgets[-1]):g} s (target on Tiny Shakespeare: >= 10%)"
            )


if __name__ == "__main__":
    main()
