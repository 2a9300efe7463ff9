"""Training speed of the vectorised engine against the loop-form reference, and its memory use.

    python bench/speed.py [FILE] [--quick]

FILE defaults to the shared Tiny Shakespeare corpus (../shared/data/tinyshakespeare.txt next to
the repository). Both implementations train side by side in this process on the same text; each
configuration is timed for a fixed wall-clock budget after 5 warm-up iterations. Speeds are in
training characters per second (T * B characters per iteration) and as a share of this machine's
measured float64 matrix-multiply peak. Finally a subprocess (`--memory`) trains the engine on
~50 MB of text and reports its peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere, without installing the package

import rnnlab  # noqa: E402
from rnnlab.reference import ReferenceTrainer  # noqa: E402

DEFAULT_FILE = REPO.parent / "shared/data/tinyshakespeare.txt"
WARMUP_ITERATIONS = 5
MEMORY_TEXT_BYTES = 50_000_000
MEMORY_ITERATIONS = 50
FLOPS_FORMULA = "6*(H*V + H*H + V*H)"
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Case:
    H: int
    T: int
    B: int
    target: float | None  # minimum engine/reference speed ratio, None if not a target

    @property
    def label(self) -> str:
        return f"H={self.H} T={self.T} B={self.B}"


CASES = (
    Case(100, 25, 1, 2.5),
    Case(256, 25, 1, 5.0),
    Case(512, 50, 1, None),
    Case(100, 25, 32, 10.0),
    Case(100, 25, 64, None),
)


def flops_per_char(H: int, V: int) -> float:
    """Nominal matmul FLOPs per training character, forward + backward.

    Forward does three matrix-vector products per character (Wxh x, Whh h, Why h: 2*H*V,
    2*H*H and 2*V*H FLOPs, the input one counted dense, as the textbook does it); the backward
    pass does about twice that (one product for the input gradient, one for each weight
    gradient). The same nominal count is used for both implementations, so the share of peak
    compares useful work, not work actually executed.
    """
    return 6.0 * (H * V + H * H + V * H)


def matmul_peak_gflops(repeats: int) -> float:
    """Best float64 GFLOP/s of np.dot on 1024 x 1024 matrices (2 n^3 FLOPs per product)."""
    n = 1024
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    out = np.empty((n, n))
    np.dot(a, b, out=out)  # first call pays for thread start-up and page faults
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        np.dot(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best / 1e9


def chars_per_second(
    step: Callable[[int], object], chars_per_iteration: int, budget: float
) -> float:
    """Training characters per second of `step(n)` over about `budget` seconds.

    Iterations are run in growing blocks, so per-call overhead (e.g. the engine's rollback
    snapshot, taken once per step() call) is amortised as it is in real use, where a dashboard
    or script asks for many iterations at once.
    """
    step(WARMUP_ITERATIONS)
    iterations, block = 0, 1
    start = time.perf_counter()
    while True:
        step(block)
        iterations += block
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            break
        per_iteration = elapsed / iterations
        # ~1/20 of the budget per call, and never overshoot the budget by much.
        block = max(1, min(2 * block, int(0.05 * budget / per_iteration)))
    return iterations * chars_per_iteration / elapsed


def blas_name() -> str:
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:  # reporting only; the layout of show_config is not a stable API
        return "unknown"


def read_text(path: Path) -> str:
    text, info = rnnlab.load_text(path.read_bytes())
    if info.fallback:
        print(f"note: {path} is not UTF-8; decoded as {info.encoding}")
    return text


def run_speed(path: Path, budget: float, peak_repeats: int) -> list[tuple[Case, float]]:
    text = read_text(path)
    vocab = rnnlab.Vocab.from_text(text)
    data = vocab.encode(text)
    V = vocab.size
    peak = matmul_peak_gflops(peak_repeats)

    print("rnnlab training speed: vectorised engine vs loop-form reference")
    print(f"  text        {path} ({len(text):,} characters, V={V})")
    machine = f"{platform.machine()}, {_cpu_count()} CPUs, Python {platform.python_version()}"
    print(f"  machine     {machine}, NumPy {np.__version__}, BLAS {blas_name()}")
    # Other processes competing for the cores distort every number below, multi-threaded BLAS
    # calls most of all; the load average makes that visible in the output.
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"  load avg    {load} (1, 5, 15 min) before the run")
    threads = [f"{k}={os.environ[k]}" for k in THREAD_VARIABLES if k in os.environ]
    print(f"  threads     BLAS {', '.join(threads) or 'library default (no *_NUM_THREADS set)'}")
    print(f"  peak        {peak:.1f} GFLOP/s float64 (best of {peak_repeats} np.dot, 1024x1024)")
    print(f"  FLOPs/char  {FLOPS_FORMULA}  (nominal forward+backward matmuls, same for both)")
    print(
        f"  timing      {budget:g} s per measurement after {WARMUP_ITERATIONS} warm-up iterations"
    )
    print("  the reference always runs one stream (B=1) at the row's H and T; it is the baseline")
    print()

    header = (
        f"{'configuration':<22}{'ref chars/s':>13}{'engine chars/s':>16}{'ratio':>9}"
        f"{'ref %peak':>11}{'engine %peak':>14}{'target':>9}  result"
    )
    print(header)
    print("-" * len(header))
    reference_speed: dict[tuple[int, int], float] = {}
    results = []
    for case in CASES:
        key = (case.H, case.T)
        if key not in reference_speed:
            reference = ReferenceTrainer(data, V, hidden_size=case.H, seq_length=case.T, seed=0)
            reference_speed[key] = chars_per_second(reference.step, case.T, budget)
            del reference
        config = rnnlab.Config(hidden_size=case.H, seq_length=case.T, batch_size=case.B, seed=0)
        engine = rnnlab.Trainer(text, config)
        # The reference has no "loss far above uniform" guard, and at lr=0.1 with H=512 the
        # classic's early losses sit above 10x uniform for many iterations (2,692 vs 208.7 at
        # iteration 7 on Tiny Shakespeare); switch the guard off so both run the same maths.
        if hasattr(engine, "divergence_factor"):
            engine.divergence_factor = None
        engine_speed = chars_per_second(engine.step, case.T * case.B, budget)
        del engine
        ref_speed = reference_speed[key]
        ratio = engine_speed / ref_speed
        flops = flops_per_char(case.H, V)
        ref_share = ref_speed * flops / 1e9 / peak
        engine_share = engine_speed * flops / 1e9 / peak
        if case.target is None:
            target, verdict = "-", "-"
        else:
            target, verdict = f">={case.target:g}x", "PASS" if ratio >= case.target else "MISS"
        print(
            f"{case.label:<22}{ref_speed:>13,.0f}{engine_speed:>16,.0f}{ratio:>8.1f}x"
            f"{ref_share:>10.1%} {engine_share:>13.1%} {target:>9}  {verdict}",
            flush=True,
        )
        results.append((case, ratio))
    print()
    passed = sum(1 for case, ratio in results if case.target is not None and ratio >= case.target)
    targets = sum(1 for case in CASES if case.target is not None)
    print(f"speed targets met: {passed}/{targets}")
    return results


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def maxrss_bytes() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage if sys.platform == "darwin" else usage * 1024  # Linux reports KiB, macOS bytes


def current_rss_bytes() -> int | None:
    """Resident set size now (Linux /proc), or None where that is not available."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def run_memory(path: Path) -> None:
    """Child process: train the engine on ~50 MB of text and print a JSON line of measurements."""
    # Interpreter + NumPy + rnnlab, before any text exists. Not ru_maxrss: Linux carries the
    # parent's peak across fork + exec into the child's ru_maxrss, which would inflate the start.
    baseline = current_rss_bytes() or maxrss_bytes()
    small = read_text(path)
    text = small * max(1, round(MEMORY_TEXT_BYTES / len(small.encode("utf-8"))))
    del small
    text_bytes = sys.getsizeof(text)
    start = time.perf_counter()
    trainer = rnnlab.Trainer(text, rnnlab.Config(seed=0))
    build_seconds = time.perf_counter() - start
    start = time.perf_counter()
    trainer.step(MEMORY_ITERATIONS)
    train_seconds = time.perf_counter() - start
    peak = maxrss_bytes()
    print(
        json.dumps(
            {
                "n_chars": len(text),
                "text_bytes": text_bytes,
                "baseline_rss": baseline,
                "maxrss": peak,
                "build_seconds": build_seconds,
                "train_seconds": train_seconds,
                "iterations": MEMORY_ITERATIONS,
            }
        )
    )


def measure_memory(path: Path) -> subprocess.CompletedProcess[str]:
    """Run the --memory child. Call it while this process is still small: the child's
    ru_maxrss starts from this process's resident size at fork time (see run_memory)."""
    return subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--memory", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def report_memory(result: subprocess.CompletedProcess[str]) -> None:
    mib = 2**20
    print()
    print(
        f"memory: engine (defaults) on ~{MEMORY_TEXT_BYTES / 1e6:.0f} MB of text, fresh subprocess"
    )
    if result.returncode != 0:
        print(f"  FAILED (exit {result.returncode}):\n{result.stderr}")
        return
    m = json.loads(result.stdout.strip().splitlines()[-1])
    n_chars, text_bytes = m["n_chars"], m["text_bytes"]
    start, end = m["baseline_rss"], m["maxrss"]
    extra = end - start - text_bytes
    print(f"  text                 {n_chars:,} characters, str object {text_bytes / mib:,.1f} MiB")
    print(f"  RSS at start         {start / mib:,.1f} MiB (interpreter, NumPy, rnnlab)")
    print(
        f"  ru_maxrss at end     {end / mib:,.1f} MiB (Trainer() took {m['build_seconds']:.2f} s, "
        f"{m['iterations']} iterations {m['train_seconds']:.2f} s)"
    )
    print(
        f"  above text + start   {extra / mib:,.1f} MiB = {extra / n_chars:.2f} bytes per character"
        "  [(ru_maxrss_end - RSS_start - sizeof(text)) / n_chars]"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE, help="training text")
    parser.add_argument("--quick", action="store_true", help="1 s per measurement instead of 3 s")
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)  # the subprocess
    args = parser.parse_args(argv)
    if not args.file.is_file():
        parser.error(f"no such file: {args.file}")
    if args.memory:
        run_memory(args.file)
        return 0
    memory = measure_memory(args.file)  # first, before the speed runs grow this process
    if args.quick:
        run_speed(args.file, budget=1.0, peak_repeats=5)
    else:
        run_speed(args.file, budget=3.0, peak_repeats=10)
    report_memory(memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
