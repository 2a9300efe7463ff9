"""The engine's training speed against the engine of commit 9d99d8d, side by side in one process.

    python bench/gated_speed.py [--repeats 5] [--seconds 2] [--profile] [--only TEXT] [--quick]

Both engines train on Tiny Shakespeare (../shared/data/tinyshakespeare.txt) on one BLAS thread,
the way the dashboard trains (health recorded every 10 iterations): issue 21's rows in float32
with Adam, then bench/speed.py's (the classic RNN in float64 with Adagrad), where the new engine
must be no slower. The old
engine is imported from a git worktree of 9d99d8d (BASELINE_DIR; created with `git worktree add`
when missing and this is a git checkout). Each repeat goes round every row, the old and the new
engine in turn (which goes first alternates), timing each for about --seconds of CPU time; the
table gives the median training characters per second of each, their ratio and the target.

--profile: afterwards, where one iteration's time goes in each engine at the gated rows, from
cProfile (the recurrence's forward and backward loops, the input projection, the first layer's
weight gradient, the rest of forward_backward, the clip, the optimizer, the rest of the step).

--only TEXT: just the rows whose label contains TEXT (e.g. "Adagrad", "LSTM H=512").

--quick: 1 repeat of about 0.05 s per row and engine (seconds, for the test suite); without the
worktree it compares the engine with itself, and says so.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import os
import pstats
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import rnnlab  # noqa: E402

TEXT_FILE = REPO.parent / "shared/data/tinyshakespeare.txt"
BASELINE_COMMIT = "9d99d8d"
BASELINE_DIR = Path("/tmp/rnnlab_9d99d8d")
BASELINE_MODULE = "rnnlab_9d99d8d"


@dataclass(frozen=True)
class Row:
    cell: str
    H: int
    T: int
    B: int
    target: float | None  # the least new / old speed ratio wanted (issue 21), None: none
    classic: bool = False  # bench/speed.py's setting: float64, Adagrad, learning rate 0.1

    @property
    def label(self) -> str:
        setting = "f64 Adagrad" if self.classic else "f32 Adam"
        return f"{self.cell.upper()} H={self.H} T={self.T} B={self.B} {setting}"


# Issue 21's rows, then bench/speed.py's (the classic RNN), where the new engine must be no
# slower: NOT_SLOWER allows for the noise of two runs of the same code.
NOT_SLOWER = 0.97
ROWS = (
    Row("lstm", 128, 50, 32, 1.8),
    Row("lstm", 512, 50, 32, 1.6),
    Row("gru", 128, 50, 32, 1.1),
    Row("gru", 512, 50, 32, 1.2),
    Row("rnn", 100, 25, 16, None),
    Row("rnn", 512, 50, 32, 1.1),
    Row("rnn", 100, 25, 1, NOT_SLOWER, classic=True),
    Row("rnn", 256, 25, 1, NOT_SLOWER, classic=True),
    Row("rnn", 512, 50, 1, NOT_SLOWER, classic=True),
    Row("rnn", 100, 25, 32, NOT_SLOWER, classic=True),
    Row("rnn", 100, 25, 64, NOT_SLOWER, classic=True),
)


def baseline_engine(quick: bool) -> tuple[ModuleType, str]:
    """The 9d99d8d package, imported under another name, and how it was found."""
    if not (BASELINE_DIR / "rnnlab/__init__.py").is_file():
        if quick:
            return rnnlab, "NO BASELINE: the engine compared with itself (no worktree)"
        created = subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", str(BASELINE_DIR), BASELINE_COMMIT],
            capture_output=True,
            text=True,
        )
        if created.returncode != 0:
            sys.exit(
                f"The baseline engine is missing from {BASELINE_DIR} and could not be made "
                f"({created.stderr.strip()}). Make it with:\n"
                f"  git -C {REPO} worktree add {BASELINE_DIR} {BASELINE_COMMIT}"
            )
    spec = importlib.util.spec_from_file_location(
        BASELINE_MODULE,
        BASELINE_DIR / "rnnlab/__init__.py",
        submodule_search_locations=[str(BASELINE_DIR / "rnnlab")],
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[BASELINE_MODULE] = module  # its relative imports resolve under this name
    spec.loader.exec_module(module)
    return module, f"{BASELINE_COMMIT} from {BASELINE_DIR}"


def trainer_for(engine: ModuleType, row: Row, text: str):
    size = {"cell": row.cell, "hidden_size": row.H, "seq_length": row.T, "batch_size": row.B}
    if row.classic:
        config = engine.Config(**size, seed=0)
    else:
        config = engine.Config(
            **size, dtype="float32", optimizer="adam", learning_rate=0.002, seed=0
        )
    trainer = engine.Trainer(text, config)
    trainer.divergence_factor = None  # the bench measures time, whatever the loss does
    trainer.step(2)  # warm up
    return trainer


def chars_per_second(trainer, row: Row, seconds: float) -> float:
    """Training characters per CPU second over about `seconds`, in blocks of iterations."""
    start = time.process_time()
    iterations = 0
    while time.process_time() - start < seconds:
        trainer.step(2)
        iterations += 2
    return iterations * row.T * row.B / (time.process_time() - start)


def measure(
    rows: list[Row], engines: dict[str, ModuleType], text: str, repeats: int, seconds: float
):
    """{row: {engine name: median chars/s}}, the engines taking turns within each repeat."""
    trainers = {
        row: {name: trainer_for(e, row, text) for name, e in engines.items()} for row in rows
    }
    speeds = {row: {name: [] for name in engines} for row in rows}
    for repeat in range(repeats):
        for row in rows:
            order = list(engines) if repeat % 2 == 0 else list(engines)[::-1]
            for name in order:
                speeds[row][name].append(chars_per_second(trainers[row][name], row, seconds))
    return {
        row: {name: statistics.median(v) for name, v in by.items()} for row, by in speeds.items()
    }


# The functions each phase of the profile is, by name in either engine (the first layer's weight
# gradient is named differently in 9d99d8d).
PHASES = {
    "recurrence forward": ("_rnn_forward", "_gru_forward", "_lstm_forward"),
    "recurrence backward": ("_rnn_backward", "_gru_backward", "_lstm_backward"),
    "input projection": ("_input_projection",),
    "first layer's weight gradient": ("_scatter_input_grads", "_input_grads"),
}


def profile(engine: ModuleType, row: Row, text: str, iterations: int) -> dict[str, float]:
    """CPU seconds per iteration in each phase of one engine's training step, from cProfile's
    cumulative times of the functions that make each phase (PHASES, forward_backward, the clip,
    the optimizer's update); the rest of forward_backward is the output layer, the weight
    gradients' products and the state's copies."""
    trainer = trainer_for(engine, row, text)
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(trainer.step, iterations)
    package = Path(engine.__file__).parent
    spent: dict[str, float] = {}
    for (file, _, function), (_, _, _, cumulative, _) in pstats.Stats(profiler).stats.items():
        if Path(file).parent != package:
            continue
        name = Path(file).stem + "." + function
        spent[name] = spent.get(name, 0.0) + cumulative
    phases = {
        phase: sum(spent.get(f"model.{function}", 0.0) for function in functions)
        for phase, functions in PHASES.items()
    }
    inside = sum(phases.values())
    phases["output layer, weight products, rest"] = spent["model.forward_backward"] - inside
    phases["clip"] = spent.get("model.clip_gradients", 0.0)
    phases["optimizer (Adam)"] = spent.get("optimizer.update", 0.0)
    total = spent["trainer.step"]
    phases["rest of the step"] = total - spent["model.forward_backward"] - phases["clip"]
    phases["rest of the step"] -= phases["optimizer (Adam)"]
    phases["total"] = total
    return {name: value / iterations for name, value in phases.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="", help="the rows whose label contains this text")
    args = parser.parse_args()
    rows = [row for row in ROWS if args.only in row.label]
    if args.quick:
        args.repeats, args.seconds = 1, 0.05
    text = TEXT_FILE.read_text(encoding="utf-8")
    old, source = baseline_engine(args.quick)
    print(f"baseline: {source}")
    print(
        f"{os.cpu_count()} cores; one BLAS thread; {args.repeats} interleaved repeats of "
        f"{args.seconds:g} s CPU per row and engine; medians; no slower: new/old >= {NOT_SLOWER}"
    )
    speeds = measure(rows, {"old": old, "new": rnnlab}, text, args.repeats, args.seconds)
    print(f"\n{'row':36} {'old chars/s':>12} {'new chars/s':>12} {'new/old':>8}  target")
    for row in rows:
        ratio = speeds[row]["new"] / speeds[row]["old"]
        verdict = (
            "-" if row.target is None else
            f">= {row.target:g}  {'met' if ratio >= row.target else 'MISSED'}"
        )  # fmt: skip
        print(
            f"{row.label:36} {speeds[row]['old']:12,.0f} {speeds[row]['new']:12,.0f} "
            f"{ratio:8.2f}  {verdict}"
        )
    if args.profile:
        for row in (r for r in rows if r.cell != "rnn"):
            report_profile(row, {"old": old, "new": rnnlab}, text, args.repeats, args.quick)


def report_profile(row: Row, engines: dict[str, ModuleType], text: str, repeats: int, quick: bool):
    """Print the median of `repeats` profiles of each engine (taking turns) at `row`."""
    iterations = 2 if quick else max(4, round(400_000 / (row.H * row.H)))
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in engines}
    for _ in range(repeats):
        for name, engine in engines.items():
            runs[name].append(profile(engine, row, text, iterations))
    print(f"\nWhere an iteration's time goes, {row.label} (ms per iteration, CPU; medians)")
    print(f"{'phase':38} {'old':>8} {'new':>8}")
    for phase in runs["old"][0]:
        old_ms, new_ms = (1e3 * statistics.median(r[phase] for r in runs[n]) for n in engines)
        print(f"{phase:38} {old_ms:8.2f} {new_ms:8.2f}")


if __name__ == "__main__":
    main()
