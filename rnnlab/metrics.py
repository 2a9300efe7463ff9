"""How word-like a sample is: the share of its words that the training text also contains.

A *word* is a maximal run of letters, where

* a letter is any character for which ``str.isalpha()`` is true, so ``é``, ``ß`` and ``ñ`` are
  letters and digits, underscores, hyphens and other punctuation are not;
* an apostrophe (``'`` or the typographic ``’``) is part of a word only when it stands between
  two letters: ``don't`` is one word, while ``'cause`` and ``lovin'`` are ``cause`` and ``lovin``;
* the text is first put in Unicode NFC form, so a decomposed ``e`` + combining accent counts as
  the letter ``é``, and each word is then lowercased with ``str.lower()`` and its apostrophes
  written as ``'``.

So ``"Don’t-STOP 4ever, Café!"`` has the words ``don't``, ``stop``, ``ever`` and ``café``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Set

APOSTROPHES = "'\u2019"


def split_words(text: str) -> list[str]:
    """The words of `text` in order, repeats kept (see the module docstring for what a word is)."""
    text = unicodedata.normalize("NFC", text)
    words: list[str] = []
    current: list[str] = []
    for i, char in enumerate(text):
        if char.isalpha():
            current.append(char)
        elif char in APOSTROPHES and current and i + 1 < len(text) and text[i + 1].isalpha():
            current.append("'")
        elif current:
            words.append("".join(current).lower())
            current = []
    if current:
        words.append("".join(current).lower())
    return words


def corpus_words(text: str) -> frozenset[str]:
    """The set of distinct words of `text`: the vocabulary a sample is scored against."""
    return frozenset(split_words(text))


def word_share(sample: str, words: Set[str]) -> float:
    """Share, in [0, 1], of the words of `sample` (counting repeats) that are in `words`.

    `words` should come from corpus_words, so that both sides are split and lowercased the same
    way. A sample without any words scores 0.0: it has not started to form words.
    """
    sample_words = split_words(sample)
    if not sample_words:
        return 0.0
    return sum(word in words for word in sample_words) / len(sample_words)
