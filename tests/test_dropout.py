"""Dropout on the non-recurrent connections, against the loop-form oracle with the same masks.

The engine multiplies what each layer hands on (to the layer above, or from the top layer to the
output) by a mask drawn from the trainer's own random state; the oracle (rnnlab/reference.py)
takes the masks as an argument. Given the same masks they agree to 1e-10; the gradient check
passes with the masks held fixed; a resume draws the same masks; nothing is dropped when
validating or sampling; and dropout 0 is the engine without dropout, bit for bit.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest

import rnnlab
from rnnlab.architecture import Architecture
from rnnlab.model import Workspace, draw_masks
from rnnlab.reference import ReferenceCellTrainer, reference_cell_loss_and_grads
from tests.test_cells_vs_reference import CELLS, reference_for, spread_params
from tests.test_engine_vs_reference import NON_ASCII_TEXT, assert_close


def random_masks(shape: tuple[int, ...], dropout: float, seed: int) -> np.ndarray:
    keep = 1.0 - dropout
    return (np.random.default_rng(seed).random(shape) < keep) / keep


@pytest.mark.parametrize("streams", [1, 3])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("cell", CELLS)
def test_one_chunk_with_dropout_equals_the_oracle_with_the_same_masks(
    cell: str, layers: int, streams: int
) -> None:
    arch = Architecture(cell, layers, hidden_size=6, vocab_size=9)
    params = spread_params(arch, seed=layers + 10)
    rng = np.random.default_rng(17)
    T = 10
    ids = rng.integers(0, 9, size=(T + 1, streams))
    state = rng.uniform(-0.5, 0.5, size=(arch.state_size, streams))
    masks = random_masks((layers, T, streams, 6), 0.4, seed=3)
    assert 0 < (masks == 0).mean() < 1, "some units dropped, some kept"
    loss, grads, state_last = rnnlab.loss_and_grads(
        params, ids[:-1], ids[1:], state, clip=False, masks=masks
    )
    ref_loss, ref_grads = 0.0, {name: np.zeros_like(p) for name, p in params.items()}
    for b in range(streams):
        one_loss, one_grads, one_state = reference_cell_loss_and_grads(
            params, ids[:-1, b], ids[1:, b], state[:, b : b + 1], cell, layers, clip=False,
            masks=masks[:, :, b],
        )  # fmt: skip
        ref_loss += one_loss / streams
        for name in params:
            ref_grads[name] += one_grads[name] / streams
        assert_close(state_last[:, b : b + 1], one_state, 1e-10, f"state of stream {b}")
    assert_close(loss, ref_loss, 1e-10, "loss")
    for name in params:
        assert_close(grads[name], ref_grads[name], 1e-10, f"d{name}")


def test_the_masks_change_the_result_only_where_they_drop() -> None:
    """Masks of ones are no dropout, to the last bit; masks that drop change the loss."""
    arch = Architecture("lstm", 2, hidden_size=5, vocab_size=7)
    params = spread_params(arch, seed=1)
    ids = np.random.default_rng(2).integers(0, 7, size=(9, 2))
    state = np.zeros((arch.state_size, 2))
    plain = rnnlab.loss_and_grads(params, ids[:-1], ids[1:], state)
    ones = rnnlab.loss_and_grads(params, ids[:-1], ids[1:], state, masks=np.ones((2, 8, 2, 5)))
    dropping = rnnlab.loss_and_grads(
        params, ids[:-1], ids[1:], state, masks=random_masks((2, 8, 2, 5), 0.5, seed=0)
    )
    assert plain[0] == ones[0]
    assert all(np.array_equal(plain[1][name], ones[1][name]) for name in params)
    assert dropping[0] != plain[0]


def test_masks_are_inverted_dropout_drawn_from_the_given_generator() -> None:
    arch = Architecture("gru", 2, hidden_size=50, vocab_size=5)
    ws = Workspace(arch, 40, 8, dropout=True)
    masks = draw_masks(np.random.default_rng(0), 0.3, ws).copy()
    assert set(np.unique(masks)) == {0.0, 1 / 0.7}
    assert (masks == 0).mean() == pytest.approx(0.3, abs=0.01)
    assert masks.mean() == pytest.approx(1.0, abs=0.02)
    again = draw_masks(np.random.default_rng(0), 0.3, ws)
    assert np.array_equal(masks, again)


def trainers_masks(trainer: rnnlab.Trainer, iterations: int) -> list[np.ndarray]:
    """The masks a fresh trainer draws in its first iterations, from the generator its state
    documents (seeded [seed, 2]), for one stream: (L, T, H) each."""
    c = trainer.config
    ws = Workspace(trainer.arch, c.seq_length, c.batch_size, dropout=True)
    rng = np.random.default_rng([c.seed, 2])
    return [draw_masks(rng, c.dropout, ws)[:, :, 0].copy() for _ in range(iterations)]


@pytest.mark.parametrize("cell", CELLS)
def test_training_with_dropout_equals_the_oracle_with_the_trainers_masks(cell: str) -> None:
    config = rnnlab.Config(
        hidden_size=8, seq_length=9, learning_rate=0.01, seed=4, cell=cell, layers=2,
        optimizer="adam", dropout=0.35,
    )  # fmt: skip
    trainer = rnnlab.Trainer(NON_ASCII_TEXT, config)
    reference: ReferenceCellTrainer = reference_for(trainer)
    masks = trainers_masks(trainer, 8)
    for i in range(8):
        loss = trainer.step()
        ref_loss = reference.step(masks=[masks[i]])
        assert_close(loss, ref_loss, 1e-8, f"loss at iteration {i + 1}")
        for name, value in trainer.params.items():
            assert_close(value, reference.params[name], 1e-8, f"{name} at iteration {i + 1}")
        assert_close(trainer.hidden.T, reference.state, 1e-8, f"state at iteration {i + 1}")


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_gradcheck_passes_with_the_masks_held_fixed(cell: str, layers: int) -> None:
    config = rnnlab.Config(
        hidden_size=7, seq_length=8, batch_size=2, seed=1, cell=cell, layers=layers, dropout=0.5
    )
    trainer = rnnlab.Trainer(NON_ASCII_TEXT, config)
    trainer.step(5)
    before = trainer.state()
    worst = trainer.gradcheck(samples_per_param=12)
    assert max(worst.values()) < 1e-6, worst
    # Checking drew no masks from the trainer: the next step is the one it would have been.
    assert trainer.state().dropout_rng == before.dropout_rng
    assert np.array_equal(trainer.state().params, before.params)


def test_gradcheck_with_dropout_fails_if_the_masks_are_forgotten_in_the_backward_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check can fail: a backward pass that ignores the output's mask is caught."""
    import rnnlab.model as model

    trainer = rnnlab.Trainer(
        NON_ASCII_TEXT, rnnlab.Config(hidden_size=6, seq_length=6, seed=2, dropout=0.5)
    )
    original = model._handed_on
    calls = []

    def unmasked_on_the_way_back(ws, layer, masks):
        calls.append(layer)
        result = original(ws, layer, masks)
        if masks is not None:
            masks[...] = 1.0  # the forward pass used the mask; the backward pass will not
        return result

    monkeypatch.setattr(model, "_handed_on", unmasked_on_the_way_back)
    assert trainer.gradcheck(samples_per_param=12)["Wxh"] > 1e-3
    assert calls


@pytest.mark.parametrize(
    "changes",
    [
        {"cell": "rnn"},
        {"cell": "lstm", "layers": 2, "optimizer": "adam"},
        {"cell": "gru", "layers": 3, "dtype": "float32", "optimizer": "rmsprop"},
    ],
)
def test_a_run_with_dropout_resumes_bit_for_bit(changes: dict) -> None:
    config = rnnlab.Config(
        hidden_size=12, seq_length=10, batch_size=2, learning_rate=0.01, seed=3,
        val_fraction=0.1, dropout=0.3, **changes,
    )  # fmt: skip
    straight = rnnlab.Trainer(NON_ASCII_TEXT, config)
    straight.step(30)
    first = rnnlab.Trainer(NON_ASCII_TEXT, config)
    first.step(20)
    file = io.BytesIO()
    first.save(file)
    file.seek(0)
    resumed = rnnlab.Trainer.load(file, NON_ASCII_TEXT)
    resumed.step(10)
    assert np.array_equal(resumed.losses, straight.losses)
    assert np.array_equal(resumed.params["Why"], straight.params["Why"])
    # And through the state value (the play process's hand-over).
    handed = rnnlab.Trainer.from_state(NON_ASCII_TEXT, first.state())
    handed.step(10)
    assert np.array_equal(handed.losses, straight.losses)


def test_nothing_is_dropped_when_validating_sampling_or_looking_inside() -> None:
    config = rnnlab.Config(
        hidden_size=10, seq_length=8, seed=5, cell="gru", layers=2, val_fraction=0.2, dropout=0.6
    )
    trainer = rnnlab.Trainer(NON_ASCII_TEXT, config)
    trainer.step(20)
    without = rnnlab.Trainer.from_state(
        NON_ASCII_TEXT,
        dataclasses.replace(trainer.state(), config=trainer.config.replace(dropout=0.0)),
    )
    assert trainer.validation_loss() == without.validation_loss()
    assert trainer.validation_loss() == trainer.validation_loss()
    assert trainer.sample(50, seed=3) == without.sample(50, seed=3)
    ids = trainer.vocab.encode("héllo wörld")
    ours = rnnlab.model.trace(trainer.params, ids, np.zeros(trainer.arch.state_size))
    theirs = rnnlab.model.trace(without.params, ids, np.zeros(trainer.arch.state_size))
    assert np.array_equal(ours.probs, theirs.probs)


def test_dropout_zero_draws_no_masks_and_trains_as_without_dropout() -> None:
    """Dropout 0 (the default) is today's engine: no masks drawn, and every step equal, bit for
    bit, to the same chunk through the kernel with no masks at all."""
    config = rnnlab.Config(hidden_size=9, seq_length=7, batch_size=3, seed=8, layers=2)
    assert config.dropout == 0.0
    trainer = rnnlab.Trainer(NON_ASCII_TEXT, config)
    rng_before = trainer.state().dropout_rng
    params = {name: value.copy() for name, value in trainer.params.items()}
    # The first chunk: the start of each of the 3 streams' segments, from a zero state.
    ids = trainer.vocab.encode(trainer.train_text)
    chunk = ids[np.arange(3) * trainer.segment_length + np.arange(8)[:, None]]
    state = np.zeros((trainer.arch.state_size, 3))
    expected, _, _ = rnnlab.loss_and_grads(params, chunk[:-1], chunk[1:], state)
    assert trainer.step() == expected
    assert trainer.state().dropout_rng == rng_before


@pytest.mark.parametrize("value", [-0.1, 0.71, 1.0, float("nan")])
def test_dropout_outside_0_to_0_7_is_refused(value: float) -> None:
    with pytest.raises(ValueError, match="dropout must be between 0 and 0.7"):
        rnnlab.Config(dropout=value)
