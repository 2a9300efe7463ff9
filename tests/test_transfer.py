"""Transfer (Trainer.from_base): a new run on any text from a base model's weights.

What must hold: a base on its own vocabulary predicts exactly as before; on another text every
character the base knew keeps its input column, output row and bias, and every other weight is
the base's; new characters start as rnnlab.transfer documents; only the allowed settings change;
the origin is reported and survives a checkpoint; and a transferred run resumes bit for bit.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest

import rnnlab
from rnnlab.model import trace
from rnnlab.presets import TRANSFER_SETTINGS
from rnnlab.transfer import kin
from tests.test_engine_vs_reference import NON_ASCII_TEXT

BASE_TEXT = (
    "The river ran past the old mill, and the miller's daughter watched it go. "
    "She said: 'Tomorrow we sail.' Nobody answered her; the wind was up.\n"
) * 6
# Lyrics typed on a phone: curly apostrophes, an accent, a capital V and Q and a digit the base
# never saw, and no straight apostrophe, semicolon, colon or full stop.
NEW_TEXT = (
    "Quiet now, the river’s low, café lights are burning slow\n"
    "Verse 2 - hold me close and let it go, the water knows the way we row\n"
) * 40


def base_trainer(cell: str = "gru", layers: int = 2, dtype: str = "float64") -> rnnlab.Trainer:
    config = rnnlab.Config(
        hidden_size=12, seq_length=10, batch_size=2, learning_rate=0.01, seed=9, cell=cell,
        layers=layers, optimizer="adam", dtype=dtype, val_fraction=0.1,
    )  # fmt: skip
    trainer = rnnlab.Trainer(BASE_TEXT, config)
    trainer.step(40)
    return trainer


NETWORKS = [
    ("rnn", 1, "float64"),
    ("gru", 2, "float64"),
    ("lstm", 2, "float32"),
    ("rnn", 3, "float32"),
]


@pytest.mark.parametrize(("cell", "layers", "dtype"), NETWORKS)
def test_a_base_on_its_own_vocabulary_predicts_exactly_as_the_base(cell, layers, dtype) -> None:
    base = base_trainer(cell, layers, dtype)
    again = rnnlab.Trainer.from_base(BASE_TEXT, base.state(), batch_size=2, seq_length=10)
    ids = base.vocab.encode(BASE_TEXT[:200])
    state = np.zeros(base.arch.state_size, base.arch.float)
    assert np.array_equal(
        trace(again.params, ids, state).probs, trace(base.params, ids, state).probs
    )
    assert np.array_equal(again.state().params, base.state().params)
    assert again.params["Why"].dtype == np.dtype(dtype)
    assert again.origin.known == base.vocab.chars and not again.origin.new


@pytest.mark.parametrize(("cell", "layers", "dtype"), NETWORKS)
def test_known_characters_keep_their_weights_on_another_text(cell, layers, dtype) -> None:
    base = base_trainer(cell, layers, dtype)
    new = rnnlab.Trainer.from_base(NEW_TEXT, base.state())
    old_p, new_p = base.params, new.params
    old_index = {c: i for i, c in enumerate(base.vocab.chars)}
    known = [c for c in new.vocab.chars if c in old_index]
    assert len(known) > 20
    for j, c in enumerate(new.vocab.chars):
        if c not in old_index:
            continue
        i = old_index[c]
        assert np.array_equal(new_p["Wxh"][:, j], old_p["Wxh"][:, i]), c
        assert np.array_equal(new_p["Why"][j], old_p["Why"][i]), c
        assert new_p["by"][j, 0] == old_p["by"][i, 0], c
    for name in base.arch.param_names:
        if name not in ("Wxh", "Why", "by"):
            assert np.array_equal(new_p[name], old_p[name]), name
    assert new.arch.vocab_size == len(set(NEW_TEXT))
    assert (new.arch.cell, new.arch.layers, new.arch.hidden_size, new.arch.dtype) == (
        cell, layers, 12, dtype,
    )  # fmt: skip


def test_new_characters_start_from_their_kin_or_the_average_character() -> None:
    base = base_trainer()
    new = rnnlab.Trainer.from_base(NEW_TEXT, base.state())
    origin = new.origin
    old_p, new_p = base.params, new.params
    old = {c: i for i, c in enumerate(base.vocab.chars)}
    at = {c: j for j, c in enumerate(new.vocab.chars)}
    count = {c: NEW_TEXT.count(c) for c in at}
    assert dict(origin.kin) == {"’": "'", "é": "e", "V": "v"}
    assert set(origin.new) == set(NEW_TEXT) - set(BASE_TEXT) - set("’éV") and "2" in origin.new
    assert set(origin.dropped) == set(BASE_TEXT) - set(NEW_TEXT) and "'" in origin.dropped
    # ’ stands in for ', which the new text lacks: it reads and predicts as ' did.
    assert np.array_equal(new_p["Wxh"][:, at["’"]], old_p["Wxh"][:, old["'"]])
    assert np.array_equal(new_p["Why"][at["’"]], old_p["Why"][old["'"]])
    assert new_p["by"][at["’"], 0] == pytest.approx(old_p["by"][old["'"], 0])
    # é beside e, which the text has too: e's weights, its bias lowered by how much rarer é is.
    assert np.array_equal(new_p["Why"][at["é"]], old_p["Why"][old["e"]])
    assert new_p["by"][at["é"], 0] == pytest.approx(
        old_p["by"][old["e"], 0] + np.log(count["é"] / count["e"])
    )
    # 2 has no kin: the base's average character, as unlikely as the base's rarest.
    assert np.allclose(new_p["Wxh"][:, at["2"]], old_p["Wxh"].mean(axis=1))
    assert np.allclose(new_p["Why"][at["2"]], old_p["Why"].mean(axis=0))
    assert new_p["by"][at["2"], 0] == old_p["by"].min()
    assert "Started from a model, which knew" in origin.describe()
    assert "'’' from" in origin.describe() and "'2'" in origin.describe()


def test_kin_reads_accents_typography_and_case() -> None:
    assert kin("é", set("abcde")) == "e"
    assert kin("’", set("'a")) == "'"
    assert kin("'", set("’a")) == "’"
    assert kin("—", set("-")) == "-"
    assert kin("“", set('"')) == '"'
    assert kin("Q", set("q")) == "q"
    assert kin("q", set("Q")) == "Q"
    assert kin("ж", set("abc")) is None
    assert kin("x", set("x")) is None  # a known character is not new


def test_a_transfer_changes_only_what_it_may() -> None:
    base = base_trainer()
    new = rnnlab.Trainer.from_base(
        NEW_TEXT, base.state(), learning_rate=0.003, seq_length=20, batch_size=4,
        optimizer="rmsprop", dropout=0.2, val_fraction=0.2, seed=5,
    )  # fmt: skip
    c = new.config
    assert (c.learning_rate, c.seq_length, c.batch_size, c.optimizer) == (0.003, 20, 4, "rmsprop")
    assert (c.dropout, c.val_fraction, c.seed) == (0.2, 0.2, 5)
    assert (c.cell, c.layers, c.hidden_size, c.dtype) == ("gru", 2, 12, "float64")
    assert new.iteration == 0 and len(new.losses) == 0 and new.best is None
    assert not new.state().optimizer_memory.any() and not new.hidden.any()
    kept = rnnlab.Trainer.from_base(NEW_TEXT, base.state())
    for name, value in TRANSFER_SETTINGS.items():
        assert getattr(kept.config, name) == value, name
    assert kept.config.seed == base.config.seed


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"hidden_size": 64}, ["hidden size (the base's: 12)", "random weights"]),
        ({"cell": "lstm", "layers": 1}, ["cell (the base's: gru)", "layers (the base's: 2)"]),
        ({"dtype": "float32"}, ["dtype"]),
        ({"momentum": 0.9}, ["Unknown settings: momentum"]),
        ({"dropout": 0.9}, ["dropout must be between 0 and 0.7"]),
        ({"seq_length": 500}, ["sequence length of 500"]),
    ],
)
def test_refused_changes_say_what_and_why(changes: dict, words: list[str]) -> None:
    base = base_trainer()
    with pytest.raises(ValueError) as caught:
        rnnlab.Trainer.from_base(NEW_TEXT, base.state(), **changes)
    for word in words:
        assert word in str(caught.value), str(caught.value)


def test_a_base_without_its_model_or_with_a_broken_one_is_refused() -> None:
    base = base_trainer()
    with pytest.raises(ValueError, match="holds no model"):
        rnnlab.Trainer.from_base(NEW_TEXT, base.state(with_model=False))
    state = base.state()
    cut = dataclasses.replace(state, params=state.params[:-3])
    with pytest.raises(ValueError, match="corrupt"):
        rnnlab.Trainer.from_base(NEW_TEXT, cut)
    broken = np.array(state.params)
    broken[4] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        rnnlab.Trainer.from_base(NEW_TEXT, dataclasses.replace(state, params=broken))
    with pytest.raises(ValueError, match="No base model 'nowhere.npz'"):
        rnnlab.Trainer.from_base(NEW_TEXT, "nowhere.npz")
    with pytest.raises(TypeError, match="A base is"):
        rnnlab.Trainer.from_base(NEW_TEXT, 42)


def test_a_checkpoint_file_is_a_base_and_names_it(tmp_path) -> None:
    base = base_trainer("lstm", 1)
    path = tmp_path / "english-ish.npz"
    base.save(path)
    from_path = rnnlab.Trainer.from_base(NEW_TEXT, path)
    assert from_path.origin.base == "english-ish.npz"
    buffer = io.BytesIO(path.read_bytes())
    from_file = rnnlab.Trainer.from_base(NEW_TEXT, buffer, base_name="my model")
    assert from_file.origin.base == "my model"
    assert np.array_equal(from_path.state().params, from_file.state().params)


def test_a_transferred_run_saves_its_origin_and_resumes_bit_for_bit() -> None:
    base = base_trainer("lstm", 2, "float32")
    changes = dict(learning_rate=0.003, batch_size=2, dropout=0.25, val_fraction=0.1, seed=2)
    straight = rnnlab.Trainer.from_base(NEW_TEXT, base.state(), **changes)
    straight.step(30)
    first = rnnlab.Trainer.from_base(NEW_TEXT, base.state(), **changes)
    first.step(18)
    file = io.BytesIO()
    first.save(file)
    file.seek(0)
    resumed = rnnlab.Trainer.load(file, NEW_TEXT)
    assert resumed.origin == first.origin
    resumed.step(12)
    assert np.array_equal(resumed.losses, straight.losses)
    assert np.array_equal(resumed.state().params, straight.state().params)
    assert rnnlab.Trainer.from_state(NEW_TEXT, first.state()).origin == first.origin


def test_a_transferred_model_starts_where_the_base_is_not_from_scratch() -> None:
    """On a text in the base's style with new characters, the transferred model's held-out
    loss starts far below a random model's, and below uniform guessing."""
    base = base_trainer("gru", 1)
    base.step(400)
    text = BASE_TEXT.replace("river", "rïver") + "Quay 7!\n"
    config = dict(val_fraction=0.2, seed=1)
    config |= dict(batch_size=2, seq_length=10)
    transferred = rnnlab.Trainer.from_base(text, base.state(), **config)
    scratch = rnnlab.Trainer(text, base.config.replace(**config))
    uniform = np.log(transferred.vocab.size)
    assert transferred.validation_loss() < 0.6 * scratch.validation_loss()
    assert transferred.validation_loss() < 0.6 * uniform


def test_every_cell_trains_on_after_a_transfer() -> None:
    for cell in ("rnn", "gru", "lstm"):
        base = base_trainer(cell, 2)
        new = rnnlab.Trainer.from_base(
            NON_ASCII_TEXT, base.state(), learning_rate=0.003, batch_size=2, seq_length=10
        )
        new.step(20)
        assert np.isfinite(new.losses).all() and new.iteration == 20
        assert max(new.gradcheck(samples_per_param=5).values()) < 1e-6
