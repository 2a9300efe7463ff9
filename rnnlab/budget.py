"""What a run costs in memory, estimated from its settings before anything is allocated.

A shared server must refuse a setting that would take it down (hidden size 1024 with a batch of
256 and chunks of 500 characters needs gigabytes of chunk buffers) before it tries, and say what
would fit. `check(config, vocab_size, limit)` does that; `training_bytes` is the estimate:

* parameter-sized copies, P = H·V + H·H + V·H + H + V numbers of 8 bytes each: the parameters,
  their gradients, the Adagrad memory, the copy at rest (parameters and memory), the best model,
  the rollback snapshots (parameters and memory each) and a state handed out for drawing;
* the chunk buffers of one iteration: (T + 1)·B·H hidden states, T·B·H pre-activations and as
  many hidden-state gradients, T·B·V probabilities and the products built from them.

While playing, a second process holds the same again (the session keeps a mirror).
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Config
from .model import param_count
from .trainer import MAX_SNAPSHOTS

FLOAT = 8  # bytes: the engine computes in float64
# Parameter-sized float64 arrays a trainer holds: params, grads, optimizer memory, the copy at
# rest (params + memory), the best model, two for a state being drawn, and the rollback snapshots
# (trainer.MAX_SNAPSHOTS of them, params + memory each).
PARAMETER_COPIES = 1 + 1 + 1 + 2 + 1 + 2 + 2 * MAX_SNAPSHOTS
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
    H, V, T, B = config.hidden_size, vocab_size, config.seq_length, config.batch_size
    chunk = FLOAT * ((T + 1) * B * H + 2 * T * B * H + OUTPUT_COPIES * T * B * V)
    return Cost(FLOAT * PARAMETER_COPIES * param_count(H, V), chunk)


def check(config: Config, vocab_size: int, limit: int, processes: int = 1) -> None:
    """ValueError, naming the biggest factor and a setting that fits, when `processes` trainers
    at `config` would need more than `limit` bytes."""
    cost = training_bytes(config, vocab_size)
    if cost.total * processes <= limit:
        return
    if cost.chunk >= cost.parameters:
        what = f"chunk buffers of {_size(cost.chunk)} (sequence length × batch size × units)"
        fits = _fitting(config, vocab_size, limit, processes, ("batch_size", "seq_length"))
    else:
        what = f"{_size(cost.parameters)} of parameter copies (hidden size {config.hidden_size})"
        fits = _fitting(config, vocab_size, limit, processes, ("hidden_size",))
    twice = " (twice: the play process and the page's mirror)" if processes > 1 else ""
    raise ValueError(
        f"These settings need about {_size(cost.total * processes)}{twice}, more than the "
        f"{_size(limit)} a session may use here; most of it is {what}. {fits}"
    )


def _fitting(
    config: Config, vocab_size: int, limit: int, processes: int, names: tuple[str, ...]
) -> str:
    """A sentence proposing the first of `names`, halved until the run fits."""
    for name in names:
        low = Config.range(name)[0]
        value = getattr(config, name)
        while value > low:
            value = value // 2
            if name == "hidden_size":
                value -= value % 4  # the slider's steps
            value = max(int(low), value)
            candidate = config.replace(**{name: value})
            if training_bytes(candidate, vocab_size).total * processes <= limit:
                return f"A {name.replace('_', ' ')} of {value} would fit."
    return "Lower the hidden size, batch size or sequence length."


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:,.0f} MB"
