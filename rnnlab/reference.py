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

The second half of the module (``reference_cell_*``, :func:`reference_update`,
:class:`ReferenceCellTrainer`) generalises this to GRU and LSTM cells, stacks of
``L`` layers and the Adagrad, RMSprop and Adam optimizers, in the same loop
form; the section header there states its model.  For ``cell="rnn"`` and one
layer it computes exactly what the classic functions above compute.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "CELLS",
    "GATES",
    "OPTIMIZERS",
    "PARAM_NAMES",
    "ReferenceCellTrainer",
    "ReferenceTrainer",
    "cell_param_names",
    "cell_param_shapes",
    "reference_cell_forward",
    "reference_cell_loss_and_grads",
    "reference_cell_sample",
    "reference_cell_state_grad",
    "reference_loss_and_grads",
    "reference_optimizer_memory",
    "reference_update",
]

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


# --- Cells, stacked layers and optimizers ------------------------------------------------------
#
# The same loop form, generalised.  ``V`` = vocabulary size, ``H`` = hidden size of every layer,
# ``L`` = number of layers, ``G`` = gate blocks per cell (GATES).
#
# Parameters: layer 1 has ``Wxh (G·H, V)``, ``Whh (G·H, H)``, ``bh (G·H, 1)``; layer k = 2..L has
# ``Wxh{k} (G·H, H)``, ``Whh{k} (G·H, H)``, ``bh{k} (G·H, 1)`` and reads layer k-1's ``h`` (never
# its LSTM cell state ``c``); the output ``Why (V, H)``, ``by (V, 1)`` reads the top layer's ``h``.
# The ``G·H`` rows are gate blocks of ``H`` rows: GRU (r, z, n), LSTM (i, f, o, g).
#
# One step of one layer, input ``x`` (one-hot ``(V, 1)`` at layer 1, else ``(H, 1)``)::
#
#     rnn:  h = tanh(Wxh x + Whh h_prev + bh)
#     gru:  a = Wxh x + bh;  u = Whh h_prev;  (a_r, a_z, a_n), (u_r, u_z, u_n) = blocks
#           r = σ(a_r + u_r);  z = σ(a_z + u_z);  n = tanh(a_n + r ⊙ u_n)
#           h = (1 - z) ⊙ n + z ⊙ h_prev
#     lstm: (a_i, a_f, a_o, a_g) = blocks of Wxh x + Whh h_prev + bh
#           i = σ(a_i);  f = σ(a_f);  o = σ(a_o);  g = tanh(a_g)
#           c = f ⊙ c_prev + i ⊙ g;  h = o ⊙ tanh(c)
#
# then ``y_t = Why h_t^(L) + by``, ``p_t = softmax(y_t)``, ``loss = sum_t -log p_t[target_t]``.
#
# Dropout (training only, Zaremba et al. 2014): given masks ``m[k, t]`` (0, or 1/(1 - p) for a
# kept unit), what layer k hands on at step t, to layer k+1 or the output, is ``h_t^(k) ⊙ m[k, t]``;
# what it carries to step t+1 is ``h_t^(k)`` itself.
#
# State: one column ``(S, 1)`` laid out layer by layer, ``h^(1), [c^(1)], h^(2), [c^(2)], ...``
# (the ``c`` blocks for LSTM only), so ``S = L·H`` (rnn, gru) or ``2·L·H`` (lstm).

#: Gate blocks per cell: the rows of every ``Wxh*``, ``Whh*`` and ``bh*`` are this many blocks of
#: ``H`` rows.
GATES: dict[str, int] = {"rnn": 1, "gru": 3, "lstm": 4}

#: The cells the reference knows.
CELLS: tuple[str, ...] = tuple(GATES)

#: The optimizers :func:`reference_update` knows.
OPTIMIZERS: tuple[str, ...] = ("adagrad", "rmsprop", "adam")

# Per-step dicts of what the forward computed, keyed by layer k (1-based) and then by step t.
Steps = dict[int, dict[int, dict[str, np.ndarray]]]


def _layer_names(k: int) -> tuple[str, str, str]:
    """Names of layer ``k``'s (1-based) input weights, recurrent weights and bias."""
    suffix = "" if k == 1 else str(k)
    return f"Wxh{suffix}", f"Whh{suffix}", f"bh{suffix}"


def _check_cell(cell: str, layers: int) -> None:
    if cell not in GATES:
        raise ValueError(f"Unknown cell {cell!r}; choose one of {', '.join(CELLS)}.")
    if int(layers) != layers or layers < 1:
        raise ValueError(f"layers must be a whole number of at least 1, not {layers!r}.")


def cell_param_names(layers: int) -> tuple[str, ...]:
    """Parameter names in canonical order: ``Wxh, Whh, Wxh2, Whh2, ..., Why, bh, bh2, ..., by``.

    For one layer this is exactly :data:`PARAM_NAMES`.
    """
    weights: list[str] = []
    biases: list[str] = []
    for k in range(1, layers + 1):
        Wxh, Whh, bh = _layer_names(k)
        weights += [Wxh, Whh]
        biases.append(bh)
    return (*weights, "Why", *biases, "by")


def cell_param_shapes(
    cell: str, layers: int, vocab_size: int, hidden_size: int
) -> dict[str, tuple[int, int]]:
    """Shape of every parameter, keyed in canonical order (see :func:`cell_param_names`)."""
    _check_cell(cell, layers)
    V, H, G = vocab_size, hidden_size, GATES[cell]
    shapes: dict[str, tuple[int, int]] = {}
    for name in cell_param_names(layers):
        if name == "Why":
            shapes[name] = (V, H)
        elif name == "by":
            shapes[name] = (V, 1)
        elif name.startswith("bh"):
            shapes[name] = (G * H, 1)
        elif name == "Wxh":
            shapes[name] = (G * H, V)
        else:
            shapes[name] = (G * H, H)
    return shapes


def _sizes(params: Params, cell: str, layers: int) -> tuple[int, int]:
    """``(V, H)`` read off ``Why``, after checking every parameter's presence and shape."""
    _check_cell(cell, layers)
    V, H = params["Why"].shape
    for name, shape in cell_param_shapes(cell, layers, V, H).items():
        if name not in params:
            raise ValueError(f"A {layers}-layer {cell} needs a parameter {name!r}; it is missing.")
        if params[name].shape != shape:
            raise ValueError(
                f"{name} has shape {params[name].shape}; a {layers}-layer {cell} with "
                f"V={V}, H={H} needs {shape}."
            )
    return V, H


def _split_state(
    state: np.ndarray, cell: str, layers: int, H: int
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray | None]]:
    """Per-layer copies ``h[k] (H, 1)`` and ``c[k] (H, 1)`` (``None`` unless LSTM) of a state."""
    per_layer = 2 * H if cell == "lstm" else H
    if state.shape != (layers * per_layer, 1):
        raise ValueError(
            f"The state has shape {state.shape}; a {layers}-layer {cell} with H={H} needs "
            f"({layers * per_layer}, 1): h, then c for LSTM, for each layer in turn."
        )
    hs: dict[int, np.ndarray] = {}
    cs: dict[int, np.ndarray | None] = {}
    for k in range(1, layers + 1):
        block = state[(k - 1) * per_layer : k * per_layer]
        hs[k] = np.array(block[:H], dtype=np.float64, copy=True)
        cs[k] = np.array(block[H:], dtype=np.float64, copy=True) if cell == "lstm" else None
    return hs, cs


def _join_state(hs: dict[int, np.ndarray], cs: dict[int, np.ndarray | None]) -> np.ndarray:
    """The ``(S, 1)`` state from per-layer ``h`` and ``c``, the inverse of :func:`_split_state`."""
    blocks: list[np.ndarray] = []
    for k in sorted(hs):
        blocks.append(hs[k])
        c = cs[k]
        if c is not None:
            blocks.append(c)
    return np.vstack(blocks)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


# Each cell is a forward step and its backward step side by side.  A forward step takes the
# layer's weights ``W = (Wxh, Whh, bh)``, its input ``x`` and the previous ``h`` and ``c`` (``c``
# is ``None`` except for LSTM) and returns the dict of everything it computed.  The backward step
# takes that dict and ``dh``, ``dc`` (the loss's gradient w.r.t. this step's ``h`` and ``c``),
# adds this step's share into ``dW = (dWxh, dWhh, dbh)`` and returns ``(dx, dh_prev, dc_prev)``.


def _rnn_forward(
    W: tuple[np.ndarray, ...], x: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray | None
) -> dict[str, np.ndarray]:
    Wxh, Whh, bh = W
    h = np.tanh(np.dot(Wxh, x) + np.dot(Whh, h_prev) + bh)
    return {"x": x, "h_prev": h_prev, "h": h}


def _rnn_backward(
    W: tuple[np.ndarray, ...],
    dW: tuple[np.ndarray, ...],
    step: dict[str, np.ndarray],
    dh: np.ndarray,
    dc: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, None]:
    Wxh, Whh, _ = W
    dWxh, dWhh, dbh = dW
    x, h_prev, h = step["x"], step["h_prev"], step["h"]
    # h = tanh(a), a = Wxh x + Whh h_prev + bh:  dh/da = 1 - h², the same lines as the classic.
    dhraw = (1.0 - h * h) * dh
    dbh += dhraw
    dWxh += np.dot(dhraw, x.T)
    dWhh += np.dot(dhraw, h_prev.T)
    return np.dot(Wxh.T, dhraw), np.dot(Whh.T, dhraw), None


def _gru_forward(
    W: tuple[np.ndarray, ...], x: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray | None
) -> dict[str, np.ndarray]:
    Wxh, Whh, bh = W
    H = h_prev.shape[0]
    a = np.dot(Wxh, x) + bh
    u = np.dot(Whh, h_prev)
    a_r, a_z, a_n = a[0:H], a[H : 2 * H], a[2 * H : 3 * H]
    u_r, u_z, u_n = u[0:H], u[H : 2 * H], u[2 * H : 3 * H]
    r = _sigmoid(a_r + u_r)
    z = _sigmoid(a_z + u_z)
    n = np.tanh(a_n + r * u_n)
    h = (1.0 - z) * n + z * h_prev
    return {"x": x, "h_prev": h_prev, "u_n": u_n, "r": r, "z": z, "n": n, "h": h}


def _gru_backward(
    W: tuple[np.ndarray, ...],
    dW: tuple[np.ndarray, ...],
    step: dict[str, np.ndarray],
    dh: np.ndarray,
    dc: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, None]:
    Wxh, Whh, _ = W
    dWxh, dWhh, dbh = dW
    x, h_prev, u_n = step["x"], step["h_prev"], step["u_n"]
    r, z, n = step["r"], step["z"], step["n"]
    # h = (1 - z) n + z h_prev:  dh/dn = 1 - z,  dh/dz = h_prev - n,  dh/dh_prev = z (direct path).
    dn = dh * (1.0 - z)
    dz = dh * (h_prev - n)
    # n = tanh(s_n), s_n = a_n + r u_n:  dn/ds_n = 1 - n²;  ds_n/da_n = 1, /dr = u_n, /du_n = r.
    ds_n = dn * (1.0 - n * n)
    dr = ds_n * u_n
    du_n = ds_n * r
    # r = σ(a_r + u_r), z = σ(a_z + u_z):  σ'(s) = σ(s) (1 - σ(s)), the same for the a and u sides.
    ds_r = dr * r * (1.0 - r)
    ds_z = dz * z * (1.0 - z)
    # a = Wxh x + bh feeds s_r, s_z, s_n directly; u = Whh h_prev feeds u_n only through r ⊙ u_n.
    da = np.vstack([ds_r, ds_z, ds_n])
    du = np.vstack([ds_r, ds_z, du_n])
    dWxh += np.dot(da, x.T)
    dbh += da
    dWhh += np.dot(du, h_prev.T)
    dx = np.dot(Wxh.T, da)
    dh_prev = dh * z + np.dot(Whh.T, du)
    return dx, dh_prev, None


def _lstm_forward(
    W: tuple[np.ndarray, ...], x: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray | None
) -> dict[str, np.ndarray]:
    Wxh, Whh, bh = W
    H = h_prev.shape[0]
    a = np.dot(Wxh, x) + np.dot(Whh, h_prev) + bh
    i = _sigmoid(a[0:H])
    f = _sigmoid(a[H : 2 * H])
    o = _sigmoid(a[2 * H : 3 * H])
    g = np.tanh(a[3 * H : 4 * H])
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return {
        "x": x, "h_prev": h_prev, "c_prev": c_prev,
        "i": i, "f": f, "o": o, "g": g, "c": c, "tanh_c": tanh_c, "h": h,
    }  # fmt: skip


def _lstm_backward(
    W: tuple[np.ndarray, ...],
    dW: tuple[np.ndarray, ...],
    step: dict[str, np.ndarray],
    dh: np.ndarray,
    dc: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    Wxh, Whh, _ = W
    dWxh, dWhh, dbh = dW
    x, h_prev, c_prev = step["x"], step["h_prev"], step["c_prev"]
    i, f, o, g, tanh_c = step["i"], step["f"], step["o"], step["g"], step["tanh_c"]
    # h = o tanh(c):  dh/do = tanh(c),  dh/dc = o (1 - tanh(c)²).  c also reaches the loss
    # through step t+1 (dc, arriving from there), so the two add.
    do = dh * tanh_c
    dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
    # c = f c_prev + i g:  dc/di = g,  dc/df = c_prev,  dc/dg = i,  dc/dc_prev = f.
    di = dc * g
    df = dc * c_prev
    dg = dc * i
    dc_prev = dc * f
    # i, f, o = σ(a_·): σ' = σ (1 - σ);  g = tanh(a_g): tanh' = 1 - g².  Blocks in order i, f, o, g.
    da = np.vstack([di * i * (1.0 - i), df * f * (1.0 - f), do * o * (1.0 - o), dg * (1.0 - g * g)])
    # a = Wxh x + Whh h_prev + bh.
    dWxh += np.dot(da, x.T)
    dWhh += np.dot(da, h_prev.T)
    dbh += da
    return np.dot(Wxh.T, da), np.dot(Whh.T, da), dc_prev


_FORWARD = {"rnn": _rnn_forward, "gru": _gru_forward, "lstm": _lstm_forward}
_BACKWARD = {"rnn": _rnn_backward, "gru": _gru_backward, "lstm": _lstm_backward}


def _forward_steps(
    params: Params,
    inputs: Sequence[int],
    state: np.ndarray,
    cell: str,
    layers: int,
    masks: np.ndarray | None = None,
) -> tuple[Steps, dict[int, np.ndarray], np.ndarray]:
    """Run the stack over ``inputs`` step by step.

    ``masks``: dropout multipliers ``(L, T, H)``; ``masks[k - 1, t]`` scales what layer ``k``
    hands on at step ``t`` (to layer ``k + 1``, or from the top layer to the output), never
    what it carries to step ``t + 1``.  ``None``: no dropout.

    Returns ``(steps, ps, state_last)``: ``steps[k][t]`` is the dict layer ``k`` computed at step
    ``t`` (with ``"up"``, what it handed on), ``ps[t]`` the probabilities ``(V, 1)`` and
    ``state_last`` the ``(S, 1)`` state after the last step.
    """
    V, H = _sizes(params, cell, layers)
    Why, by = params["Why"], params["by"]
    hs, cs = _split_state(state, cell, layers, H)
    steps: Steps = {k: {} for k in range(1, layers + 1)}
    ps: dict[int, np.ndarray] = {}
    for t in range(len(inputs)):
        x = np.zeros((V, 1))
        x[int(inputs[t])] = 1.0
        for k in range(1, layers + 1):
            W = tuple(params[name] for name in _layer_names(k))
            steps[k][t] = _FORWARD[cell](W, x, hs[k], cs[k])
            hs[k] = steps[k][t]["h"]
            cs[k] = steps[k][t].get("c")
            # The layer above reads this layer's h, never its cell state; dropped, if at all,
            # only on its way up.
            x = hs[k] if masks is None else hs[k] * masks[k - 1, t][:, None]
            steps[k][t]["up"] = x
        y = np.dot(Why, x) + by
        # Un-shifted softmax, as in the classic (and so bit for bit the classic for rnn, L = 1).
        ps[t] = np.exp(y) / np.sum(np.exp(y))
    return steps, ps, _join_state(hs, cs)


def _cell_backward(
    params: Params,
    inputs: Sequence[int],
    targets: Sequence[int],
    state: np.ndarray,
    cell: str,
    layers: int,
    masks: np.ndarray | None = None,
) -> tuple[float, Params, np.ndarray, np.ndarray]:
    """``(loss, unclipped grads, state_last, dstate)``; ``dstate (S, 1)`` is d loss / d state."""
    T = len(inputs)
    if len(targets) != T:
        raise ValueError(f"inputs and targets differ in length: {T} vs {len(targets)}")
    steps, ps, state_last = _forward_steps(params, inputs, state, cell, layers, masks)
    H = params["Why"].shape[1]
    loss = 0.0
    for t in range(T):
        loss += -np.log(ps[t][int(targets[t]), 0])

    grads = {name: np.zeros_like(params[name]) for name in cell_param_names(layers)}
    Why = params["Why"]
    # Gradients arriving at each layer's h_t and c_t from step t+1; nothing arrives from beyond
    # T-1, and after the loop they are the gradients w.r.t. the incoming state.
    dh_next: dict[int, np.ndarray] = {k: np.zeros((H, 1)) for k in range(1, layers + 1)}
    dc_next: dict[int, np.ndarray | None] = {
        k: np.zeros((H, 1)) if cell == "lstm" else None for k in range(1, layers + 1)
    }
    for t in reversed(range(T)):
        # d loss / d y_t for softmax + cross-entropy is p_t - onehot(target_t).
        dy = np.copy(ps[t])
        dy[int(targets[t])] -= 1.0
        grads["Why"] += np.dot(dy, steps[layers][t]["up"].T)
        grads["by"] += dy
        # h_t of each layer feeds the layer above at step t (for the top layer: the output),
        # through its dropout mask, and itself at step t+1; walk down the stack adding the two.
        d_up = np.dot(Why.T, dy)
        for k in range(layers, 0, -1):
            names = _layer_names(k)
            W = tuple(params[name] for name in names)
            dW = tuple(grads[name] for name in names)
            dh_above = d_up if masks is None else d_up * masks[k - 1, t][:, None]
            dh = dh_above + dh_next[k]
            d_up, dh_next[k], dc_next[k] = _BACKWARD[cell](W, dW, steps[k][t], dh, dc_next[k])
    return float(loss), grads, state_last, _join_state(dh_next, dc_next)


def reference_cell_loss_and_grads(
    params: Params,
    inputs: Sequence[int],
    targets: Sequence[int],
    state: np.ndarray,
    cell: str = "rnn",
    layers: int = 1,
    clip: bool = True,
    masks: np.ndarray | None = None,
) -> tuple[float, Params, np.ndarray]:
    """Loss, gradients and final state for one sequence through any cell and stack, by loops.

    Args:
        params: see :func:`cell_param_shapes` (``V`` and ``H`` are read off ``Why``).
            Not modified.
        inputs: ``T`` input character ids.
        targets: ``T`` target character ids.
        state: ``(S, 1)`` state before the first step, laid out ``h^(1), [c^(1)], h^(2), ...``.
            Not modified.
        cell: ``"rnn"``, ``"gru"`` or ``"lstm"``.
        layers: ``L``.
        clip: clip every gradient element-wise to ``[-5, 5]``; ``False`` for gradient checking.
        masks: dropout multipliers ``(L, T, H)`` (see :func:`_forward_steps`), or ``None``.

    Returns:
        ``(loss, grads, state_last)``: the summed cross-entropy in nats, gradients keyed and
        shaped like ``params``, and the ``(S, 1)`` state after the last step.  For ``cell="rnn"``,
        ``layers=1`` this is :func:`reference_loss_and_grads`'s result, bit for bit.
    """
    loss, grads, state_last, _ = _cell_backward(params, inputs, targets, state, cell, layers, masks)
    if clip:
        for dparam in grads.values():
            np.clip(dparam, -CLIP, CLIP, out=dparam)
    return loss, grads, state_last


def reference_cell_state_grad(
    params: Params,
    inputs: Sequence[int],
    targets: Sequence[int],
    state: np.ndarray,
    cell: str = "rnn",
    layers: int = 1,
) -> np.ndarray:
    """Unclipped gradient ``(S, 1)`` of the loss w.r.t. the incoming ``state``, same layout.

    Arguments as for :func:`reference_cell_loss_and_grads`.  Training discards it (truncated
    BPTT); it is here so that tests can check the state path of the backward pass.
    """
    return _cell_backward(params, inputs, targets, state, cell, layers)[3]


def reference_cell_forward(
    params: Params,
    inputs: Sequence[int],
    state: np.ndarray,
    cell: str = "rnn",
    layers: int = 1,
) -> dict[str, np.ndarray]:
    """Every per-step value of the forward pass, for looking inside the model.

    Arguments as for :func:`reference_cell_loss_and_grads`.

    Returns:
        ``"h"`` hidden states ``(L, T, H)`` and ``"probs"`` ``(T, V)``; for LSTM also ``"c"``
        cell states and gate activations ``"i"``, ``"f"``, ``"o"``, ``"g"``, each ``(L, T, H)``;
        for GRU ``"r"``, ``"z"``, ``"n"``, each ``(L, T, H)``.  Layer ``k`` is index ``k - 1``.
    """
    steps, ps, _ = _forward_steps(params, inputs, state, cell, layers)
    V, H = params["Why"].shape
    T = len(inputs)
    keys = {"rnn": ("h",), "gru": ("h", "r", "z", "n"), "lstm": ("h", "c", "i", "f", "o", "g")}
    out = {key: np.zeros((layers, T, H)) for key in keys[cell]}
    out["probs"] = np.zeros((T, V))
    for t in range(T):
        out["probs"][t] = ps[t][:, 0]
        for k in range(1, layers + 1):
            for key in keys[cell]:
                out[key][k - 1, t] = steps[k][t][key][:, 0]
    return out


def reference_cell_sample(
    params: Params,
    state: np.ndarray,
    seed_ix: int,
    n: int,
    rng: np.random.Generator,
    cell: str = "rnn",
    layers: int = 1,
) -> list[int]:
    """Draw ``n`` character ids from any cell and stack, one at a time.

    Args:
        params: see :func:`cell_param_shapes`.
        state: ``(S, 1)`` state to start from.  Not modified.
        seed_ix: id of the character fed in first.
        n: number of ids to draw.
        rng: source of randomness (one ``rng.choice`` per id, as in :func:`sample`).
        cell: ``"rnn"``, ``"gru"`` or ``"lstm"``.
        layers: ``L``.

    Returns:
        The ``n`` sampled ids; ``seed_ix`` itself is not included.
    """
    V, H = _sizes(params, cell, layers)
    Why, by = params["Why"], params["by"]
    hs, cs = _split_state(state, cell, layers, H)
    ix = seed_ix
    ixes: list[int] = []
    for _ in range(n):
        # Each drawn character becomes the next input, as in the classic loop.
        x = np.zeros((V, 1))
        x[ix] = 1.0
        for k in range(1, layers + 1):
            W = tuple(params[name] for name in _layer_names(k))
            step = _FORWARD[cell](W, x, hs[k], cs[k])
            hs[k], cs[k] = step["h"], step.get("c")
            x = hs[k]
        y = np.dot(Why, x) + by
        p = np.exp(y) / np.sum(np.exp(y))
        ix = int(rng.choice(V, p=p.ravel()))
        ixes.append(ix)
    return ixes


def reference_optimizer_memory(params: Params, optimizer: str) -> dict[str, Params]:
    """Zeroed optimizer memory for :func:`reference_update`.

    The memory is a dict of slots, each a dict of arrays keyed and shaped like ``params``:

    * ``"adagrad"``: ``{"mem": ...}``, the running sum of squared gradients;
    * ``"rmsprop"``: ``{"mem": ...}``, the moving average of squared gradients;
    * ``"adam"``: ``{"m": ..., "v": ...}``, the moving averages of the gradients and of their
      squares (before bias correction).
    """
    slots = {"adagrad": ("mem",), "rmsprop": ("mem",), "adam": ("m", "v")}
    if optimizer not in slots:
        raise ValueError(f"Unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}.")
    return {
        slot: {name: np.zeros_like(value) for name, value in params.items()}
        for slot in slots[optimizer]
    }


def reference_update(
    params: Params,
    grads: Params,
    memory: dict[str, Params],
    optimizer: str,
    learning_rate: float,
    step: int,
) -> None:
    """One optimizer update of every parameter array, in place (``params`` and ``memory``).

    Element-wise, with ``d`` the gradient (already clipped, as
    :func:`reference_cell_loss_and_grads` returns it; this function does not clip)::

        adagrad:  mem += d²;                       param += -lr d / sqrt(mem + 1e-8)
        rmsprop:  mem = 0.95 mem + 0.05 d²;        param += -lr d / sqrt(mem + 1e-8)
        adam:     m = 0.9 m + 0.1 d;  v = 0.999 v + 0.001 d²
                  m̂ = m / (1 - 0.9^step);  v̂ = v / (1 - 0.999^step)
                  param += -lr m̂ / (sqrt(v̂) + 1e-8)

    Args:
        params: parameter arrays, updated in place.
        grads: gradients keyed and shaped like ``params``.
        memory: from :func:`reference_optimizer_memory` (its docstring lists the slots),
            updated in place.
        optimizer: ``"adagrad"``, ``"rmsprop"`` or ``"adam"``.
        learning_rate: ``lr``.
        step: 1-based count of updates including this one (Adam's bias correction).
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}.")
    if step < 1:
        raise ValueError(f"step counts updates from 1 (this one included), not {step!r}.")
    # The 1e-8 keeps the first steps finite where the squared-gradient memory is still 0.
    for name, param in params.items():
        d = grads[name]
        if optimizer == "adagrad":
            mem = memory["mem"][name]
            mem += d * d
            param += -learning_rate * d / np.sqrt(mem + 1e-8)
        elif optimizer == "rmsprop":
            mem = memory["mem"][name]
            mem[...] = 0.95 * mem + 0.05 * d * d
            param += -learning_rate * d / np.sqrt(mem + 1e-8)
        else:
            m, v = memory["m"][name], memory["v"][name]
            m[...] = 0.9 * m + 0.1 * d
            v[...] = 0.999 * v + 0.001 * d * d
            # Both averages start at 0; dividing by 1 - beta^step undoes that bias early on.
            m_hat = m / (1.0 - 0.9**step)
            v_hat = v / (1.0 - 0.999**step)
            param += -learning_rate * m_hat / (np.sqrt(v_hat) + 1e-8)


class ReferenceCellTrainer:
    """The classic training loop (:class:`ReferenceTrainer`) for any cell, stack and optimizer.

    Attributes:
        data: the training text as integer ids, shape ``(N,)``.
        vocab_size: ``V``.
        hidden_size: ``H``, read off the parameters.
        seq_length: ``T``, characters per iteration.
        learning_rate: the optimizer's step size.
        cell: ``"rnn"``, ``"gru"`` or ``"lstm"``.
        layers: ``L``.
        optimizer: ``"adagrad"``, ``"rmsprop"`` or ``"adam"``.
        params: current parameters (see :func:`cell_param_shapes`).
        memory: optimizer memory (see :func:`reference_optimizer_memory`).
        state: ``(S, 1)`` state carried from one iteration to the next.
        pointer: index in ``data`` where the next sequence starts.
        iteration: number of completed iterations (= updates made).
        smooth_loss: exponential moving average of the per-iteration loss.
        losses: raw loss of every completed iteration.
    """

    def __init__(
        self,
        data: np.ndarray,
        vocab_size: int,
        params: Params,
        seq_length: int = 25,
        learning_rate: float = 0.1,
        cell: str = "rnn",
        layers: int = 1,
        optimizer: str = "adagrad",
    ) -> None:
        """Set up the loop.

        Args:
            data: training text as integer ids ``(N,)``, each ``< vocab_size``.
            vocab_size: ``V``; must match the parameters' shapes.
            params: initial parameters, deep-copied so the caller's arrays are never touched.
            seq_length: ``T``.
            learning_rate: the optimizer's step size.
            cell: ``"rnn"``, ``"gru"`` or ``"lstm"``.
            layers: ``L``.
            optimizer: ``"adagrad"``, ``"rmsprop"`` or ``"adam"``.
        """
        self.data = np.asarray(data)
        self.vocab_size = int(vocab_size)
        self.seq_length = int(seq_length)
        self.learning_rate = float(learning_rate)
        self.cell = cell
        self.layers = int(layers)
        self.optimizer = optimizer
        self.params = {
            name: np.array(params[name], dtype=np.float64, copy=True)
            for name in cell_param_names(self.layers)
        }
        V, self.hidden_size = _sizes(self.params, cell, self.layers)
        if V != self.vocab_size:
            raise ValueError(f"vocab_size is {self.vocab_size} but Why has {V} rows.")
        self.memory = reference_optimizer_memory(self.params, optimizer)
        self.state = self._zero_state()
        self.pointer = 0
        self.iteration = 0
        # Loss of a uniform prediction over V characters for T steps, so the average starts
        # where an untrained model actually is.
        self.smooth_loss = float(-np.log(1.0 / self.vocab_size) * self.seq_length)
        self.losses: list[float] = []

    def _zero_state(self) -> np.ndarray:
        per_layer = 2 * self.hidden_size if self.cell == "lstm" else self.hidden_size
        return np.zeros((self.layers * per_layer, 1))

    def step(self, n: int = 1, masks: Sequence[np.ndarray] | None = None) -> float:
        """Run ``n`` training iterations; return the raw loss of the last one.

        ``masks``: for dropout, one ``(L, T, H)`` array of multipliers per iteration.
        """
        T = self.seq_length
        loss = float("nan")
        for i in range(n):
            # Restart from the beginning with a fresh state once a full input/target window no
            # longer fits.
            if self.iteration == 0 or self.pointer + T + 1 >= len(self.data):
                self.state = self._zero_state()
                self.pointer = 0
            p = self.pointer
            inputs = self.data[p : p + T]
            targets = self.data[p + 1 : p + T + 1]
            loss, grads, self.state = reference_cell_loss_and_grads(
                self.params, inputs, targets, self.state, self.cell, self.layers,
                masks=None if masks is None else masks[i],
            )  # fmt: skip
            reference_update(
                self.params, grads, self.memory, self.optimizer, self.learning_rate,
                self.iteration + 1,
            )  # fmt: skip
            self.smooth_loss = self.smooth_loss * 0.999 + loss * 0.001
            self.losses.append(loss)
            self.pointer += T
            self.iteration += 1
        return loss

    def sample(
        self, state: np.ndarray, seed_ix: int, n: int, rng: np.random.Generator
    ) -> list[int]:
        """Sample ``n`` ids from the current parameters (see :func:`reference_cell_sample`)."""
        return reference_cell_sample(self.params, state, seed_ix, n, rng, self.cell, self.layers)
