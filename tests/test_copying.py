"""The memorisation meter: longest verbatim copies, the suffix array behind them, and the words
of a text, each checked against a slow, obviously-correct oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab import copying
from rnnlab.copying import CopyIndex, CopyReport, build_suffix_array, encode_text, meter
from rnnlab.metrics import corpus_words

LYRICS = Path(__file__).resolve().parents[1] / "data" / "lyrics.txt"
ASTRAL = "😀🎵𝄞"  # outside the Basic Multilingual Plane: two UTF-16 units, one Python character
WIDE = "".join(chr(0x4E00 + i) for i in range(300))  # more characters than one byte can number


def brute_longest_copy(sample: str, text: str, max_copy: int | None = None) -> tuple[int, int, int]:
    """Oracle: try every stretch of the sample; keep the longest, then the earliest."""
    cap = max_copy or len(sample)
    found = [
        (end - start, -start)
        for start in range(len(sample))
        for end in range(start + 1, min(len(sample), start + cap) + 1)
        if sample[start:end] in text
    ]
    if not found:
        return 0, 0, -1
    length, start = max(found)
    return length, -start, text.find(sample[-start : -start + length])


def texts(alphabet: str, max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, max_size=max_size)


# ------------------------------------------------------------------------------ longest_copy
@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["ab", "abc "]).flatmap(lambda a: st.tuples(texts(a), texts(a + "x", 25))))
def test_longest_copy_matches_brute_force_on_small_alphabets(case: tuple[str, str]) -> None:
    text, sample = case
    assert CopyIndex(text).longest_copy(sample) == brute_longest_copy(sample, text)


@settings(max_examples=100, deadline=None)
@given(texts("aé\u0301ß" + ASTRAL), texts("aé\u0301ßqΩ" + ASTRAL, 25))
def test_longest_copy_matches_brute_force_on_non_ascii_and_astral_characters(
    text: str, sample: str
) -> None:
    assert CopyIndex(text).longest_copy(sample) == brute_longest_copy(sample, text)


@settings(max_examples=50, deadline=None)
@given(texts(WIDE[:3] + "ab", 30), st.data())
def test_longest_copy_matches_brute_force_with_a_two_byte_vocabulary(
    text: str, data: st.DataObject
) -> None:
    text += WIDE  # all 300 characters occur, so each is numbered in two bytes
    sample = data.draw(texts(WIDE[:3] + "abz", 25))
    index = CopyIndex(text)
    assert index.longest_copy(sample) == brute_longest_copy(sample, text)


def test_longest_copy_is_exact_with_a_four_byte_vocabulary() -> None:
    text = "".join(chr(0x10000 + i) for i in range(70_000)) * 2  # more than 2**16 characters
    index = CopyIndex(text, max_copy=len(text))
    assert list(index.suffix_array[:4]) == [70_000, 0, 70_001, 1]  # a prefix sorts first
    for sample in (text[69_990:70_020], "z" + text[5:9] + "z" + text[100:107], "abc"):
        assert index.longest_copy(sample) == brute_longest_copy(sample, text)


def test_a_character_the_text_lacks_breaks_a_copy() -> None:
    index = CopyIndex("the cat sat")
    assert index.longest_copy("the c\u00e0t sat") == (5, 0, 0)  # "the c", not "the cat sat"
    assert index.longest_copy("cat") == (3, 0, 4)


@pytest.mark.parametrize(
    ("text", "sample", "expected"),
    [
        ("", "", (0, 0, -1)),
        ("", "abc", (0, 0, -1)),
        ("abc", "", (0, 0, -1)),
        ("abc", "xyz", (0, 0, -1)),
        ("a", "a", (1, 0, 0)),
        ("a", "xa", (1, 1, 0)),
        ("abc", "c", (1, 0, 2)),
        ("😀", "x😀😀", (1, 1, 0)),
    ],
)
def test_empty_and_one_character_inputs(text: str, sample: str, expected: tuple) -> None:
    assert CopyIndex(text).longest_copy(sample) == expected


def test_ties_go_to_the_earliest_stretch_of_the_sample_and_its_first_place_in_the_text() -> None:
    index = CopyIndex("xyz abc abc")
    assert index.longest_copy("abc-xyz") == (3, 0, 4)


@settings(max_examples=60, deadline=None)
@given(texts("ab", 60), texts("ab", 30), st.integers(1, 6))
def test_copies_longer_than_max_copy_are_measured_as_max_copy(
    text: str, sample: str, max_copy: int
) -> None:
    index = CopyIndex(text, max_copy=max_copy)
    assert index.longest_copy(sample) == brute_longest_copy(sample, text, max_copy)


def test_a_paragraph_repeated_many_times_is_indexed_and_copies_are_found() -> None:
    paragraph = "Row, row, row your boat\nGently down the stream.\n\n"
    text = paragraph * 400  # every suffix shares thousands of characters with others
    index = CopyIndex(text, max_copy=500)
    sample = "q" + text[7:600]
    assert index.longest_copy(sample) == (500, 1, 7)
    assert index.longest_copy("stream.\n\nRow?") == (12, 0, paragraph.index("stream."))


def test_a_long_copy_from_the_lyrics_is_found_whole() -> None:
    text = LYRICS.read_text(encoding="utf-8")
    index = CopyIndex(text)
    sample = "~~" + text[1000:1300] + "~~" + text[5:40]
    length, sample_start, text_start = index.longest_copy(sample)
    assert (length, sample_start) == (300, 2)
    assert text_start == text.find(text[1000:1300])


# ------------------------------------------------------------------------------ suffix array
@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["ab", "abc", "a€😀" + WIDE[:2]]).flatmap(lambda a: texts(a, 60)))
def test_suffix_array_lists_the_suffixes_in_sorted_order(text: str) -> None:
    assert list(CopyIndex(text).suffix_array) == sorted(range(len(text)), key=lambda i: text[i:])


@pytest.mark.parametrize("chunk", [1, 2, 5, 64])
@pytest.mark.parametrize("text", ["abc" * 200, "a" * 500, "ab" * 100 + "b" * 300 + "ab" * 50])
def test_suffix_array_is_sorted_when_groups_are_larger_than_a_chunk(text: str, chunk: int) -> None:
    vocabulary, data, width = encode_text(text)
    codes = np.frombuffer(data, dtype=f">u{width}")
    suffix_array = build_suffix_array(codes, len(vocabulary), depth=len(text), chunk=chunk)
    assert list(suffix_array) == sorted(range(len(text)), key=lambda i: text[i:])


def test_suffix_array_is_read_only() -> None:
    with pytest.raises(ValueError):
        CopyIndex("abc").suffix_array[0] = 2


# ------------------------------------------------------------------------------ words
WORDY = "aZé\u0301Σς'\u2019 _1²Ⅻİß-\n"  # letters, accents, apostrophes, digit-likes, separators


@settings(max_examples=300, deadline=None)
@given(texts(WORDY, 60), st.integers(1, 8))
def test_words_are_exactly_the_metrics_corpus_words(text: str, chunk: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(copying, "WORDS_CHUNK", chunk)  # so that texts are cut into many pieces
        assert copying.text_words(text) == corpus_words(text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_words_agree_with_metrics_on_any_unicode_text(text: str) -> None:
    assert copying.text_words(text) == corpus_words(text)


def test_index_words_of_the_lyrics_are_the_metrics_corpus_words() -> None:
    text = LYRICS.read_text(encoding="utf-8")
    assert CopyIndex(text).words == corpus_words(text)


# ------------------------------------------------------------------------------ meter
def test_meter_reports_the_copy_the_word_share_and_the_novel_words_in_order() -> None:
    index = CopyIndex("Hold the lantern, hold it high!")
    report = meter("Glorp the lantern, zib glorp HIGH", index)
    assert report == CopyReport(
        length=14,  # " the lantern, "
        sample_start=5,
        text_start=4,
        word_share=pytest.approx(3 / 6),  # the, lantern, high; not glorp (twice) and zib
        novel_words=("glorp", "zib"),
    )
    assert report.span == (5, 19)


def test_meter_of_a_sample_without_copies_or_words() -> None:
    report = meter("123", CopyIndex("abc"))
    assert (report.length, report.text_start, report.word_share) == (0, -1, 0.0)
    assert report.novel_words == () and report.span == (0, 0)


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("text", [b"abc", None, ["a", "b"]])
def test_an_index_of_a_non_string_raises_type_error(text: object) -> None:
    with pytest.raises(TypeError, match="CopyIndex needs the training text as a str"):
        CopyIndex(text)  # type: ignore[arg-type]


@pytest.mark.parametrize("sample", [b"abc", 3, None])
def test_a_non_string_sample_raises_type_error(sample: object) -> None:
    with pytest.raises(TypeError, match="needs the sample as a str"):
        CopyIndex("abc").longest_copy(sample)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs the sample as a str"):
        meter(sample, CopyIndex("abc"))  # type: ignore[arg-type]


def test_meter_without_an_index_raises_type_error() -> None:
    with pytest.raises(TypeError, match="meter needs a CopyIndex"):
        meter("abc", corpus_words("abc"))  # type: ignore[arg-type]


@pytest.mark.parametrize("max_copy", [0, -3, 2.5, True])
def test_max_copy_must_be_a_positive_int(max_copy: object) -> None:
    with pytest.raises(ValueError, match="max_copy must be a positive int"):
        CopyIndex("abc", max_copy=max_copy)  # type: ignore[arg-type]
