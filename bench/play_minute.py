"""A minute of Play with the defaults: is the model a person holds after it a good one?

    python bench/play_minute.py [--seconds 60] [--seeds 0 1 2] [--shakespeare PATH] [--quick]

What a new user does: open the dashboard on a lyrics-sized text, press Play with the default
settings, watch for a minute and press Pause. The target: the model held then has a validation
loss within 5% of the best the run reached. Measured through the session object the page uses
(dashboard.session.Lab: a real play process, asked for news every 0.4 s as the live panel does),
on the bundled songbook (25 kB, the text the defaults were chosen on) and on 25,000 characters
of Tiny Shakespeare (a text they were not chosen on), for each seed:

* held: the validation loss (bits/char, the held-out text read as the chart's points are) of the
  model in the session after the pause;
* best: the lowest validation point the run recorded (and the held model's own, if lower);
* with "Stop at the best validation point" on (the default) and off (the run as it was before
  the option existed), one after the other in the same process.

Wall-clock time, as a person sees it: run it on an otherwise idle machine.

--quick: 3 seconds of Play, seed 0 (seconds, for the test suite).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the app runs it
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard.session import Lab  # noqa: E402
from rnnlab.corpora import DEFAULT_CORPUS, builtin_corpus, uploaded_corpus  # noqa: E402
from rnnlab.presets import DASHBOARD_DEFAULTS, STOP_AT_BEST  # noqa: E402
from rnnlab.schedule import VALIDATION_CHARS  # noqa: E402

POLL_SECONDS = 0.4
SHAKESPEARE_OFFSET, SHAKESPEARE_CHARS = 500_000, 25_000
TARGET = 0.05


def one_minute(corpus, seed: int, stop_at_best: bool, seconds: float) -> dict:
    lab = Lab(corpus, DASHBOARD_DEFAULTS.replace(seed=seed), stop_at_best=stop_at_best)
    started = time.monotonic()
    lab.play()
    stopped_itself = None
    while time.monotonic() - started < seconds:
        if not lab.snapshot().playing:
            stopped_itself = time.monotonic() - started
            break
        time.sleep(POLL_SECONDS)
    lab.pause()
    trainer = lab.trainer
    held = trainer.validation_loss(VALIDATION_CHARS) / math.log(2)
    record = trainer.validation_record
    best_row = record[record[:, 1].argmin()]
    best = min(best_row[1] / math.log(2), held)
    return {
        "held": held,
        "best": best,
        "best_iteration": int(best_row[0]),
        "iteration": trainer.iteration,
        "stopped_itself": stopped_itself,
        "gap": held / best - 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--shakespeare", type=Path, default=ROOT.parent / "shared/data/tinyshakespeare.txt"
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.seeds = 3.0, [0]
    raw = args.shakespeare.read_bytes()[SHAKESPEARE_OFFSET : SHAKESPEARE_OFFSET + SHAKESPEARE_CHARS]
    texts = {
        "songbook": builtin_corpus(DEFAULT_CORPUS),
        "shakespeare 25 kB": uploaded_corpus("tinyshakespeare-25k.txt", raw),
    }
    d = DASHBOARD_DEFAULTS
    print(
        f"play_minute {date.today()}: Play with the defaults (H={d.hidden_size} T={d.seq_length} "
        f"lr={d.learning_rate:g} B={d.batch_size} val={d.val_fraction:g}), Pause after "
        f"{args.seconds:g} s; validation in bits/char; target: held within {TARGET:.0%} of best"
    )
    for name, corpus in texts.items():
        gaps: dict[bool, list[float]] = {True: [], False: []}
        for seed in args.seeds:
            for stop_at_best in (True, False):
                r = one_minute(corpus, seed, stop_at_best, args.seconds)
                gaps[stop_at_best].append(r["gap"])
                stopped = (
                    f"stopped itself at {r['stopped_itself']:.1f} s"
                    if r["stopped_itself"] is not None
                    else "played to the pause"
                )
                print(
                    f"  {name:18} seed {seed}  stop at best {'on ' if stop_at_best else 'off'}  "
                    f"held {r['held']:.3f}  best {r['best']:.3f} (it. {r['best_iteration']:,})  "
                    f"gap {r['gap']:+.1%}  {r['iteration']:,} iterations, {stopped}"
                )
        for stop_at_best in (True, False):
            worst = max(gaps[stop_at_best])
            verdict = "met" if worst <= TARGET else "missed"
            default = " (the default)" if stop_at_best == STOP_AT_BEST else ""
            print(
                f"  {name}: stop at best {'on' if stop_at_best else 'off'}{default}: median gap "
                f"{statistics.median(gaps[stop_at_best]):+.1%}, worst {worst:+.1%} -> {verdict}"
            )


if __name__ == "__main__":
    main()
