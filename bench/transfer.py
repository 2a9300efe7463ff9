"""Starting from a base model against starting from random weights, on small texts.

    python bench/transfer.py                   # the table: 3 texts x 3 starts x 2 seeds, 60 CPU-s
    python bench/transfer.py --grid            # learning rate x dropout x batch, 30 CPU-s each
    python bench/transfer.py --quick           # 5 CPU-s, one seed, one text

What a person gets in a minute of Play, through the engine as the dashboard trains: a Trainer
(from random weights at the dashboard's defaults, or Trainer.from_base at the transfer's
settings), rnnlab.schedule.Schedule with stop_at_best (validation after every 100,000 characters
trained, a tenth of the text held out), trained for --budget CPU-seconds of one process with one
BLAS thread, or until the schedule stops at the best validation point by itself. Reported:

  held         bits/char on the whole held-out text of the model held at the end (the best one
               when Play stopped by itself, as the dashboard brings it back)
  best, at     the lowest validation the schedule recorded, and the CPU-second it came
  stopped      the CPU-second Play stopped at the best by itself ("-": it trained to the budget)
  words at     CPU-seconds until a 400-character sample (temperature 1, seed 0) has 40% words of
               the text (rnnlab.metrics), checked every CPU-second ("0": before any training)

Texts: the bundled songbook (data/lyrics.txt, on which the dashboard's defaults were tuned), the
bundled poems (data/poems.txt) and data/letters.txt (25 kB of letters written for this, which
nothing was tuned on); none is in the base's pretraining corpus. The compressor is the best of
zlib, bz2 and lzma on the same held-out text (rnnlab.baselines). The table is the median over
--seeds. Also measured: the time to read the base from its file, and the memory a transfer
allocates (tracemalloc) against the model's size.
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import rnnlab  # noqa: E402
from rnnlab import checkpoint  # noqa: E402
from rnnlab.metrics import corpus_words, word_share  # noqa: E402
from rnnlab.presets import DASHBOARD_DEFAULTS, DEFAULT_START, TRANSFER_SETTINGS  # noqa: E402
from rnnlab.schedule import Schedule  # noqa: E402

TEXTS = {
    "songbook": "data/lyrics.txt",
    "poems": "data/poems.txt",
    "letters": "data/letters.txt",
}
CALL_SECONDS = 0.25  # wall seconds per Schedule.train call, between looks at the CPU clock
SAMPLE_CHARS, WORD_THRESHOLD = 400, 0.4
BITS = 1 / math.log(2)
GRID_RATES = (0.0005, 0.001, 0.003)
GRID_DROPOUTS = (0.0, 0.1, 0.25)
GRID_SHAPES = ((16, 50), (32, 100))  # (batch size, sequence length)


@dataclass(frozen=True)
class Job:
    text: str  # a key of TEXTS
    start: str  # "random" or a base's name
    settings: tuple[tuple[str, float], ...]  # the config's changes from the start's defaults
    seed: int
    budget: float
    val_every: int | None = None  # characters between validations; None: the Schedule's rule


@dataclass(frozen=True)
class Result:
    job: Job
    held: float
    best: float
    best_at: float
    stopped_at: float  # nan: trained to the budget
    words_at: float  # inf: never
    iterations: int


def trainer_for(job: Job, text: str) -> rnnlab.Trainer:
    settings = dict(job.settings, seed=job.seed)
    if job.start == "random":
        return rnnlab.Trainer(text, DASHBOARD_DEFAULTS.replace(**settings))
    return rnnlab.Trainer.from_base(text, job.start, **(TRANSFER_SETTINGS | settings))


def run(job: Job) -> Result:
    text = (REPO / TEXTS[job.text]).read_text(encoding="utf-8")
    trainer = trainer_for(job, text)
    cadence = {} if job.val_every is None else {"validation_every_chars": job.val_every}
    schedule = Schedule(trainer, keep_timeline=False, stop_at_best=True, **cadence)
    words = corpus_words(text)
    trained, points, stopped_at, words_at = 0.0, [], math.nan, math.inf
    if word_share(trainer.sample(SAMPLE_CHARS, seed=0), words) >= WORD_THRESHOLD:
        words_at = 0.0
    next_check = 1.0
    while trained < job.budget:
        before, recorded = trainer.iteration, len(trainer.validation_history)
        started = time.process_time()
        report = schedule.train(seconds=min(CALL_SECONDS, job.budget - trained))
        elapsed = time.process_time() - started
        done = max(trainer.iteration - before, 1)
        for iteration, nats in trainer.validation_history[recorded:]:
            points.append((trained + elapsed * (iteration - before) / done, nats * BITS))
        trained += elapsed
        if report.divergence or report.stopped_at_best:
            stopped_at = trained
            break
        if math.isinf(words_at) and trained >= next_check:
            if word_share(trainer.sample(SAMPLE_CHARS, seed=0), words) >= WORD_THRESHOLD:
                words_at = trained
            next_check = trained + 1.0
    best_at, best = min(points, key=lambda p: p[1], default=(math.nan, math.nan))
    held = trainer.validation_loss() * BITS
    return Result(job, held, best, best_at, stopped_at, words_at, trainer.iteration)


def transfer_costs(base: str, text: str) -> tuple[float, int, int]:
    """(seconds to read the base, bytes a transfer allocates at its peak, bytes of the model)."""
    started = time.perf_counter()
    state = checkpoint.load_state(rnnlab.base_models().get(base, base))
    load_seconds = time.perf_counter() - started
    tracemalloc.start()
    trainer = rnnlab.Trainer.from_base(text, state, **TRANSFER_SETTINGS, seed=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tracemalloc.start()
    rnnlab.Trainer(text, trainer.config)
    _, peak_plain = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    model = trainer.param_count * trainer.arch.itemsize
    return load_seconds, peak - peak_plain, model


def log(line: str) -> None:
    print(line, flush=True)


def median(results: list[Result], field: str) -> float:
    return statistics.median(getattr(r, field) for r in results)


def seconds(value: float) -> str:
    if math.isnan(value):
        return "-"
    return ">" if math.isinf(value) else f"{value:.1f}"


def table(results: list[Result], rows: list[tuple[str, tuple]], texts: list[str]) -> None:
    compressor = {}
    for name in texts:
        text = (REPO / TEXTS[name]).read_text(encoding="utf-8")
        train, held = DASHBOARD_DEFAULTS.split_sizes(len(text))
        compressor[name] = rnnlab.baselines(text[:train], text[train:])["compressor"]
    log("\n| start | " + " | ".join(texts) + " |")
    log("|---|" + "---|" * len(texts))
    for label, key in rows:
        cells = []
        for name in texts:
            group = [
                r for r in results if (r.job.start, r.job.settings) == key and r.job.text == name
            ]
            if not group:
                cells.append("")
                continue
            best_at, stopped = median(group, "best_at"), median(group, "stopped_at")
            cells.append(
                f"{median(group, 'held'):.3f} (best {median(group, 'best'):.3f} at "
                f"{seconds(best_at)} s, stopped {seconds(stopped)} s, words "
                f"{seconds(median(group, 'words_at'))} s)"
            )
        log(f"| {label} | " + " | ".join(cells) + " |")
    log("| best compressor | " + " | ".join(f"{compressor[n]:.3f}" for n in texts) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=60.0, help="CPU-seconds per run")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--texts", default=",".join(TEXTS))
    parser.add_argument("--base", default=None, help="the base (default: the dashboard's)")
    parser.add_argument("--dropout", type=float, default=0.25, help="for the third row")
    parser.add_argument("--grid", action="store_true", help="learning rate x dropout instead")
    parser.add_argument("--quick", action="store_true", help="5 CPU-s, one seed, one text")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--val-every", type=int, default=None, help="characters between validations (default: "
        "the Schedule's)",
    )  # fmt: skip
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    texts = args.texts.split(",")
    base = args.base or (
        DEFAULT_START if DEFAULT_START != "random" else next(iter(rnnlab.base_models()))
    )
    if args.quick:
        args.budget, seeds, texts = min(args.budget, 5.0), seeds[:1], texts[:1]
    if args.grid:
        args.budget = min(args.budget, 30.0)
        rows = [
            (
                f"{base}, lr {lr:g}, dropout {d:g}, B={b} T={t}",
                (
                    base,
                    (("learning_rate", lr), ("dropout", d), ("batch_size", b), ("seq_length", t)),
                ),
            )  # fmt: skip
            for lr, d, (b, t) in itertools.product(GRID_RATES, GRID_DROPOUTS, GRID_SHAPES)
        ]
    else:
        transfer_dropout = TRANSFER_SETTINGS["dropout"] or args.dropout
        rows = [
            ("random weights, the dashboard's defaults", ("random", ())),
            (f"{base}, the transfer's settings", (base, ())),
            (f"{base}, dropout {transfer_dropout:g}", (base, (("dropout", transfer_dropout),))),
        ]
    log(
        f"bench/transfer.py, {date.today()}: {args.budget:g} CPU-s per run, seeds {seeds}, "
        f"transfer settings {TRANSFER_SETTINGS}, defaults {DASHBOARD_DEFAULTS}"
    )
    jobs = [
        Job(text, start, settings, seed, args.budget, args.val_every)
        for seed in seeds
        for text in texts
        for _, (start, settings) in rows
    ]
    results = []
    with ProcessPoolExecutor(args.workers) as pool:
        for result in pool.map(run, jobs):
            j = result.job
            log(
                f"  {j.text:<9} {j.start:<8} {dict(j.settings)} seed {j.seed}: held "
                f"{result.held:.3f}, best {result.best:.3f} at {seconds(result.best_at)} s, "
                f"stopped {seconds(result.stopped_at)}, words {seconds(result.words_at)} s, "
                f"{result.iterations} iterations"
            )
            results.append(result)
    table(results, rows, texts)
    load, allocated, model = transfer_costs(base, (REPO / TEXTS[texts[0]]).read_text("utf-8"))
    log(
        f"\nReading the base {base!r}: {load * 1000:.0f} ms. A transfer allocates "
        f"{allocated / 2**20:.2f} MB beyond a new trainer's own, {allocated / model:.2f}x the "
        f"model ({model / 2**20:.2f} MB)."
    )


if __name__ == "__main__":
    main()
