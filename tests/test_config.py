"""Config: the classic defaults, documented ranges, and clear errors for values outside them."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from rnnlab import Config

FIELDS = [f.name for f in dataclasses.fields(Config)]
INTEGER_FIELDS = ["hidden_size", "seq_length", "batch_size", "seed", "layers"]
FLOAT_FIELDS = ["learning_rate", "val_fraction", "dropout"]
CHOICE_FIELDS = ["cell", "optimizer", "dtype"]
NUMERIC_FIELDS = INTEGER_FIELDS + FLOAT_FIELDS


def test_defaults_are_the_classic_min_char_rnn() -> None:
    config = Config()
    assert (config.hidden_size, config.seq_length, config.learning_rate, config.batch_size) == (
        100,
        25,
        0.1,
        1,
    )
    assert config.seed is None
    assert config.val_fraction == 0.0
    assert (config.cell, config.layers, config.optimizer, config.dtype) == (
        "rnn",
        1,
        "adagrad",
        "float64",
    )


def test_every_field_has_an_inclusive_range_and_help() -> None:
    assert set(FIELDS) == set(NUMERIC_FIELDS + CHOICE_FIELDS)
    for name in NUMERIC_FIELDS:
        low, high = Config.range(name)
        assert low < high
        assert Config.help(name).strip()
        # Both ends are accepted.
        assert getattr(Config(**{name: low}), name) == low
        assert getattr(Config(**{name: high}), name) == high


def test_every_choice_field_accepts_its_choices_and_names_them_when_refusing() -> None:
    for name in CHOICE_FIELDS:
        assert Config.help(name).strip()
        assert Config.default(name) in Config.choices(name)
        for choice in Config.choices(name):
            assert getattr(Config(**{name: choice}), name) == choice
        for bad in ("", "LSTM ", 3, None):
            with pytest.raises(ValueError, match=name) as caught:
                Config(**{name: bad})
            assert all(choice in str(caught.value) for choice in Config.choices(name))


def test_the_cells_gates() -> None:
    assert [Config(cell=cell).gates for cell in ("rnn", "gru", "lstm")] == [1, 3, 4]


def test_default_values_lie_inside_their_ranges() -> None:
    for name in NUMERIC_FIELDS:
        default = getattr(Config(), name)
        if default is not None:
            low, high = Config.range(name)
            assert low <= default <= high


def test_range_of_unknown_field_raises_key_error() -> None:
    with pytest.raises(KeyError, match="nonsense"):
        Config.range("nonsense")


def _shown(bound: float) -> str:
    """A range end as a person reads it: 4294967295, 1e-05, 0.5."""
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def _bad_value_message(name: str, value: object) -> str:
    with pytest.raises(ValueError) as caught:
        Config(**{name: value})
    return str(caught.value)


@pytest.mark.parametrize("name", NUMERIC_FIELDS)
def test_values_just_outside_the_range_raise_naming_field_and_range(name: str) -> None:
    low, high = Config.range(name)
    step = 1 if name in INTEGER_FIELDS else max(abs(high) * 1e-3, 1e-9)
    for value in (low - step, high + step):
        message = _bad_value_message(name, value)
        assert name in message
        assert _shown(low) in message and _shown(high) in message


@pytest.mark.parametrize("name", NUMERIC_FIELDS)
@pytest.mark.parametrize("value", ["10", [10], True, False], ids=["str", "list", "True", "False"])
def test_wrong_types_and_bools_raise_naming_the_field(name: str, value: object) -> None:
    assert name in _bad_value_message(name, value)


@pytest.mark.parametrize("name", NUMERIC_FIELDS)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values_raise_value_error_naming_field_and_range(
    name: str, value: float
) -> None:
    message = _bad_value_message(name, value)
    low, high = Config.range(name)
    assert name in message
    assert _shown(low) in message and _shown(high) in message


@pytest.mark.parametrize("name", INTEGER_FIELDS)
def test_huge_integers_raise_value_error_not_overflow(name: str) -> None:
    assert name in _bad_value_message(name, 10**400)


@pytest.mark.parametrize("name", ["hidden_size", "seq_length", "batch_size"])
def test_fractional_values_for_whole_number_fields_raise(name: str) -> None:
    low, _ = Config.range(name)
    message = _bad_value_message(name, low + 0.5)
    assert name in message and "whole" in message


def test_whole_floats_are_stored_as_ints() -> None:
    config = Config(hidden_size=64.0, seq_length=10.0, batch_size=2.0, seed=7.0)
    for name in ("hidden_size", "seq_length", "batch_size", "seed"):
        assert type(getattr(config, name)) is int


def test_numpy_scalars_are_accepted_like_python_numbers() -> None:
    # Values computed with NumPy (e.g. a sweep over np.arange) are numbers too.
    config = Config(hidden_size=np.int64(64), learning_rate=np.float32(0.5), seed=np.uint32(3))
    assert (config.hidden_size, config.seed) == (64, 3)
    assert type(config.hidden_size) is int
    assert config.learning_rate == pytest.approx(0.5)


def test_config_is_frozen_and_replace_validates() -> None:
    config = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.hidden_size = 5  # type: ignore[misc]
    assert dataclasses.replace(config, hidden_size=8).hidden_size == 8
    with pytest.raises(ValueError, match="hidden_size"):
        config.replace(hidden_size=2)


def test_from_dict_round_trips_to_dict() -> None:
    config = Config(hidden_size=32, seq_length=7, learning_rate=0.05, batch_size=3, seed=11)
    assert Config.from_dict(config.to_dict()) == config


def test_from_dict_rejects_unknown_keys_by_name() -> None:
    with pytest.raises(ValueError, match=re.escape("hiden_size")):
        Config.from_dict({"hiden_size": 10})


def test_from_dict_validates_values() -> None:
    with pytest.raises(ValueError, match="seq_length"):
        Config.from_dict({"seq_length": 0})


def test_chars_per_iteration_is_the_chunk_in_every_stream() -> None:
    assert Config().chars_per_iteration == 25
    assert Config(seq_length=30, batch_size=16).chars_per_iteration == 480
