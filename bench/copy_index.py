"""The memorisation meter's cost: building a CopyIndex of a text, and finding a sample's longest
verbatim copy in it (rnnlab.copying).

    python bench/copy_index.py [--shakespeare PATH] [--big-mb 50] [--repeated-mb 5]
                               [--queries 200] [--repeats 3] [--seed 0] [--quick]

Texts:
  lyrics       data/lyrics.txt, the bundled corpus (25 kB)
  shakespeare  Tiny Shakespeare, --shakespeare (default ../shared/data/tinyshakespeare.txt next to
               the repository; 1.1 MB)
  markov       --big-mb MB generated here from Tiny Shakespeare, never stored: a word-level order-2
               Markov chain over its white-space-delimited tokens (each token keeps the white
               space after it, so lines and speakers look like the play), seeded with --seed. It
               repeats Shakespeare's phrases many times over, as a large real corpus repeats its
               own.
  repeated     Tiny Shakespeare's first paragraph (1,000 characters) repeated to --repeated-mb MB:
               every suffix shares thousands of characters with others, the worst case for
               prefix doubling, which stops once rnnlab.copying.MAX_COPY characters are sorted.

Measures:
  build    CPU seconds (time.process_time) of CopyIndex(text), median of --repeats for texts up
           to 2 MB, one build above. This machine is shared, so wall time (also shown) measures
           the neighbours as much as the code; on an idle machine the two agree.
  memory   peak bytes traced by tracemalloc during one more build, per character of the text
           (NumPy reports its arrays to tracemalloc; the text itself existed before and is not
           counted). The letter table behind the word pattern is built once per process, before.
  query    median CPU (and wall) milliseconds of longest_copy over --queries samples of 300
           characters, made as a memorising model writes: copied stretches of the text (5 to 80
           characters, from uniformly random places) alternating with runs of 1 to 8 characters
           drawn uniformly from the text's vocabulary. Each answer is checked: the reported
           stretch is in the text where reported, and is as long as the longest planted one or
           longer.

--quick: a 0.2 MB markov text, 0.1 MB repeated, 20 queries, 1 repeat (seconds, for the test
suite).
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere, without installing the package

from rnnlab.copying import MAX_COPY, CopyIndex, word_patterns  # noqa: E402

DEFAULT_SHAKESPEARE = REPO.parent / "shared/data/tinyshakespeare.txt"
SAMPLE_CHARS = 300
CHEAP_CHARS = 2_000_000  # texts up to this size are built --repeats times
BUILD_SECONDS = 60.0  # targets, for the 50 MB text
BYTES_PER_CHAR = 16.0
QUERY_MS = 20.0  # for every text


@dataclass(frozen=True)
class Result:
    name: str
    chars: int
    vocabulary: int
    build_cpu: float
    build_wall: float
    bytes_per_char: float
    query_ms: float
    query_wall_ms: float
    longest_ms: float
    median_copy: float


def markov_text(source: str, size: int, seed: int) -> str:
    """`size` characters from a word-level order-2 Markov chain fitted to `source`.

    States are pairs of consecutive tokens (a run of non-space characters and the white space
    after it); the source is read as a loop, so that every state has a successor.
    """
    tokens = re.findall(r"\S+\s*", source)
    tokens += tokens[:2]
    state_of: dict[tuple[str, str], int] = {}
    last_token: list[str] = []  # the token a state ends with, written when the chain enters it
    walk = []
    for pair in zip(tokens, tokens[1:], strict=False):
        if pair not in state_of:
            state_of[pair] = len(last_token)
            last_token.append(pair[1])
        walk.append(state_of[pair])
    successors: list[list[int]] = [[] for _ in last_token]
    for state, following in zip(walk, walk[1:], strict=False):
        successors[state].append(following)
    choices = [tuple(options) for options in successors]
    lengths = [len(token) for token in last_token]
    uniform = random.Random(seed).random
    state, written, states = walk[0], 0, []
    while written < size:
        options = choices[state]
        state = options[int(uniform() * len(options))]
        states.append(state)
        written += lengths[state]
    return "".join(map(last_token.__getitem__, states))[:size]


def repeated_text(source: str, size: int) -> str:
    paragraph = source[: source.index("\n\n", 900) + 2]
    return paragraph * (size // len(paragraph))


def samples(text: str, count: int, seed: int) -> list[tuple[str, int]]:
    """`count` samples of SAMPLE_CHARS characters (see the module docstring), each with the
    length of the longest stretch copied into it."""
    rng = random.Random(seed)
    vocabulary = sorted(set(text))
    made = []
    for _ in range(count):
        parts, size, planted = [], 0, 0
        while size < SAMPLE_CHARS:
            length = rng.randint(5, 80)
            start = rng.randrange(len(text) - length)
            parts.append(text[start : start + length])
            planted = max(planted, min(length, SAMPLE_CHARS - size))
            parts.append("".join(rng.choices(vocabulary, k=rng.randint(1, 8))))
            size += len(parts[-2]) + len(parts[-1])
        made.append(("".join(parts)[:SAMPLE_CHARS], planted))
    return made


def measure(name: str, text: str, repeats: int, queries: int, seed: int) -> Result:
    builds = repeats if len(text) <= CHEAP_CHARS else 1
    cpu, wall = [], []
    for _ in range(builds):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        index = CopyIndex(text)
        cpu.append(time.process_time() - cpu_start)
        wall.append(time.perf_counter() - wall_start)
    del index
    tracemalloc.start()
    index = CopyIndex(text)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    cpu_times, wall_times, copies = [], [], []
    for sample, planted in samples(text, queries, seed):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        length, sample_start, text_start = index.longest_copy(sample)
        cpu_times.append(time.process_time() - cpu_start)
        wall_times.append(time.perf_counter() - wall_start)
        copied = sample[sample_start : sample_start + length]
        assert length >= planted and text[text_start : text_start + length] == copied, sample
        copies.append(length)
    return Result(
        name=name,
        chars=len(text),
        vocabulary=len(set(text)),
        build_cpu=statistics.median(cpu),
        build_wall=statistics.median(wall),
        bytes_per_char=peak / len(text),
        query_ms=1000 * statistics.median(cpu_times),
        query_wall_ms=1000 * statistics.median(wall_times),
        longest_ms=1000 * max(wall_times),
        median_copy=statistics.median(copies),
    )


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shakespeare", type=Path, default=DEFAULT_SHAKESPEARE)
    parser.add_argument("--big-mb", type=float, default=50, help="size of the Markov text")
    parser.add_argument("--repeated-mb", type=float, default=5, help="size of the repeated text")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.big_mb, args.repeated_mb, args.queries, args.repeats = 0.2, 0.1, 20, 1

    shakespeare = args.shakespeare.read_text(encoding="utf-8")
    started = time.perf_counter()
    markov = markov_text(shakespeare, int(args.big_mb * 1_000_000), args.seed)
    generated = time.perf_counter() - started
    texts = {
        "lyrics": (REPO / "data/lyrics.txt").read_text(encoding="utf-8"),
        "shakespeare": shakespeare,
        "markov": markov,
        "repeated": repeated_text(shakespeare, int(args.repeated_mb * 1_000_000)),
    }
    word_patterns()  # once per process; not part of any one index

    print(f"rnnlab.copying.CopyIndex, {date.today().isoformat()}")
    print(f"  machine     {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} before the run")
    print(f"  NumPy       {np.__version__}, Python {sys.version.split()[0]}")
    print(f"  markov      {len(markov):,} characters generated in {generated:.1f} s (not counted)")
    print(f"  max_copy    {MAX_COPY} characters (copies are exact up to this length)")
    print()
    header = (
        f"{'text':<12}{'chars':>12}{'V':>5}{'build cpu s':>13}{'wall s':>9}{'peak B/char':>13}"
        f"{'query cpu ms':>14}{'wall ms':>9}{'max ms':>8}{'copy':>6}"
    )
    print(header)
    print("-" * len(header))
    results = []
    for name, text in texts.items():
        result = measure(name, text, args.repeats, args.queries, args.seed)
        results.append(result)
        print(
            f"{name:<12}{result.chars:>12,}{result.vocabulary:>5}{result.build_cpu:>13.2f}"
            f"{result.build_wall:>9.2f}{result.bytes_per_char:>13.1f}{result.query_ms:>14.2f}"
            f"{result.query_wall_ms:>9.2f}{result.longest_ms:>8.2f}{result.median_copy:>6.0f}",
            flush=True,
        )
    print("max ms: the slowest query, wall time; copy: median length of the copies found")
    print("lyrics: its peak memory is mostly tables of fixed size, one entry per code point")
    big = next(result for result in results if result.name == "markov")
    repeated = next(result for result in results if result.name == "repeated")
    print(
        f"repeated: {repeated.build_cpu / repeated.chars * 1e6:.2f} cpu s per MB, against "
        f"{big.build_cpu / big.chars * 1e6:.2f} for markov: each round of prefix doubling\n"
        f"  re-sorts all of it, until the first {MAX_COPY} characters of every suffix are sorted"
    )
    print()
    slowest = max(results, key=lambda result: result.query_ms)
    targets = [
        (f"build {big.chars / 1e6:.0f} MB", f"<= {BUILD_SECONDS:.0f} s cpu",
         f"{big.build_cpu:.1f} s", big.build_cpu <= BUILD_SECONDS),
        (f"peak memory {big.chars / 1e6:.0f} MB", f"<= {BYTES_PER_CHAR:.0f} B/char",
         f"{big.bytes_per_char:.1f} B/char", big.bytes_per_char <= BYTES_PER_CHAR),
        (f"query (slowest text: {slowest.name})", f"<= {QUERY_MS:.0f} ms cpu median",
         f"{slowest.query_ms:.2f} ms", slowest.query_ms <= QUERY_MS),
    ]  # fmt: skip
    print(f"{'target':<36}{'goal':<22}{'measured':<14}")
    for label, goal, measured, met in targets:
        print(f"{label:<36}{goal:<22}{measured:<14}{verdict(met)}")
    if big.chars < 50_000_000:
        print(f"note: the targets are for 50 MB; this run built {big.chars / 1e6:g} MB")


if __name__ == "__main__":
    main()
