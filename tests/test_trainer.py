"""The training loop: hidden state, smoothed loss, batching, live changes, sampling, rollback.

Oracles are the public one-chunk functions (`loss_and_grads`, `forward`, `init_params`) and the
update rule written out in API.md; loop-form comparisons with the reference live in
test_engine_vs_reference.py.
"""

from __future__ import annotations

import io
import math
import pickle

import numpy as np
import pytest

import rnnlab
from rnnlab import Config, Trainer
from rnnlab.state import SettingChange

TEXT = "the cat sat on the mat. the dog ate my hat! " * 24  # 1056 characters, 15 distinct
H, T = 16, 10


def make_trainer(text: str = TEXT, **overrides) -> Trainer:
    """A small, seeded trainer; `overrides` replace fields of the default test config."""
    values = {"hidden_size": H, "seq_length": T, "seed": 0} | overrides
    return Trainer(text, Config(**values))


def copy_params(trainer: Trainer) -> dict[str, np.ndarray]:
    return {name: value.copy() for name, value in trainer.params.items()}


def chunk_at(ids: np.ndarray, start: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """inputs (length,) and targets (length,) of the chunk starting at `start`."""
    return ids[start : start + length].astype(np.int64), ids[start + 1 : start + length + 1].astype(
        np.int64
    )


def state_of(trainer: Trainer) -> dict[str, object]:
    """Copies of everything a step may change, to compare trainers or before/after."""
    return {
        "params": copy_params(trainer),
        "memory": {name: value.copy() for name, value in trainer.adagrad_memory.items()},
        "hidden": trainer.hidden.copy(),
        "losses": trainer.losses.copy(),
        "smooth_losses": trainer.smooth_losses.copy(),
        "smooth_loss": trainer.smooth_loss,
        "pointer": trainer.pointer,
        "iteration": trainer.iteration,
        "chars_seen": trainer.chars_seen,
        "config": trainer.config,
        "events": list(trainer.events),
    }


def saved_and_loaded(trainer: Trainer, text: str = TEXT) -> Trainer:
    """The trainer written to a checkpoint in memory and read back."""
    buffer = io.BytesIO()
    trainer.save(buffer)
    buffer.seek(0)
    return Trainer.load(buffer, text)


def assert_same_state(actual: dict[str, object], expected: dict[str, object]) -> None:
    """Bit-for-bit equality of two `state_of` results."""
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, dict):
            for name in value:
                np.testing.assert_array_equal(
                    actual[key][name], value[name], err_msg=f"{key}[{name}]"
                )
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(actual[key], value, err_msg=key)
        else:
            assert actual[key] == value, key


# ---------------------------------------------------------------------------- initialisation
def test_initial_parameters_are_the_seeded_classic_initialisation() -> None:
    trainer = make_trainer(seed=123)
    expected = rnnlab.init_params(H, trainer.vocab.size, np.random.default_rng(123))
    for name in rnnlab.PARAM_NAMES:
        np.testing.assert_array_equal(trainer.params[name], expected[name])


def test_seed_none_draws_a_seed_and_records_it() -> None:
    trainer = Trainer(TEXT, Config(hidden_size=H, seq_length=T))
    assert isinstance(trainer.config.seed, int)
    twin = make_trainer(seed=trainer.config.seed)
    np.testing.assert_array_equal(twin.params["Whh"], trainer.params["Whh"])


# ------------------------------------------------------------------------------ hidden state
def test_hidden_state_is_carried_between_chunks() -> None:
    trainer = make_trainer()
    ids = trainer.vocab.encode(TEXT)
    zeros = np.zeros((H, 1))

    params = copy_params(trainer)
    trainer.step()
    loss, _, h_first = rnnlab.loss_and_grads(params, *chunk_at(ids, 0, T), zeros)
    assert trainer.losses[0] == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(trainer.hidden[0], h_first[:, 0], rtol=1e-12, atol=1e-15)

    params = copy_params(trainer)
    trainer.step()
    carried, _, _ = rnnlab.loss_and_grads(params, *chunk_at(ids, T, T), h_first)
    fresh, _, _ = rnnlab.loss_and_grads(params, *chunk_at(ids, T, T), zeros)
    assert trainer.losses[1] == pytest.approx(carried, rel=1e-12)
    assert trainer.losses[1] != pytest.approx(fresh, rel=1e-9)


def first_wrap_iteration(n_chars: int, seq_length: int) -> int:
    """The API.md pointer rule run forward: the first iteration > 0 that restarts at p = 0."""
    p = 0
    for iteration in range(1, 10 * n_chars):
        p += seq_length
        if p + seq_length + 1 >= n_chars:
            return iteration
    raise AssertionError("never wraps")


def test_hidden_state_resets_when_data_wraps() -> None:
    text = TEXT[:57]
    trainer = make_trainer(text)
    ids = trainer.vocab.encode(text)
    wrap = first_wrap_iteration(len(text), T)
    trainer.step(wrap)
    assert np.abs(trainer.hidden).max() > 0

    params = copy_params(trainer)
    trainer.step()
    fresh, _, h_last = rnnlab.loss_and_grads(params, *chunk_at(ids, 0, T), np.zeros((H, 1)))
    assert trainer.losses[wrap] == pytest.approx(fresh, rel=1e-12)
    assert trainer.pointer == T
    np.testing.assert_allclose(trainer.hidden[0], h_last[:, 0], rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------------------ losses
def test_smooth_loss_starts_at_the_uniform_models_loss() -> None:
    trainer = make_trainer()
    assert trainer.smooth_loss == pytest.approx(-math.log(1 / trainer.vocab.size) * T, rel=1e-12)
    assert trainer.losses.shape == trainer.smooth_losses.shape == (0,)


def test_smooth_loss_follows_the_raw_losses_with_0_999_decay() -> None:
    trainer = make_trainer()
    trainer.step(60)
    smooth = -math.log(1 / trainer.vocab.size) * T
    expected = []
    for loss in trainer.losses:
        smooth = smooth * 0.999 + loss * 0.001
        expected.append(smooth)
    np.testing.assert_allclose(trainer.smooth_losses, expected, rtol=1e-12)
    assert trainer.smooth_loss == pytest.approx(expected[-1], rel=1e-12)


def test_step_returns_the_last_raw_loss_and_counts_iterations() -> None:
    trainer = make_trainer()
    last = trainer.step(7)
    assert trainer.iteration == 7
    assert trainer.losses.shape == (7,)
    assert last == trainer.losses[-1]
    assert trainer.chars_seen == 7 * T
    assert trainer.epochs == pytest.approx(7 * T / trainer.train_size)


def test_losses_fall_on_a_small_repetitive_text() -> None:
    trainer = make_trainer(hidden_size=32, seq_length=16)
    trainer.step(300)
    uniform_per_char = math.log(trainer.vocab.size)
    late_per_char = trainer.losses[-50:].mean() / 16
    # A phrase repeated verbatim is almost deterministic: far below guessing uniformly.
    assert late_per_char < 0.1 * uniform_per_char
    assert trainer.smooth_losses[-1] < trainer.smooth_losses[0]


# ------------------------------------------------------------------------- text too short
@pytest.mark.parametrize(
    ("n_chars", "overrides", "needed", "words"),
    [
        (10, {"seq_length": 10}, 11, ["sequence length of 10"]),
        (30, {"seq_length": 10, "batch_size": 3}, 33, ["3 streams", "batch size"]),
        (40, {"seq_length": 20, "val_fraction": 0.5}, 21, ["20 characters", "validation"]),
    ],
    ids=["plain", "batched", "validation"],
)
def test_text_too_short_for_the_sequence_length_says_what_it_needs(
    n_chars: int, overrides: dict, needed: int, words: list[str]
) -> None:
    with pytest.raises(ValueError) as caught:
        make_trainer(TEXT[:n_chars], **overrides)
    message = str(caught.value)
    assert f"at least {needed}" in message
    assert "sequence length" in message
    for word in words:
        assert word in message


def test_text_of_exactly_one_chunk_trains() -> None:
    trainer = make_trainer(TEXT[: T + 1])
    trainer.step(5)
    assert trainer.iteration == 5
    assert np.isfinite(trainer.losses).all()


# ------------------------------------------------------------------ changes during a run
def expected_params_after_step(trainer: Trainer, learning_rate: float) -> dict[str, np.ndarray]:
    """The API.md Adagrad update applied to the next chunk, given that no wrap happens."""
    ids = trainer.vocab.encode(TEXT)
    seq_length = trainer.config.seq_length
    assert trainer.pointer + seq_length + 1 < trainer.train_size
    _, grads, _ = rnnlab.loss_and_grads(
        trainer.params, *chunk_at(ids, trainer.pointer, seq_length), trainer.hidden[0][:, None]
    )
    expected = {}
    for name, param in trainer.params.items():
        memory = trainer.adagrad_memory[name] + grads[name] * grads[name]
        expected[name] = param - learning_rate * grads[name] / np.sqrt(memory + 1e-8)
    return expected


def test_set_learning_rate_keeps_state_and_applies_from_the_next_step() -> None:
    trainer = make_trainer()
    trainer.step(20)
    before = state_of(trainer)
    trainer.set_learning_rate(0.03)
    after = state_of(trainer)
    assert after.pop("config").learning_rate == 0.03
    assert after.pop("events") == [SettingChange(20, "learning_rate", 0.1, 0.03)]
    del before["config"], before["events"]
    assert_same_state(after, before)

    expected = expected_params_after_step(trainer, 0.03)
    trainer.step()
    for name, value in expected.items():
        np.testing.assert_allclose(trainer.params[name], value, rtol=1e-10, atol=1e-14)


def test_set_seq_length_keeps_state_and_applies_from_the_next_step() -> None:
    trainer = make_trainer()
    trainer.step(20)
    before = state_of(trainer)
    trainer.set_seq_length(7)
    after = state_of(trainer)
    assert after.pop("config").seq_length == 7
    assert after.pop("events") == [SettingChange(20, "seq_length", T, 7)]
    del before["config"], before["events"]
    assert_same_state(after, before)

    ids = trainer.vocab.encode(TEXT)
    params, pointer, hidden = (
        copy_params(trainer),
        trainer.pointer,
        trainer.hidden[0][:, None].copy(),
    )
    trainer.step()
    loss, _, _ = rnnlab.loss_and_grads(params, *chunk_at(ids, pointer, 7), hidden)
    assert trainer.losses[-1] == pytest.approx(loss, rel=1e-12)
    assert trainer.chars_seen == before["chars_seen"] + 7
    assert trainer.pointer == pointer + 7


def assert_untouched_by(bad_call, trainer: Trainer) -> None:
    """bad_call(trainer) raises ValueError, and training then goes on exactly as in a twin."""
    twin = make_trainer(TEXT[: trainer.train_size + trainer.val_size])
    twin.step(trainer.iteration)
    with pytest.raises(ValueError):
        bad_call(trainer)
    assert_same_state(state_of(trainer), state_of(twin))
    trainer.step(5)
    twin.step(5)
    assert_same_state(state_of(trainer), state_of(twin))


@pytest.mark.parametrize("value", [0.0, -0.1, 10.5, float("nan"), "fast", True])
def test_invalid_learning_rate_is_rejected_leaving_the_trainer_unchanged(value: object) -> None:
    trainer = make_trainer()
    trainer.step(10)
    assert_untouched_by(lambda t: t.set_learning_rate(value), trainer)


@pytest.mark.parametrize("value", [1, 501, 2.5, float("nan"), "long"])
def test_invalid_seq_length_is_rejected_leaving_the_trainer_unchanged(value: object) -> None:
    trainer = make_trainer()
    trainer.step(10)
    assert_untouched_by(lambda t: t.set_seq_length(value), trainer)


def test_seq_length_too_long_for_the_text_is_rejected_leaving_the_trainer_unchanged() -> None:
    trainer = make_trainer(TEXT[:100])
    trainer.step(10)
    with pytest.raises(ValueError, match="at least 201"):
        trainer.set_seq_length(200)
    assert_untouched_by(lambda t: t.set_seq_length(200), trainer)


# ---------------------------------------------------------------------------------- sampling
def test_sampling_does_not_change_the_loss_trajectory() -> None:
    sampled, plain = make_trainer(), make_trainer()
    for _ in range(3):
        sampled.step(100)
        sampled.sample(50)
        sampled.sample(20, prime="the ", temperature=0.7)
        sampled.sample(20, seed=1, greedy=True)
    plain.step(300)
    np.testing.assert_array_equal(sampled.losses, plain.losses)
    assert_same_state(state_of(sampled), state_of(plain))


def test_sample_with_the_same_seed_is_reproducible() -> None:
    trainer = make_trainer()
    trainer.step(50)
    first = trainer.sample(80, seed=42)
    trainer.sample(30)  # uses (and advances) the trainer's own sampling stream
    assert trainer.sample(80, seed=42) == first
    assert trainer.sample(80, prime="the", seed=7) == trainer.sample(80, prime="the", seed=7)
    assert trainer.sample(80, seed=43) != first


def test_sample_prime_with_an_unknown_character_raises() -> None:
    trainer = make_trainer()
    with pytest.raises(ValueError, match="Z"):
        trainer.sample(10, prime="the Zebra")


@pytest.mark.parametrize("n", [0, 1, 57])
def test_sample_returns_exactly_n_characters(n: int) -> None:
    text = "emoji 😀 and 𝄞 clef. " * 10
    trainer = make_trainer(text)
    trainer.step(5)
    assert len(trainer.sample(n)) == n
    assert len(trainer.sample(n, prime="emoji 😀", temperature=2.0)) == n
    assert set(trainer.sample(n)) <= set(text)


def test_greedy_sample_after_a_prime_is_the_argmax_of_a_forward_pass() -> None:
    trainer = make_trainer()
    trainer.step(150)
    prime = "the c"
    greedy = trainer.sample(40, prime=prime, temperature=0)
    assert trainer.sample(40, prime=prime, greedy=True, temperature=1.5) == greedy

    ids = trainer.vocab.encode(prime + greedy[:-1])
    _, probs = rnnlab.forward(trainer.params, ids, np.zeros(H))
    predictions = probs[len(prime) - 1 :].argmax(axis=1)
    assert trainer.vocab.decode(predictions) == greedy


def test_greedy_sample_without_prime_continues_from_the_training_state() -> None:
    trainer = make_trainer()
    trainer.step(33)
    greedy = trainer.sample(30, greedy=True)
    ids = trainer.vocab.encode(TEXT)
    inputs = np.concatenate([[ids[trainer.pointer]], trainer.vocab.encode(greedy[:-1])])
    _, probs = rnnlab.forward(trainer.params, inputs, trainer.hidden[0])
    assert trainer.vocab.decode(probs.argmax(axis=1)) == greedy


# ------------------------------------------------------------------------------- batching
def stream_chunks(trainer: Trainer, text: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first chunk of each stream: streams start train_size // B characters apart."""
    ids = trainer.vocab.encode(text)
    batch = trainer.config.batch_size
    segment = trainer.train_size // batch
    return [chunk_at(ids, b * segment, trainer.config.seq_length) for b in range(batch)]


def test_batch_streams_start_at_evenly_spaced_offsets() -> None:
    trainer = make_trainer(batch_size=4)
    params = copy_params(trainer)
    trainer.step()
    assert trainer.hidden.shape == (4, H)
    for b, (inputs, targets) in enumerate(stream_chunks(trainer, TEXT)):
        _, _, h_last = rnnlab.loss_and_grads(params, inputs, targets, np.zeros((H, 1)))
        np.testing.assert_allclose(trainer.hidden[b], h_last[:, 0], rtol=1e-12, atol=1e-15)


def test_batched_loss_is_the_mean_of_each_streams_chunk_loss() -> None:
    trainer = make_trainer(batch_size=4)
    params = copy_params(trainer)
    trainer.step()
    losses = [
        rnnlab.loss_and_grads(params, inputs, targets, np.zeros((H, 1)))[0]
        for inputs, targets in stream_chunks(trainer, TEXT)
    ]
    assert trainer.losses[0] == pytest.approx(np.mean(losses), rel=1e-12)
    assert trainer.chars_seen == 4 * T


def test_batched_gradients_are_the_mean_of_each_streams_gradients() -> None:
    trainer = make_trainer(batch_size=3)
    chunks = stream_chunks(trainer, TEXT)
    rng = np.random.default_rng(5)
    h_prev = np.tanh(rng.standard_normal((H, 3)))
    inputs = np.stack([c[0] for c in chunks], axis=1)  # (T, B)
    targets = np.stack([c[1] for c in chunks], axis=1)
    loss, grads, h_last = rnnlab.loss_and_grads(trainer.params, inputs, targets, h_prev, clip=False)
    singles = [
        rnnlab.loss_and_grads(trainer.params, i, t, h_prev[:, [b]], clip=False)
        for b, (i, t) in enumerate(chunks)
    ]
    assert loss == pytest.approx(np.mean([s[0] for s in singles]), rel=1e-12)
    for name in rnnlab.PARAM_NAMES:
        expected = np.mean([s[1][name] for s in singles], axis=0)
        np.testing.assert_allclose(grads[name], expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(h_last, np.hstack([s[2] for s in singles]), rtol=1e-12, atol=1e-15)


def test_identical_streams_in_a_batch_give_the_single_stream_result() -> None:
    trainer = make_trainer()
    ((inputs, targets),) = stream_chunks(trainer, TEXT)
    h_prev = np.tanh(np.random.default_rng(6).standard_normal((H, 1)))
    single = rnnlab.loss_and_grads(trainer.params, inputs, targets, h_prev, clip=False)
    doubled = rnnlab.loss_and_grads(
        trainer.params,
        np.stack([inputs] * 2, 1),
        np.stack([targets] * 2, 1),
        np.hstack([h_prev] * 2),
        clip=False,
    )
    assert doubled[0] == pytest.approx(single[0], rel=1e-12)
    for name in rnnlab.PARAM_NAMES:
        np.testing.assert_allclose(doubled[1][name], single[1][name], rtol=1e-10, atol=1e-14)


# ----------------------------------------------------------------------------- validation
def test_validation_loss_is_the_mean_negative_log_likelihood_of_the_held_out_text() -> None:
    trainer = make_trainer(val_fraction=0.1)
    assert trainer.val_size == len(TEXT) // 10
    assert trainer.train_size + trainer.val_size == len(TEXT)
    trainer.step(40)

    held_out = trainer.vocab.encode(TEXT[trainer.train_size :])
    _, probs = rnnlab.forward(trainer.params, held_out[:-1], np.zeros(H))
    nats = -np.log(probs[np.arange(len(held_out) - 1), held_out[1:]])
    assert trainer.validation_loss() == pytest.approx(nats.mean(), rel=1e-10)
    assert trainer.validation_loss(max_chars=20) == pytest.approx(nats[:20].mean(), rel=1e-10)


def test_validation_loss_is_none_without_held_out_text() -> None:
    trainer = make_trainer()
    assert trainer.val_size == 0
    assert trainer.validation_loss() is None


def test_training_never_reads_the_held_out_text() -> None:
    # The held-out tail uses characters the training part never shows the model as targets:
    # the output bias of a character that is never a target can only move down.
    text = "ab" * 100 + "xy" * 25
    trainer = Trainer(text, Config(hidden_size=8, seq_length=5, seed=0, val_fraction=0.2))
    trainer.step(200)
    unseen = [trainer.vocab.chars.index(ch) for ch in "xy"]
    assert (trainer.params["by"][unseen] < 0).all()


# ------------------------------------------------------------------------------- divergence
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_corrupted_parameters_roll_back_to_the_state_before_the_corruption(bad: float) -> None:
    trainer = make_trainer()
    trainer.step(30)
    trainer.step(7)
    before = state_of(trainer)
    trainer.params["Why"][0, 0] = bad
    with pytest.raises(rnnlab.DivergenceError, match="iteration") as caught:
        trainer.step()
    assert isinstance(caught.value, ArithmeticError)
    assert str(trainer.iteration) in str(caught.value)
    assert_same_state(state_of(trainer), before)


def test_rollback_restores_an_exact_earlier_state_and_training_goes_on() -> None:
    trainer = make_trainer()
    trainer.step(30)
    trainer.step(7)
    trainer.params["Whh"][1, 2] = np.nan
    with pytest.raises(rnnlab.DivergenceError):
        trainer.step()
    assert np.isfinite(trainer.params["Whh"]).all()
    assert trainer.losses.shape == trainer.smooth_losses.shape == (trainer.iteration,)
    # Whatever iteration it went back to, it is that iteration's state exactly.
    twin = make_trainer()
    twin.step(trainer.iteration)
    assert_same_state(state_of(trainer), state_of(twin))
    trainer.step(10)
    twin.step(10)
    assert_same_state(state_of(trainer), state_of(twin))


# ----------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("batch_size", [1, 3])
def test_save_then_load_resumes_bit_for_bit(batch_size: int) -> None:
    resumed, straight = make_trainer(batch_size=batch_size), make_trainer(batch_size=batch_size)
    resumed.step(200)
    resumed = saved_and_loaded(resumed)
    resumed.step(100)
    straight.step(300)
    assert_same_state(state_of(resumed), state_of(straight))
    assert resumed.sample(60) == straight.sample(60)


def test_resume_after_live_changes_is_bit_for_bit() -> None:
    resumed, straight = make_trainer(), make_trainer()
    for trainer in (resumed, straight):
        trainer.step(50)
        trainer.set_learning_rate(0.05)
        trainer.set_seq_length(13)
        trainer.step(50)
    resumed = saved_and_loaded(resumed)
    resumed.step(60)
    straight.step(60)
    assert_same_state(state_of(resumed), state_of(straight))


# --------------------------------------------------------------------------- gradient check
@pytest.mark.parametrize(
    ("seed", "hidden", "vocab", "steps"), [(0, 5, 4, 3), (1, 8, 6, 10), (2, 12, 3, 20)]
)
def test_gradcheck_agrees_with_finite_differences(
    seed: int, hidden: int, vocab: int, steps: int
) -> None:
    rng = np.random.default_rng(seed)
    # 30x the training initialisation, so tanh is non-linear and the recurrence matters.
    params = {
        name: rng.standard_normal(shape) * 0.3
        for name, shape in {
            "Wxh": (hidden, vocab),
            "Whh": (hidden, hidden),
            "Why": (vocab, hidden),
            "bh": (hidden, 1),
            "by": (vocab, 1),
        }.items()
    }
    inputs = rng.integers(0, vocab, size=steps)
    targets = rng.integers(0, vocab, size=steps)
    h_prev = np.tanh(rng.standard_normal((hidden, 1)))
    errors = rnnlab.gradcheck(params, inputs, targets, h_prev)
    assert set(errors) == set(rnnlab.PARAM_NAMES)
    assert max(errors.values()) < 1e-6, errors


def test_rollback_moves_later_setting_changes_to_the_restored_iteration():
    text = "la la land, we sing along; " * 40
    trainer = rnnlab.Trainer(text, rnnlab.Config(seed=5, seq_length=10))
    trainer.step(30)
    trainer.set_seq_length(12)
    trainer.step(3)
    # Wreck the output weights: the next loss explodes and training goes back to the periodic
    # snapshot at iteration 25, before the sequence length changed at 30.
    trainer.params["Why"][...] *= 1e4
    with pytest.raises(rnnlab.DivergenceError):
        trainer.step(1)
    assert trainer.iteration == 25
    assert [(e.name, e.iteration) for e in trainer.events] == [("seq_length", 25)]
    assert trainer.config.seq_length == 12


def test_changes_of_one_setting_before_the_next_step_are_one_event() -> None:
    trainer = make_trainer()
    trainer.step(5)
    for seq_length in (T + 1, T + 2, T + 3):  # a slider moved key by key
        trainer.set_seq_length(seq_length)
    trainer.set_learning_rate(0.05)
    assert list(trainer.events) == [
        SettingChange(5, "seq_length", T, T + 3),
        SettingChange(5, "learning_rate", 0.1, 0.05),
    ]
    trainer.set_learning_rate(0.1)  # undone before any step: no change at all
    assert [e.name for e in trainer.events] == ["seq_length"]
    trainer.step(1)
    trainer.set_seq_length(T)
    assert trainer.events[-1] == SettingChange(6, "seq_length", T + 3, T)


def test_a_pickled_trainer_trains_on_exactly_like_the_original_and_carries_no_buffers() -> None:
    trainer = make_trainer(seed=3, hidden_size=64, batch_size=8)
    trainer.step(7)
    data = pickle.dumps(trainer)
    copy = pickle.loads(data)
    other = pickle.loads(data)
    other.params["Whh"][0, 0] = 7.0  # the views still are the model that is trained and saved
    assert other.state().params[trainer.config.hidden_size * trainer.vocab.size] == 7.0
    trainer.step(9)
    copy.step(9)
    assert_same_state(state_of(copy), state_of(trainer))
    # Its state and text, not the work buffers: those are several times the parameters.
    state = trainer.state()
    essential = state.params.nbytes + state.optimizer_memory.nbytes + len(TEXT)
    assert len(data) < 1.2 * essential + 20_000


def test_a_state_without_the_model_has_the_records_and_cannot_be_trained_from() -> None:
    trainer = rnnlab.Trainer(TEXT, rnnlab.Config(hidden_size=8, seq_length=5, seed=0))
    trainer.step(4)
    light = trainer.state(with_model=False)
    whole = trainer.state()
    assert light.params.size == light.optimizer_memory.size == light.hidden.size == 0
    assert np.array_equal(light.losses, whole.losses) and light.iteration == 4
    with pytest.raises(ValueError, match="params"):
        rnnlab.Trainer.from_state(TEXT, light)
