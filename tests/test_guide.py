"""The words beside the numbers: yardsticks passed, the overfitting guide, the meter's caption
and the data-size advisor."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from dashboard.guide import data_size_advice, meter_caption, overfitting_note, yardstick_note
from rnnlab import Config, Trainer
from rnnlab.copying import CopyReport
from rnnlab.overfitting import Overfitting

TEXT = "the cat sat on the mat. the dog ate my hat! " * 24
LN2 = math.log(2)


def state_with_validation(bits: list[float]):
    trainer = Trainer(TEXT, Config(hidden_size=8, seq_length=10, seed=0, val_fraction=0.1))
    trainer.step(len(bits) * 10)
    validation = np.array([(10 * (k + 1), b * LN2) for k, b in enumerate(bits)])
    return dataclasses.replace(trainer.state(), validation=validation)


YARDSTICKS = {"uniform": 4.0, "unigram": 3.5, "bigram": 3.0, "compressor": 1.5}


def test_yardstick_note_says_since_when_each_was_passed_on_validation() -> None:
    state = state_with_validation([3.8, 3.2, 3.6, 3.4, 2.9])
    note = yardstick_note(state, YARDSTICKS, in_sample=False)
    assert "On held-out text the model is better than a uniform guess since iteration 10" in note
    assert "than the character frequencies since iteration 40" in note  # 3.6 ≥ 3.5 at 30
    assert "than a bigram model since iteration 50" in note
    assert "not yet better than the best compressor (1.50 bits/char)" in note
    assert "measured on the held-out text" in note


def test_yardstick_note_reads_the_training_loss_when_nothing_is_held_out() -> None:
    trainer = Trainer(TEXT, Config(hidden_size=8, seq_length=10, seed=0))
    trainer.step(300)
    note = yardstick_note(trainer.state(), YARDSTICKS, in_sample=True)
    assert note.startswith("In training (nothing is held out) the model is")
    assert "measured on the training text itself" in note


def test_yardstick_note_before_any_passing() -> None:
    state = state_with_validation([4.5])
    note = yardstick_note(state, YARDSTICKS, in_sample=False)
    assert note.startswith("On held-out text the model is not yet better than a uniform guess")


def test_overfitting_note_names_the_turn_and_what_to_try() -> None:
    state = state_with_validation([3.0])
    turn = Overfitting(1250, 2.0 * LN2, 2250, 2.2 * LN2, 4)
    note = overfitting_note(turn, state)
    assert "not improved for 4 checks since iteration 1,250" in note
    assert "best 2.000 bits/char, now 2.200, +10%" in note
    for advice in ("more text", "smaller hidden size (now 8)", "lower learning rate (now 0.1)"):
        assert advice in note


def test_meter_caption_lists_the_copy_the_words_and_a_few_new_words() -> None:
    novel = tuple(f"word{k}" for k in range(15))
    caption = meter_caption(CopyReport(42, 3, 100, 0.8, novel))
    assert caption.startswith("longest stretch copied from the text: 42 characters (marked)")
    assert "80% of its words occur in the text" in caption
    assert "word11 and 3 more" in caption and "word12" not in caption
    assert meter_caption(CopyReport(0, 0, -1, 0.0, ())).startswith("nothing copied")
    assert "indexing" in meter_caption(None)


def test_data_size_advice_grows_more_hopeful_with_more_text_per_parameter() -> None:
    small, middle, large = (
        data_size_advice(chars, 20_000) for chars in (22_000, 200_000, 1_000_000)
    )
    assert small.startswith("22,000 characters to train on for 20,000 parameters (1.1 per")
    assert "memorises" in small and "longer text or a smaller hidden size" in small
    assert "slow turn" in middle
    assert "Plenty of text" in large
