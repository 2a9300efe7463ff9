"""Loop-form reference implementation of the classic character-level vanilla RNN.

This module is the deliberately slow, textbook (min-char-rnn style) version of
the model that the vectorised engine in :mod:`rnnlab` implements.  It exists
for two reasons:

* **Test oracle.**  Every line maps one-to-one onto the equations, so it is easy
  to convince yourself it is right; the engine is then tested against it.
* **Benchmark baseline.**  ``bench/speed.py`` reports the engine's speed as a
  multiple of this implementation's.

Do not optimise it.  Its value is that it is obviously correct, not fast.

Conventions (``V`` = vocabulary size, ``H`` = hidden size, ``T`` = sequence
length):

* inputs are one-hot column vectors ``x_t`` of shape ``(V, 1)``;
* hidden states are column vectors of shape ``(H, 1)``;
* parameters are a dict with ``Wxh (H, V)``, ``Whh (H, H)``, ``Why (V, H)``,
  ``bh (H, 1)`` and ``by (V, 1)``.

Model, for ``t = 0 .. T-1``::

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)
    y_t = Why h_t + by
    p_t = exp(y_t) / sum(exp(y_t))
    loss = sum_t -log p_t[target_t]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["PARAM_NAMES", "ReferenceTrainer", "reference_loss_and_grads"]

Params = dict[str, np.ndarray]

#: Parameter names, in the order the random initial weights are drawn.
PARAM_NAMES: tuple[str, ...] = ("Wxh", "Whh", "Why", "bh", "by")

#: Element-wise gradient clip bound, as in min-char-rnn (mitigates exploding
#: gradients in plain BPTT).
CLIP = 5.0


def reference_loss_and_grads(
    params: Params,
    inputs: Sequence[int],
    targets: Sequence[int],
    h_prev: np.ndarray,
    clip: bool = True,
) -> tuple[float, Params, np.ndarray]:
    """Loss, gradients and final hidden state for one sequence, by explicit loops.

    Args:
        params: ``Wxh (H, V)``, ``Whh (H, H)``, ``Why (V, H)``, ``bh (H, 1)``,
            ``by (V, 1)``.  Not modified.
        inputs: ``T`` input character ids.
        targets: ``T`` target character ids (normally ``inputs`` shifted by one).
        h_prev: hidden state ``(H, 1)`` before the first step.  Not modified.
        clip: clip every gradient element-wise to ``[-5, 5]``.  Pass ``False``
            for gradient checking.

    Returns:
        ``(loss, grads, h_last)``: the summed cross-entropy in nats, a dict of
        gradients keyed and shaped like ``params``, and the hidden state
        ``(H, 1)`` after the last step.
    """
    Wxh, Whh, Why = params["Wxh"], params["Whh"], params["Why"]
    bh, by = params["bh"], params["by"]
    V = Wxh.shape[1]
    T = len(inputs)
    if len(targets) != T:
        raise ValueError(f"inputs and targets differ in length: {T} vs {len(targets)}")

    xs: dict[int, np.ndarray] = {}
    hs: dict[int, np.ndarray] = {}
    ys: dict[int, np.ndarray] = {}
    ps: dict[int, np.ndarray] = {}
    # Key -1 holds the incoming state so the recurrence reads the same at t = 0.
    hs[-1] = np.array(h_prev, dtype=np.float64, copy=True)
    loss = 0.0

    for t in range(T):
        xs[t] = np.zeros((V, 1))
        xs[t][int(inputs[t])] = 1.0
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys[t] = np.dot(Why, hs[t]) + by
        # Un-shifted softmax on purpose: it is the textbook formula, and with
        # the small weights this model uses the logits never get near overflow.
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][int(targets[t]), 0])

    dWxh = np.zeros_like(Wxh)
    dWhh = np.zeros_like(Whh)
    dWhy = np.zeros_like(Why)
    dbh = np.zeros_like(bh)
    dby = np.zeros_like(by)
    # Gradient arriving at h_t from step t+1; nothing arrives from beyond T-1.
    dhnext = np.zeros_like(hs[0])

    for t in reversed(range(T)):
        # d loss / d y_t for softmax + cross-entropy is p_t - onehot(target_t).
        dy = np.copy(ps[t])
        dy[int(targets[t])] -= 1.0
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        # tanh'(a) = 1 - tanh(a)^2, and hs[t] already is tanh(a).
        dhraw = (1.0 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)

    grads = {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}
    if clip:
        for dparam in grads.values():
            np.clip(dparam, -CLIP, CLIP, out=dparam)
    return float(loss), grads, hs[T - 1] if T > 0 else hs[-1]


def sample(
    params: Params,
    h: np.ndarray,
    seed_ix: int,
    n: int,
    rng: np.random.Generator,
) -> list[int]:
    """Draw ``n`` character ids from the model, one at a time.

    Args:
        params: model parameters (see :func:`reference_loss_and_grads`).
        h: hidden state ``(H, 1)`` to start from.  Not modified.
        seed_ix: id of the character fed in first.
        n: number of ids to draw.
        rng: source of randomness.

    Returns:
        The ``n`` sampled ids; ``seed_ix`` itself is not included.
    """
    Wxh, Whh, Why = params["Wxh"], params["Whh"], params["Why"]
    bh, by = params["bh"], params["by"]
    V = Wxh.shape[1]
    x = np.zeros((V, 1))
    x[seed_ix] = 1.0
    ixes: list[int] = []
    for _ in range(n):
        h = np.tanh(np.dot(Wxh, x) + np.dot(Whh, h) + bh)
        y = np.dot(Why, h) + by
        p = np.exp(y) / np.sum(np.exp(y))
        ix = int(rng.choice(V, p=p.ravel()))
        # Each drawn character becomes the next input, as in the classic loop.
        x = np.zeros((V, 1))
        x[ix] = 1.0
        ixes.append(ix)
    return ixes


class ReferenceTrainer:
    """Classic min-char-rnn training loop: one stream, truncated BPTT, Adagrad.

    Attributes:
        data: the training text as integer ids, shape ``(N,)``.
        vocab_size: ``V``.
        hidden_size: ``H``.
        seq_length: ``T``, characters per iteration.
        learning_rate: Adagrad step size.
        params: current parameters (see :func:`reference_loss_and_grads`).
        mem: Adagrad accumulators of squared gradients, keyed like ``params``.
        h: hidden state ``(H, 1)`` carried from one iteration to the next.
        pointer: index in ``data`` where the next sequence starts.
        iteration: number of completed iterations.
        smooth_loss: exponential moving average of the per-iteration loss.
        losses: raw loss of every completed iteration.
    """

    def __init__(
        self,
        data: np.ndarray,
        vocab_size: int,
        hidden_size: int = 100,
        seq_length: int = 25,
        learning_rate: float = 0.1,
        params: Params | None = None,
        seed: int | None = None,
    ) -> None:
        """Set up the model.

        Args:
            data: training text as integer ids ``(N,)``, each ``< vocab_size``.
            vocab_size: ``V``.
            hidden_size: ``H``; ignored in favour of the shapes of ``params``
                when those are given.
            seq_length: ``T``.
            learning_rate: Adagrad step size.
            params: initial parameters to start from (deep-copied, so the
                caller's arrays are never touched).  If ``None`` they are drawn
                like the engine draws them: ``Wxh``, ``Whh``, ``Why`` from
                ``standard_normal * 0.01`` in that order, biases zero.
            seed: seed for ``np.random.default_rng`` when drawing ``params``.
        """
        self.data = np.asarray(data)
        self.vocab_size = int(vocab_size)
        self.seq_length = int(seq_length)
        self.learning_rate = float(learning_rate)
        if params is None:
            H, V = int(hidden_size), self.vocab_size
            rng = np.random.default_rng(seed)
            # Draw order matters: it is what lets a test reproduce the engine's
            # initial weights from the same seed.
            self.params = {
                "Wxh": rng.standard_normal((H, V)) * 0.01,
                "Whh": rng.standard_normal((H, H)) * 0.01,
                "Why": rng.standard_normal((V, H)) * 0.01,
                "bh": np.zeros((H, 1)),
                "by": np.zeros((V, 1)),
            }
        else:
            self.params = {k: np.array(params[k], dtype=np.float64, copy=True) for k in PARAM_NAMES}
        self.hidden_size = self.params["Whh"].shape[0]
        self.mem = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.h = np.zeros((self.hidden_size, 1))
        self.pointer = 0
        self.iteration = 0
        # Loss of a uniform prediction over V characters for T steps, so the
        # average starts where an untrained model actually is.
        self.smooth_loss = float(-np.log(1.0 / self.vocab_size) * self.seq_length)
        self.losses: list[float] = []

    def step(self, n: int = 1) -> float:
        """Run ``n`` training iterations; return the raw loss of the last one."""
        T = self.seq_length
        loss = float("nan")
        for _ in range(n):
            # Restart from the beginning with a fresh state once a full
            # input/target window no longer fits.
            if self.iteration == 0 or self.pointer + T + 1 >= len(self.data):
                self.h = np.zeros((self.hidden_size, 1))
                self.pointer = 0
            p = self.pointer
            inputs = self.data[p : p + T]
            targets = self.data[p + 1 : p + T + 1]
            loss, grads, self.h = reference_loss_and_grads(self.params, inputs, targets, self.h)
            for name in PARAM_NAMES:
                param, dparam, mem = self.params[name], grads[name], self.mem[name]
                mem += dparam * dparam
                # The 1e-8 keeps the first steps finite where mem is still 0.
                param += -self.learning_rate * dparam / np.sqrt(mem + 1e-8)
            self.smooth_loss = self.smooth_loss * 0.999 + loss * 0.001
            self.losses.append(loss)
            self.pointer += T
            self.iteration += 1
        return loss

    def sample(self, h: np.ndarray, seed_ix: int, n: int, rng: np.random.Generator) -> list[int]:
        """Sample ``n`` ids from the current parameters (see :func:`sample`)."""
        return sample(self.params, h, seed_ix, n, rng)
