"""What a run costs in memory, estimated from its settings before anything is allocated.

A shared server must refuse a setting that would take it down (hidden size 1024 with a batch of
256 and chunks of 500 characters needs gigabytes of chunk buffers) before it tries, and say what
would fit. `check(config, vocab_size, limit)` does that; `training_bytes` is the estimate:

* parameter-sized copies, P numbers each (rnnlab.architecture: P = H·V + H·H + V·H + H + V for
  the classic RNN, about G times the recurrent part for a cell of G gates, more with layers), of
  8 bytes (float64) or 4 (float32): the parameters, their gradients, the optimizer's memory (k
  arrays: 1 for Adagrad and RMSprop, 2 for Adam), the copy at rest (parameters and memory), the
  best model, the rollback snapshots (parameters and memory each) and a state handed out for
  drawing;
* the chunk buffers of one iteration, per layer: (T + 1)·B·H hidden states and T·B·G·H gate
  values (an LSTM's cell states and their tanh besides), then the gradients of one layer at a
  time, T·B·V probabilities and the products built from them, what makes the first layer's
  input gradient (the inputs as one-hot columns, or a scatter-add's indices and float64
  weights), and the transposed copies of a layer's weights that each step multiplies by; with
  dropout, its masks and what each layer hands on through them.

While playing, a second process holds the same again (the session keeps a mirror).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import optimizer
from .architecture import Architecture
from .config import Config, smaller_setting
from .model import uses_one_hot
from .trainer import MAX_SNAPSHOTS


def parameter_copies(memory_slots: int) -> int:
    """Parameter-sized arrays a trainer holds when its optimizer keeps `memory_slots` of them:
    params, grads, the memory, the copy at rest (params + memory), the best model, a state being
    drawn (params + memory), and the rollback snapshots (trainer.MAX_SNAPSHOTS of them, params +
    memory each)."""
    k = memory_slots
    return 1 + 1 + k + (1 + k) + 1 + (1 + k) + (1 + k) * MAX_SNAPSHOTS


PARAMETER_COPIES = parameter_copies(1)  # the classic's (Adagrad)
# The chunk's (T·B, V) arrays: the probabilities, and the temporaries of the output layer's
# products and softmax.
OUTPUT_COPIES = 3
# What every trainer holds besides: the text's ids, the records of a run, the interpreter's share.
OVERHEAD = 8 * 2**20


@dataclass(frozen=True)
class Cost:
    """Estimated bytes of one trainer, by what they are for."""

    parameters: int  # parameter-sized copies
    chunk: int  # one iteration's buffers

    @property
    def total(self) -> int:
        return self.parameters + self.chunk + OVERHEAD


def training_bytes(config: Config, vocab_size: int) -> Cost:
    """The memory one trainer at `config` on a text of `vocab_size` characters needs."""
    arch = Architecture.of(config, vocab_size)
    H, V, T, B = config.hidden_size, vocab_size, config.seq_length, config.batch_size
    G, L = arch.gates, arch.layers
    per_layer = (
        (T + 1) * B * H
        + T * B * G * H
        + (2 * T + 1) * B * H * arch.lstm
        + T * B * H * (arch.cell == "gru")
    )
    # One layer's gradients at a time: dh and the gates' (the GRU's recurrent ones besides).
    gradients = T * B * H * (1 if arch.cell == "rnn" and L == 1 else 2) + T * B * G * H * (
        (arch.cell != "rnn") + (arch.cell == "gru")
    )
    # The first layer's input gradient: a product with the inputs as (V, T·B) one-hot columns,
    # or one bincount with (character, row) cell indices of 8 bytes and its weights converted to
    # float64 when the model is float32.
    if uses_one_hot(arch, B):
        scatter = arch.itemsize * V * T * B
    else:
        scatter = 8 * T * B * G * H * (1 + (arch.itemsize < 8))
    # The transposed copies of a layer's weights that the steps multiply by (model.Workspace).
    weight_copies = arch.itemsize * G * H * (V + H + H * (L > 1) + 1)
    # Dropout's masks and what each layer hands on through them, and the masks' booleans.
    dropout = (2 * arch.itemsize + 1) * L * T * B * H if config.dropout else 0
    chunk = (
        arch.itemsize * (L * per_layer + gradients + OUTPUT_COPIES * T * B * V)
        + scatter
        + weight_copies
        + dropout
    )
    copies = parameter_copies(optimizer.slots(config.optimizer))
    return Cost(arch.itemsize * copies * arch.param_count, chunk)


def check(
    config: Config,
    vocab_size: int,
    limit: int,
    processes: int = 1,
    why_twice: str = "the play process and the page's mirror",
) -> None:
    """ValueError, naming the biggest factor and a setting that fits, when `processes` trainers
    at `config` would need more than `limit` bytes (why_twice: what the second one is)."""
    cost = training_bytes(config, vocab_size)
    if cost.total * processes <= limit:
        return

    def fitting(candidate: Config) -> bool:
        return training_bytes(candidate, vocab_size).total * processes <= limit

    if cost.chunk >= cost.parameters:
        what = f"chunk buffers of {_size(cost.chunk)} (sequence length × batch size × units)"
        fits = smaller_setting(config, ("batch_size", "seq_length"), fitting)
    else:
        what = f"{_size(cost.parameters)} of parameter copies (hidden size {config.hidden_size})"
        fits = smaller_setting(config, ("hidden_size",), fitting)
    twice = f" (twice: {why_twice})" if processes > 1 else ""
    raise ValueError(
        f"These settings need about {_size(cost.total * processes)}{twice}, more than the "
        f"{_size(limit)} a session may use here; most of it is {what}. {fits}"
    )


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:,.0f} MB"
