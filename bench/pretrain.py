"""Pretrain the bundled base models from the public-domain corpora in ../shared/data.

    python bench/pretrain.py                 # every base in BASES, into data/base/
    python bench/pretrain.py --quick         # a few iterations each, into a temporary folder
    python bench/pretrain.py --only english --out /tmp/bases
    python bench/pretrain.py --compare         # which network transfers best per CPU-second

A base is a network that has read a lot of English, for a run on a small text to start from
(rnnlab.Trainer.from_base). The corpora stay where they are; only what this script derives enters
the repository: the network's weights and vocabulary (`<name>.npz`, a checkpoint with no
optimizer memory or records, float32), the facts of its card (`<name>.json`) and the card itself
(`<name>.md`).

The text. Tiny Shakespeare, *Pride and Prejudice* and *Moby-Dick* are each cut into PARTS parts
at paragraph breaks and dealt out in turn (Shakespeare, Austen, Melville, Shakespeare, ...), so
that every one of the batch's streams and the held-out end read all three. The held-out end is
the last round of parts, 1/PARTS of the text.

Training. Each base trains for a fixed number of iterations from a fixed seed, through
rnnlab.schedule.Schedule (validation every VALIDATE_EVERY characters on the first
VALIDATION_CHARS held-out characters, the best point kept), with one BLAS thread; the bases train
side by side, one process each, on as many cores as there are. A progress line every
PROGRESS_SECONDS says how far each has got. The weights saved are the best validation point's;
the card's held-out loss is read on the whole held-out end.

How the bases were chosen (--compare): each of CANDIDATES pretrains for the same CPU time
(--minutes, 6 by default), then is carried over to each small text of bench/transfer.py and trained
there for 30 CPU-seconds through the dashboard's schedule (bench/transfer.run); the table gives
each candidate's held-out bits/char on the corpus and on each text. docs/benchmarks.md, "Starting
from a base model".
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import rnnlab  # noqa: E402
from rnnlab.architecture import Architecture  # noqa: E402
from rnnlab.bases import BASE_DIR  # noqa: E402
from rnnlab.schedule import Schedule  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
CORPORA = (
    ("tinyshakespeare.txt", "Tiny Shakespeare (the plays, concatenated)"),
    ("pride_and_prejudice.txt", "Jane Austen, Pride and Prejudice (1813)"),
    ("moby_dick.txt", "Herman Melville, Moby-Dick (1851)"),
)
PARTS = 40
VALIDATE_EVERY = 2_000_000
VALIDATION_CHARS = 50_000
PROGRESS_SECONDS = 30.0
QUICK_ITERATIONS = 30
# The networks --compare weighs against each other, each at the bases' training settings.
CANDIDATES = {
    "GRU, H=256": {"cell": "gru", "hidden_size": 256},
    "LSTM, H=256": {"cell": "lstm", "hidden_size": 256},
    "2-layer LSTM, H=192": {"cell": "lstm", "hidden_size": 192, "layers": 2},
    "GRU, H=384": {"cell": "gru", "hidden_size": 384},
}


@dataclass(frozen=True)
class Recipe:
    """How one base is made: its network and training settings, and how long it trains."""

    name: str
    config: rnnlab.Config
    iterations: int
    # The learning rate halves at these shares of the iterations: big steps while the network
    # is far from good, small ones to settle at the end.
    halve_at: tuple[float, ...] = (0.6, 0.85)


BASES = (
    Recipe(
        "english",
        rnnlab.Config(
            cell="gru", hidden_size=256, layers=1, dtype="float32", optimizer="adam",
            learning_rate=0.002, seq_length=100, batch_size=32, val_fraction=1 / PARTS, seed=0,
        ),
        iterations=28_000,
    ),
)  # fmt: skip


def corpus_text() -> str:
    """The three corpora dealt out in PARTS rounds of paragraph-aligned parts (see above)."""
    parts = []
    for file, _ in CORPORA:
        text = (SHARED / file).read_text(encoding="utf-8")
        cuts = [0]
        for k in range(1, PARTS):
            brk = text.find("\n\n", k * len(text) // PARTS)
            cuts.append(brk + 2 if brk > 0 else k * len(text) // PARTS)
        cuts.append(len(text))
        parts.append([text[a:b] for a, b in zip(cuts, cuts[1:], strict=False)])
    return "".join(part for k in range(PARTS) for part in (p[k] for p in parts))


def log(line: str) -> None:
    print(line, flush=True)


def pretrain(recipe: Recipe, out: Path, iterations: int) -> dict:
    """Train one base and write its three files into `out`; returns the card's facts."""
    text = corpus_text()
    trainer = rnnlab.Trainer(text, recipe.config)
    schedule = Schedule(trainer, keep_timeline=False, validation_every_chars=VALIDATE_EVERY)
    started = time.process_time()
    shown = time.monotonic()
    halvings = [round(share * iterations) for share in recipe.halve_at]
    while trainer.iteration < iterations:
        if halvings and trainer.iteration >= halvings[0]:
            halvings.pop(0)
            trainer.set_learning_rate(trainer.config.learning_rate / 2)
        until = min([iterations, trainer.iteration + 200, *halvings])
        report = schedule.train(iterations=until - trainer.iteration)
        if report.divergence:
            raise SystemExit(f"{recipe.name}: {report.divergence}")
        if time.monotonic() - shown >= PROGRESS_SECONDS or trainer.iteration >= iterations:
            shown = time.monotonic()
            cpu = time.process_time() - started
            done = trainer.iteration / iterations
            left = cpu / done * (1 - done) if done else math.nan
            history = trainer.validation_history
            val = history[-1][1] / math.log(2) if history else math.nan
            log(
                f"{recipe.name}: {done:6.1%} (iteration {trainer.iteration:,} of {iterations:,}), "
                f"{cpu / 60:5.1f} CPU-min, {trainer.chars_seen / cpu:,.0f} chars/s, smoothed "
                f"{rnnlab.state.bits_per_char(trainer.smooth_loss, trainer.config.seq_length):.3f} "
                f"bits/char, held-out {val:.3f}, about {left / 60:.0f} min to go"
            )
    cpu_seconds = time.process_time() - started
    trainer.record_validation(VALIDATION_CHARS)
    trainer.restore_best()
    held_out = trainer.validation_loss() / math.log(2)
    facts = card_facts(recipe, trainer, text, cpu_seconds, held_out)
    write_base(recipe, trainer, out, facts)
    log(f"{recipe.name}: held-out {held_out:.3f} bits/char; wrote {out / recipe.name}.npz")
    return facts


def card_facts(
    recipe: Recipe, trainer: rnnlab.Trainer, text: str, cpu_seconds: float, held_out: float
) -> dict:
    c = recipe.config
    arch = trainer.arch
    network = f"{arch.label.replace(' float32', '')}, H={c.hidden_size}, {c.dtype}"
    return {
        "name": recipe.name,
        "summary": f"a {arch.label.replace(' float32', '')} that has read "
        f"{len(text) / 1e6:.1f} million characters of English",
        "network": network,
        "corpus": [title for _, title in CORPORA],
        "corpus_chars": len(text),
        "vocabulary": len(trainer.vocab.chars),
        "parameters": arch.param_count,
        "config": c.to_dict(),
        "halve_at": list(recipe.halve_at),
        "iterations": trainer.iteration,
        "chars_trained": trainer.chars_seen,
        "epochs": round(trainer.epochs, 2),
        "best_iteration": trainer.best.iteration,
        "cpu_seconds": round(cpu_seconds, 1),
        "held_out_chars": trainer.val_size,
        "held_out_bits_per_char": round(held_out, 4),
        "made": date.today().isoformat(),
        "command": "python bench/pretrain.py",
    }


def write_base(recipe: Recipe, trainer: rnnlab.Trainer, out: Path, facts: dict) -> None:
    """The weights as a checkpoint of a run that has not started (no optimizer memory, hidden
    state or records: they would be most of the file, and a transfer starts them afresh)."""
    out.mkdir(parents=True, exist_ok=True)
    fresh = rnnlab.Trainer(trainer.held_out_text + trainer.train_text, recipe.config).state()
    weights = dataclasses.replace(fresh, params=trainer.best.params)
    with open(out / f"{recipe.name}.npz", "wb") as file:
        rnnlab.checkpoint.save_state(weights, file)
    (out / f"{recipe.name}.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    (out / f"{recipe.name}.md").write_text(model_card(facts), encoding="utf-8")


def model_card(f: dict) -> str:
    c = f["config"]
    rows = (
        ("network", f"{f['network']}, {f['parameters']:,} parameters, "
                    f"{f['vocabulary']} characters"),
        ("corpus", f"{'; '.join(f['corpus'])}: {f['corpus_chars']:,} characters, all in the "
                   "public domain (Project Gutenberg editions, headers removed)"),
        ("how it is read", f"each text cut into {PARTS} parts at paragraph breaks and dealt out "
                           f"in turn; the last round ({f['held_out_chars']:,} characters) is "
                           "held out"),
        ("training", f"Adam, learning rate {c['learning_rate']:g} (halved at "
                     f"{' and '.join(f'{share:.0%}' for share in f['halve_at'])} of the way), "
                     f"{c['batch_size']} streams, "
                     f"sequence length {c['seq_length']}, seed {c['seed']}, no dropout; "
                     f"{f['iterations']:,} iterations, {f['chars_trained']:,} characters "
                     f"({f['epochs']:g} epochs)"),
        ("CPU time", f"{f['cpu_seconds'] / 60:.1f} minutes on one core (2-core AMD EPYC VM, "
                     "NumPy with one BLAS thread)"),
        ("kept", f"the weights of the best validation point (iteration {f['best_iteration']:,})"),
        ("held-out loss", f"**{f['held_out_bits_per_char']:.3f} bits per character** on the "
                          "whole held-out end"),
    )  # fmt: skip
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return f"""# Base model `{f["name"]}`: {f["summary"]}

Made by `{f["command"]}` on {f["made"]}; rebuild it with the same command (it reads the corpora
from `../shared/data/`, which stay there). Start from it with
`rnnlab.Trainer.from_base(text, "{f["name"]}")`, `python -m rnnlab train lyrics.txt --from
{f["name"]}` or the dashboard's "Start from".

| | |
|---|---|
{table}

The file is a checkpoint of the network's weights and vocabulary only: its optimizer memory,
hidden state and records are empty, as a run that starts from it starts them afresh.
"""


def candidate(label: str, minutes: float, folder: Path) -> tuple[str, float, float, Path]:
    """Pretrain one candidate for `minutes` of CPU time; (label, chars/s, held-out bits/char,
    its checkpoint)."""
    text = corpus_text()
    config = BASES[0].config.replace(**CANDIDATES[label])
    trainer = rnnlab.Trainer(text, config)
    schedule = Schedule(trainer, keep_timeline=False, validation_every_chars=10**12)
    started = time.process_time()
    while time.process_time() - started < minutes * 60:
        schedule.train(seconds=2.0)
    speed = trainer.chars_seen / (time.process_time() - started)
    held_out = trainer.validation_loss(VALIDATION_CHARS) / math.log(2)
    path = folder / f"{label.replace(' ', '').replace(',', '-').replace('=', '')}.npz"
    trainer.save(path)
    log(f"{label}: {speed:,.0f} chars/s, held-out {held_out:.3f} bits/char after {minutes:g} min")
    return label, speed, held_out, path


def compare(minutes: float, workers: int, seconds: float = 30.0) -> None:
    """Pretrain each candidate for the same CPU time, then carry it over to each small text."""
    import transfer  # bench/transfer.py, beside this file

    folder = Path(tempfile.mkdtemp(prefix="rnnlab-candidates-"))
    with ProcessPoolExecutor(workers) as pool:
        made = list(pool.map(candidate, CANDIDATES, [minutes] * len(CANDIDATES),
                             [folder] * len(CANDIDATES)))  # fmt: skip
        jobs = [
            transfer.Job(text, str(path), (), 0, seconds)
            for _, _, _, path in made
            for text in transfer.TEXTS
        ]
        results = list(pool.map(transfer.run, jobs))
    log(f"\n| candidate | chars/s | corpus held-out | {' | '.join(transfer.TEXTS)} |")
    log("|---|---:|---:|" + "---:|" * len(transfer.TEXTS))
    for label, speed, held_out, path in made:
        held = [r.held for r in results if r.job.start == str(path)]
        log(f"| {label} | {speed:,.0f} | {held_out:.3f} | "
            + " | ".join(f"{h:.3f}" for h in held) + " |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few iterations, not in data/")
    parser.add_argument("--only", help="the base to make (default: all of them)")
    parser.add_argument("--out", type=Path, default=None, help="folder (default data/base)")
    parser.add_argument("--compare", action="store_true", help="weigh the CANDIDATES instead")
    parser.add_argument("--minutes", type=float, default=6.0, help="--compare's pretraining")
    args = parser.parse_args()
    if args.compare:
        if args.quick:
            compare(0.05, os.cpu_count() or 1, seconds=1.0)
        else:
            compare(args.minutes, os.cpu_count() or 1)
        return
    recipes = [r for r in BASES if args.only in (None, r.name)]
    if not recipes:
        raise SystemExit(f"No base called {args.only!r}: {', '.join(r.name for r in BASES)}.")
    out = args.out or (Path(tempfile.mkdtemp(prefix="rnnlab-bases-")) if args.quick else BASE_DIR)
    for recipe in recipes:
        arch = Architecture.of(recipe.config, 100)
        log(f"{recipe.name}: {arch.label}, H={recipe.config.hidden_size}, "
            f"{recipe.iterations:,} iterations")  # fmt: skip
    workers = min(len(recipes), os.cpu_count() or 1)
    with ProcessPoolExecutor(workers) as pool:
        jobs = [
            pool.submit(pretrain, r, out, QUICK_ITERATIONS if args.quick else r.iterations)
            for r in recipes
        ]
        for job in jobs:
            facts = job.result()
            log(
                json.dumps({k: facts[k] for k in ("name", "held_out_bits_per_char", "cpu_seconds")})
            )
    log(f"wrote {len(recipes)} base(s) to {out}")


if __name__ == "__main__":
    main()
