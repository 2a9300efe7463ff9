"""Checks of the loop-form reference on its own; none of them need the engine."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.reference import PARAM_NAMES, ReferenceTrainer, reference_loss_and_grads


def random_problem(seed: int, H: int, V: int, T: int, scale: float = 0.3):
    """Random params, sequence and start state.

    ``scale`` is much larger than the training init (0.01) so that the tanh
    non-linearity and the recurrence actually matter in the gradient check.
    """
    rng = np.random.default_rng(seed)
    params = {
        "Wxh": rng.standard_normal((H, V)) * scale,
        "Whh": rng.standard_normal((H, H)) * scale,
        "Why": rng.standard_normal((V, H)) * scale,
        "bh": rng.standard_normal((H, 1)) * scale,
        "by": rng.standard_normal((V, 1)) * scale,
    }
    inputs = rng.integers(0, V, size=T)
    targets = rng.integers(0, V, size=T)
    h_prev = np.tanh(rng.standard_normal((H, 1)))
    return params, inputs, targets, h_prev


@pytest.mark.parametrize(("seed", "H", "V", "T"), [(0, 5, 4, 3), (1, 7, 6, 8), (2, 10, 3, 12)])
def test_unclipped_gradients_match_central_finite_differences(
    seed: int, H: int, V: int, T: int
) -> None:
    params, inputs, targets, h_prev = random_problem(seed, H, V, T)
    _, grads, _ = reference_loss_and_grads(params, inputs, targets, h_prev, clip=False)
    eps = 1e-5
    for name in PARAM_NAMES:
        param = params[name]
        numeric = np.zeros_like(param)
        for idx in np.ndindex(param.shape):
            old = param[idx]
            param[idx] = old + eps
            loss_plus, _, _ = reference_loss_and_grads(params, inputs, targets, h_prev, clip=False)
            param[idx] = old - eps
            loss_minus, _, _ = reference_loss_and_grads(params, inputs, targets, h_prev, clip=False)
            param[idx] = old
            numeric[idx] = (loss_plus - loss_minus) / (2 * eps)
        # Whole-array relative error: per-element ratios blow up on entries
        # whose true gradient is ~0, which says nothing about correctness.
        rel = np.linalg.norm(numeric - grads[name]) / (
            np.linalg.norm(numeric) + np.linalg.norm(grads[name])
        )
        assert rel < 1e-6, f"{name}: relative error {rel:.2e}"


def test_clipping_bounds_every_gradient_and_leaves_small_ones_alone() -> None:
    params, inputs, targets, h_prev = random_problem(3, H=8, V=5, T=30, scale=2.0)
    _, raw, _ = reference_loss_and_grads(params, inputs, targets, h_prev, clip=False)
    _, clipped, _ = reference_loss_and_grads(params, inputs, targets, h_prev, clip=True)
    assert max(np.abs(g).max() for g in raw.values()) > 5, "problem too tame to exercise clipping"
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(clipped[name], np.clip(raw[name], -5, 5))


def test_inputs_are_not_modified() -> None:
    params, inputs, targets, h_prev = random_problem(4, H=6, V=5, T=7)
    before = {k: v.copy() for k, v in params.items()}
    h_before = h_prev.copy()
    reference_loss_and_grads(params, inputs, targets, h_prev)
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(params[name], before[name])
    np.testing.assert_array_equal(h_prev, h_before)


def test_last_hidden_state_is_the_recurrence_run_forward() -> None:
    params, inputs, targets, h_prev = random_problem(5, H=6, V=5, T=9)
    _, _, h_last = reference_loss_and_grads(params, inputs, targets, h_prev)
    h = h_prev
    for ix in inputs:
        h = np.tanh(params["Wxh"][:, [ix]] + params["Whh"] @ h + params["bh"])
    assert h_last.shape == (6, 1)
    np.testing.assert_allclose(h_last, h, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("V", "T"), [(10, 25), (65, 25), (200, 7)])
def test_loss_at_init_is_close_to_uniform_prediction(V: int, T: int) -> None:
    trainer = ReferenceTrainer(
        np.arange(T + 1) % V, vocab_size=V, hidden_size=50, seq_length=T, seed=0
    )
    h0 = np.zeros((50, 1))
    loss, _, _ = reference_loss_and_grads(
        trainer.params, trainer.data[:T], trainer.data[1 : T + 1], h0
    )
    assert loss == pytest.approx(T * np.log(V), rel=0.01)
    assert trainer.smooth_loss == pytest.approx(T * np.log(V), rel=1e-12)


def test_training_on_repetitive_text_reduces_smooth_loss() -> None:
    text = "hello world, hello rnn. " * 40
    chars = sorted(set(text))
    data = np.array([chars.index(c) for c in text])
    trainer = ReferenceTrainer(data, vocab_size=len(chars), hidden_size=32, seq_length=12, seed=1)
    start = trainer.smooth_loss
    trainer.step(400)
    assert trainer.iteration == 400
    assert len(trainer.losses) == 400
    assert trainer.smooth_loss < start
    # The smoothed value lags far behind (0.999 decay), so also look at the raw
    # losses: the text is nearly deterministic and should be learnt well.
    assert np.mean(trainer.losses[-20:]) < 0.25 * np.mean(trainer.losses[:20])


def test_pointer_wraps_to_start_with_fresh_state() -> None:
    T = 5
    data = np.arange(2 * T + 3) % 4  # room for two windows, not three
    trainer = ReferenceTrainer(data, vocab_size=4, hidden_size=6, seq_length=T, seed=2)
    trainer.step()
    assert trainer.pointer == T
    trainer.step()
    assert trainer.pointer == 2 * T
    assert np.any(trainer.h != 0)
    # Third window [2T, 3T+1) does not fit, so this step starts over at 0 from
    # a zero state: its loss equals a one-off computation from zeros.
    expected, _, _ = reference_loss_and_grads(
        trainer.params, data[:T], data[1 : T + 1], np.zeros((6, 1))
    )
    assert trainer.step() == pytest.approx(expected, rel=1e-12)
    assert trainer.pointer == T


def test_given_params_are_copied_not_shared() -> None:
    params, _, _, _ = random_problem(6, H=4, V=3, T=1, scale=0.01)
    before = {k: v.copy() for k, v in params.items()}
    trainer = ReferenceTrainer(np.array([0, 1, 2] * 10), vocab_size=3, seq_length=4, params=params)
    assert trainer.hidden_size == 4
    trainer.step(3)
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(params[name], before[name])
        assert not np.array_equal(trainer.params[name], before[name])


def test_seeded_init_is_reproducible_and_draws_in_documented_order() -> None:
    a = ReferenceTrainer(np.zeros(10, dtype=int), vocab_size=7, hidden_size=5, seed=42)
    b = ReferenceTrainer(np.zeros(10, dtype=int), vocab_size=7, hidden_size=5, seed=42)
    rng = np.random.default_rng(42)
    expected = {
        "Wxh": rng.standard_normal((5, 7)) * 0.01,
        "Whh": rng.standard_normal((5, 5)) * 0.01,
        "Why": rng.standard_normal((7, 5)) * 0.01,
    }
    for name, value in expected.items():
        np.testing.assert_array_equal(a.params[name], value)
        np.testing.assert_array_equal(b.params[name], value)
    np.testing.assert_array_equal(a.params["bh"], np.zeros((5, 1)))
    np.testing.assert_array_equal(a.params["by"], np.zeros((7, 1)))


def test_sample_returns_valid_ids_and_follows_a_learnt_pattern() -> None:
    data = np.array([0, 1, 2, 3] * 100)
    trainer = ReferenceTrainer(data, vocab_size=4, hidden_size=16, seq_length=8, seed=3)
    trainer.step(300)
    ids = trainer.sample(np.zeros((16, 1)), seed_ix=0, n=40, rng=np.random.default_rng(0))
    assert len(ids) == 40
    assert all(0 <= i < 4 for i in ids)
    # After 0 comes 1, after 1 comes 2, ...: nearly every transition should fit.
    follows = sum((b - a) % 4 == 1 for a, b in zip([0, *ids[:-1]], ids, strict=True))
    assert follows >= 36
