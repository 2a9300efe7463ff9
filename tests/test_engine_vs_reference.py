"""The vectorised engine must compute what the loop-form reference computes.

The reference (rnnlab/reference.py) is the textbook min-char-rnn written out step by step; these
tests hold the engine (rnnlab.loss_and_grads, rnnlab.Trainer) to it, from one chunk's gradients up
to the statistics of a long training run.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

import rnnlab
from rnnlab.reference import PARAM_NAMES, ReferenceTrainer, reference_loss_and_grads

LYRICS = Path(__file__).parents[1] / "data" / "lyrics.txt"

# Accents, a non-Latin-1 dash and plain ASCII, so ids are not simply ord() of the characters.
NON_ASCII_TEXT = "héllo wörld — ça va? " * 12 + "The quick brown fox jumps over 13 lazy dogs.\n"


def assert_close(
    actual: np.ndarray | float, expected: np.ndarray | float, rel: float, what: str
) -> None:
    """|actual - expected| <= rel * max|expected|, element-wise.

    Relative to the array's largest entry rather than to each entry: an entry whose true value is
    ~1e-17 can differ from the reference in its first digit purely by rounding.
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    err = float(np.max(np.abs(actual - expected))) if expected.size else 0.0
    assert err <= rel * max(scale, 1e-300), f"{what}: max error {err:.3e} vs scale {scale:.3e}"


def random_params(rng: np.random.Generator, H: int, V: int, scale: float) -> dict[str, np.ndarray]:
    return {
        "Wxh": rng.standard_normal((H, V)) * scale,
        "Whh": rng.standard_normal((H, H)) * scale,
        "Why": rng.standard_normal((V, H)) * scale,
        "bh": rng.standard_normal((H, 1)) * scale,
        "by": rng.standard_normal((V, 1)) * scale,
    }


def reference_for(trainer: rnnlab.Trainer, text: str) -> ReferenceTrainer:
    """A ReferenceTrainer on the same ids, hyperparameters and (copied) initial weights."""
    cfg = trainer.config
    return ReferenceTrainer(
        trainer.vocab.encode(text),
        vocab_size=trainer.vocab.size,
        hidden_size=cfg.hidden_size,
        seq_length=cfg.seq_length,
        learning_rate=cfg.learning_rate,
        params={name: np.array(value) for name, value in trainer.params.items()},
    )


# --------------------------------------------------------------------------- one chunk
@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize(
    ("seed", "H", "T", "scale"), [(0, 16, 25, 0.1), (1, 40, 9, 0.5), (2, 7, 60, 1.5)]
)
def test_one_chunk_on_non_ascii_text_matches_reference(
    seed: int, H: int, T: int, scale: float, clip: bool
) -> None:
    vocab = rnnlab.Vocab.from_text(NON_ASCII_TEXT)
    assert {"é", "ö", "—", "ç"} <= set(vocab.chars)
    ids = vocab.encode(NON_ASCII_TEXT)
    assert vocab.decode(ids) == NON_ASCII_TEXT
    V = vocab.size
    rng = np.random.default_rng(seed)
    params = random_params(rng, H, V, scale)
    start = int(rng.integers(0, len(ids) - T - 1))
    inputs, targets = ids[start : start + T], ids[start + 1 : start + T + 1]
    h_prev = np.tanh(rng.standard_normal((H, 1)))
    params_before = copy.deepcopy(params)

    loss, grads, h_last = rnnlab.loss_and_grads(params, inputs, targets, h_prev, clip=clip)
    ref_loss, ref_grads, ref_h = reference_loss_and_grads(
        params, inputs, targets, h_prev, clip=clip
    )

    assert_close(loss, ref_loss, 1e-10, "loss")
    assert set(grads) == set(PARAM_NAMES)
    for name in PARAM_NAMES:
        assert_close(grads[name], ref_grads[name], 1e-10, f"d{name}")
    assert_close(h_last, ref_h, 1e-10, "h_last")
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(
            params[name], params_before[name], err_msg=f"{name} was modified"
        )


def test_clipping_matches_reference_when_gradients_explode() -> None:
    vocab = rnnlab.Vocab.from_text(NON_ASCII_TEXT)
    ids = vocab.encode(NON_ASCII_TEXT)
    rng = np.random.default_rng(7)
    params = random_params(rng, 12, vocab.size, 3.0)
    h_prev = np.zeros((12, 1))
    inputs, targets = ids[:80], ids[1:81]
    _, raw, _ = reference_loss_and_grads(params, inputs, targets, h_prev, clip=False)
    assert max(np.abs(g).max() for g in raw.values()) > 5, "weights too small to exercise clipping"
    _, grads, _ = rnnlab.loss_and_grads(params, inputs, targets, h_prev)
    _, ref_grads, _ = reference_loss_and_grads(params, inputs, targets, h_prev)
    for name in PARAM_NAMES:
        assert np.abs(grads[name]).max() <= 5.0
        assert_close(grads[name], ref_grads[name], 1e-10, f"d{name}")


# --------------------------------------------------------------------------- training steps
# The learning rate stays at the default 0.1: Adagrad's first steps divide by sqrt(mem + 1e-8) with
# mem still tiny, which amplifies last-bit differences several-fold per iteration, and at lr=0.5
# the reference run against itself with weights perturbed by 1e-15 already differs by ~1e-6
# after 8 iterations. At 0.1 the engine stays within ~2e-10 of the reference over 8 iterations.
@pytest.mark.parametrize(("seed", "H", "T", "lr"), [(0, 100, 25, 0.1), (5, 33, 11, 0.1)])
def test_first_training_iterations_match_reference(seed: int, H: int, T: int, lr: float) -> None:
    trainer = rnnlab.Trainer(
        NON_ASCII_TEXT, rnnlab.Config(hidden_size=H, seq_length=T, learning_rate=lr, seed=seed)
    )
    reference = reference_for(trainer, NON_ASCII_TEXT)
    # The reference draws its own initial weights the same way from the same seed.
    drawn = ReferenceTrainer(reference.data, trainer.vocab.size, hidden_size=H, seed=seed)
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(trainer.params[name], drawn.params[name], err_msg=name)
    assert trainer.smooth_loss == pytest.approx(reference.smooth_loss, rel=1e-12)

    for i in range(8):
        loss = trainer.step()
        ref_loss = reference.step()
        where = f"iteration {i + 1}"
        assert_close(loss, ref_loss, 1e-8, f"loss at {where}")
        assert_close(trainer.losses[-1], ref_loss, 1e-8, f"losses[-1] at {where}")
        assert_close(trainer.smooth_loss, reference.smooth_loss, 1e-8, f"smooth loss at {where}")
        assert trainer.iteration == reference.iteration == i + 1
        assert trainer.pointer == reference.pointer, where
        for name in PARAM_NAMES:
            assert_close(trainer.params[name], reference.params[name], 1e-8, f"{name} at {where}")
        assert_close(trainer.hidden, reference.h.T, 1e-8, f"hidden at {where}")
    assert len(trainer.losses) == 8


def test_data_pointer_wraps_at_same_iteration_with_fresh_hidden_state() -> None:
    T = 10
    text = (
        "abcdefghij" + "ßklmnopqrs" + "xyz"
    )  # 2T + 3 characters: two chunks fit, a third does not
    assert len(text) == 2 * T + 3
    trainer = rnnlab.Trainer(text, rnnlab.Config(hidden_size=16, seq_length=T, seed=3))
    reference = reference_for(trainer, text)
    ids = reference.data
    pointers = []
    for i in range(7):
        params_before = {name: np.array(value) for name, value in trainer.params.items()}
        hidden_before = trainer.hidden.copy()
        loss = trainer.step()
        ref_loss = reference.step()
        assert trainer.pointer == reference.pointer, f"iteration {i + 1}"
        assert_close(loss, ref_loss, 1e-8, f"loss at iteration {i + 1}")
        assert_close(trainer.hidden, reference.h.T, 1e-8, f"hidden at iteration {i + 1}")
        if trainer.pointer == T and i > 0:
            # This step wrapped. The chunk must have been read from a zero state, not from the
            # state the previous chunk ended in: the hidden state after it is the one reached
            # from zeros over the first T characters.
            assert np.any(hidden_before != 0)
            _, _, h_from_zero = reference_loss_and_grads(
                params_before, ids[:T], ids[1 : T + 1], np.zeros((16, 1))
            )
            _, _, h_carried = reference_loss_and_grads(
                params_before, ids[:T], ids[1 : T + 1], hidden_before.T
            )
            assert_close(
                trainer.hidden, h_from_zero.T, 1e-10, f"hidden after wrap at iteration {i + 1}"
            )
            assert not np.allclose(trainer.hidden, h_carried.T, rtol=0, atol=1e-8)
        pointers.append(trainer.pointer)
    # Pointer after each step: T, 2T, then back to the start (0 + T) every second step.
    assert pointers == [T, 2 * T, T, 2 * T, T, 2 * T, T]


# --------------------------------------------------------------------------- long run
LONG_RUN_ITERATIONS = 3000
WINDOW = 8


def test_every_window_of_a_long_run_matches_reference_from_the_engines_own_state() -> None:
    """3000 default iterations on the bundled corpus (the pointer wraps several times), held to
    the reference 8 iterations at a time: before each window the reference takes the engine's
    exact state (parameters, Adagrad memory, hidden state, pointer, smoothed loss), then both
    step 8 iterations and must agree to 1e-8.

    Run freely side by side, the two only agree statistically: rounding differences in the last
    bit are amplified by Adagrad's first steps (two references 1e-15 apart decorrelate within
    ~20 iterations), and how much depends on the machine's BLAS. Windows keep the check exact
    over a long run on any machine.
    """
    text = LYRICS.read_text(encoding="utf-8")
    trainer = rnnlab.Trainer(text, rnnlab.Config(seed=0))
    reference = reference_for(trainer, text)
    start = reference.smooth_loss
    wraps = 0
    while trainer.iteration < LONG_RUN_ITERATIONS:
        reference.params = {name: np.array(v) for name, v in trainer.params.items()}
        reference.mem = {name: np.array(v) for name, v in trainer.adagrad_memory.items()}
        reference.h = trainer.hidden.T.copy()
        reference.pointer, reference.iteration = trainer.pointer, trainer.iteration
        reference.smooth_loss = trainer.smooth_loss
        pointer_before = trainer.pointer
        trainer.step(WINDOW)
        reference.step(WINDOW)
        at = f"iterations {trainer.iteration - WINDOW}..{trainer.iteration}"
        assert trainer.pointer == reference.pointer, f"{at}: data pointers differ"
        wraps += trainer.pointer < pointer_before
        assert_close(trainer.losses[-WINDOW:], reference.losses[-WINDOW:], 1e-8, f"{at}: losses")
        for name in PARAM_NAMES:
            assert_close(trainer.params[name], reference.params[name], 1e-8, f"{at}: {name}")
        assert_close(trainer.hidden.T, reference.h, 1e-8, f"{at}: hidden state")
    assert wraps >= 2, "the run must wrap around the text more than once"
    assert trainer.smooth_loss < 0.8 * start, "the model did not learn; the check is vacuous"
