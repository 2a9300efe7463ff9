"""Presets by validation: which settings reach the lowest held-out loss within a time budget.

On a small text the settings that bring words soonest also overfit soonest: validation loss bottoms
out within seconds and then climbs while the training loss keeps falling. The dashboard keeps the
best model and can stop Play there, so what a setting is worth is the best validation loss it
reaches within a fixed budget of training; time to words comes second. This bench measures both,
on the songbook the current defaults were tuned on (data/lyrics.txt), on 25,000 characters of Tiny
Shakespeare that nothing was tuned on, and on data/poems.txt, each with val_fraction 0.1.

A run is one rnnlab.Trainer at one setting and seed, trained through rnnlab.schedule.Schedule as
the dashboard trains (validation after every 100,000 characters trained, no timeline samples), for
--budget CPU seconds. It reports:

  best val     the lowest validation bits/char recorded within the budget
  CPU-s, it    the training CPU seconds (and iteration) at which that best point was recorded;
               a point's CPU second is interpolated by iteration within the train() call that
               recorded it (a call is ~0.1 s)
  val at end   the last validation bits/char recorded within the budget
  words at     the training CPU seconds at the first check where a 400-character sample at
               temperature 1 (trainer.sample, seed 0) has word_share >= 0.4 against the corpus's
               words (rnnlab.metrics); checked about every CPU second, so at most a second late.
               The clock stops while the sample is drawn and scored. ">B": never within budget.

Tables show medians over the seeds a setting was run with. The clock is CPU seconds of the worker
process (time.process_time) with BLAS pinned to one thread before NumPy loads: runs go two at a
time in a process pool on a machine shared with other work, where wall time would measure the
neighbours. Validation is part of training time, as it is when the dashboard plays.

The grid is staged:
  stage 1   batch size x learning rate at H=100 T=25
  stage 2   hidden size x sequence length at the best stage-1 (batch size, learning rate): lowest
            median over texts of best val, equal to 2 decimals broken by median time to words
  reference the current dashboard defaults and the classic min-char-rnn, always with every seed
The search runs every text with --search-seeds (default: the first of --seeds); the references and
the --finalists best others by mean best val are then run with all of --seeds. --full runs every
setting with every seed (about 50 minutes on two idle cores at the default budget).

    python bench/presets_by_validation.py [--budget 60] [--seeds 0,1] [--workers 2]
    python bench/presets_by_validation.py --quick       # budget 2 s, one seed, the songbook
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterable, Sequence  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import rnnlab  # noqa: E402
from rnnlab.metrics import corpus_words, word_share  # noqa: E402
from rnnlab.presets import DASHBOARD_DEFAULTS  # noqa: E402
from rnnlab.schedule import VALIDATION_CHARS, VALIDATION_EVERY_CHARS, Schedule  # noqa: E402

SONGBOOK = "data/lyrics.txt"
POEMS = "data/poems.txt"
SHAKESPEARE = "../shared/data/tinyshakespeare.txt"  # relative to the repository root
SHAKESPEARE_OFFSET = 500_060  # the start of a speech in Romeo and Juliet
SHAKESPEARE_CHARS = 25_000  # as long as the songbook
VAL_FRACTION = 0.1

SAMPLE_CHARS = 400
WORD_THRESHOLD = 0.4
CHECK_EVERY = 1.0  # training CPU seconds between word checks
CALL_SECONDS = 0.1  # wall seconds per Schedule.train call, between looks at the clock

STAGE_ONE_SHAPE = {"hidden_size": 100, "seq_length": 25}
BATCH_SIZES = (1, 4, 16)
LEARNING_RATES = (0.01, 0.03, 0.1)
HIDDEN_SIZES = (64, 128, 256)
SEQ_LENGTHS = (25, 50)
BASE = DASHBOARD_DEFAULTS.replace(seed=None, val_fraction=VAL_FRACTION)
CLASSIC = BASE.replace(hidden_size=100, seq_length=25, learning_rate=0.1, batch_size=1)
REFERENCES = {BASE: "defaults", CLASSIC: "classic"}

BITS_PER_NAT = 1 / math.log(2)


@dataclass(frozen=True)
class Corpus:
    name: str
    source: str
    text: str


@dataclass(frozen=True)
class Job:
    corpus: Corpus
    config: rnnlab.Config  # with its seed
    budget: float


@dataclass(frozen=True)
class RunResult:
    corpus: str
    config: rnnlab.Config  # without its seed: the key runs are grouped by
    seed: int
    best_bits: float
    best_seconds: float
    best_iteration: int
    best_epochs: float
    end_bits: float
    words_seconds: float  # inf if the samples never reached the threshold
    iterations: int
    diverged: bool


# ------------------------------------------------------------------------------------- a run
_NO_POINT = (math.nan, 0, math.nan)  # (CPU second, iteration, bits/char) when none was recorded


def run(job: Job) -> RunResult:
    """Train one setting for job.budget CPU seconds; see the module docstring for what is kept."""
    trainer = rnnlab.Trainer(job.corpus.text, job.config)
    schedule = Schedule(trainer, keep_timeline=False)
    words = corpus_words(job.corpus.text)
    points: list[tuple[float, int, float]] = []  # (CPU second, iteration, bits/char)
    trained = 0.0
    next_check = CHECK_EVERY
    words_seconds = math.inf
    diverged = False
    while trained < job.budget and not diverged:
        iteration_before, recorded = trainer.iteration, len(trainer.validation_history)
        started = time.process_time()
        report = schedule.train(seconds=min(CALL_SECONDS, job.budget - trained))
        elapsed = time.process_time() - started
        diverged = report.divergence is not None
        done = max(trainer.iteration - iteration_before, 1)
        for iteration, nats in trainer.validation_history[recorded:]:
            at = trained + elapsed * (iteration - iteration_before) / done
            if at <= job.budget:
                points.append((at, iteration, nats * BITS_PER_NAT))
        trained += elapsed
        if math.isinf(words_seconds) and trained >= next_check:
            sample = trainer.sample(SAMPLE_CHARS, temperature=1.0, seed=0)
            if word_share(sample, words) >= WORD_THRESHOLD:
                words_seconds = trained
            next_check = trained + CHECK_EVERY
    best_seconds, best_iteration, best_bits = min(points, key=lambda p: p[2], default=_NO_POINT)
    return RunResult(
        corpus=job.corpus.name,
        config=job.config.replace(seed=None),
        seed=job.config.seed,
        best_bits=best_bits,
        best_seconds=best_seconds,
        best_iteration=best_iteration,
        best_epochs=best_iteration * job.config.chars_per_iteration / trainer.train_size,
        end_bits=points[-1][2] if points else math.nan,
        words_seconds=words_seconds,
        iterations=trainer.iteration,
        diverged=diverged,
    )


# ------------------------------------------------------------------------------------ the grid
class Grid:
    """Every run done so far, keyed by (setting, corpus, seed), and the pool that does them."""

    def __init__(
        self,
        corpora: Sequence[Corpus],
        budget: float,
        pool: ProcessPoolExecutor,
        workers: int,
    ):
        self.corpora = corpora
        self.budget = budget
        self.pool = pool
        self.workers = workers
        self.results: dict[tuple[rnnlab.Config, str, int], RunResult] = {}
        self.roles: dict[rnnlab.Config, str] = {}

    def jobs(self, configs: Iterable[rnnlab.Config], seeds: Sequence[int]) -> list[Job]:
        """What of configs x corpora x seeds is not done yet, seed by seed and corpus by corpus."""
        return [
            Job(corpus, config.replace(seed=seed), self.budget)
            for seed in seeds
            for corpus in self.corpora
            for config in dict.fromkeys(configs)
            if (config, corpus.name, seed) not in self.results
        ]

    def run(self, title: str, jobs: Sequence[Job]) -> None:
        """Run jobs in the pool seed by seed, each seed's corpora and settings interleaved, so
        that a change in machine load hits every setting alike."""
        jobs = sorted(dict.fromkeys(jobs), key=lambda job: job.config.seed)
        if not jobs:
            return
        rounds = math.ceil(len(jobs) / self.workers)
        log(f"{title}: {len(jobs)} runs, about {rounds * self.budget / 60:.0f} min on idle cores")
        futures = [self.pool.submit(run, job) for job in jobs]
        for future in as_completed(futures):
            r = future.result()
            self.results[(r.config, r.corpus, r.seed)] = r
            log(
                f"  {r.corpus:<11} seed {r.seed}  {describe(r.config):<26} best "
                f"{r.best_bits:.3f} at {r.best_seconds:5.1f} s  end {r.end_bits:.3f}  words "
                f"{format_seconds(r.words_seconds, self.budget):>5}  ({r.iterations} its"
                f"{', diverged' if r.diverged else ''})"
            )

    def runs(self, config: rnnlab.Config, corpus: str) -> list[RunResult]:
        found = [r for (c, name, _), r in self.results.items() if c == config and name == corpus]
        return sorted(found, key=lambda r: r.seed)

    def configs(self) -> list[rnnlab.Config]:
        return list(dict.fromkeys(c for c, _, _ in self.results))

    def median(self, config: rnnlab.Config, corpus: str, field: str) -> float:
        """Median over seeds of one RunResult field."""
        return statistics.median(getattr(r, field) for r in self.runs(config, corpus))

    def per_corpus(self, config: rnnlab.Config, field: str) -> list[float]:
        return [self.median(config, corpus.name, field) for corpus in self.corpora]

    def mean_best(self, config: rnnlab.Config) -> float:
        return statistics.mean(self.per_corpus(config, "best_bits"))

    def seeds(self, config: rnnlab.Config) -> str:
        return ",".join(str(r.seed) for r in self.runs(config, self.corpora[0].name))

    def diverged(self, config: rnnlab.Config, corpus: str | None = None) -> bool:
        names = [corpus] if corpus else [c.name for c in self.corpora]
        return any(r.diverged for name in names for r in self.runs(config, name))


def stage_one_key(grid: Grid, config: rnnlab.Config) -> tuple[float, float]:
    """Lowest median over corpora of best val (to 2 decimals), then median time to words."""
    best = statistics.median(grid.per_corpus(config, "best_bits"))
    return round(best, 2), statistics.median(grid.per_corpus(config, "words_seconds"))


def search(grid: Grid, seeds: Sequence[int], search_seeds: Sequence[int], finalists: int) -> str:
    """Run the staged grid; returns a line saying which stage-1 pair stage 2 was run at."""
    stage_one = [
        BASE.replace(**STAGE_ONE_SHAPE, batch_size=batch_size, learning_rate=learning_rate)
        for batch_size in BATCH_SIZES
        for learning_rate in LEARNING_RATES
    ]
    for config in stage_one:
        grid.roles.setdefault(config, "stage 1")
    for config, role in REFERENCES.items():
        grid.roles[config] = role
    # The references do not depend on stage 1: run them alongside to keep every worker busy.
    jobs = grid.jobs(stage_one, search_seeds) + grid.jobs(REFERENCES, seeds)
    grid.run("stage 1 and references", jobs)

    pair = min(stage_one, key=lambda c: stage_one_key(grid, c))
    stage_two = [
        pair.replace(hidden_size=hidden_size, seq_length=seq_length)
        for hidden_size in HIDDEN_SIZES
        for seq_length in SEQ_LENGTHS
    ]
    for config in stage_two:
        grid.roles.setdefault(config, "stage 2")
    title = f"stage 2 at B={pair.batch_size} lr={pair.learning_rate:g}"
    grid.run(title, grid.jobs(stage_two, search_seeds))

    ranked = sorted((c for c in grid.configs() if c not in REFERENCES), key=grid.mean_best)
    grid.run("finalists, every seed", grid.jobs(ranked[:finalists], seeds))
    best, words = stage_one_key(grid, pair)
    return (
        f"stage 2 ran at the best stage-1 pair B={pair.batch_size} lr={pair.learning_rate:g} "
        f"(median over texts of best val {best:.2f} bits/char, of time to words "
        f"{format_seconds(words, grid.budget)} s)"
    )


# ---------------------------------------------------------------------------------- printing
def describe(config: rnnlab.Config) -> str:
    return (
        f"H={config.hidden_size} T={config.seq_length} "
        f"lr={config.learning_rate:g} B={config.batch_size}"
    )


def format_seconds(seconds: float, budget: float) -> str:
    return f"{seconds:.1f}" if math.isfinite(seconds) else f">{budget:g}"


def format_bits(bits: float, diverged: bool = False) -> str:
    return f"{bits:.3f}" + ("!" if diverged else "")


MEDIAN_FIELDS = (
    "best_bits",
    "best_seconds",
    "best_iteration",
    "best_epochs",
    "end_bits",
    "words_seconds",
)


def print_corpus_table(grid: Grid, corpus: Corpus) -> None:
    configs = sorted(grid.configs(), key=lambda c: grid.median(c, corpus.name, "best_bits"))
    header = (
        f"{'settings':<26} {'role':<9} {'seeds':<5} {'best val':>8} {'CPU-s':>6} {'it':>6} "
        f"{'epochs':>6} {'val end':>7} {'words at':>8}"
    )
    print(f"{corpus.name}: {corpus.source}")
    print(header)
    print("-" * len(header))
    for config in configs:
        m = {field: grid.median(config, corpus.name, field) for field in MEDIAN_FIELDS}
        print(
            f"{describe(config):<26} {grid.roles.get(config, ''):<9} {grid.seeds(config):<5} "
            f"{format_bits(m['best_bits'], grid.diverged(config, corpus.name)):>8} "
            f"{m['best_seconds']:>6.1f} {m['best_iteration']:>6.0f} {m['best_epochs']:>6.1f} "
            f"{m['end_bits']:>7.3f} {format_seconds(m['words_seconds'], grid.budget):>8}"
        )
    print()


def print_summary(grid: Grid) -> None:
    names = "/".join(c.name for c in grid.corpora)
    width = 6 * len(grid.corpora)

    def cells(values: Sequence[float], form: str) -> str:
        return " ".join(f"{v:{form}}" for v in values)

    header = (
        f"{'settings':<26} {'role':<9} {'seeds':<5} {'mean':>5}  {'best val':<{width}} "
        f"{'CPU-s to best':<{width}} {'val at end':<{width}} {'words at':<{width}}"
    )
    print(f"summary, sorted by mean over texts of best val bits/char; columns per text: {names}")
    print(header.rstrip())
    print("-" * len(header.rstrip()))
    for config in sorted(grid.configs(), key=grid.mean_best):
        words = [format_seconds(s, grid.budget) for s in grid.per_corpus(config, "words_seconds")]
        print(
            f"{describe(config):<26} {grid.roles.get(config, ''):<9} {grid.seeds(config):<5} "
            f"{grid.mean_best(config):>5.3f}{'!' if grid.diverged(config) else ' '} "
            f"{cells(grid.per_corpus(config, 'best_bits'), '5.3f'):<{width}} "
            f"{cells(grid.per_corpus(config, 'best_seconds'), '5.1f'):<{width}} "
            f"{cells(grid.per_corpus(config, 'end_bits'), '5.3f'):<{width}} "
            f"{' '.join(f'{w:>5}' for w in words)}"
        )


def print_preamble(corpora: Sequence[Corpus], args: argparse.Namespace) -> None:
    print(f"presets by validation, {date.today().isoformat()}")
    print(
        f"budget {args.budget:g} CPU-s per run (time.process_time, BLAS threads "
        f"{os.environ['OPENBLAS_NUM_THREADS']}), {args.workers} worker processes; seeds "
        f"{','.join(map(str, args.seeds))} for the references and finalists ({args.finalists}), "
        f"{','.join(map(str, args.search_seeds))} for the search"
    )
    print(
        f"validation every {VALIDATION_EVERY_CHARS:,} characters trained (at most "
        f"{VALIDATION_CHARS:,} held-out characters read), val_fraction {VAL_FRACTION:g}; words: "
        f"{SAMPLE_CHARS} chars at temperature 1, seed 0, word_share >= {WORD_THRESHOLD:g}, "
        f"checked every ~{CHECK_EVERY:g} CPU-s"
    )
    print(
        f"stage 1: B in {BATCH_SIZES} x lr in {LEARNING_RATES} at H=100 T=25; stage 2: H in "
        f"{HIDDEN_SIZES} x T in {SEQ_LENGTHS}; references: defaults {describe(BASE)}, classic "
        f"{describe(CLASSIC)}"
    )
    for corpus in corpora:
        print(f"  {corpus.name:<11} {corpus.source}")
    print("best val and val at end in bits/char (! = a run diverged and stopped early)")
    print(flush=True)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -------------------------------------------------------------------------------------- main
def load_corpora(shakespeare: str, offset: int) -> list[Corpus]:
    def read(path: str) -> str:
        text, _ = rnnlab.load_text((REPO / path).read_bytes())
        return text

    def describe_text(path: str, text: str, note: str = "") -> str:
        return (
            f"{path}{note}: {len(text):,} chars, {len(set(text))} symbols, "
            f"{len(corpus_words(text)):,} distinct words"
        )

    songbook, poems = read(SONGBOOK), read(POEMS)
    whole = read(shakespeare)
    if offset + SHAKESPEARE_CHARS > len(whole):
        raise SystemExit(
            f"{shakespeare} has {len(whole):,} characters; an offset of {offset:,} leaves fewer "
            f"than {SHAKESPEARE_CHARS:,}. Lower --shakespeare-offset."
        )
    excerpt = whole[offset : offset + SHAKESPEARE_CHARS]
    note = f" [{offset:,}:{offset + SHAKESPEARE_CHARS:,}]"
    return [
        Corpus("songbook", describe_text(SONGBOOK, songbook, " (tuned on)"), songbook),
        Corpus("shakespeare", describe_text(shakespeare, excerpt, note), excerpt),
        Corpus("poems", describe_text(POEMS, poems), poems),
    ]


def seed_list(value: str) -> tuple[int, ...]:
    return tuple(int(part) for part in value.split(","))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=60.0, help="training CPU-s per run")
    parser.add_argument("--seeds", type=seed_list, default=(0, 1), help="e.g. 0,1")
    parser.add_argument(
        "--search-seeds", type=seed_list, help="seeds for the search (default: first of --seeds)"
    )
    parser.add_argument("--finalists", type=int, default=2, help="best others run every seed")
    parser.add_argument("--full", action="store_true", help="every setting with every seed")
    parser.add_argument("--quick", action="store_true", help="budget 2 s, one seed, the songbook")
    parser.add_argument("--workers", type=int, default=2, help="processes, one per core")
    parser.add_argument("--shakespeare", default=SHAKESPEARE, help="relative to the repo root")
    parser.add_argument("--shakespeare-offset", type=int, default=SHAKESPEARE_OFFSET)
    args = parser.parse_args(argv)
    if args.quick:
        args.budget, args.seeds = 2.0, args.seeds[:1]
    if args.full:
        args.search_seeds = args.seeds
    args.search_seeds = args.search_seeds or args.seeds[:1]

    corpora = load_corpora(args.shakespeare, args.shakespeare_offset)
    if args.quick:
        corpora = corpora[:1]  # every text is still read, so a missing one fails here too
    print_preamble(corpora, args)
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        grid = Grid(corpora, args.budget, pool, args.workers)
        chosen = search(grid, args.seeds, args.search_seeds, args.finalists)
    print(chosen)
    print(f"wall time {(time.perf_counter() - started) / 60:.1f} min")
    print()
    for corpus in corpora:
        print_corpus_table(grid, corpus)
    print_summary(grid)


if __name__ == "__main__":
    main()
