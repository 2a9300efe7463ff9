"""The network itself: parameters, the forward pass and its backward pass, side by side.

The classic vanilla RNN (per stream, column-vector form of min-char-rnn):

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)        Wxh (H, V), Whh (H, H), bh (H, 1)
    y_t = Why h_t + by                            Why (V, H), by (V, 1)
    p_t = softmax(y_t);  loss = sum_t -log p_t[target_t]

and, with the same names (see rnnlab.architecture), a GRU or an LSTM cell and up to three layers:

    GRU   a = Wxh x + bh, u = Whh h_{t-1}, blocks (r, z, n):  r = σ(a_r + u_r), z = σ(a_z + u_z),
          n = tanh(a_n + r ⊙ u_n),  h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
    LSTM  a = Wxh x + Whh h_{t-1} + bh, blocks (i, f, o, g): i, f, o = σ(·), g = tanh(a_g),
          c_t = f ⊙ c_{t-1} + i ⊙ g,  h_t = o ⊙ tanh(c_t)

Internally arrays are row-major over streams: a hidden state is `(B, H)`, a chunk of hidden states
`(T, B, H)`. Everything except the recurrence is done for all T steps at once: the first layer's
input projection is a row gather from `Wxh.T` (never a product with one-hot vectors), a higher
layer's is one product with the whole chunk of the layer below, and the output layer and every
weight gradient is one matrix product over the chunk. The loop over time does only what cannot be
batched: one (B, H) x (H, G·H) product for all of a step's gates and the element-wise gate maths,
into preallocated buffers.
"""

from __future__ import annotations

import numpy as np

from .architecture import Architecture

PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")  # the classic RNN's, in its order
GRAD_CLIP = 5.0  # the classic's element-wise clip, which keeps exploding gradients bounded
INIT_SCALE = 0.01  # the classic's initial weights: randn · 0.01
LSTM_FORGET_BIAS = 1.0  # starts the forget gate open, so c carries from the first iteration
SIGMOID_GATES = {"rnn": 0, "gru": 2, "lstm": 3}  # the leading gate blocks that are sigmoids
# Up to this many characters, a float32 model's first-layer weight gradient is a product with
# one-hot inputs, whose cost grows with V; beyond, and in float64 (where BLAS is half as fast and
# bincount needs no conversion), a bincount, whose cost does not.
ONE_HOT_MAX_VOCAB = 96


def param_shapes(hidden_size: int, vocab_size: int) -> dict[str, tuple[int, int]]:
    """The classic RNN's parameter shapes (Architecture.param_shapes for any network)."""
    return Architecture("rnn", 1, hidden_size, vocab_size).param_shapes


class FlatParams:
    """Named arrays that are views into one flat buffer.

    Clipping, the optimizers and checkpointing then touch one array instead of many, and writing
    into a view (`params["Why"][0, 0] = 1.0`) changes the model.

    The first layer's Wxh is stored transposed, as contiguous rows of G·H: the forward pass
    gathers its columns (one per input character) and the backward pass scatters into them, and
    both are fastest on contiguous memory. `views["Wxh"]` is still the (G·H, V) matrix of the maths.
    """

    def __init__(self, arch: Architecture, flat: np.ndarray | None = None):
        """flat: an existing buffer to lay the views over (e.g. an optimizer's memory); zeros if
        None."""
        self.arch = arch
        self.shapes = arch.param_shapes
        size = arch.param_count
        self.flat = np.zeros(size, dtype=arch.float) if flat is None else flat
        if self.flat.shape != (size,):
            raise ValueError(
                f"A flat buffer for {arch.label} (H={arch.hidden_size}, "
                f"V={arch.vocab_size}) needs {size} values."
            )
        self.views: dict[str, np.ndarray] = {}
        start = 0
        for name, shape in self.shapes.items():
            block = self.flat[start : start + shape[0] * shape[1]]
            self.views[name] = (
                block.reshape(shape[::-1]).T if name == "Wxh" else block.reshape(shape)
            )
            start += shape[0] * shape[1]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.views[name]

    def as_dict(self) -> dict[str, np.ndarray]:
        return dict(self.views)


def param_count(hidden_size: int, vocab_size: int) -> int:
    """The classic RNN's parameter count (Architecture.param_count for any network)."""
    return Architecture("rnn", 1, hidden_size, vocab_size).param_count


def named_params(flat: np.ndarray, arch: Architecture) -> dict[str, np.ndarray]:
    """Views of a flat buffer (e.g. a TrainerState's params) by parameter name."""
    return FlatParams(arch, flat).as_dict()


def init_params(
    hidden_size: int, vocab_size: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """The classic initialisation: weights randn * 0.01 (Wxh, Whh, Why in order), zero biases."""
    return init_flat_params(Architecture("rnn", 1, hidden_size, vocab_size), rng).as_dict()


def init_flat_params(arch: Architecture, rng: np.random.Generator) -> FlatParams:
    """Initial parameters in one flat buffer (what the trainer trains).

    Weights are drawn in the canonical order, in float64 whatever the precision (so a float32 run
    starts from the float64 run's weights, rounded): the classic randn · 0.01 for the one-layer RNN
    and every output layer; randn / sqrt(H) (the scale PyTorch uses) for a GRU's or LSTM's gates,
    whose sigmoids would otherwise all sit at 0.5, and for stacked layers, where 0.01 would shrink
    the signal a hundredfold at each layer. Biases are zero, but an LSTM's forget gate's is 1.
    """
    params = FlatParams(arch)
    unit_scale = 1.0 / np.sqrt(arch.hidden_size)
    for name, shape in arch.param_shapes.items():
        if name.startswith("W"):
            classic = name == "Why" or (arch.cell == "rnn" and arch.layers == 1)
            scale = INIT_SCALE if classic else unit_scale
            params[name][...] = rng.standard_normal(shape) * scale
    if arch.lstm:
        H = arch.hidden_size
        for layer in range(arch.layers):
            params[arch.layer_names(layer)[2]][H : 2 * H] = LSTM_FORGET_BIAS
    return params


def uses_one_hot(arch: Architecture, batch_size: int) -> bool:
    """Whether the first layer's weight gradient is a product with one-hot inputs (float32, a
    small vocabulary, several streams) rather than a bincount. One stream keeps the bincount,
    which adds in the order of the reference's loop, to the last bit."""
    return arch.dtype == "float32" and arch.vocab_size <= ONE_HOT_MAX_VOCAB and batch_size > 1


class LayerBuffers:
    """One layer's forward values over a chunk, kept for the backward pass."""

    def __init__(self, arch: Architecture, T: int, B: int):
        H, GH, dtype = arch.hidden_size, arch.gates * arch.hidden_size, arch.float
        self.hs = np.empty((T + 1, B, H), dtype)  # hs[0] is the incoming h, hs[t + 1] = h_t
        # RNN: pre-activations, then tanh'. GRU/LSTM: the input projection, then the gates'
        # activations in their blocks.
        self.acts = np.empty((T, B, GH), dtype)
        if arch.lstm:
            self.cs = np.empty((T + 1, B, H), dtype)  # cs[0] is the incoming c
            self.tanh_c = np.empty((T, B, H), dtype)
        if arch.cell == "gru":
            self.u_n = np.empty((T, B, H), dtype)  # the recurrent part of n, before r scales it


class Workspace:
    """Preallocated buffers for chunks of shape (T, B) of a network `arch`; with dropout, room
    for its masks (L, T, B, H) and what each layer hands on after them."""

    def __init__(self, arch: Architecture, seq_length: int, batch_size: int, dropout: bool = False):
        T, B, H, V = seq_length, batch_size, arch.hidden_size, arch.vocab_size
        GH, dtype = arch.gates * H, arch.float
        self.arch = arch
        self.shape = (T, B, H, V)
        self.layers = [LayerBuffers(arch, T, B) for _ in range(arch.layers)]
        if dropout:
            self.masks = np.empty((arch.layers, T, B, H), dtype)
            self.dropped = np.empty((arch.layers, T, B, H), dtype)
            self.kept = np.empty((arch.layers, T, B, H), bool)
        self.probs = np.empty((T * B, V), dtype)  # logits, then probabilities, then dy
        self.dh = np.empty((T, B, H), dtype)  # gradient w.r.t. a layer's hidden states
        self.dh_next = np.empty((B, H), dtype)
        # Contiguous transposed copies of a layer's weights, (V, G·H) for the first layer's Wxh
        # (gated cells), (H, G·H) for the others and for Whh, and its bias (1, G·H), with the
        # sigmoid gates' columns halved (see _weights_for_steps): a product with a contiguous
        # right-hand matrix is the fastest form of BLAS's, and the halving saves a pass per step.
        self.first_input_weights = np.empty((V, GH), dtype)
        self.input_weights = np.empty((H, GH), dtype) if arch.layers > 1 else None
        self.recurrent_weights = np.empty((H, GH), dtype)
        self.bias = np.empty((1, GH), dtype)
        if arch.cell == "rnn":
            # The RNN turns dh into the pre-activations' gradient in place; the layer below's
            # dh is made from it, so it needs a second buffer.
            self.dh_below = np.empty((T, B, H), dtype) if arch.layers > 1 else None
        else:
            self.dacts = np.empty((T, B, GH), dtype)  # gradient w.r.t. the gates' pre-activations
            self.rec = np.empty((B, GH), dtype)  # one step's recurrent product
            self.step = np.empty((2, B, H), dtype)  # one step's element-wise temporaries
        if arch.cell == "gru":
            self.drec = np.empty((T, B, GH), dtype)  # gradient w.r.t. the recurrent product
        if arch.lstm:
            self.dc_next = np.empty((B, H), dtype)
        # The first layer's inputs as one-hot columns, (V, T·B), when its weight gradient is
        # cheaper as a product than as a scatter (see _input_grads).
        self.one_hot = np.empty((V, T * B), dtype) if uses_one_hot(arch, B) else None
        self.state_out = np.empty((B, arch.state_size), dtype)
        self.rows = np.arange(T * B)
        self.units = np.arange(GH)

    @property
    def hs(self) -> np.ndarray:
        """The top layer's hidden states, (T + 1, B, H)."""
        return self.layers[-1].hs


def forward_backward(
    params: dict[str, np.ndarray],
    inputs: np.ndarray,
    targets: np.ndarray,
    state_prev: np.ndarray,
    grads: dict[str, np.ndarray],
    ws: Workspace,
    masks: np.ndarray | None = None,
) -> float:
    """One chunk forward and backward, gradients of the mean over streams written into `grads`.

    inputs, targets: (T, B) integer ids; state_prev: (B, S) the carried state; grads: arrays
    shaped like params, written in place (not clipped). masks: (L, T, B, H) dropout multipliers
    (0, or 1/(1 − p) for a kept unit: see draw_masks) for what each layer hands on, to the layer
    above or, from the top layer, to the output; the recurrent path is never dropped (Zaremba et
    al., 2014). None: no dropout. Returns the loss summed over time and averaged over streams;
    the final state is left in `ws.state_out` (B, S).
    """
    arch = ws.arch
    T, B, H, V = ws.shape
    probs = ws.probs
    targets_flat = targets.reshape(T * B)

    for layer, buffers in enumerate(ws.layers):
        below = inputs if layer == 0 else _handed_on(ws, layer - 1, masks)
        _input_projection(params, arch, layer, below, buffers.acts, ws)
        buffers.hs[0] = state_prev[:, arch.h_slice(layer)]
        if arch.lstm:
            buffers.cs[0] = state_prev[:, arch.c_slice(layer)]
        Whh_steps = _recurrent_weights_for_steps(params[arch.layer_names(layer)[1]], B, ws)
        _FORWARD[arch.cell](Whh_steps, buffers, ws)
        ws.state_out[:, arch.h_slice(layer)] = buffers.hs[-1]
        if arch.lstm:
            ws.state_out[:, arch.c_slice(layer)] = buffers.cs[-1]

    hs_flat = _handed_on(ws, arch.layers - 1, masks).reshape(T * B, H)
    Why = params["Why"]
    np.dot(hs_flat, Why.T, out=probs)
    probs += params["by"][:, 0]
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
    np.dot(dy, Why, out=ws.dh.reshape(T * B, H))
    if masks is not None:
        ws.dh *= masks[-1]

    for layer in range(arch.layers - 1, -1, -1):
        buffers = ws.layers[layer]
        wx, wh, b = arch.layer_names(layer)
        # d(pre-activation) per step, (T, B, G·H), and what the recurrent weights' gradient reads.
        dpre, drec = _BACKWARD[arch.cell](params[wh], buffers, ws)
        dpre_flat = dpre.reshape(T * B, -1)
        np.dot(drec.reshape(T * B, -1).T, buffers.hs[:-1].reshape(T * B, H), out=grads[wh])
        np.sum(dpre_flat, axis=0, out=grads[b][:, 0])
        if layer == 0:
            _input_grads(dpre_flat, inputs, grads[wx], ws)
        else:
            below = ws.layers[layer - 1].hs[1:] if masks is None else ws.dropped[layer - 1]
            np.dot(dpre_flat.T, below.reshape(T * B, H), out=grads[wx])
            # The layer below's dh: what this layer's input projection passed back to it.
            if arch.cell == "rnn":
                np.dot(dpre_flat, params[wx], out=ws.dh_below.reshape(T * B, H))
                ws.dh, ws.dh_below = ws.dh_below, ws.dh
            else:
                np.dot(dpre_flat, params[wx], out=ws.dh.reshape(T * B, H))
            if masks is not None:
                ws.dh *= masks[layer - 1]
    return loss


def _handed_on(ws: Workspace, layer: int, masks: np.ndarray | None) -> np.ndarray:
    """(T, B, H): what `layer` hands on to the layer above (or the output): its hidden states,
    times its dropout mask when there is one (kept in ws.dropped for the backward pass)."""
    hs = ws.layers[layer].hs[1:]
    if masks is None:
        return hs
    return np.multiply(hs, masks[layer], out=ws.dropped[layer])


def draw_masks(rng: np.random.Generator, dropout: float, ws: Workspace) -> np.ndarray:
    """Fresh inverted-dropout masks in ws.masks, (L, T, B, H): each unit kept with probability
    1 − dropout and then scaled by 1/(1 − dropout), so that what the layer above reads is the
    same on average as without dropout, and evaluation (validation, sampling) needs no change."""
    keep = 1.0 - dropout
    rng.random(dtype=ws.masks.dtype, out=ws.masks)
    np.less(ws.masks, keep, out=ws.kept)
    np.multiply(ws.kept, 1.0 / keep, out=ws.masks)
    return ws.masks


def _weights_for_steps(weights_T: np.ndarray, arch: Architecture, out: np.ndarray) -> np.ndarray:
    """out (K, G·H) = weights_T (K, G·H), contiguous, with the sigmoid gates' columns halved.

    σ(a) = ½ + ½·tanh(a/2), and halving the weights halves a exactly (a power of two), so a
    step's gates take one tanh over the whole (B, G·H) block instead of a halving pass first.
    """
    H, sigmoids = arch.hidden_size, SIGMOID_GATES[arch.cell]
    # Gate by gate: a transposing copy is faster in blocks whose rows stay in cache.
    for k in range(arch.gates):
        np.copyto(out[:, k * H : (k + 1) * H], weights_T[:, k * H : (k + 1) * H])
    if sigmoids:
        out[:, : sigmoids * H] *= 0.5
    return out


def _recurrent_weights_for_steps(Whh: np.ndarray, B: int, ws: Workspace) -> np.ndarray:
    """(H, G·H): what each step's recurrent product multiplies h by (see _weights_for_steps).
    One stream keeps the transposed view: its matrix-vector products need no copy."""
    if B == 1 and ws.arch.cell == "rnn":
        return Whh.T
    return _weights_for_steps(Whh.T, ws.arch, ws.recurrent_weights)


def _input_projection(
    params: dict[str, np.ndarray],
    arch: Architecture,
    layer: int,
    below: np.ndarray,
    out: np.ndarray,
    ws: Workspace,
) -> None:
    """out (T, B, G·H) = Wx x_t + b for every step at once (sigmoid gates' columns halved, see
    _weights_for_steps): a gather of Wxh's columns for the first layer (x_t is one-hot), one
    product with the layer below's states for the others."""
    wx, _, b = arch.layer_names(layer)
    if layer == 0 and arch.cell == "rnn":
        # Nothing to halve, so nothing to copy: gather straight from Wxh.
        np.take(params[wx].T, below, axis=0, out=out)
        out += params[b][:, 0]
        return
    bias = _weights_for_steps(params[b].T, arch, ws.bias)
    if layer == 0:
        # The bias goes into the V rows gathered rather than into the T·B rows gathered.
        table = _weights_for_steps(params[wx].T, arch, ws.first_input_weights)
        table += bias
        np.take(table, below, axis=0, out=out)
    else:
        weights = _weights_for_steps(params[wx].T, arch, ws.input_weights)
        T, B, GH = out.shape
        np.dot(below.reshape(T * B, -1), weights, out=out.reshape(T * B, GH))
        out += bias[0]


def _input_grads(
    dpre_flat: np.ndarray, inputs: np.ndarray, grad_wx: np.ndarray, ws: Workspace
) -> None:
    """Column inputs[t] of dWxh receives dpre_t: a scatter-add over the chunk, done as one
    product with the inputs as one-hot columns, (V, T·B) x (T·B, G·H), or (see uses_one_hot) as
    one bincount over (character, row) cells, several times faster than np.add.at."""
    T, B, _, V = ws.shape
    if ws.one_hot is None:
        GH = dpre_flat.shape[1]
        cells = (inputs.reshape(T * B, 1).astype(np.intp) * GH + ws.units).reshape(-1)
        scattered = np.bincount(cells, weights=dpre_flat.reshape(-1), minlength=V * GH)
        grad_wx.T[...] = scattered.reshape(V, GH)
        return
    ws.one_hot.fill(0.0)
    ws.one_hot[inputs.reshape(T * B), ws.rows] = 1.0
    np.dot(ws.one_hot, dpre_flat, out=grad_wx.T)


# ------------------------------------------------------------------------------ the RNN cell
def _rnn_forward(WhhT: np.ndarray, lb: LayerBuffers, ws: Workspace) -> None:
    """WhhT: (H, H), Whh transposed (see _recurrent_weights_for_steps)."""
    hs, pre = lb.hs, lb.acts
    T, B = pre.shape[:2]
    # With one stream, 1-D views make NumPy use matrix-vector BLAS calls instead of matrix-matrix.
    hs_rec, pre_rec = (hs[:, 0], pre[:, 0]) if B == 1 else (hs, pre)
    for t in range(T):
        np.dot(hs_rec[t], WhhT, out=hs_rec[t + 1])
        hs_rec[t + 1] += pre_rec[t]
        np.tanh(hs_rec[t + 1], out=hs_rec[t + 1])


def _rnn_backward(
    Whh: np.ndarray, lb: LayerBuffers, ws: Workspace
) -> tuple[np.ndarray, np.ndarray]:
    hs, pre, dh = lb.hs, lb.acts, ws.dh
    T, B = pre.shape[:2]
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
    return dh, dh


# ------------------------------------------------------------------------------ the GRU cell
def _sigmoid(x: np.ndarray) -> None:
    """σ in place, as 0.5·(1 + tanh(x/2)): equal to 1/(1 + e^−x), and never overflows."""
    x *= 0.5
    _sigmoid_of_halved(x)


def _sigmoid_of_halved(x: np.ndarray) -> None:
    """σ(a) in place, given x = a/2 (what _weights_for_steps's halved columns give)."""
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5


def _gru_forward(WhhT: np.ndarray, lb: LayerBuffers, ws: Workspace) -> None:
    """WhhT: (H, 3H), Whh transposed with r's and z's columns halved."""
    hs, acts, rec = lb.hs, lb.acts, ws.rec
    H = hs.shape[2]
    for t in range(acts.shape[0]):
        a, h_prev = acts[t], hs[t]
        np.dot(h_prev, WhhT, out=rec)
        a[:, : 2 * H] += rec[:, : 2 * H]
        _sigmoid_of_halved(a[:, : 2 * H])
        r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
        lb.u_n[t] = rec[:, 2 * H :]
        np.multiply(r, lb.u_n[t], out=rec[:, 2 * H :])
        n += rec[:, 2 * H :]
        np.tanh(n, out=n)
        # h = (1 − z) ⊙ n + z ⊙ h_prev = n + z ⊙ (h_prev − n)
        np.subtract(h_prev, n, out=hs[t + 1])
        hs[t + 1] *= z
        hs[t + 1] += n


def _gru_backward(
    Whh: np.ndarray, lb: LayerBuffers, ws: Workspace
) -> tuple[np.ndarray, np.ndarray]:
    hs, acts, dh, dacts, drec = lb.hs, lb.acts, ws.dh, ws.dacts, ws.drec
    T, H = acts.shape[0], hs.shape[2]
    dh_keep = ws.step[0]  # dh ⊙ (1 − z)
    for t in range(T - 1, -1, -1):
        a, da, drec_t, dh_t = acts[t], dacts[t], drec[t], dh[t]
        r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
        dr, dz, dn = da[:, :H], da[:, H : 2 * H], da[:, 2 * H :]
        if t < T - 1:
            dh_t += ws.dh_next
        # dn_pre = dh ⊙ (1 − z) ⊙ (1 − n²)
        np.subtract(1.0, z, out=dh_keep)
        dh_keep *= dh_t
        np.multiply(n, n, out=dn)
        np.subtract(1.0, dn, out=dn)
        dn *= dh_keep
        # dz_pre = dh ⊙ (h_prev − n) ⊙ z(1 − z)
        np.subtract(hs[t], n, out=dz)
        dz *= z
        dz *= dh_keep
        # dr_pre = dn_pre ⊙ u_n ⊙ r(1 − r)
        np.subtract(1.0, r, out=dr)
        dr *= r
        dr *= lb.u_n[t]
        dr *= dn
        # The recurrent product's gradient: r scales u_n's share of n.
        drec_t[:, : 2 * H] = da[:, : 2 * H]
        np.multiply(dn, r, out=drec_t[:, 2 * H :])
        if t > 0:
            np.dot(drec_t, Whh, out=ws.dh_next)
            dh_t *= z
            ws.dh_next += dh_t
    return dacts, drec


# ----------------------------------------------------------------------------- the LSTM cell
def _lstm_forward(WhhT: np.ndarray, lb: LayerBuffers, ws: Workspace) -> None:
    """WhhT: (H, 4H), Whh transposed with i's, f's and o's columns halved."""
    hs, cs, acts, rec = lb.hs, lb.cs, lb.acts, ws.rec
    H = hs.shape[2]
    for t in range(acts.shape[0]):
        a = acts[t]
        np.dot(hs[t], WhhT, out=rec)
        a += rec
        # One tanh for all four gates: i, f and o arrive halved, and σ(a) = ½ + ½·tanh(a/2).
        np.tanh(a, out=a)
        a[:, : 3 * H] *= 0.5
        a[:, : 3 * H] += 0.5
        i, f, o, g = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        np.multiply(f, cs[t], out=cs[t + 1])
        np.multiply(i, g, out=ws.step[0])
        cs[t + 1] += ws.step[0]
        np.tanh(cs[t + 1], out=lb.tanh_c[t])
        np.multiply(o, lb.tanh_c[t], out=hs[t + 1])


def _lstm_backward(
    Whh: np.ndarray, lb: LayerBuffers, ws: Workspace
) -> tuple[np.ndarray, np.ndarray]:
    cs, acts, dh, dacts = lb.cs, lb.acts, ws.dh, ws.dacts
    T, H = acts.shape[0], cs.shape[2]
    dc, tmp = ws.step[0], ws.step[1]
    # Step by step, each step's gates still in cache: a pass over the whole chunk per factor
    # costs more than the calls it saves.
    for t in range(T - 1, -1, -1):
        a, da, tc, dh_t = acts[t], dacts[t], lb.tanh_c[t], dh[t]
        i, f, o, g = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        di, df, do, dg = da[:, :H], da[:, H : 2 * H], da[:, 2 * H : 3 * H], da[:, 3 * H :]
        if t < T - 1:
            dh_t += ws.dh_next
        # dc = dc_next + dh ⊙ o ⊙ (1 − tanh²(c))
        np.multiply(tc, tc, out=dc)
        np.subtract(1.0, dc, out=dc)
        dc *= o
        dc *= dh_t
        if t < T - 1:
            dc += ws.dc_next
        # σ'(a) = s(1 − s) for i, f and o at once, then each times what it scaled:
        # di_pre = dc ⊙ g ⊙ σ'(i);  df_pre = dc ⊙ c_prev ⊙ σ'(f);  do_pre = dh ⊙ tanh(c) ⊙ σ'(o)
        np.subtract(1.0, a[:, : 3 * H], out=da[:, : 3 * H])
        da[:, : 3 * H] *= a[:, : 3 * H]
        np.multiply(dc, g, out=tmp)
        di *= tmp
        np.multiply(dc, cs[t], out=tmp)
        df *= tmp
        np.multiply(dh_t, tc, out=tmp)
        do *= tmp
        # dg_pre = dc ⊙ i ⊙ (1 − g²)
        np.multiply(g, g, out=dg)
        np.subtract(1.0, dg, out=dg)
        dg *= i
        dg *= dc
        if t > 0:
            np.multiply(dc, f, out=ws.dc_next)
            np.dot(da, Whh, out=ws.dh_next)
    return dacts, dacts


_FORWARD = {"rnn": _rnn_forward, "gru": _gru_forward, "lstm": _lstm_forward}
_BACKWARD = {"rnn": _rnn_backward, "gru": _gru_backward, "lstm": _lstm_backward}


def clip_gradients(grads: np.ndarray) -> None:
    """Clip in place to [-5, 5], element-wise, as the classic does against exploding gradients."""
    np.clip(grads, -GRAD_CLIP, GRAD_CLIP, out=grads)


def loss_and_grads(
    params: dict[str, np.ndarray],
    inputs: np.ndarray,
    targets: np.ndarray,
    h_prev: np.ndarray,
    clip: bool = True,
    masks: np.ndarray | None = None,
) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """Loss, gradients and last state for one chunk, in the classic min-char-rnn interface.

    params: named as rnnlab.architecture says (the classic RNN's: Wxh (H, V), Whh (H, H),
    Why (V, H), bh (H, 1), by (V, 1)); the cell, layers and precision are read from them.
    inputs, targets: (T,) integer ids (or (T, B) for B streams).
    h_prev: the carried state, an (S, 1) column vector (or (S, B)); S = H for the classic RNN.
    masks: dropout multipliers (L, T, H), or (L, T, B, H) for B streams (see forward_backward);
    None for no dropout.
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
    arch = Architecture.from_params(params)
    S, V = arch.state_size, arch.vocab_size
    h_prev = np.asarray(h_prev, dtype=arch.float)
    column = h_prev.ndim == 1
    inputs2d = inputs.reshape(inputs.shape[0], -1)
    targets2d = targets.reshape(inputs2d.shape)
    T, B = inputs2d.shape
    if h_prev.size != S * B:
        raise ValueError(f"h_prev must have shape ({S}, {B}); got {h_prev.shape}.")
    state_rows = h_prev.reshape(S, -1).T  # (B, S)
    for ids in (inputs2d, targets2d):
        if ids.min() < 0 or ids.max() >= V:
            raise ValueError(f"Character ids must be in 0..{V - 1}.")
    flat_params = FlatParams(arch)
    for name, value in params.items():
        flat_params[name][...] = value
    flat_grads = FlatParams(arch)
    ws = Workspace(arch, T, B, dropout=masks is not None)
    if masks is not None:
        masks = np.asarray(masks, dtype=arch.float)
        if masks.size != arch.layers * T * B * arch.hidden_size:
            raise ValueError(
                f"masks must have shape ({arch.layers}, {T}, {B}, {arch.hidden_size}); "
                f"got {masks.shape}."
            )
        ws.masks[...] = masks.reshape(ws.masks.shape)
        masks = ws.masks
    loss = forward_backward(
        flat_params.views, inputs2d, targets2d, state_rows, flat_grads.views, ws, masks
    )
    if clip:
        clip_gradients(flat_grads.flat)
    h_last = ws.state_out.T.copy()
    return loss, flat_grads.as_dict(), (h_last[:, 0] if column else h_last)


class Trace:
    """What a network computed over one stream of T characters, per layer (L layers of H units).

    hidden: (L, T, H) h after each character; probs: (T, V) the next-character distribution after
    each (float64); cells: (L, T, H) an LSTM's c, else None; gates: name -> (L, T, H) activations
    ("r", "z", "n" for a GRU, "i", "f", "o", "g" for an LSTM); state: (S,) the state after the
    last character.
    """

    def __init__(self, hidden, probs, cells, gates, state):
        self.hidden, self.probs, self.cells, self.gates, self.state = (
            hidden,
            probs,
            cells,
            gates,
            state,
        )


def trace(params: dict[str, np.ndarray], inputs: np.ndarray, state: np.ndarray) -> Trace:
    """Forward pass only, one stream, keeping everything there is to look at (see Trace).

    inputs: (T,) ids; state: (S,). Layer by layer: each layer's input projection is one product
    over the whole text, and only the recurrence steps one character at a time.
    """
    arch = Architecture.from_params(params)
    inputs = np.asarray(inputs)
    T, H, L = len(inputs), arch.hidden_size, arch.layers
    state = np.asarray(state, dtype=arch.float).reshape(-1)
    hidden = np.empty((L, T, H), arch.float)
    cells = np.empty((L, T, H), arch.float) if arch.lstm else None
    gates = {name: np.empty((L, T, H), arch.float) for name in arch.gate_names}
    state_out = np.empty_like(state)
    for layer in range(L):
        wx, wh, b = arch.layer_names(layer)
        if layer == 0:
            acts = np.take(params[wx].T, inputs, axis=0)  # (T, G·H)
        else:
            acts = hidden[layer - 1] @ params[wx].T
        acts += params[b][:, 0]
        h = state[arch.h_slice(layer)].copy()
        Whh = params[wh]
        if arch.cell == "rnn":
            recurrent = np.empty_like(h)
            # In place, row by row: this loop is sequential, so NumPy's per-call cost is what it
            # costs (validation reads thousands of characters through it while playing).
            for row in acts:
                np.dot(Whh, h, out=recurrent)
                row += recurrent
                np.tanh(row, out=row)
                h = row
            hidden[layer] = acts
        elif arch.cell == "gru":
            for t, a in enumerate(acts):
                u = Whh @ h
                a[: 2 * H] += u[: 2 * H]
                _sigmoid(a[: 2 * H])
                r, z, n = a[:H], a[H : 2 * H], a[2 * H :]
                n += r * u[2 * H :]
                np.tanh(n, out=n)
                h = n + z * (h - n)
                hidden[layer, t] = h
            for k, name in enumerate(arch.gate_names):
                gates[name][layer] = acts[:, k * H : (k + 1) * H]
        else:
            c = state[arch.c_slice(layer)].copy()
            for t, a in enumerate(acts):
                a += Whh @ h
                _sigmoid(a[: 3 * H])
                np.tanh(a[3 * H :], out=a[3 * H :])
                c = a[H : 2 * H] * c + a[:H] * a[3 * H :]
                h = a[2 * H : 3 * H] * np.tanh(c)
                hidden[layer, t], cells[layer, t] = h, c
            for k, name in enumerate(arch.gate_names):
                gates[name][layer] = acts[:, k * H : (k + 1) * H]
            state_out[arch.c_slice(layer)] = c if T else state[arch.c_slice(layer)]
        state_out[arch.h_slice(layer)] = hidden[layer, -1] if T else state[arch.h_slice(layer)]
    logits = hidden[-1] @ params["Why"].T + params["by"][:, 0]
    # In float64 whatever the model's precision: a float32 probability underflows to 0 at a
    # logit gap of about 104, and the validation loss would read log(1e-300) for it.
    return Trace(hidden, softmax(logits.astype(np.float64)), cells, gates, state_out)


def forward(
    params: dict[str, np.ndarray], inputs: np.ndarray, h_prev: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Forward pass only: the top layer's hidden states (T, H) and next-character probabilities
    (T, V), row t being the prediction made after reading inputs[t]. h_prev: the state (S,)."""
    result = trace(params, inputs, h_prev)
    return result.hidden[-1], result.probs


def step(
    params: dict[str, np.ndarray], arch: Architecture, char_id: int, state: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Read one character from `state` (S,): the logits (V,) of the next and the new state."""
    new = np.empty_like(state)
    H = arch.hidden_size
    x = None
    for layer in range(arch.layers):
        wx, wh, b = arch.layer_names(layer)
        a = params[wx][:, char_id] if layer == 0 else params[wx] @ x
        h = state[arch.h_slice(layer)]
        u = params[wh] @ h
        if arch.cell == "rnn":
            x = np.tanh(a + u + params[b][:, 0])  # the classic's order of sums
            new[arch.h_slice(layer)] = x
            continue
        a = a + params[b][:, 0]
        if arch.cell == "gru":
            a[: 2 * H] += u[: 2 * H]
            _sigmoid(a[: 2 * H])
            n = np.tanh(a[2 * H :] + a[:H] * u[2 * H :])
            x = n + a[H : 2 * H] * (h - n)
        else:
            a += u
            _sigmoid(a[: 3 * H])
            c = a[H : 2 * H] * state[arch.c_slice(layer)] + a[:H] * np.tanh(a[3 * H :])
            x = a[2 * H : 3 * H] * np.tanh(c)
            new[arch.c_slice(layer)] = c
        new[arch.h_slice(layer)] = x
    return params["Why"] @ x + params["by"][:, 0], new


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the maximum so exp() cannot overflow."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=-1, keepdims=True)
    return shifted
