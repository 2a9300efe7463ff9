"""Checks of the word metrics on hand-made examples."""

from __future__ import annotations

import pytest

from rnnlab.metrics import corpus_words, split_words, word_share


def test_words_are_lowercased_runs_of_letters_split_by_anything_else() -> None:
    assert split_words("Hold the LANTERN, hold it high!\nLet it shine") == [
        "hold", "the", "lantern", "hold", "it", "high", "let", "it", "shine",
    ]  # fmt: skip


def test_digits_hyphens_and_underscores_split_words() -> None:
    assert split_words("4ever well-known snake_case r2d2") == [
        "ever", "well", "known", "snake", "case", "r", "d",
    ]  # fmt: skip


def test_apostrophe_between_letters_stays_inside_the_word() -> None:
    assert split_words("don't I'm rock'n'roll") == ["don't", "i'm", "rock'n'roll"]


def test_apostrophe_at_the_edge_of_a_word_is_dropped() -> None:
    assert split_words("'cause I was lovin' it ''") == ["cause", "i", "was", "lovin", "it"]
    assert split_words("don''t") == ["don", "t"]


def test_typographic_apostrophe_is_written_as_a_plain_one() -> None:
    assert split_words("Don\u2019t") == ["don't"]
    assert corpus_words("don't") == corpus_words("DON\u2019T")


def test_non_ascii_letters_are_letters() -> None:
    assert split_words("Café, naïve Straße; niño") == ["café", "naïve", "straße", "niño"]


def test_decomposed_accent_counts_as_the_composed_letter() -> None:
    decomposed = "Cafe\u0301"  # "e" followed by a combining acute accent
    assert split_words(decomposed) == ["café"]
    assert word_share(decomposed, corpus_words("café")) == 1.0


def test_text_without_letters_has_no_words() -> None:
    assert split_words("") == []
    assert split_words(" 123 -- !? \n'") == []


def test_corpus_words_are_distinct() -> None:
    assert corpus_words("The river, the RIVER. The end.") == frozenset({"the", "river", "end"})


def test_word_share_counts_every_occurrence() -> None:
    words = corpus_words("hold the lantern")
    # "the" twice and "lantern" are known; "hodl" and "lanter" are not: 3 of 5.
    assert word_share("the hodl the lanter lantern", words) == pytest.approx(3 / 5)


def test_word_share_ignores_case_and_punctuation() -> None:
    words = corpus_words("Hold the lantern on the river")
    assert word_share("HOLD... the Lantern?!", words) == 1.0


def test_word_share_is_zero_without_words_in_the_sample() -> None:
    words = corpus_words("hold the lantern")
    assert word_share("", words) == 0.0
    assert word_share("  ,.;!\n 42 ", words) == 0.0


def test_word_share_is_zero_when_no_word_is_known() -> None:
    assert word_share("xqz vbn", corpus_words("hold the lantern")) == 0.0


def test_word_share_accepts_any_set_of_words() -> None:
    assert word_share("café au lait", {"café", "lait"}) == pytest.approx(2 / 3)
