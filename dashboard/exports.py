"""A run's history as the CSV a person downloads: written row by row from its bounded record."""

from __future__ import annotations

import math

import numpy as np

from rnnlab.state import TrainerState, chars_seen_at, per_iteration_at


def history_csv(state: TrainerState) -> str:
    """A run's history as CSV text: one row per row of its loss record, which is one per
    iteration but for a long run's older history (rnnlab.records), where a row stands for
    `iterations` iterations ending at `iteration`, with their mean raw loss and the smoothed loss
    at its end (sequence length, learning rate and bits per character at its end too). Bounded
    however long the run trained."""
    ends = state.loss_iterations
    spans = np.diff(ends, prepend=0)
    seq = per_iteration_at(state.config, state.events, "seq_length", ends - 1)
    lr = per_iteration_at(state.config, state.events, "learning_rate", ends - 1)
    chars = chars_seen_at(state.config, state.events, ends)
    bits = state.losses / seq / math.log(2)
    validation = dict(state.validation_history)
    lines = [
        "iteration,iterations,chars_seen,seq_length,learning_rate,loss,smooth_loss,bits_per_char,"
        "val_nats_per_char"
    ]
    for row in zip(
        ends.tolist(), spans.tolist(), chars.tolist(), seq.tolist(), lr.tolist(),
        state.losses.tolist(), state.smooth_losses.tolist(), bits.tolist(), strict=True,
    ):  # fmt: skip
        end, span, seen, length, rate, loss, smooth, per_char = row
        val = validation.get(end)
        lines.append(
            f"{end},{span},{int(seen)},{int(length)},{rate:g},{loss:.6f},{smooth:.6f},"
            f"{per_char:.6f},{'' if val is None else f'{val:.6f}'}"
        )
    return "\n".join(lines) + "\n"
