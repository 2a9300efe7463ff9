"""Checks of the loop-form reference for every cell, stack depth and optimizer, on its own.

These validate the oracle itself (finite differences, the classic min-char-rnn, hand-computed
updates, gate semantics), so that the engine can then be tested against it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnlab.reference import (
    CELLS,
    PARAM_NAMES,
    ReferenceCellTrainer,
    ReferenceTrainer,
    cell_param_names,
    cell_param_shapes,
    reference_cell_forward,
    reference_cell_loss_and_grads,
    reference_cell_sample,
    reference_cell_state_grad,
    reference_loss_and_grads,
    reference_optimizer_memory,
    reference_update,
    sample,
)

CELLS_AND_LAYERS = [(cell, layers) for cell in CELLS for layers in (1, 2, 3)]


def state_size(cell: str, layers: int, H: int) -> int:
    return layers * H * (2 if cell == "lstm" else 1)


def random_problem(seed: int, cell: str, layers: int, H: int = 5, V: int = 7, T: int = 6):
    """Weights ~N(0, 0.5²), so the gates spread well away from 0.5, and a small non-zero state."""
    rng = np.random.default_rng(seed)
    params = {
        name: rng.standard_normal(shape) * 0.5
        for name, shape in cell_param_shapes(cell, layers, V, H).items()
    }
    inputs = rng.integers(0, V, size=T)
    targets = rng.integers(0, V, size=T)
    state = 0.5 * np.tanh(rng.standard_normal((state_size(cell, layers, H), 1)))
    return params, inputs, targets, state


def central_difference(loss_of, array: np.ndarray, idx: tuple[int, ...], eps: float = 1e-5):
    """(loss(a + eps) - loss(a - eps)) / 2 eps at one entry of ``array``, restored afterwards."""
    old = array[idx]
    array[idx] = old + eps
    loss_plus = loss_of()
    array[idx] = old - eps
    loss_minus = loss_of()
    array[idx] = old
    return (loss_plus - loss_minus) / (2 * eps)


def assert_matches_finite_differences(analytic: np.ndarray, numeric: np.ndarray, what: str):
    """Relative error < 1e-6 per entry; an entry whose gradient is ~0 on both sides (a character
    absent from the inputs) has no meaningful ratio, so it may instead differ by the differences'
    own rounding (~1e-16 · loss / 1e-5)."""
    err = np.abs(analytic - numeric)
    scale = np.abs(analytic) + np.abs(numeric)
    bad = err > 1e-6 * scale + 1e-9
    assert not bad.any(), (
        f"{what}: analytic {analytic[bad][:3]} vs numeric {numeric[bad][:3]} "
        f"(max relative error {np.max(err / np.maximum(scale, 1e-300)):.2e})"
    )


def test_parameter_names_come_in_the_canonical_order() -> None:
    assert cell_param_names(1) == PARAM_NAMES
    assert cell_param_names(3) == (
        "Wxh", "Whh", "Wxh2", "Whh2", "Wxh3", "Whh3", "Why", "bh", "bh2", "bh3", "by",
    )  # fmt: skip
    assert cell_param_shapes("lstm", 2, vocab_size=7, hidden_size=5) == {
        "Wxh": (20, 7), "Whh": (20, 5), "Wxh2": (20, 5), "Whh2": (20, 5),
        "Why": (7, 5), "bh": (20, 1), "bh2": (20, 1), "by": (7, 1),
    }  # fmt: skip
    assert cell_param_shapes("gru", 1, vocab_size=7, hidden_size=5)["Whh"] == (15, 5)


@pytest.mark.parametrize(("cell", "layers"), CELLS_AND_LAYERS)
def test_unclipped_gradients_match_central_finite_differences(cell: str, layers: int) -> None:
    params, inputs, targets, state = random_problem(10 * layers, cell, layers)
    _, grads, _ = reference_cell_loss_and_grads(
        params, inputs, targets, state, cell, layers, clip=False
    )

    def loss_of() -> float:
        return reference_cell_loss_and_grads(
            params, inputs, targets, state, cell, layers, clip=False
        )[0]

    for name in cell_param_names(layers):
        param = params[name]
        indices = list(np.ndindex(param.shape))
        analytic = np.array([grads[name][idx] for idx in indices])
        numeric = np.array([central_difference(loss_of, param, idx) for idx in indices])
        assert np.any(analytic != 0), f"{name}: all gradients are zero, nothing checked"
        assert_matches_finite_differences(analytic, numeric, f"{cell} L={layers} {name}")


@pytest.mark.parametrize(("cell", "layers"), CELLS_AND_LAYERS)
def test_state_gradient_matches_central_finite_differences(cell: str, layers: int) -> None:
    params, inputs, targets, state = random_problem(20 + layers, cell, layers)
    analytic = reference_cell_state_grad(params, inputs, targets, state, cell, layers)
    assert analytic.shape == state.shape

    def loss_of() -> float:
        return reference_cell_loss_and_grads(
            params, inputs, targets, state, cell, layers, clip=False
        )[0]

    numeric = np.zeros_like(state)
    for idx in np.ndindex(state.shape):
        numeric[idx] = central_difference(loss_of, state, idx)
    assert_matches_finite_differences(analytic, numeric, f"{cell} L={layers} state")


@pytest.mark.parametrize("cell", CELLS)
def test_gates_of_the_gradient_check_problem_are_far_from_one_half(cell: str) -> None:
    params, inputs, _, state = random_problem(30, cell, 2)
    forward = reference_cell_forward(params, inputs, state, cell, 2)
    for gate in {"rnn": ["h"], "gru": ["r", "z"], "lstm": ["i", "f", "o"]}[cell]:
        assert np.std(forward[gate]) > 0.1, f"{gate} is too tame to exercise the backward pass"


@pytest.mark.parametrize("clip", [True, False])
def test_rnn_with_one_layer_is_the_classic_loss_and_gradients(clip: bool) -> None:
    params, inputs, targets, state = random_problem(40, "rnn", 1, H=6, V=5, T=9)
    params = {name: 2 * value for name, value in params.items()}  # big enough for clipping
    loss, grads, state_last = reference_cell_loss_and_grads(
        params, inputs, targets, state, "rnn", 1, clip=clip
    )
    classic_loss, classic_grads, h_last = reference_loss_and_grads(
        params, inputs, targets, state, clip=clip
    )
    assert abs(loss - classic_loss) <= 1e-14 * abs(classic_loss)
    assert set(grads) == set(PARAM_NAMES)
    for name in PARAM_NAMES:
        np.testing.assert_allclose(grads[name], classic_grads[name], rtol=0, atol=1e-14)
    np.testing.assert_allclose(state_last, h_last, rtol=0, atol=1e-14)


def test_rnn_with_one_layer_and_adagrad_trains_like_the_classic_trainer() -> None:
    V, H, T = 4, 6, 5
    data = np.random.default_rng(41).integers(0, V, size=3 * T)  # room for two windows, not three
    params, _, _, _ = random_problem(42, "rnn", 1, H=H, V=V)
    classic = ReferenceTrainer(data, V, seq_length=T, learning_rate=0.1, params=params)
    trainer = ReferenceCellTrainer(data, V, params, T, 0.1, "rnn", 1, "adagrad")
    for _ in range(7):
        assert trainer.step() == pytest.approx(classic.step(), rel=1e-14, abs=0)
        assert trainer.pointer == classic.pointer
        np.testing.assert_allclose(trainer.state, classic.h, rtol=0, atol=1e-14)
        assert trainer.smooth_loss == pytest.approx(classic.smooth_loss, rel=1e-14, abs=0)
    for name in PARAM_NAMES:
        np.testing.assert_allclose(trainer.params[name], classic.params[name], rtol=0, atol=1e-14)
        np.testing.assert_allclose(
            trainer.memory["mem"][name], classic.mem[name], rtol=0, atol=1e-14
        )


def test_rnn_with_one_layer_samples_like_the_classic_sample() -> None:
    params, _, _, state = random_problem(43, "rnn", 1, H=6, V=5)
    ids = reference_cell_sample(params, state, 2, 30, np.random.default_rng(7), "rnn", 1)
    assert ids == sample(params, state, 2, 30, np.random.default_rng(7))


@pytest.mark.parametrize(("cell", "layers"), CELLS_AND_LAYERS)
def test_a_chunk_of_2T_equals_two_chunks_of_T_carrying_the_state(cell: str, layers: int) -> None:
    params, inputs, targets, state = random_problem(50 + layers, cell, layers, T=8)
    loss, _, state_last = reference_cell_loss_and_grads(
        params, inputs, targets, state, cell, layers
    )
    loss_a, _, state_mid = reference_cell_loss_and_grads(
        params, inputs[:4], targets[:4], state, cell, layers
    )
    loss_b, _, state_end = reference_cell_loss_and_grads(
        params, inputs[4:], targets[4:], state_mid, cell, layers
    )
    assert loss == pytest.approx(loss_a + loss_b, rel=1e-13)
    np.testing.assert_allclose(state_end, state_last, rtol=1e-13, atol=1e-15)
    whole = reference_cell_forward(params, inputs, state, cell, layers)
    first = reference_cell_forward(params, inputs[:4], state, cell, layers)
    second = reference_cell_forward(params, inputs[4:], state_mid, cell, layers)
    assert set(whole) == set(first) == set(second)
    for key, value in whole.items():
        axis = 0 if key == "probs" else 1
        joined = np.concatenate([first[key], second[key]], axis=axis)
        np.testing.assert_allclose(value, joined, rtol=1e-13, atol=1e-15, err_msg=key)


@pytest.mark.parametrize(("cell", "layers"), CELLS_AND_LAYERS)
def test_the_state_is_each_layers_h_then_c_in_turn(cell: str, layers: int) -> None:
    H = 5
    params, inputs, targets, state = random_problem(60 + layers, cell, layers, H=H)
    _, _, state_last = reference_cell_loss_and_grads(params, inputs, targets, state, cell, layers)
    forward = reference_cell_forward(params, inputs, state, cell, layers)
    blocks = []
    for k in range(layers):
        blocks.append(forward["h"][k, -1])
        if cell == "lstm":
            blocks.append(forward["c"][k, -1])
    np.testing.assert_array_equal(state_last, np.concatenate(blocks)[:, None])
    # And the incoming state is read in the same layout: the first step of each layer starts
    # from its own block (checked through the rnn/gru/lstm step written out here for layer 1).
    h0 = state[:H]
    x = np.zeros((params["Wxh"].shape[1], 1))
    x[inputs[0]] = 1.0
    a = params["Wxh"] @ x + params["bh"]
    u = params["Whh"] @ h0
    if cell == "rnn":
        h1 = np.tanh(a + u)
    elif cell == "gru":
        r = 1 / (1 + np.exp(-(a[:H] + u[:H])))
        z = 1 / (1 + np.exp(-(a[H : 2 * H] + u[H : 2 * H])))
        n = np.tanh(a[2 * H :] + r * u[2 * H :])
        h1 = (1 - z) * n + z * h0
    else:
        s = 1 / (1 + np.exp(-(a + u)))
        c1 = s[H : 2 * H] * state[H : 2 * H] + s[:H] * np.tanh((a + u)[3 * H :])
        h1 = s[2 * H : 3 * H] * np.tanh(c1)
        np.testing.assert_allclose(forward["c"][0, 0], c1[:, 0], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(forward["h"][0, 0], h1[:, 0], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(("cell", "layers"), CELLS_AND_LAYERS)
def test_forward_values_are_what_the_loss_is_computed_from(cell: str, layers: int) -> None:
    H, V, T = 5, 7, 6
    params, inputs, targets, state = random_problem(70 + layers, cell, layers, H=H, V=V, T=T)
    loss, _, _ = reference_cell_loss_and_grads(params, inputs, targets, state, cell, layers)
    forward = reference_cell_forward(params, inputs, state, cell, layers)
    gates = {"rnn": set(), "gru": {"r", "z", "n"}, "lstm": {"c", "i", "f", "o", "g"}}[cell]
    assert set(forward) == {"h", "probs"} | gates
    assert forward["probs"].shape == (T, V)
    for key in {"h"} | gates:
        assert forward[key].shape == (layers, T, H), key
    np.testing.assert_allclose(forward["probs"].sum(axis=1), 1.0, rtol=1e-14)
    assert loss == pytest.approx(-np.log(forward["probs"][np.arange(T), targets]).sum(), rel=1e-14)
    # The output reads the top layer's h.
    logits = params["Why"] @ forward["h"][-1].T + params["by"]
    expected = np.exp(logits) / np.exp(logits).sum(axis=0)
    np.testing.assert_allclose(forward["probs"], expected.T, rtol=1e-13)


@pytest.mark.parametrize(("cell", "layers"), [("gru", 2), ("lstm", 3)])
def test_clipping_bounds_every_gradient_and_leaves_small_ones_alone(cell: str, layers: int) -> None:
    params, inputs, targets, state = random_problem(80, cell, layers, T=12)
    params = {name: 4 * value for name, value in params.items()}
    _, raw, _ = reference_cell_loss_and_grads(params, inputs, targets, state, cell, layers, False)
    _, clipped, _ = reference_cell_loss_and_grads(params, inputs, targets, state, cell, layers)
    assert max(np.abs(g).max() for g in raw.values()) > 5, "problem too tame to exercise clipping"
    for name in cell_param_names(layers):
        np.testing.assert_array_equal(clipped[name], np.clip(raw[name], -5, 5))


@pytest.mark.parametrize("cell", CELLS)
def test_inputs_are_not_modified(cell: str) -> None:
    params, inputs, targets, state = random_problem(90, cell, 2)
    before = {name: value.copy() for name, value in params.items()}
    state_before = state.copy()
    reference_cell_loss_and_grads(params, inputs, targets, state, cell, 2)
    reference_cell_forward(params, inputs, state, cell, 2)
    reference_cell_sample(params, state, 0, 5, np.random.default_rng(0), cell, 2)
    for name, value in before.items():
        np.testing.assert_array_equal(params[name], value)
    np.testing.assert_array_equal(state, state_before)


def test_a_state_of_the_wrong_size_is_refused_with_the_layout() -> None:
    params, inputs, targets, _ = random_problem(91, "lstm", 2)
    with pytest.raises(ValueError, match=r"needs \(20, 1\)"):
        reference_cell_loss_and_grads(params, inputs, targets, np.zeros((10, 1)), "lstm", 2)
    with pytest.raises(ValueError, match="Unknown cell"):
        reference_cell_forward(params, inputs, np.zeros((20, 1)), "lstn", 2)
    with pytest.raises(ValueError, match=r"Wxh has shape \(20, 7\); a 2-layer gru"):
        reference_cell_forward(params, inputs, np.zeros((20, 1)), "gru", 2)


def saturated(cell: str, layers: int, biases: dict[int, float], H: int = 5):
    """A random problem whose gate blocks (by index) are pinned by huge biases and no weights."""
    params, inputs, _, state = random_problem(95, cell, layers, H=H, T=8)
    for k in range(1, layers + 1):
        suffix = "" if k == 1 else str(k)
        for block, bias in biases.items():
            rows = slice(block * H, (block + 1) * H)
            params[f"Wxh{suffix}"][rows] = 0.0
            params[f"Whh{suffix}"][rows] = 0.0
            params[f"bh{suffix}"][rows] = bias
    return params, inputs, state


@pytest.mark.parametrize("layers", [1, 2])
def test_lstm_with_forget_gate_open_and_input_gate_closed_carries_c_unchanged(layers: int) -> None:
    H = 5
    # Blocks (i, f, o, g): i = σ(-40) ≈ 4e-18, f = σ(40) = 1.
    params, inputs, state = saturated("lstm", layers, {0: -40.0, 1: 40.0}, H=H)
    forward = reference_cell_forward(params, inputs, state, "lstm", layers)
    for k in range(layers):
        c0 = state[2 * H * k + H : 2 * H * (k + 1), 0]
        np.testing.assert_allclose(forward["c"][k], np.tile(c0, (8, 1)), rtol=0, atol=1e-15)
        # The output gate still moves, so h = o tanh(c) changes while c does not.
        np.testing.assert_allclose(forward["h"][k], forward["o"][k] * np.tanh(c0), rtol=1e-14)
        assert np.std(forward["o"][k]) > 0.05


def test_lstm_with_forget_gate_closed_and_input_gate_open_writes_c_from_g() -> None:
    params, inputs, state = saturated("lstm", 2, {0: 40.0, 1: -40.0})
    forward = reference_cell_forward(params, inputs, state, "lstm", 2)
    np.testing.assert_allclose(forward["c"], forward["g"], rtol=0, atol=1e-15)


def test_gru_with_update_gate_shut_carries_h_and_open_takes_the_candidate() -> None:
    H = 5
    # Blocks (r, z, n): z = σ(40) = 1 keeps h_prev; z = σ(-40) ≈ 0 takes n.
    params, inputs, state = saturated("gru", 2, {1: 40.0}, H=H)
    forward = reference_cell_forward(params, inputs, state, "gru", 2)
    for k in range(2):
        h0 = state[H * k : H * (k + 1), 0]
        np.testing.assert_allclose(forward["h"][k], np.tile(h0, (8, 1)), rtol=0, atol=1e-15)
    params, inputs, state = saturated("gru", 2, {1: -40.0}, H=H)
    forward = reference_cell_forward(params, inputs, state, "gru", 2)
    np.testing.assert_allclose(forward["h"], forward["n"], rtol=0, atol=1e-15)


def two_updates(optimizer: str) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """params [[0.5, -1.0]], gradients [[0.2, -3.0]] then [[-0.1, 0.5]], learning rate 0.1."""
    params = {"w": np.array([[0.5, -1.0]])}
    memory = reference_optimizer_memory(params, optimizer)
    for step, grad in enumerate([[[0.2, -3.0]], [[-0.1, 0.5]]], start=1):
        reference_update(params, {"w": np.array(grad)}, memory, optimizer, 0.1, step)
    return params["w"][0], memory


def test_adagrad_first_two_updates_by_hand() -> None:
    w, memory = two_updates("adagrad")
    # mem: 0.2² = 0.04, then 0.04 + 0.01 = 0.05;  3² = 9, then 9 + 0.25 = 9.25.
    np.testing.assert_allclose(memory["mem"]["w"][0], [0.05, 9.25], rtol=1e-14)
    w0 = 0.5 - 0.1 * 0.2 / math.sqrt(0.04 + 1e-8) - 0.1 * -0.1 / math.sqrt(0.05 + 1e-8)
    w1 = -1.0 - 0.1 * -3.0 / math.sqrt(9.0 + 1e-8) - 0.1 * 0.5 / math.sqrt(9.25 + 1e-8)
    np.testing.assert_allclose(w, [w0, w1], rtol=1e-14)


def test_rmsprop_first_two_updates_by_hand() -> None:
    w, memory = two_updates("rmsprop")
    # mem: 0.05 · 0.04 = 0.002, then 0.95 · 0.002 + 0.05 · 0.01 = 0.0024;
    #      0.05 · 9 = 0.45,     then 0.95 · 0.45 + 0.05 · 0.25 = 0.44.
    np.testing.assert_allclose(memory["mem"]["w"][0], [0.0024, 0.44], rtol=1e-14)
    w0 = 0.5 - 0.1 * 0.2 / math.sqrt(0.002 + 1e-8) - 0.1 * -0.1 / math.sqrt(0.0024 + 1e-8)
    w1 = -1.0 - 0.1 * -3.0 / math.sqrt(0.45 + 1e-8) - 0.1 * 0.5 / math.sqrt(0.44 + 1e-8)
    np.testing.assert_allclose(w, [w0, w1], rtol=1e-14)


def test_adam_first_two_updates_by_hand() -> None:
    w, memory = two_updates("adam")
    # Step 1: m = 0.1 d = (0.02, -0.3), v = 0.001 d² = (0.00004, 0.009); bias correction divides
    # by 0.1 and 0.001, giving back d and d².
    # Step 2: m = 0.9 m + 0.1 d = (0.018 - 0.01, -0.27 + 0.05) = (0.008, -0.22);
    #         v = 0.999 v + 0.001 d² = (0.00003996 + 0.00001, 0.008991 + 0.00025)
    #           = (0.00004996, 0.009241);  corrections 1 - 0.81 = 0.19 and 1 - 0.998001 = 0.001999.
    np.testing.assert_allclose(memory["m"]["w"][0], [0.008, -0.22], rtol=1e-13)
    np.testing.assert_allclose(memory["v"]["w"][0], [0.00004996, 0.009241], rtol=1e-13)
    w0 = (
        0.5
        - 0.1 * 0.2 / (math.sqrt(0.04) + 1e-8)
        - 0.1 * (0.008 / 0.19) / (math.sqrt(0.00004996 / 0.001999) + 1e-8)
    )
    w1 = (
        -1.0
        - 0.1 * -3.0 / (math.sqrt(9.0) + 1e-8)
        - 0.1 * (-0.22 / 0.19) / (math.sqrt(0.009241 / 0.001999) + 1e-8)
    )
    np.testing.assert_allclose(w, [w0, w1], rtol=1e-13)


@pytest.mark.parametrize(
    ("cell", "layers", "optimizer"), [("gru", 2, "rmsprop"), ("lstm", 3, "adam")]
)
def test_cell_trainer_is_the_classic_loop_over_the_reference_functions(
    cell: str, layers: int, optimizer: str
) -> None:
    V, H, T = 7, 5, 6
    data = np.random.default_rng(96).integers(0, V, size=3 * T)  # room for two windows, not three
    params, _, _, _ = random_problem(97, cell, layers, H=H, V=V)
    trainer = ReferenceCellTrainer(data, V, params, T, 0.05, cell, layers, optimizer)
    assert trainer.state.shape == (state_size(cell, layers, H), 1)
    expected = {name: value.copy() for name, value in params.items()}
    memory = reference_optimizer_memory(expected, optimizer)
    smooth = -np.log(1 / V) * T
    starts = [0, T, 0, T, 0]
    state = np.zeros_like(trainer.state)
    for step, start in enumerate(starts, start=1):
        if start == 0:
            state = np.zeros_like(state)
        loss, grads, state = reference_cell_loss_and_grads(
            expected, data[start : start + T], data[start + 1 : start + T + 1], state, cell, layers
        )
        reference_update(expected, grads, memory, optimizer, 0.05, step)
        smooth = 0.999 * smooth + 0.001 * loss
        assert trainer.step() == loss
        assert trainer.pointer == start + T
    assert trainer.iteration == len(starts)
    assert trainer.smooth_loss == smooth
    np.testing.assert_array_equal(trainer.state, state)
    for name, value in expected.items():
        np.testing.assert_array_equal(trainer.params[name], value)
        assert not np.array_equal(params[name], value), f"{name}: caller's array was changed"
