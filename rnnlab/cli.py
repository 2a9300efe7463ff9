"""Command line: train a char-RNN on a text file, or sample from a saved checkpoint.

    python -m rnnlab train lyrics.txt --hidden 128 --steps 5000 --save lyrics.npz
    python -m rnnlab train lyrics.txt --from english --steps 2000 --save lyrics.npz
    python -m rnnlab sample lyrics.npz --text lyrics.txt --prime "The " -n 300

A thin layer over the public API: flag ranges and help come from Config, every check is the
engine's own. Bad input ends with one `error: ...` line on stderr and exit status 2; Ctrl-C during
training finishes the current iteration, saves (with --save) and exits with status 130.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import NoReturn, TextIO

import rnnlab
from rnnlab.config import SHORT_NAMES
from rnnlab.presets import TRANSFER_SETTINGS
from rnnlab.schedule import TRANSFER_VALIDATION_EVERY_CHARS, VALIDATION_EVERY_CHARS, Schedule
from rnnlab.text import MAX_VOCAB

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 1
EXIT_INTERRUPTED = 130  # what shells report for a process stopped by SIGINT
# Progress lines: smooth_loss is per chunk (nats summed over seq_length characters, as in the
# classic); validation loss is per character, in nats and in bits, the latest measured (the
# schedule measures it every --val-every characters trained, as the dashboard does).
LOG_HEADER = "    iter  smooth_loss  val nats/char  bits/char     chars/s"
# Training runs in blocks of at most this many iterations between checks for Ctrl-C.
MAX_BLOCK = 10

# Flag -> Config field. Types, ranges and help are read from Config.
CONFIG_FLAGS = SHORT_NAMES


class UsageError(Exception):
    """A bad command line; reported as one line instead of argparse's usage text."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _config_flag_help(field: str) -> str:
    if rnnlab.Config.kind(field) is str:
        choices = ", ".join(rnnlab.Config.choices(field))
        text = (
            f"{rnnlab.Config.help(field)} One of {choices}; default {rnnlab.Config.default(field)}."
        )
        return text.replace("%", "%%")
    low, high = rnnlab.Config.range(field)
    default = rnnlab.Config.default(field)
    shown_default = "random, printed at start" if default is None else _number(default)
    text = f"{rnnlab.Config.help(field)} Range {_number(low)}..{_number(high)}"
    return f"{text}; default {shown_default}.".replace("%", "%%")  # argparse %-formats help


def _settings(settings: dict) -> str:
    flags = {field: flag for flag, field in CONFIG_FLAGS.items()}
    return " ".join(f"--{flags[name]} {_number(value)}" for name, value in settings.items())


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m rnnlab", description="Train a character-level RNN on a text.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train on a text file")
    train.add_argument("file", help="the text to learn (UTF-8, UTF-16 with BOM, or cp1252)")
    for flag, field in CONFIG_FLAGS.items():
        kind = rnnlab.Config.kind(field)
        choices = rnnlab.Config.choices(field) if kind is str else None
        train.add_argument(
            f"--{flag}", type=kind, choices=choices, default=None, help=_config_flag_help(field)
        )
    bases = ", ".join(rnnlab.base_models()) or "none bundled"
    train.add_argument(
        "--from",
        dest="base",
        metavar="BASE",
        help=f"start from a base model's weights: a bundled base's name ({bases}) or a "
        "checkpoint file, on any text. The network (--cell, --layers, --hidden, --dtype) is "
        "then the base's; unset training flags take the transfer defaults "
        f"({_settings(TRANSFER_SETTINGS)})",
    )
    train.add_argument(
        "--steps", type=int, default=1000, help="iterations to train (>= 0; default 1000)"
    )
    train.add_argument(
        "--log-every",
        type=int,
        default=100,
        help="print a progress line every N iterations (0: never; default 100)",
    )
    train.add_argument(
        "--sample-every",
        type=int,
        default=500,
        help="print a sample every N iterations (0: never; default 500)",
    )
    train.add_argument(
        "--sample-length", type=int, default=200, help="characters per sample (default 200)"
    )
    train.add_argument(
        "--val-every",
        type=int,
        default=None,
        metavar="CHARS",
        help=f"measure the validation loss after every CHARS characters trained (>= 1; default "
        f"{VALIDATION_EVERY_CHARS:,}, or {TRANSFER_VALIDATION_EVERY_CHARS:,} with --from)",
    )
    train.add_argument(
        "--temperature", type=float, default=1.0, help="sampling temperature (0: greedy; default 1)"
    )
    train.add_argument(
        "--save", metavar="PATH", help="write a checkpoint here at the end and on Ctrl-C"
    )

    sample = commands.add_parser("sample", help="generate text from a saved checkpoint")
    sample.add_argument("model", help="a checkpoint written by `train --save`")
    sample.add_argument("--text", required=True, help="the text the model was trained on")
    sample.add_argument("--prime", default=None, help="text to read before generating")
    sample.add_argument("-n", type=int, default=200, help="characters to generate (default 200)")
    sample.add_argument("--temperature", type=float, default=1.0, help="0 is greedy (default 1)")
    sample.add_argument("--seed", type=int, default=None, help="seed for a reproducible sample")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        if args.command == "train":
            return _train(args, sys.stdout)
        return _sample(args, sys.stdout)
    except (UsageError, ValueError, OSError) as error:
        print(f"error: {_one_line(str(error))}", file=sys.stderr)
        return EXIT_BAD_INPUT


# ---------------------------------------------------------------------------------- train
def _train(args: argparse.Namespace, out: TextIO) -> int:
    for name in ("steps", "log_every", "sample_every", "sample_length"):
        _require(getattr(args, name) >= 0, f"--{name.replace('_', '-')} cannot be negative")
    _require(args.val_every is None or args.val_every >= 1, "--val-every must be at least 1")
    _require_temperature(args.temperature)
    if args.save:
        folder = os.path.dirname(os.path.abspath(args.save))
        _require(
            os.path.isdir(folder), f"cannot save to {args.save}: folder {folder} does not exist"
        )

    text, info = rnnlab.load_text(_read(args.file))
    text, rare = rnnlab.cap_vocabulary(text)  # as the dashboard does: the same model fits both
    chosen = {field: getattr(args, flag) for flag, field in CONFIG_FLAGS.items()}
    chosen = {field: value for field, value in chosen.items() if value is not None}
    if args.base:
        trainer = rnnlab.Trainer.from_base(text, args.base, **chosen)
    else:
        trainer = rnnlab.Trainer(text, rnnlab.Config(**chosen))
    c = trainer.config
    print(
        f"{args.file}: {info.n_chars:,} characters ({info.describe()}), "
        f"{trainer.vocab.size} distinct; "
        f"{trainer.arch.label} H={c.hidden_size} T={c.seq_length} lr={c.learning_rate:g} "
        f"B={c.batch_size} {c.optimizer} seed={c.seed} val={c.val_fraction:g} "
        + (f"dropout={c.dropout:g} " if c.dropout else "")
        + f"({trainer.param_count:,} parameters)",
        file=out,
    )
    if trainer.origin is not None:
        print(trainer.origin.describe(), file=out)
    if rare is not None:
        print(
            f"{rare.describe()}: the text has {rare.distinct:,} different characters, more than "
            f"the {MAX_VOCAB} a model learns",
            file=out,
        )
    if args.log_every:
        print(LOG_HEADER, file=out)

    status = 0
    with _CtrlC() as ctrl_c:
        try:
            _run(trainer, args, out, ctrl_c)
        except KeyboardInterrupt:  # a second Ctrl-C, or one raised by the step itself
            ctrl_c.pressed = True
        except rnnlab.DivergenceError as error:
            print(f"error: {_one_line(str(error))}", file=sys.stderr)
            status = EXIT_DIVERGED
    if ctrl_c.pressed:
        print(f"interrupted at iteration {trainer.iteration}", file=out)
        status = EXIT_INTERRUPTED
    if args.save:
        _save(trainer, args.save)
        print(f"saved {args.save} (iteration {trainer.iteration})", file=out)
    return status


def _run(trainer: rnnlab.Trainer, args: argparse.Namespace, out: TextIO, ctrl_c: _CtrlC) -> None:
    schedule = Schedule(trainer, keep_timeline=False, validation_every_chars=args.val_every)
    intervals = [n for n in (args.log_every, args.sample_every) if n]
    end = trainer.iteration + args.steps
    clock, chars = time.perf_counter(), trainer.chars_seen
    while trainer.iteration < end and not ctrl_c.pressed:
        # Stop at the next iteration where something is printed.
        block = min(
            [end - trainer.iteration, MAX_BLOCK] + [n - trainer.iteration % n for n in intervals]
        )
        report = schedule.train(iterations=block)
        if report.divergence:
            raise rnnlab.DivergenceError(report.divergence)
        if args.log_every and trainer.iteration % args.log_every == 0:
            now = time.perf_counter()
            speed = (trainer.chars_seen - chars) / max(now - clock, 1e-9)
            _log_line(trainer, speed, out)
            clock, chars = time.perf_counter(), trainer.chars_seen
        if args.sample_every and trainer.iteration % args.sample_every == 0:
            text = trainer.sample(args.sample_length, temperature=args.temperature)
            print(f"---- sample at iteration {trainer.iteration} ----", file=out)
            print("\n".join("    " + line for line in text.split("\n")), file=out)
            clock = time.perf_counter()  # sampling time is not training speed


def _log_line(trainer: rnnlab.Trainer, chars_per_second: float, out: TextIO) -> None:
    history = trainer.validation_history
    nats = history[-1][1] if history else None
    val = (
        (f"{nats:>13.4f}  {nats / math.log(2):>9.4f}")
        if nats is not None
        else f"{'-':>13}  {'-':>9}"
    )
    print(
        f"{trainer.iteration:>8}  {trainer.smooth_loss:>11.4f}  {val}  {chars_per_second:>10,.0f}",
        file=out,
    )
    out.flush()


def _save(trainer: rnnlab.Trainer, path: str) -> None:
    """Write the checkpoint next to `path` and move it into place, so that an interrupted save
    never leaves a half-written file where a good one was."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".rnnlab-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as file:
            trainer.save(file)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


class _CtrlC:
    """Turns the first Ctrl-C into a request to stop between iterations.

    A KeyboardInterrupt raised inside Trainer.step could land between the parameter update and
    the bookkeeping, and the checkpoint saved afterwards would not resume exactly. A second
    Ctrl-C interrupts at once.
    """

    def __init__(self) -> None:
        self.pressed = False
        self._installed = False
        self._previous: object = None

    def __enter__(self) -> _CtrlC:
        # Signal handlers can only be installed from the main thread.
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._installed:
            # None means the previous handler was not set from Python; the default is closest.
            signal.signal(
                signal.SIGINT, self._previous if self._previous is not None else signal.SIG_DFL
            )

    def _handle(self, signum: int, frame: object) -> None:
        if self.pressed:
            raise KeyboardInterrupt
        self.pressed = True


# --------------------------------------------------------------------------------- sample
def _sample(args: argparse.Namespace, out: TextIO) -> int:
    _require(args.n >= 0, "-n cannot be negative")
    _require_temperature(args.temperature)
    text, _ = rnnlab.load_text(_read(args.text))
    text, _ = rnnlab.cap_vocabulary(text)  # as `train` read it
    if not os.path.isfile(args.model):
        raise ValueError(f"cannot read {args.model}: no such file")
    trainer = rnnlab.Trainer.load(args.model, text)
    continuation = trainer.sample(
        args.n, prime=args.prime, temperature=args.temperature, seed=args.seed
    )
    print((args.prime or "") + continuation, file=out)
    return 0


# -------------------------------------------------------------------------------- helpers
def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise OSError(f"cannot read {path}: {error.strerror or error}") from error


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise UsageError(message)


def _require_temperature(temperature: float) -> None:
    _require(
        math.isfinite(temperature) and temperature >= 0,
        "--temperature must be 0 (greedy) or positive",
    )


def _one_line(message: str) -> str:
    return " ".join(message.split())
