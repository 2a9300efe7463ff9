"""Every cell, layer count and optimizer of the engine against the loop-form oracle.

The oracle (rnnlab/reference.py: reference_cell_*) writes each GRU and LSTM step out like
min-char-rnn; the engine batches what it can over the chunk and fuses each step's gates into one
product. They must agree: a chunk's loss, gradients and carried state to 1e-10 in float64, the
first 8 training iterations to 1e-8 for every optimizer, and the finite-difference check on any
trainer below 1e-6.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest

import rnnlab
from rnnlab.architecture import Architecture
from rnnlab.model import init_flat_params, trace
from rnnlab.reference import (
    ReferenceCellTrainer,
    reference_cell_forward,
    reference_cell_loss_and_grads,
)
from tests.test_engine_vs_reference import NON_ASCII_TEXT, assert_close

CELLS = ("rnn", "gru", "lstm")
OPTIMIZERS = ("adagrad", "rmsprop", "adam")


def spread_params(arch: Architecture, seed: int) -> dict[str, np.ndarray]:
    """Weights ~N(0, 0.5²), biases too: gates well away from 0.5, so every path carries weight."""
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape) * 0.5 for name, shape in arch.param_shapes.items()}


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("streams", [1, 3])
def test_one_chunk_equals_the_oracle(cell: str, layers: int, streams: int) -> None:
    arch = Architecture(cell, layers, hidden_size=6, vocab_size=9)
    params = spread_params(arch, seed=layers)
    rng = np.random.default_rng(7)
    T = 11
    ids = rng.integers(0, 9, size=(T + 1, streams))
    state = rng.uniform(-0.5, 0.5, size=(arch.state_size, streams))
    loss, grads, state_last = rnnlab.loss_and_grads(params, ids[:-1], ids[1:], state, clip=False)
    # The engine's loss and gradients are means over the streams; the oracle reads one stream.
    ref_loss, ref_grads = 0.0, {name: np.zeros_like(p) for name, p in params.items()}
    for b in range(streams):
        one_loss, one_grads, one_state = reference_cell_loss_and_grads(
            params, ids[:-1, b], ids[1:, b], state[:, b : b + 1], cell, layers, clip=False
        )
        ref_loss += one_loss / streams
        for name in params:
            ref_grads[name] += one_grads[name] / streams
        assert_close(state_last[:, b : b + 1], one_state, 1e-10, f"state of stream {b}")
    assert_close(loss, ref_loss, 1e-10, "loss")
    for name in params:
        assert_close(grads[name], ref_grads[name], 1e-10, f"d{name}")


@pytest.mark.parametrize("cell", CELLS)
def test_clipped_gradients_equal_the_oracles(cell: str) -> None:
    arch = Architecture(cell, 2, hidden_size=5, vocab_size=7)
    params = {name: value * 8 for name, value in spread_params(arch, seed=3).items()}
    ids = np.random.default_rng(1).integers(0, 7, size=30)
    state = np.zeros((arch.state_size, 1))
    _, raw, _ = rnnlab.loss_and_grads(params, ids[:-1], ids[1:], state, clip=False)
    assert max(np.abs(g).max() for g in raw.values()) > 5, "the clip must have work to do"
    _, grads, _ = rnnlab.loss_and_grads(params, ids[:-1], ids[1:], state)
    _, ref_grads, _ = reference_cell_loss_and_grads(params, ids[:-1], ids[1:], state, cell, 2)
    for name in params:
        assert_close(grads[name], ref_grads[name], 1e-10, f"clipped d{name}")


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_what_the_views_read_equals_the_oracles_forward(cell: str, layers: int) -> None:
    arch = Architecture(cell, layers, hidden_size=6, vocab_size=9)
    params = spread_params(arch, seed=5)
    ids = np.random.default_rng(2).integers(0, 9, size=17)
    state = np.random.default_rng(3).uniform(-0.5, 0.5, size=arch.state_size)
    result = trace(params, ids, state)
    expected = reference_cell_forward(params, ids, state.reshape(-1, 1), cell, layers)
    assert_close(result.hidden, expected["h"], 1e-12, "h")
    assert_close(result.probs, expected["probs"], 1e-12, "probs")
    for gate in arch.gate_names:
        assert_close(result.gates[gate], expected[gate], 1e-12, f"gate {gate}")
    if cell == "lstm":
        assert_close(result.cells, expected["c"], 1e-12, "c")
    # The state it hands on is the one a training chunk would carry.
    _, _, state_last = rnnlab.loss_and_grads(
        params, ids, np.roll(ids, -1), state.reshape(-1, 1), clip=False
    )
    assert_close(result.state, state_last[:, 0], 1e-12, "state")


def reference_for(trainer: rnnlab.Trainer) -> ReferenceCellTrainer:
    c = trainer.config
    return ReferenceCellTrainer(
        trainer.vocab.encode(NON_ASCII_TEXT),
        trainer.vocab.size,
        {name: np.array(value) for name, value in trainer.params.items()},
        seq_length=c.seq_length,
        learning_rate=c.learning_rate,
        cell=c.cell,
        layers=c.layers,
        optimizer=c.optimizer,
    )


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("cell", CELLS)
def test_first_training_iterations_equal_the_oracle(cell: str, optimizer: str) -> None:
    lr = {"adagrad": 0.1, "rmsprop": 0.01, "adam": 0.01}[optimizer]
    config = rnnlab.Config(
        hidden_size=8, seq_length=9, learning_rate=lr, seed=4, cell=cell, layers=2,
        optimizer=optimizer,
    )  # fmt: skip
    trainer = rnnlab.Trainer(NON_ASCII_TEXT, config)
    reference = reference_for(trainer)
    for i in range(8):
        loss = trainer.step()
        ref_loss = reference.step()
        assert_close(loss, ref_loss, 1e-8, f"loss at iteration {i + 1}")
        for name, value in trainer.params.items():
            assert_close(value, reference.params[name], 1e-8, f"{name} at iteration {i + 1}")
        assert_close(trainer.hidden.T, reference.state, 1e-8, f"state at iteration {i + 1}")


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_gradcheck_passes_for_every_cell(cell: str, layers: int) -> None:
    config = rnnlab.Config(
        hidden_size=7, seq_length=8, batch_size=2, seed=1, cell=cell, layers=layers
    )
    trainer = rnnlab.Trainer(NON_ASCII_TEXT, config)
    trainer.step(5)  # away from the initial weights, with a carried state
    before = trainer.state()
    worst = trainer.gradcheck(samples_per_param=12)
    assert set(worst) == set(trainer.arch.param_names)
    assert max(worst.values()) < 1e-6, worst
    after = trainer.state()
    assert np.array_equal(before.params, after.params) and trainer.iteration == 5


def test_gradcheck_catches_a_wrong_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: a backward pass that forgets the GRU's reset gate is caught."""
    import rnnlab.model as model

    trainer = rnnlab.Trainer(
        NON_ASCII_TEXT, rnnlab.Config(hidden_size=6, seq_length=6, seed=2, cell="gru")
    )
    original = model._gru_backward

    def forgetful(Whh, lb, ws):
        dpre, drec = original(Whh, lb, ws)
        H = lb.hs.shape[2]
        drec[:, :, 2 * H :] = dpre[:, :, 2 * H :]  # as if u_n were not scaled by r
        return dpre, drec

    monkeypatch.setitem(model._BACKWARD, "gru", forgetful)
    assert trainer.gradcheck(samples_per_param=12)["Whh"] > 1e-3


@pytest.mark.parametrize("cell", CELLS)
def test_float32_agrees_with_float64_on_a_chunks_loss(cell: str) -> None:
    arch = Architecture(cell, 2, hidden_size=32, vocab_size=40)
    params64 = init_flat_params(arch, np.random.default_rng(0)).as_dict()
    params32 = {name: value.astype(np.float32) for name, value in params64.items()}
    ids = np.random.default_rng(1).integers(0, 40, size=(51, 4))
    state = np.zeros((arch.state_size, 4))
    loss64, _, _ = rnnlab.loss_and_grads(params64, ids[:-1], ids[1:], state)
    loss32, grads32, _ = rnnlab.loss_and_grads(params32, ids[:-1], ids[1:], state)
    assert loss32 == pytest.approx(loss64, rel=1e-4)
    assert all(g.dtype == np.float32 for g in grads32.values())


@pytest.mark.parametrize(
    "changes",
    [
        {"cell": "gru", "optimizer": "rmsprop"},
        {"cell": "lstm", "layers": 2, "optimizer": "adam"},
        {"cell": "lstm", "dtype": "float32", "optimizer": "adam"},
        {"cell": "rnn", "layers": 3, "dtype": "float32"},
    ],
)
def test_checkpoints_resume_every_network_bit_for_bit(changes: dict) -> None:
    config = rnnlab.Config(
        hidden_size=12, seq_length=10, batch_size=2, learning_rate=0.01, seed=3,
        val_fraction=0.1, **changes,
    )  # fmt: skip
    straight = rnnlab.Trainer(NON_ASCII_TEXT, config)
    straight.step(30)
    resumed_from = rnnlab.Trainer(NON_ASCII_TEXT, config)
    resumed_from.step(20)
    file = io.BytesIO()
    resumed_from.save(file)
    file.seek(0)
    resumed = rnnlab.Trainer.load(file, NON_ASCII_TEXT)
    resumed.step(10)
    assert np.array_equal(resumed.losses, straight.losses)
    assert np.array_equal(resumed.params["Why"], straight.params["Why"])
    assert resumed.params["Why"].dtype == np.dtype(config.dtype)
    assert resumed.sample(40, seed=1) == straight.sample(40, seed=1)


@pytest.mark.parametrize("cell", CELLS)
def test_every_cell_learns_and_samples_from_its_vocabulary(cell: str) -> None:
    config = rnnlab.Config(
        hidden_size=24, seq_length=12, batch_size=4, learning_rate=0.01, seed=0, cell=cell,
        layers=2, optimizer="adam", val_fraction=0.1,
    )  # fmt: skip
    trainer = rnnlab.Trainer(NON_ASCII_TEXT * 4, config)
    before = trainer.validation_loss()
    trainer.step(150)
    assert trainer.validation_loss() < 0.8 * before
    sample = trainer.sample(60, prime="héllo", temperature=0.8, seed=5)
    assert len(sample) == 60 and set(sample) <= set(trainer.vocab.chars)


def test_a_float32_state_with_values_beyond_float32_is_refused_on_loading():
    config = rnnlab.Config(cell="lstm", dtype="float32", hidden_size=6, seq_length=5, seed=0)
    trainer = rnnlab.Trainer(NON_ASCII_TEXT, config)
    trainer.step(2)
    state = trainer.state()
    for field in ("params", "optimizer_memory", "hidden"):
        value = np.array(getattr(state, field), dtype=np.float64)
        value.flat[-1] = 1e39  # finite in float64, infinite in float32 (the last: an LSTM's c)
        crafted = dataclasses.replace(state, **{field: value})
        with pytest.raises(ValueError, match="too large for float32"):
            rnnlab.Trainer.from_state(NON_ASCII_TEXT, crafted)


def test_sampling_step_by_step_reads_as_the_trace_does_for_every_cell() -> None:
    from rnnlab.model import step

    for cell in CELLS:
        arch = Architecture(cell, 2, hidden_size=6, vocab_size=9)
        params = spread_params(arch, seed=8)
        ids = np.random.default_rng(4).integers(0, 9, size=12)
        state = np.zeros(arch.state_size)
        expected = trace(params, ids, state)
        for t, char in enumerate(ids):
            logits, state = step(params, arch, int(char), state)
            assert_close(rnnlab.model.softmax(logits), expected.probs[t], 1e-12, f"{cell} {t}")
        assert_close(state, expected.state, 1e-12, f"{cell} state")
