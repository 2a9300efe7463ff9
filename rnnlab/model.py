"""The vanilla RNN itself: parameters, the forward pass and its backward pass, side by side.

Maths (per stream, column-vector form of the classic min-char-rnn):

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)        Wxh (H, V), Whh (H, H), bh (H, 1)
    y_t = Why h_t + by                            Why (V, H), by (V, 1)
    p_t = softmax(y_t);  loss = sum_t -log p_t[target_t]

Internally arrays are row-major over streams: a hidden state is `(B, H)`, a chunk of hidden states
`(T, B, H)`. Everything except the recurrence itself is done for all T steps at once: the input
projection is a row gather from `Wxh.T` (never a product with one-hot vectors), the output layer
and every weight gradient is one matrix product over the whole chunk. The loop over time does only
what cannot be batched: one (B, H) x (H, H) product and a tanh per step, into preallocated buffers.
"""

from __future__ import annotations

import numpy as np

PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")
GRAD_CLIP = 5.0  # the classic's element-wise clip, which keeps exploding gradients bounded


def param_shapes(hidden_size: int, vocab_size: int) -> dict[str, tuple[int, int]]:
    H, V = hidden_size, vocab_size
    return {"Wxh": (H, V), "Whh": (H, H), "Why": (V, H), "bh": (H, 1), "by": (V, 1)}


class FlatParams:
    """Named arrays that are views into one flat float64 buffer.

    Clipping, Adagrad and checkpointing then touch one array instead of five, and writing into a
    view (`params["Why"][0, 0] = 1.0`) changes the model.

    Wxh is stored transposed, as contiguous rows of length H: the forward pass gathers its columns
    (one per input character) and the backward pass scatters into them, and both are fastest on
    contiguous memory. `views["Wxh"]` is still the (H, V) matrix of the maths.
    """

    def __init__(self, hidden_size: int, vocab_size: int, flat: np.ndarray | None = None):
        """flat: an existing buffer to lay the views over (e.g. Adagrad's memory); zeros if None."""
        self.shapes = param_shapes(hidden_size, vocab_size)
        sizes = [int(np.prod(shape)) for shape in self.shapes.values()]
        self.flat = np.zeros(sum(sizes)) if flat is None else flat
        if self.flat.shape != (sum(sizes),):
            raise ValueError(
                f"A flat buffer for H={hidden_size}, V={vocab_size} needs {sum(sizes)} values."
            )
        self.views: dict[str, np.ndarray] = {}
        start = 0
        for (name, shape), size in zip(self.shapes.items(), sizes, strict=True):
            block = self.flat[start : start + size]
            self.views[name] = (
                block.reshape(shape[::-1]).T if name == "Wxh" else block.reshape(shape)
            )
            start += size

    def __getitem__(self, name: str) -> np.ndarray:
        return self.views[name]

    def as_dict(self) -> dict[str, np.ndarray]:
        return dict(self.views)


def param_count(hidden_size: int, vocab_size: int) -> int:
    return sum(int(np.prod(shape)) for shape in param_shapes(hidden_size, vocab_size).values())


def named_params(flat: np.ndarray, hidden_size: int, vocab_size: int) -> dict[str, np.ndarray]:
    """Views of a flat buffer (e.g. a TrainerState's params) as Wxh, Whh, Why, bh, by."""
    return FlatParams(hidden_size, vocab_size, flat).as_dict()


def init_params(
    hidden_size: int, vocab_size: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """The classic initialisation: weights randn * 0.01 (Wxh, Whh, Why in order), zero biases."""
    return init_flat_params(hidden_size, vocab_size, rng).as_dict()


def init_flat_params(hidden_size: int, vocab_size: int, rng: np.random.Generator) -> FlatParams:
    """init_params, laid out in one flat buffer (what the trainer trains)."""
    params = FlatParams(hidden_size, vocab_size)
    for name in ("Wxh", "Whh", "Why"):
        params[name][...] = rng.standard_normal(params.shapes[name]) * 0.01
    return params


class Workspace:
    """Preallocated buffers for chunks of shape (T, B) with H hidden units and V characters."""

    def __init__(self, seq_length: int, batch_size: int, hidden_size: int, vocab_size: int):
        T, B, H, V = seq_length, batch_size, hidden_size, vocab_size
        self.shape = (T, B, H, V)
        self.hs = np.empty((T + 1, B, H))  # hs[0] is the incoming state, hs[t + 1] = h_t
        self.pre = np.empty((T, B, H))  # pre-activations; reused for tanh' in the backward pass
        self.probs = np.empty((T * B, V))  # logits, then softmax probabilities, then dy
        self.dh = np.empty((T, B, H))  # gradient w.r.t. hidden states, then w.r.t. pre-activations
        self.dh_next = np.empty((B, H))
        self.rows = np.arange(T * B)
        self.units = np.arange(H)


def forward_backward(
    params: dict[str, np.ndarray],
    inputs: np.ndarray,
    targets: np.ndarray,
    h_prev: np.ndarray,
    grads: dict[str, np.ndarray],
    ws: Workspace,
) -> float:
    """One chunk forward and backward, gradients of the mean over streams written into `grads`.

    inputs, targets: (T, B) integer ids; h_prev: (B, H); grads: arrays shaped like params, written
    in place (not clipped). Returns the loss summed over time and averaged over streams; the final
    hidden state is left in `ws.hs[-1]` (B, H).
    """
    Wxh, Whh, Why, bh, by = (params[name] for name in PARAM_NAMES)
    T, B, H, V = ws.shape
    hs, pre, probs, dh = ws.hs, ws.pre, ws.probs, ws.dh
    hs_flat = hs[1:].reshape(T * B, H)
    targets_flat = targets.reshape(T * B)

    # Forward. Input projection for every step at once: Wxh x_t is column inputs[t] of Wxh.
    np.take(Wxh.T, inputs, axis=0, out=pre)
    pre += bh[:, 0]
    hs[0] = h_prev
    WhhT = Whh.T
    # With one stream, 1-D views make NumPy use matrix-vector BLAS calls instead of matrix-matrix.
    hs_rec, pre_rec = (hs[:, 0], pre[:, 0]) if B == 1 else (hs, pre)
    for t in range(T):
        np.dot(hs_rec[t], WhhT, out=hs_rec[t + 1])
        hs_rec[t + 1] += pre_rec[t]
        np.tanh(hs_rec[t + 1], out=hs_rec[t + 1])

    np.dot(hs_flat, Why.T, out=probs)
    probs += by[:, 0]
    # Shifting by the row maximum keeps exp() from overflowing; the loss is taken as a
    # log-softmax so a tiny probability gives a large finite loss rather than log(0).
    probs -= probs.max(axis=1, keepdims=True)
    target_logits = probs[ws.rows, targets_flat]
    np.exp(probs, out=probs)
    sums = probs.sum(axis=1)
    loss = float(np.log(sums).sum() - target_logits.sum()) / B
    probs /= sums[:, None]

    # Backward. dy = p - onehot(target), scaled because the loss is a mean over streams.
    dy = probs
    dy[ws.rows, targets_flat] -= 1.0
    if B > 1:
        dy /= B
    np.dot(dy.T, hs_flat, out=grads["Why"])
    np.sum(dy, axis=0, out=grads["by"][:, 0])
    np.dot(dy, Why, out=dh.reshape(T * B, H))

    # tanh'(a) = 1 - h^2, for every step at once (pre is free again).
    np.multiply(hs[1:], hs[1:], out=pre)
    np.subtract(1.0, pre, out=pre)
    dh_rec, tanh_grad, dh_next = (
        (dh[:, 0], pre[:, 0], ws.dh_next[0]) if B == 1 else (dh, pre, ws.dh_next)
    )
    for t in range(T - 1, -1, -1):
        if t < T - 1:
            dh_rec[t] += dh_next
        dh_rec[t] *= tanh_grad[t]
        if t > 0:
            np.dot(dh_rec[t], Whh, out=dh_next)

    dh_flat = dh.reshape(T * B, H)
    np.dot(dh_flat.T, hs[:-1].reshape(T * B, H), out=grads["Whh"])
    np.sum(dh_flat, axis=0, out=grads["bh"][:, 0])
    # Column inputs[t] of dWxh receives dh_t: a scatter-add over the chunk, done as one bincount
    # over (character, unit) cells, which is several times faster than np.add.at.
    cells = (inputs.reshape(T * B, 1).astype(np.intp) * H + ws.units).reshape(-1)
    scattered = np.bincount(cells, weights=dh_flat.reshape(-1), minlength=V * H)
    grads["Wxh"].T[...] = scattered.reshape(V, H)
    return loss


def clip_gradients(grads: np.ndarray) -> None:
    """Clip in place to [-5, 5], element-wise, as the classic does against exploding gradients."""
    np.clip(grads, -GRAD_CLIP, GRAD_CLIP, out=grads)


def loss_and_grads(
    params: dict[str, np.ndarray],
    inputs: np.ndarray,
    targets: np.ndarray,
    h_prev: np.ndarray,
    clip: bool = True,
) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """Loss, gradients and last hidden state for one chunk, in the classic min-char-rnn interface.

    params: Wxh (H, V), Whh (H, H), Why (V, H), bh (H, 1), by (V, 1).
    inputs, targets: (T,) integer ids (or (T, B) for B streams).
    h_prev: (H, 1) column vector (or (H, B)).
    Returns (loss, grads, h_last): the loss summed over the T steps (averaged over streams when
    B > 1), gradients keyed like params and clipped to [-5, 5] unless clip=False, and h_last
    shaped like h_prev.
    """
    inputs = np.asarray(inputs)
    targets = np.asarray(targets)
    if inputs.shape != targets.shape or inputs.ndim not in (1, 2) or inputs.shape[0] == 0:
        raise ValueError(
            "inputs and targets must both have shape (T,) or (T, B); "
            f"got {inputs.shape} and {targets.shape}."
        )
    H, V = params["Wxh"].shape
    h_prev = np.asarray(h_prev, dtype=np.float64)
    column = h_prev.ndim == 1
    h_rows = h_prev.reshape(H, -1).T  # (B, H)
    inputs2d = inputs.reshape(inputs.shape[0], -1)
    targets2d = targets.reshape(inputs2d.shape)
    T, B = inputs2d.shape
    if h_rows.shape != (B, H):
        raise ValueError(f"h_prev must have shape ({H}, {B}); got {h_prev.shape}.")
    for ids in (inputs2d, targets2d):
        if ids.min() < 0 or ids.max() >= V:
            raise ValueError(f"Character ids must be in 0..{V - 1}.")
    flat_grads = FlatParams(H, V)
    ws = Workspace(T, B, H, V)
    loss = forward_backward(params, inputs2d, targets2d, h_rows, flat_grads.views, ws)
    if clip:
        clip_gradients(flat_grads.flat)
    h_last = ws.hs[-1].T.copy()
    return loss, flat_grads.as_dict(), (h_last[:, 0] if column else h_last)


def forward(
    params: dict[str, np.ndarray], inputs: np.ndarray, h_prev: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Forward pass only, for looking inside the model.

    inputs: (T,) ids; h_prev: (H,). Returns hidden states (T, H) and next-character
    probabilities (T, V), row t being the prediction made after reading inputs[t].
    """
    Wxh, Whh, Why, bh, by = (params[name] for name in PARAM_NAMES)
    inputs = np.asarray(inputs)
    hs = np.take(Wxh.T, inputs, axis=0)  # (T, H): Wxh x_t for every t at once
    hs += bh[:, 0]
    h = np.asarray(h_prev, dtype=np.float64).reshape(-1)
    recurrent = np.empty_like(h)
    # In place, row by row: this loop is sequential, so NumPy's per-call cost is what it costs
    # (validation reads thousands of characters through it while playing).
    for row in hs:
        np.dot(Whh, h, out=recurrent)
        row += recurrent
        np.tanh(row, out=row)
        h = row
    logits = hs @ Why.T + by[:, 0]
    return hs, softmax(logits)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the maximum so exp() cannot overflow."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=-1, keepdims=True)
    return shifted
