"""Adagrad over one flat parameter buffer, exactly as the classic min-char-rnn applies it."""

from __future__ import annotations

import numpy as np

# Keeps the first steps finite where a parameter's squared-gradient memory is still zero.
ADAGRAD_EPSILON = 1e-8


class Adagrad:
    """mem += d²;  param += -lr · d / sqrt(mem + 1e-8), element-wise over a flat buffer.

    The operations and their order match the classic line for line, so a batch of one reproduces
    its updates to the last bit; two scratch buffers avoid allocating on every step.
    """

    def __init__(self, size: int):
        self.memory = np.zeros(size)
        self._step = np.empty(size)
        self._scale = np.empty(size)

    def update(self, params: np.ndarray, grads: np.ndarray, learning_rate: float) -> None:
        np.multiply(grads, grads, out=self._step)
        self.memory += self._step
        np.multiply(grads, -learning_rate, out=self._step)
        np.add(self.memory, ADAGRAD_EPSILON, out=self._scale)
        np.sqrt(self._scale, out=self._scale)
        self._step /= self._scale
        params += self._step
