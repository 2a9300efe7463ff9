"""The yardsticks against direct computation: counts, logs and sums written out plainly."""

import bz2
import lzma
import math
import zlib
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnlab
from rnnlab.yardsticks import below_since


def direct_unigram(text):
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def direct_bigram(text):
    pairs = Counter(zip(text, text[1:], strict=False))
    firsts = Counter(text[:-1])
    total = len(text) - 1
    return -sum(c / total * math.log2(c / firsts[a]) for (a, _), c in pairs.items())


def smallest_compressed_bits(data: bytes) -> int:
    return 8 * min(
        len(zlib.compress(data, 9)),
        len(bz2.compress(data, 9)),
        len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)),
    )


texts = st.text(alphabet="ab cé\u2019\U0001f600", min_size=2, max_size=60)


@settings(max_examples=25, deadline=None)
@given(texts)
def test_in_sample_yardsticks_equal_direct_computation(text):
    got = rnnlab.baselines(text)
    assert got["uniform"] == pytest.approx(math.log2(len(set(text))))
    assert got["unigram"] == pytest.approx(direct_unigram(text), abs=1e-12)
    assert got["bigram"] == pytest.approx(direct_bigram(text), abs=1e-9)
    assert got["compressor"] == smallest_compressed_bits(text.encode()) / len(text)


def test_one_character_text_costs_nothing_to_guess_but_the_compressor_still_has_a_header():
    got = rnnlab.baselines("x")
    assert got["uniform"] == got["unigram"] == got["bigram"] == 0.0
    assert got["compressor"] == smallest_compressed_bits(b"x")


def test_a_text_of_one_repeated_character_has_no_entropy():
    got = rnnlab.baselines("aaaa")
    assert (got["uniform"], got["unigram"], got["bigram"]) == (0.0, 0.0, 0.0)


def test_held_out_form_by_hand():
    # Vocabulary of both texts: a, b, c (V = 3). Train "aab": a twice, b once, n = 3.
    got = rnnlab.baselines("aab", "bc")
    assert got["uniform"] == pytest.approx(math.log2(3))
    # p(b) = (1 + 1) / (3 + 3), p(c) = (0 + 1) / (3 + 3)
    assert got["unigram"] == pytest.approx(-(math.log2(2 / 6) + math.log2(1 / 6)) / 2)
    # Train pairs: aa, ab; "b" never comes first. Eval "bc" is predicted after the train's
    # last "b": p(b | b) = (0 + 1) / (0 + 3), p(c | b) = (0 + 1) / (0 + 3).
    assert got["bigram"] == pytest.approx(-math.log2(1 / 3))


def test_held_out_bigram_uses_the_counts_it_learned():
    # After "ab" repeated, "ab" is likely:
    # p(a | b) = (4 + 1) / (4 + 2), p(b | a) = (5 + 1) / (5 + 2)
    got = rnnlab.baselines("ababababab", "ab")
    assert got["bigram"] == pytest.approx(-(math.log2(5 / 6) + math.log2(6 / 7)) / 2)


def test_held_out_characters_unseen_in_training_are_smoothed_not_infinite():
    got = rnnlab.baselines("aaaa", "é")
    # V = 2; p(é) = (0 + 1) / (4 + 2)
    assert got["unigram"] == pytest.approx(-math.log2(1 / 6))
    assert math.isfinite(got["bigram"])


def test_held_out_compressor_is_the_extra_cost_after_the_training_text():
    train, held_out = "the river runs " * 20, "the river runs deep"
    expected = (
        min(
            len(compress((train + held_out).encode())) - len(compress(train.encode()))
            for compress in (
                lambda d: zlib.compress(d, 9),
                lambda d: bz2.compress(d, 9),
                lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME),
            )
        )
        * 8
        / len(held_out)
    )
    assert rnnlab.baselines(train, held_out)["compressor"] == expected


def test_a_repeated_text_is_cheaper_to_compress_than_a_bigram_can_predict():
    got = rnnlab.baselines("I walked down to the river. " * 40)
    assert got["compressor"] < got["bigram"] < got["unigram"] < got["uniform"]


@pytest.mark.parametrize("bad", [b"bytes", None, 3])
def test_yardsticks_need_str(bad):
    with pytest.raises(TypeError, match="str"):
        rnnlab.baselines(bad)


def test_empty_texts_are_refused_clearly():
    with pytest.raises(ValueError, match="non-empty"):
        rnnlab.baselines("")
    with pytest.raises(ValueError, match="empty"):
        rnnlab.baselines("abc", "")


def test_below_since_is_the_start_of_the_last_stretch_below():
    points = np.array([(10, 5.0), (20, 3.0), (30, 4.5), (40, 3.5), (50, 3.2)])
    assert below_since(points, 4.0) == 40
    assert below_since(points, 6.0) == 10
    assert below_since(points, 3.0) is None  # the last point is not below
    assert below_since(np.zeros((0, 2)), 1.0) is None
