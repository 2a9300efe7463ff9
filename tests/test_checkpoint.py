"""Checkpoints: saving to paths and files, and loading that trusts nothing it reads.

Every malformed file must end in a ValueError with a message a person can act on; nothing else
may escape (no zipfile, pickle, overflow or index errors), and a failed or successful load must
never touch a trainer that already exists.
"""

from __future__ import annotations

import io
import json
import pathlib
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnlab import Config, Trainer, checkpoint

TEXT = "the cat sat on the mat. the dog ate my hat! " * 6  # 264 characters
CONFIG = Config(hidden_size=8, seq_length=6, seed=0)


def trained(steps: int = 12, text: str = TEXT, config: Config = CONFIG) -> Trainer:
    trainer = Trainer(text, config)
    trainer.step(steps)
    return trainer


def checkpoint_bytes(trainer: Trainer) -> bytes:
    buffer = io.BytesIO()
    trainer.save(buffer)
    return buffer.getvalue()


VALID = checkpoint_bytes(trained())


def valid_arrays() -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(VALID)) as npz:
        return {name: npz[name] for name in npz.files}


def npz_bytes(arrays: dict[str, np.ndarray], allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=allow_pickle, **arrays)
    return buffer.getvalue()


def load_error(raw: bytes, text: str = TEXT) -> str:
    """The message of the ValueError that loading `raw` must raise."""
    with pytest.raises(ValueError) as caught:
        Trainer.load(io.BytesIO(raw), text)
    return str(caught.value)


def params_of(trainer: Trainer) -> dict[str, np.ndarray]:
    return {name: value.copy() for name, value in trainer.params.items()}


# ----------------------------------------------------------------------------- saving
def test_save_to_a_path_and_to_a_file_object_give_the_same_model(tmp_path: pathlib.Path) -> None:
    trainer = trained()
    path = tmp_path / "model.npz"
    trainer.save(path)
    trainer.save(str(tmp_path / "again.npz"))
    buffer = io.BytesIO()
    trainer.save(buffer)
    buffer.seek(0)
    loaded = [
        Trainer.load(path, TEXT),
        Trainer.load(str(tmp_path / "again.npz"), TEXT),
        Trainer.load(buffer, TEXT),
    ]
    for other in loaded:
        assert other.iteration == trainer.iteration
        for name, value in trainer.params.items():
            np.testing.assert_array_equal(other.params[name], value)


def test_save_to_a_path_without_npz_suffix_writes_exactly_that_path(tmp_path: pathlib.Path) -> None:
    # numpy's savez appends ".npz" to bare paths; a checkpoint must be readable where it was saved.
    path = tmp_path / "run.ckpt"
    trained().save(str(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt"]
    assert Trainer.load(str(path), TEXT).iteration == 12


# --------------------------------------------------------------------------- vocabulary
def test_loading_with_a_text_of_a_different_vocabulary_explains_the_mismatch() -> None:
    message = load_error(VALID, TEXT.replace("!", "?") + "Z")
    assert "different vocabulary" in message
    assert "'!'" in message  # only in the checkpoint's text
    assert "'?Z'" in message  # only in this text
    assert "trained on" in message


def test_loading_with_a_same_vocabulary_text_too_short_for_the_config_raises() -> None:
    raw = checkpoint_bytes(trained(config=CONFIG.replace(seq_length=40)))
    every_character_once = "".join(sorted(set(TEXT)))
    assert "at least 41" in load_error(raw, every_character_once)


# -------------------------------------------------------------------------- broken files
@pytest.mark.parametrize(
    "raw",
    [
        b"",
        VALID[: len(VALID) // 2],
        bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)),
    ],
    ids=["empty", "truncated-half", "random-bytes"],
)
def test_unreadable_files_raise_value_error(raw: bytes) -> None:
    message = load_error(raw)
    assert "checkpoint" in message


def test_random_bytes_behind_a_zip_signature_raise_value_error() -> None:
    noise = bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8))
    assert "checkpoint" in load_error(b"PK\x03\x04" + noise)


def test_a_missing_file_raises_value_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="FileNotFoundError"):
        Trainer.load(str(tmp_path / "nope.npz"), TEXT)


def test_a_zip_that_is_not_an_npz_raises_value_error() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "missing" in load_error(buffer.getvalue())


# Members that checkpoints made before 2026-11-30 do not have: they load without them.
ORIGIN = {"base": "english", "known": "abc", "kin": [["é", "e"]], "new": "", "dropped": "xyz"}
OPTIONAL_MEMBERS = ("text_sha256", "best", "best_params", "dropout_rng", "origin")


def test_each_missing_member_is_named() -> None:
    for name in valid_arrays():
        if name in OPTIONAL_MEMBERS:
            continue
        arrays = valid_arrays()
        del arrays[name]
        message = load_error(npz_bytes(arrays))
        assert repr(name) in message, message


@pytest.mark.parametrize(
    "name", ["params", "optimizer_memory", "hidden", "losses", "validation", "health"]
)
def test_arrays_of_the_wrong_shape_are_rejected(name: str) -> None:
    arrays = valid_arrays()
    arrays[name] = np.concatenate([arrays[name].reshape(-1), [0.0]])
    message = load_error(npz_bytes(arrays))
    assert name in message and "shape" in message


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize(
    "name", ["params", "optimizer_memory", "hidden", "smooth_losses", "smooth_loss", "health"]
)
def test_non_finite_values_are_rejected(name: str, bad: float) -> None:
    arrays = valid_arrays()
    arrays[name] = arrays[name].astype(np.float64).copy()
    arrays[name].reshape(-1)[0] = bad
    message = load_error(npz_bytes(arrays))
    assert name in message and "NaN" in message


def test_negative_adagrad_memory_is_rejected() -> None:
    arrays = valid_arrays()
    arrays["optimizer_memory"] = -np.abs(arrays["optimizer_memory"]) - 1.0
    assert "negative" in load_error(npz_bytes(arrays))


def test_string_where_a_number_belongs_is_rejected() -> None:
    arrays = valid_arrays()
    arrays["params"] = np.full(arrays["params"].shape, "x")
    assert "numeric" in load_error(npz_bytes(arrays))


class _TouchOnUnpickle:
    """Unpickling this creates a file: proof of whether the loader ran pickle."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_object_arrays_are_refused_without_unpickling(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "unpickled"
    arrays = valid_arrays()
    arrays["config"] = np.array([_TouchOnUnpickle(marker)], dtype=object)
    message = load_error(npz_bytes(arrays, allow_pickle=True))
    assert "pickle" in message.lower()
    assert not marker.exists()


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("format", "someone-elses-format", ["format"]),
        ("config", "{not json", ["config", "JSON"]),
        ("config", "[1, 2]", ["config"]),
        ("config", json.dumps(CONFIG.to_dict() | {"hidden_size": 2}), ["hidden_size"]),
        ("config", json.dumps(CONFIG.to_dict() | {"momentum": 0.5}), ["momentum"]),
        ("config", json.dumps(CONFIG.to_dict() | {"dropout": 0.9}), ["dropout"]),
        ("events", "{}", ["event"]),
        ("events", '[{"x": 1}]', ["event"]),
        ("events", '[{"iteration": 3, "name": "hidden_size", "old": 8, "new": 16}]', ["event"]),
        ("events", '[{"iteration": 3, "name": "learning_rate", "old": 0.1, "new": 99}]', ["event"]),
        ("events", '[{"iteration": 99, "name": "learning_rate", "old": 0.1, "new": 0.2}]', ["99"]),
        ("sample_rng", '{"bit_generator": "nope"}', ["random state"]),
        ("dropout_rng", '{"bit_generator": "nope"}', ["random state", "dropout_rng"]),
        ("dropout_rng", "[1]", ["dropout random state"]),
        ("origin", '{"base": "x"}', ["origin"]),
        ("origin", json.dumps(ORIGIN | {"kin": [["ab", "c"]]}), ["origin", "kin"]),
        ("origin", json.dumps(ORIGIN | {"base": "b" * 500}), ["origin", "name"]),
    ],
    ids=[
        "format",
        "config-json",
        "config-list",
        "config-range",
        "config-unknown",
        "config-dropout",
        "events",
        "event-keys",
        "event-not-live",
        "event-range",
        "event-after-the-end",
        "rng",
        "dropout-rng",
        "dropout-rng-list",
        "origin-fields",
        "origin-kin",
        "origin-name",
    ],
)
def test_malformed_metadata_is_rejected(name: str, value: str, words: list[str]) -> None:
    arrays = valid_arrays()
    arrays[name] = np.array(value)
    message = load_error(npz_bytes(arrays))
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("literal", ["1e999", "-1e999", "NaN", "1" + "0" * 400])
def test_absurd_numbers_in_the_config_raise_value_error(literal: str) -> None:
    config = json.dumps(CONFIG.to_dict()).replace('"hidden_size": 8', f'"hidden_size": {literal}')
    arrays = valid_arrays()
    arrays["config"] = np.array(config)
    assert "hidden_size" in load_error(npz_bytes(arrays))


@pytest.mark.parametrize(
    ("name", "value"), [("iteration", -1), ("pointer", -1), ("pointer", 10**9)]
)
def test_counters_outside_their_range_are_rejected(name: str, value: int) -> None:
    arrays = valid_arrays()
    arrays[name] = np.array(value, dtype=np.int64)
    assert name in load_error(npz_bytes(arrays))


def test_a_checkpoint_that_loads_can_sample_and_train() -> None:
    # The largest pointer the loader accepts must still index a character of the text.
    trainer = trained()
    for pointer in range(trainer.segment_length - 3, trainer.segment_length + 1):
        arrays = valid_arrays()
        arrays["pointer"] = np.array(pointer, dtype=np.int64)
        try:
            loaded = Trainer.load(io.BytesIO(npz_bytes(arrays)), TEXT)
        except ValueError:
            continue
        assert len(loaded.sample(5)) == 5
        loaded.step(2)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8)
)
def test_corrupted_bytes_load_or_raise_value_error(edits: list[tuple[int, int]]) -> None:
    raw = bytearray(VALID)
    for position, value in edits:
        raw[position] = value
    try:
        loaded = Trainer.load(io.BytesIO(bytes(raw)), TEXT)
    except ValueError as error:
        assert str(error)
        return
    # The edits missed everything the checksums and the loader's checks cover (a timestamp in a
    # zip header, say): what loads is the run as it was saved, whole.
    original = Trainer.load(io.BytesIO(VALID), TEXT)
    assert loaded.iteration == original.iteration and loaded.config == original.config
    assert np.array_equal(loaded.state().params, original.state().params)
    assert np.array_equal(loaded.losses, original.losses)
    assert len(loaded.sample(3)) == 3


@settings(max_examples=30, deadline=None)
@given(st.integers(0, len(VALID) - 1))
def test_truncated_files_raise_value_error(length: int) -> None:
    load_error(VALID[:length])


# ---------------------------------------------------------------------- isolation
def test_loading_never_touches_an_existing_trainer() -> None:
    original = trained(20)
    before = params_of(original)
    before_losses = original.losses.copy()
    raw = checkpoint_bytes(original)

    loaded = Trainer.load(io.BytesIO(raw), TEXT)
    loaded.step(10)
    for name, value in loaded.params.items():
        assert not np.shares_memory(value, original.params[name])
    with pytest.raises(ValueError):
        Trainer.load(io.BytesIO(raw[:100]), TEXT)

    assert original.iteration == 20
    np.testing.assert_array_equal(original.losses, before_losses)
    for name, value in before.items():
        np.testing.assert_array_equal(original.params[name], value)


def test_the_loaded_trainer_keeps_the_checkpoint_config_and_history() -> None:
    original = trained(15, config=CONFIG.replace(batch_size=2, val_fraction=0.1))
    original.set_learning_rate(0.02)
    original.record_validation()
    loaded = Trainer.load(io.BytesIO(checkpoint_bytes(original)), TEXT)
    assert loaded.config == original.config
    assert loaded.events == original.events
    assert loaded.validation_history == original.validation_history
    np.testing.assert_array_equal(loaded.smooth_losses, original.smooth_losses)
    np.testing.assert_array_equal(loaded.hidden, original.hidden)


def test_a_format_1_checkpoint_still_loads_with_an_empty_health_log() -> None:
    original = trained(20)
    state = original.state()
    arrays = {
        "format": np.array("rnnlab-checkpoint-1"),
        "config": np.array(json.dumps(state.config.to_dict())),
        "vocab": np.array(state.vocab),
        "pointer": np.array(state.pointer, dtype=np.int64),
        "iteration": np.array(state.iteration, dtype=np.int64),
        "chars_seen": np.array(state.chars_seen, dtype=np.int64),
        "smooth_loss": np.array(state.smooth_loss),
        "hidden": state.hidden,
        "losses": state.losses,
        "smooth_losses": state.smooth_losses,
        "validation_history": state.validation,
        "events": np.array(json.dumps([e.to_dict() for e in state.events])),
        "sample_rng": np.array(json.dumps(state.sample_rng)),
    }
    for name, value in original.params.items():
        arrays[f"param_{name}"] = value
        arrays[f"memory_{name}"] = original.adagrad_memory[name]
    loaded = Trainer.load(io.BytesIO(npz_bytes(arrays)), TEXT)
    assert len(loaded.health) == 0
    original.step(5)
    loaded.step(5)
    np.testing.assert_array_equal(loaded.losses, original.losses)
    np.testing.assert_array_equal(loaded.params["Wxh"], original.params["Wxh"])


def test_a_checkpoint_without_its_text_digest_still_loads() -> None:
    arrays = valid_arrays()
    del arrays["text_sha256"]
    assert Trainer.load(io.BytesIO(npz_bytes(arrays)), TEXT).iteration == 12


def test_the_checkpoint_names_the_text_it_was_made_on() -> None:
    saved = checkpoint.read(io.BytesIO(VALID))
    assert saved.text_digest == checkpoint.text_digest(TEXT)
    assert checkpoint.text_digest(TEXT[::-1]) != saved.text_digest  # same characters


@pytest.mark.parametrize("digest", ["abc", "g" * 64, "A" * 64])
def test_a_malformed_text_digest_is_refused(digest: str) -> None:
    arrays = valid_arrays() | {"text_sha256": np.array(digest)}
    assert "digest" in load_error(npz_bytes(arrays))


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("losses", checkpoint.MAX_ITERATIONS + 1),
        ("validation", checkpoint.MAX_VALIDATION_POINTS + 1),
        ("health", checkpoint.MAX_HEALTH_ROWS + 1),
    ],
)
def test_a_record_longer_than_the_limit_is_refused_from_its_header(name: str, rows: int) -> None:
    arrays = valid_arrays()
    width = arrays[name].shape[1:]
    # Zeros compress to almost nothing: a small file that would unpack to a huge record.
    arrays[name] = np.zeros((rows, *width), dtype=np.float32)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    assert len(buffer.getvalue()) < 20 * 2**20
    message = load_error(buffer.getvalue())
    assert repr(name) in message and f"{rows:,} rows" in message


def test_a_checkpoint_claiming_more_iterations_than_its_records_hold_is_refused() -> None:
    arrays = valid_arrays() | {"iteration": np.array(checkpoint.MAX_ITERATIONS + 1)}
    message = load_error(npz_bytes(arrays))
    assert "'losses' has shape (12,)" in message and "(10000001,)" in message


@pytest.mark.parametrize("name", ["params", "optimizer_memory", "best_params", "hidden"])
def test_a_member_declaring_more_than_its_config_needs_is_refused_before_it_is_inflated(
    name: str,
) -> None:
    """A small file whose member unpacks to 240 MB of zeros: refused from its header, so that
    loading it never holds more than a few MB (it took 3.7 GB before 2026-12-04)."""
    import tracemalloc

    arrays = valid_arrays()
    if name == "best_params":
        arrays["best"] = np.array(json.dumps({"iteration": 1, "validation": 1.0}))
    arrays[name] = np.zeros(30_000_000)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    assert len(buffer.getvalue()) < 2 * 2**20
    tracemalloc.start()
    try:
        message = load_error(buffer.getvalue())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert repr(name) in message and "but its config needs" in message, message
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MB"


def test_events_nested_absurdly_deep_are_a_clear_refusal() -> None:
    arrays = valid_arrays()
    arrays["events"] = np.array("[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in load_error(npz_bytes(arrays))


@pytest.mark.parametrize(
    "state",
    [
        {"bit_generator": "PCG64", "state": {"state": 10**400, "inc": 1}, "has_uint32": 0,
         "uinteger": 0},
        {"bit_generator": "PCG64", "state": {"state": -1, "inc": 1}, "has_uint32": 0,
         "uinteger": 0},
        {"bit_generator": "PCG64"},
    ],
)  # fmt: skip
def test_a_bad_sampler_state_is_a_clear_refusal(state: dict) -> None:
    arrays = valid_arrays()
    arrays["sample_rng"] = np.array(json.dumps(state))
    assert "random state" in load_error(npz_bytes(arrays))


def test_a_checkpoint_keeps_its_float32_arrays_as_they_were_saved() -> None:
    config = Config(hidden_size=8, seq_length=6, seed=0, dtype="float32", cell="gru")
    state = checkpoint.load_state(io.BytesIO(checkpoint_bytes(trained(config=config))))
    assert state.params.dtype == np.float32 and not state.params.flags.writeable
    assert state.optimizer_memory.dtype == np.float32
