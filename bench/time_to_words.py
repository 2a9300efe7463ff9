"""Time to words: training seconds until a model's samples are mostly words of its corpus.

What a person watching the dashboard feels is how soon the gibberish turns into words. This bench
trains, side by side in one process and interleaved seed by seed (so that a change in machine
load hits every run alike):

  baseline   rnnlab.reference.ReferenceTrainer, the loop-form min-char-rnn (H=100 T=25 lr=0.1 B=1)
  classic    rnnlab.Trainer at those same settings (same seed -> same initial weights)
  dashboard  rnnlab.Trainer at rnnlab.presets.DASHBOARD_DEFAULTS (or the --hidden-size ... flags)

and prints, for each, the median over seeds of the training seconds until at least --threshold of
the words in sampled text are words of the corpus (rnnlab.metrics), and baseline / run.

How a run is measured:
* Every run is scored by the same procedure, `sample_text` below: 400 characters from the classic
  sampler (rnnlab.reference.sample) at temperature 1, starting from a zero hidden state fed the
  corpus's first character, with the fixed sampling seeds 0, 1 and 2; the score is the mean
  word_share of the three samples.
* Training runs in chunks of about --check-every seconds; the clock stops while the samples are
  drawn and scored. The time reported is the training time at the first check that passed, so it
  is at most one chunk late. A run that has not passed after --budget seconds reports "> budget".
* The clock is CPU seconds of this process (time.process_time), with BLAS pinned to one thread
  before NumPy loads. On a machine shared with other work, wall time measures the neighbours as
  much as the model, and multi-threaded BLAS with these small matrices can be many times slower
  under load. On an idle machine both clocks agree; --clock wall uses wall time.

--grid runs the staged search that chose DASHBOARD_DEFAULTS (engine only): batch size x learning
rate at H=100 T=25, then hidden size x sequence length for the two best of those.

    python bench/time_to_words.py [--corpus data/lyrics.txt] [--threshold 0.4] [--budget 300]
                                  [--quick]
    python bench/time_to_words.py --grid [--grid-budget 30]

--quick: 0.3 training seconds per run, checked every 0.1 s (seconds, for the test suite).
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
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Protocol  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rnnlab  # noqa: E402
from rnnlab import reference  # noqa: E402
from rnnlab.metrics import corpus_words, word_share  # noqa: E402
from rnnlab.presets import DASHBOARD_DEFAULTS  # noqa: E402

SAMPLE_CHARS = 400
SAMPLE_SEEDS = (0, 1, 2)
TRAINING_SEEDS = (0, 1, 2)
CLASSIC = rnnlab.Config(hidden_size=100, seq_length=25, learning_rate=0.1, batch_size=1)
CALIBRATION_ITERATIONS = 10  # the first chunk, timed to size the chunks that follow


class Trainable(Protocol):
    """What both trainers offer: params keyed Wxh (H, V), Whh, Why, bh (H, 1), by (V, 1)."""

    params: dict[str, np.ndarray]
    losses: Sequence[float]  # raw loss of every iteration so far

    def step(self, n: int = 1) -> float: ...


@dataclass(frozen=True)
class Contender:
    name: str
    settings: str
    seq_length: int  # to turn a chunk's loss into nats per character
    make: Callable[[int], Trainable]  # training seed -> a fresh trainer


@dataclass(frozen=True)
class RunResult:
    seconds: float  # training seconds to the first passing check; inf if it never passed
    iterations: int
    seconds_per_iteration: float
    worst_rise: float  # largest rise of the mean loss from one check's chunk to the next (share)
    loss_per_char: float  # mean loss (nats/char) over the last chunk
    diverged: bool


@dataclass(frozen=True)
class Corpus:
    path: str
    text: str
    vocab: rnnlab.Vocab
    words: frozenset[str]
    start_id: int


def load_corpus(path: str) -> Corpus:
    text, _ = rnnlab.load_text(Path(path).read_bytes())
    vocab = rnnlab.Vocab.from_text(text)
    return Corpus(path, text, vocab, corpus_words(text), int(vocab.encode(text[0])[0]))


def sample_text(
    params: dict[str, np.ndarray], vocab: rnnlab.Vocab, start_id: int, seed: int
) -> str:
    """SAMPLE_CHARS characters at temperature 1 from a zero state fed start_id, for every run."""
    h = np.zeros((params["Whh"].shape[0], 1))
    ids = reference.sample(params, h, start_id, SAMPLE_CHARS, np.random.default_rng(seed))
    return vocab.decode(np.asarray(ids))


def score(trainer: Trainable, corpus: Corpus) -> float:
    """Mean word_share of the samples drawn with each of SAMPLE_SEEDS."""
    shares = [
        word_share(sample_text(trainer.params, corpus.vocab, corpus.start_id, seed), corpus.words)
        for seed in SAMPLE_SEEDS
    ]
    return sum(shares) / len(shares)


def time_to_words(
    trainer: Trainable,
    corpus: Corpus,
    seq_length: int,
    threshold: float,
    budget: float,
    check_every: float,
    clock: Callable[[], float],
) -> RunResult:
    """Train until score() reaches threshold (or budget training seconds pass, or it diverges)."""
    trained = 0.0
    iterations = 0
    chunk = CALIBRATION_ITERATIONS
    window_losses: list[float] = []
    diverged = False
    passed = False
    while trained < budget:
        start = clock()
        try:
            trainer.step(chunk)
        except rnnlab.DivergenceError:
            diverged = True
        trained += clock() - start
        if diverged:
            break
        losses = np.asarray(trainer.losses[iterations : iterations + chunk])
        iterations += chunk
        window_losses.append(float(losses.mean()) / seq_length)
        if not math.isfinite(window_losses[-1]):  # the loop-form trainer has no divergence check
            diverged = True
            break
        if score(trainer, corpus) >= threshold:
            passed = True
            break
        chunk = max(1, round(check_every * iterations / trained))
    rises = [
        later / earlier - 1
        for earlier, later in zip(window_losses, window_losses[1:], strict=False)
    ]
    return RunResult(
        seconds=trained if passed else math.inf,
        iterations=iterations,
        seconds_per_iteration=trained / max(iterations, 1),
        worst_rise=max([0.0, *rises]),
        loss_per_char=window_losses[-1] if window_losses else math.nan,
        diverged=diverged,
    )


# ------------------------------------------------------------------------------ contenders
def reference_contender(corpus: Corpus) -> Contender:
    ids = corpus.vocab.encode(corpus.text)
    c = CLASSIC

    def make(seed: int) -> Trainable:
        return reference.ReferenceTrainer(
            ids, corpus.vocab.size, c.hidden_size, c.seq_length, c.learning_rate, seed=seed
        )

    return Contender("baseline", "loop reference, " + describe(c), c.seq_length, make)


def engine_contender(name: str, corpus: Corpus, config: rnnlab.Config) -> Contender:
    def make(seed: int) -> Trainable:
        return rnnlab.Trainer(corpus.text, config.replace(seed=seed))

    return Contender(name, "rnnlab.Trainer, " + describe(config), config.seq_length, make)


def describe(config: rnnlab.Config) -> str:
    text = (
        f"H={config.hidden_size} T={config.seq_length} "
        f"lr={config.learning_rate:g} B={config.batch_size}"
    )
    return text + (f" val={config.val_fraction:g}" if config.val_fraction else "")


# ----------------------------------------------------------------------------------- runs
@dataclass(frozen=True)
class Settings:
    threshold: float
    budget: float
    check_every: float
    clock: Callable[[], float]


def run_all(
    contenders: Sequence[Contender],
    corpus: Corpus,
    settings: Settings,
    seeds: Sequence[int] = TRAINING_SEEDS,
    give_up_after_failures: int | None = None,
) -> dict[str, list[RunResult]]:
    """Every contender for every seed, interleaved seed by seed; progress goes to stderr.

    give_up_after_failures: stop running a contender once this many of its runs have not passed
    (with 2 of 3 failed, its median is already "> budget").
    """
    results: dict[str, list[RunResult]] = {c.name: [] for c in contenders}
    for seed in seeds:
        for contender in contenders:
            done = results[contender.name]
            failures = sum(not math.isfinite(r.seconds) for r in done)
            if give_up_after_failures is not None and failures >= give_up_after_failures:
                continue
            result = time_to_words(
                contender.make(seed),
                corpus,
                contender.seq_length,
                settings.threshold,
                settings.budget,
                settings.check_every,
                settings.clock,
            )
            done.append(result)
            print(
                f"  seed {seed}  {contender.name:<28} {format_seconds(result.seconds, settings):>8}"
                f"  ({result.iterations} its{', diverged' if result.diverged else ''})",
                file=sys.stderr,
                flush=True,
            )
    return results


def median_seconds(runs: Sequence[RunResult]) -> float:
    return statistics.median(r.seconds for r in runs) if runs else math.inf


def format_seconds(seconds: float, settings: Settings) -> str:
    return f"{seconds:.2f}" if math.isfinite(seconds) else f">{settings.budget:g}"


def print_table(
    contenders: Sequence[Contender],
    results: dict[str, list[RunResult]],
    settings: Settings,
    against: str | None,
) -> None:
    """One row per contender; `against` names the run whose median the others are divided into."""
    reference_median = median_seconds(results[against]) if against else math.nan
    name_width = max(len("run"), *(len(c.name) for c in contenders))
    settings_width = max(len("settings"), *(len(c.settings) for c in contenders))
    header = (
        f"{'run':<{name_width}} {'settings':<{settings_width}} {'seconds per seed':<22} "
        f"{'median s':>8} {'med its':>8} {'ms/it':>6} {'worst rise':>10} {'nats/ch':>7}"
    )
    if against:
        header += f" {against + '/run':>13}"
    print(header)
    print("-" * len(header))
    for contender in contenders:
        runs = results[contender.name]
        median = median_seconds(runs)
        per_seed = " ".join(format_seconds(r.seconds, settings) for r in runs)
        iterations = statistics.median(r.iterations for r in runs)
        ms_per_iteration = 1000 * statistics.median(r.seconds_per_iteration for r in runs)
        worst_rise = max(r.worst_rise for r in runs)
        nats = statistics.median(r.loss_per_char for r in runs)
        flag = " (diverged)" if any(r.diverged for r in runs) else ""
        row = (
            f"{contender.name:<{name_width}} {contender.settings:<{settings_width}} {per_seed:<22} "
            f"{format_seconds(median, settings):>8} {iterations:>8.0f} {ms_per_iteration:>6.2f} "
            f"{worst_rise:>10.1%} {nats:>7.3f}"
        )
        if against:
            ratio = reference_median / median if math.isfinite(median) else 0.0
            row += f" {ratio:>12.2f}x"
        print(row + flag)


def print_preamble(corpus: Corpus, settings: Settings, clock_name: str) -> None:
    print(
        f"time to words, {date.today().isoformat()}: {corpus.path} ({len(corpus.text)} chars, "
        f"{corpus.vocab.size} symbols, {len(corpus.words)} distinct words)"
    )
    print(
        f"training seconds ({clock_name} clock, BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}) "
        f"until >= {settings.threshold:.0%} of sampled words are corpus words; "
        f"{len(SAMPLE_SEEDS)} samples x {SAMPLE_CHARS} chars at temperature 1, "
        f"checked every ~{settings.check_every:g} s; seeds {', '.join(map(str, TRAINING_SEEDS))}"
    )
    print(
        "worst rise: largest increase of the mean loss from one check's chunk to the next "
        "(0% = it only ever fell); nats/ch: mean loss per character over the last chunk"
    )
    print()


# ----------------------------------------------------------------------------------- grid
def grid_search(corpus: Corpus, settings: Settings) -> None:
    """Batch size x learning rate at H=100 T=25, then H x T for the two best of those."""
    base = DASHBOARD_DEFAULTS
    stage_one = [
        base.replace(hidden_size=100, seq_length=25, batch_size=batch_size, learning_rate=lr)
        for batch_size in (1, 8, 16, 32)
        for lr in (0.05, 0.1, 0.2, 0.3)
    ]
    ranked = run_grid_stage("stage 1: batch size x learning rate", stage_one, corpus, settings)
    best_pairs = [(c.batch_size, c.learning_rate) for c, _ in ranked[:2]]
    stage_two = [
        base.replace(hidden_size=H, seq_length=T, batch_size=batch_size, learning_rate=lr)
        for batch_size, lr in best_pairs
        for H in (64, 100, 128)
        for T in (25, 50)
        if (H, T) != (100, 25)
    ]
    ranked_two = run_grid_stage("stage 2: hidden size x seq length", stage_two, corpus, settings)
    print("overall ranking (median seconds):")
    overall = sorted(ranked + ranked_two, key=lambda pair: rank_key(pair[1]))
    for config, runs in overall[:8]:
        print(f"  {format_seconds(median_seconds(runs), settings):>8}  {describe(config)}")


def run_grid_stage(
    title: str, configs: Sequence[rnnlab.Config], corpus: Corpus, settings: Settings
) -> list[tuple[rnnlab.Config, list[RunResult]]]:
    print(f"{title} (budget {settings.budget:g} s per run)", file=sys.stderr, flush=True)
    contenders = [engine_contender(describe(c), corpus, c) for c in configs]
    contenders = [Contender(c.name, "", c.seq_length, c.make) for c in contenders]
    results = run_all(contenders, corpus, settings, give_up_after_failures=2)
    print(title)
    print_table(contenders, results, settings, against=None)
    print()
    pairs = [(c, results[describe(c)]) for c in configs]
    return sorted(pairs, key=lambda pair: rank_key(pair[1]))


def rank_key(runs: Sequence[RunResult]) -> tuple[bool, float, float]:
    """Never-diverging first, then by median seconds, then by mean seconds of passing runs."""
    passed = [r.seconds for r in runs if math.isfinite(r.seconds)]
    return (
        any(r.diverged for r in runs),
        median_seconds(runs),
        statistics.mean(passed) if passed else math.inf,
    )


# ----------------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="data/lyrics.txt")
    parser.add_argument("--threshold", type=float, default=0.4, help="share of words to reach")
    parser.add_argument("--budget", type=float, default=300.0, help="training seconds per run")
    parser.add_argument("--check-every", type=float, default=0.25, help="training seconds")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    for name in ("hidden_size", "seq_length", "learning_rate", "batch_size"):
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=type(getattr(DASHBOARD_DEFAULTS, name)),
            default=getattr(DASHBOARD_DEFAULTS, name),
            help="dashboard candidate (default: rnnlab.presets.DASHBOARD_DEFAULTS)",
        )
    parser.add_argument("--grid", action="store_true", help="run the search for the defaults")
    parser.add_argument("--grid-budget", type=float, default=30.0, help="seconds per grid run")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.budget = args.grid_budget = 0.3
        args.check_every = 0.1

    corpus = load_corpus(args.corpus)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    settings = Settings(args.threshold, args.budget, args.check_every, clock)
    if args.grid:
        settings = Settings(args.threshold, args.grid_budget, args.check_every, clock)
        print_preamble(corpus, settings, args.clock)
        grid_search(corpus, settings)
        return

    candidate = DASHBOARD_DEFAULTS.replace(
        hidden_size=args.hidden_size,
        seq_length=args.seq_length,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
    )
    contenders = [
        reference_contender(corpus),
        engine_contender("classic", corpus, CLASSIC),
        engine_contender("dashboard", corpus, candidate),
    ]
    results = run_all(contenders, corpus, settings)
    print_preamble(corpus, settings, args.clock)
    print_table(contenders, results, settings, against="baseline")
    dashboard = median_seconds(results["dashboard"])
    ratio = median_seconds(results["baseline"]) / dashboard if math.isfinite(dashboard) else 0.0
    verdict = "meets" if ratio >= 3 else "misses"
    print(f"\ndashboard reaches words {ratio:.2f}x sooner than baseline ({verdict} the 3x target)")


if __name__ == "__main__":
    main()
