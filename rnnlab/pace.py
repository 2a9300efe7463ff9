"""What a run costs in time, estimated from its settings before anything trains.

One iteration cannot be interrupted, and on a shared server it holds its session's lock, so a
setting whose single iteration takes seconds must be refused before it runs, and a person should
know what Train N will cost before pressing it. `seconds_per_iteration(config, vocab_size)` is
the estimate: the work of one iteration, counted from the shapes (`iteration_work`), times the
rates of this machine, measured once per process by a short calibration (`machine_rates`; its
cost and the estimate's accuracy: docs/hosting.md and `python bench/pace.py`).

The work of one iteration (forward and backward over T·B characters, then the clip and the
optimizer's update), with H hidden units, V characters, P parameters, G gates and L layers:

* matrix products: per layer, T steps of (B, H) x (H, G·H) forward and T − 1 back, and the
  (G·H, T·B) x (T·B, H) weight gradient; between layers, (T·B, H) x (H, G·H) forward and two
  products back; the output layer's (T·B, H) x (H, V) forward and two products back;
* element-wise passes over the (T·B, G·H) chunk arrays, a gated cell's (T·B, H) state, the
  (T·B, V) probabilities and the P-sized parameters, gradients and optimizer memory (Adam's
  update makes about twice Adagrad's passes), and each step's read of the recurrent matrix;
* tanh of every pre-activation and exp of every logit;
* NumPy calls: a few per time step (about ten times as many for a gated cell's gate maths),
  which at small sizes cost more than their arithmetic.

G is 1 for the vanilla cell (a GRU has 3, an LSTM 4: their recurrent matrix is G times as tall);
both come from the config (its cell and layers).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np

from .config import Config, smaller_setting

# Element-wise float64 touches (a read or a write of one number) per element of each array in
# one iteration, counted from model.forward_backward, trainer.step and optimizer.Adagrad:
# the chunk's hidden arrays (take, bias, recurrent add, tanh' (2), dh accumulate and product, the
# hidden-state copies and the Wxh scatter), the probabilities (bias, max, shift, sum, divide,
# dy's scaling and its column sums) and the parameter-sized arrays (clip; Adagrad's six passes;
# the bincount's (V, H) result copied in; a snapshot every 25 iterations, health every 10).
HIDDEN_TOUCHES = 24
OUTPUT_TOUCHES = 14
PARAMETER_TOUCHES = 24
# A gated cell's gate maths, per unit of each layer's (T, B, H) chunk: about 110 passes over
# row slices of its (B, G·H) gates and (B, H) state each step (model._gru_forward/_backward,
# _lstm_forward/_backward), which cost several times what whole-array passes do (the
# calibration's); the number is fitted to the measured time of bench/pace.py's gated rows.
STATE_TOUCHES = {1: 0, 3: 370, 4: 370}
# The optimizers' passes over the parameters beyond Adagrad's (optimizer.py): RMSprop's decay of
# its memory, Adam's second memory and its corrections.
OPTIMIZER_TOUCHES = {"adagrad": 0, "rmsprop": 7, "adam": 15}
# NumPy calls per time step of each layer, by gates (the RNN's forward: product, add, tanh;
# back: add, product, product; a gated cell's about thirty, on 2-D slices that cost about twice
# the calibration's tiny calls: fitted as STATE_TOUCHES is), and per iteration besides:
# forward_backward's whole-chunk work (about 40 calls), the step's gather, checks and records,
# clip and the update, and the Python between them, which costs about as much again.
CALLS_PER_STEP = {1: 6, 3: 60, 4: 60}
CALLS_PER_ITERATION = 150
# Dropout, per unit of each layer's (T, B, H) chunk: the random draw (about as dear as four
# passes), the comparison and the scaling that make the mask, and the mask's product forward and
# back.
DROPOUT_TOUCHES = 12


@dataclass(frozen=True)
class Work:
    """What one iteration does, in the units the machine's rates are measured in."""

    flops: float  # of matrix products, 2 per multiply-add
    touches: float  # element-wise reads and writes of float64 numbers
    transcendentals: float  # tanh and exp evaluations
    calls: float  # NumPy calls


@dataclass(frozen=True)
class Rates:
    """Seconds per unit of Work on this machine, as this process runs NumPy."""

    flop: float
    touch: float
    transcendental: float
    call: float
    calibration_seconds: float  # what measuring them took

    def seconds(self, work: Work) -> float:
        return (
            work.flops * self.flop
            + work.touches * self.touch
            + work.transcendentals * self.transcendental
            + work.calls * self.call
        )


def iteration_work(
    config: Config, vocab_size: int, *, gates: int | None = None, layers: int | None = None
) -> Work:
    """The work of one training iteration at `config` on a text of `vocab_size` characters, for
    a cell with `gates` times the vanilla recurrent matrix, in `layers` stacked layers (the
    config's cell and layers unless given). In float32 the products and passes move half the
    bytes, and count half (bench/cells.py measures 1.8x)."""
    G = config.gates if gates is None else gates
    L = config.layers if layers is None else layers
    if G < 1 or L < 1:
        raise ValueError("A model has at least one gate and one layer.")
    T, B, H, V = config.seq_length, config.batch_size, config.hidden_size, vocab_size
    narrow = 0.5 if config.dtype == "float32" else 1.0
    rows = T * B  # the chunk's characters, every stream's
    recurrent = L * (2 * B * H * G * H * (2 * T - 1) + 2 * G * H * rows * H)
    between_layers = (L - 1) * 3 * 2 * rows * H * G * H
    output = 3 * 2 * rows * H * V
    parameters = G * H * V + (L - 1) * G * H * H + L * (G * H * H + G * H) + V * H + V
    # Each step's product reads the whole recurrent matrix: with few streams that reading, not
    # the arithmetic, is what it costs.
    matrix_reads = L * (2 * T - 1) * G * H * H
    return Work(
        flops=narrow * float(recurrent + between_layers + output),
        touches=narrow
        * float(
            (HIDDEN_TOUCHES * G + STATE_TOUCHES.get(G, STATE_TOUCHES[4])) * rows * H * L
            + OUTPUT_TOUCHES * rows * V
            + (PARAMETER_TOUCHES + OPTIMIZER_TOUCHES[config.optimizer]) * parameters
            + matrix_reads
            + (DROPOUT_TOUCHES * rows * H * L if config.dropout else 0)
        ),
        transcendentals=float(rows * (G * H * L + V)),
        calls=float(CALLS_PER_STEP.get(G, CALLS_PER_STEP[4]) * T * L + CALLS_PER_ITERATION),
    )


@functools.cache
def machine_rates() -> Rates:
    """This machine's rates, measured once per process (a short calibration): a
    mid-sized matrix product, element-wise passes over an array that fits no cache, tanh, and
    NumPy calls on tiny arrays in a Python loop, each the fastest of three tries (the others
    met a busy moment)."""
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((32, 256)), rng.standard_normal((256, 256))
    product = np.empty((32, 256))
    big = rng.standard_normal(1 << 18)
    out = np.empty_like(big)
    small, tiny = rng.standard_normal((4, 4)), np.empty((4, 4))

    def products() -> None:
        for _ in range(8):
            np.dot(a, b, out=product)

    def passes() -> None:
        for _ in range(4):
            np.add(big, 1.0, out=out)  # one read and one write per number

    def tanhs() -> None:
        np.tanh(big[: 1 << 16], out=out[: 1 << 16])

    def calls() -> None:
        for _ in range(500):
            np.dot(small, small, out=tiny)
            np.add(tiny, small, out=tiny)
            np.tanh(tiny, out=tiny)

    call = _fastest(calls) / 1500
    touch = _fastest(passes) / (4 * 2 * len(big))
    rates = Rates(
        flop=_fastest(products) / (8 * 2 * 32 * 256 * 256),
        touch=touch,
        transcendental=max(0.0, _fastest(tanhs) / (1 << 16) - 2 * touch),
        call=call,
        calibration_seconds=0.0,
    )
    return Rates(**{**rates.__dict__, "calibration_seconds": time.perf_counter() - started})


def _fastest(run, tries: int = 3) -> float:
    best = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def seconds_per_iteration(
    config: Config, vocab_size: int, *, gates: int | None = None, layers: int | None = None
) -> float:
    """About how long one training iteration at `config` takes here (bench/pace.py compares it
    with the measured time)."""
    return machine_rates().seconds(iteration_work(config, vocab_size, gates=gates, layers=layers))


def check(
    config: Config,
    vocab_size: int,
    limit: float,
    *,
    gates: int | None = None,
    layers: int | None = None,
) -> None:
    """ValueError, naming a setting that fits, when one iteration at `config` would take longer
    than `limit` seconds."""
    seconds = seconds_per_iteration(config, vocab_size, gates=gates, layers=layers)
    if seconds <= limit:
        return

    def fits(candidate: Config) -> bool:
        return seconds_per_iteration(candidate, vocab_size, gates=gates, layers=layers) <= limit

    # A sequence length first: it applies at once, without a new run.
    proposal = smaller_setting(config, ("seq_length", "batch_size", "hidden_size"), fits)
    raise ValueError(
        f"One iteration at these settings would take about {seconds:.2g} s here, more than the "
        f"{limit:.2g} s one may take (an iteration cannot be interrupted, and holds its session "
        f"meanwhile). {proposal}"
    )
