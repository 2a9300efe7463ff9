"""The update rules, each over one flat parameter buffer: Adagrad (the classic's), RMSprop, Adam.

Each keeps its memory in one flat array, `memory` (k·P,), so a state, a snapshot or a checkpoint
copies one array whatever the rule: Adagrad and RMSprop keep one number per parameter, Adam two
(the first moments, then the second). Scratch buffers avoid allocating on every step.
"""

from __future__ import annotations

import numpy as np

# Keeps the first steps finite where a parameter's squared-gradient memory is still zero.
EPSILON = 1e-8
ADAGRAD_EPSILON = EPSILON
RMSPROP_DECAY = 0.95  # char-rnn's default
ADAM_BETAS = (0.9, 0.999)  # Kingma and Ba's, and PyTorch's, defaults

OPTIMIZERS = ("adagrad", "rmsprop", "adam")


class Adagrad:
    """mem += d²;  param += -lr · d / sqrt(mem + 1e-8), element-wise over a flat buffer.

    The operations and their order match the classic line for line, so a batch of one reproduces
    its updates to the last bit.
    """

    slots = 1  # parameter-sized arrays of memory

    def __init__(self, size: int, dtype: type = np.float64):
        self.memory = np.zeros(self.slots * size, dtype)
        self._step = np.empty(size, dtype)
        self._scale = np.empty(size, dtype)

    def update(
        self, params: np.ndarray, grads: np.ndarray, learning_rate: float, step: int
    ) -> None:
        """step: the 1-based count of updates, this one included (Adam's bias correction)."""
        np.multiply(grads, grads, out=self._step)
        self.memory += self._step
        self._apply(params, grads, learning_rate, self.memory)

    def _apply(
        self, params: np.ndarray, grads: np.ndarray, learning_rate: float, memory: np.ndarray
    ) -> None:
        np.multiply(grads, -learning_rate, out=self._step)
        np.add(memory, EPSILON, out=self._scale)
        np.sqrt(self._scale, out=self._scale)
        self._step /= self._scale
        params += self._step


class RMSprop(Adagrad):
    """mem = 0.95 · mem + 0.05 · d²;  param += -lr · d / sqrt(mem + 1e-8).

    Adagrad with a decaying memory: its steps do not shrink for ever, so it keeps learning late.
    """

    def update(
        self, params: np.ndarray, grads: np.ndarray, learning_rate: float, step: int
    ) -> None:
        np.multiply(grads, grads, out=self._step)
        self._step *= 1.0 - RMSPROP_DECAY
        self.memory *= RMSPROP_DECAY
        self.memory += self._step
        self._apply(params, grads, learning_rate, self.memory)


class Adam(Adagrad):
    """m = 0.9 m + 0.1 d;  v = 0.999 v + 0.001 d²;  param += -lr · m̂ / (sqrt(v̂) + 1e-8), with
    m̂ = m / (1 − 0.9^step) and v̂ = v / (1 − 0.999^step) correcting the moments' start at zero."""

    slots = 2

    def update(
        self, params: np.ndarray, grads: np.ndarray, learning_rate: float, step: int
    ) -> None:
        beta1, beta2 = ADAM_BETAS
        size = grads.size
        m, v = self.memory[:size], self.memory[size:]
        m *= beta1
        np.multiply(grads, 1.0 - beta1, out=self._step)
        m += self._step
        np.multiply(grads, grads, out=self._step)
        self._step *= 1.0 - beta2
        v *= beta2
        v += self._step
        np.divide(v, 1.0 - beta2**step, out=self._scale)
        np.sqrt(self._scale, out=self._scale)
        self._scale += EPSILON
        np.divide(m, 1.0 - beta1**step, out=self._step)
        self._step *= -learning_rate
        self._step /= self._scale
        params += self._step


def make(name: str, size: int, dtype: type = np.float64) -> Adagrad:
    """The optimizer `name` (one of OPTIMIZERS) over `size` parameters."""
    return {"adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam}[name](size, dtype)


def slots(name: str) -> int:
    """Parameter-sized arrays of memory the optimizer `name` keeps."""
    return {"adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam}[name].slots
