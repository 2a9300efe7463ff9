"""Yardsticks for a loss: what simple models of the same text score, in bits per character.

A loss of 2.8 bits per character means little on its own. Beside it, these say what it is worth:

* ``uniform``: guessing every character of the vocabulary alike, log2 V;
* ``unigram``: knowing only how often each character occurs;
* ``bigram``: knowing the character before;
* ``compressor``: the best of zlib, bz2 and lzma at their strongest settings (lzma's dictionary
  as large as the text, up to 16 MiB), which model long repeats (a memorising RNN can get below
  the others, but rarely below this).

    rnnlab.baselines(train_text)            # in-sample: each model scored on its own text
    rnnlab.baselines(train_text, val_text)  # the held-out text under models fitted on train_text
"""

from __future__ import annotations

import bz2
import lzma
import math
import zlib
from collections.abc import Callable

import numpy as np

NAMES = ("uniform", "unigram", "bigram", "compressor")
LABELS = {
    "uniform": "uniform guess",
    "unigram": "character frequencies",
    "bigram": "bigram model",
    "compressor": "best compressor",
}

# The largest LZMA dictionary used: preset 9's 64 MiB costs its full memory to compress with,
# whatever the input's size; a dictionary as large as the input (up to this) compresses the
# same for a fraction of it (figures: docs/hosting.md, "Text analyses are queued").
LZMA_MAX_DICTIONARY = 16 * 2**20


def _lzma(data: bytes) -> bytes:
    dictionary = min(LZMA_MAX_DICTIONARY, max(4096, 1 << max(0, len(data) - 1).bit_length()))
    lzma2 = {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": dictionary}
    return lzma.compress(data, format=lzma.FORMAT_XZ, filters=[lzma2])


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "zlib": lambda data: zlib.compress(data, 9),
    "bz2": lambda data: bz2.compress(data, 9),
    "lzma": _lzma,
}


def baselines(train_text: str, eval_text: str | None = None) -> dict[str, float]:
    """Bits per character of the four yardsticks (keys: NAMES).

    Without eval_text, each model is fitted on train_text and scored on it (its n characters;
    the bigram on its n - 1 consecutive pairs). With eval_text, each is the cross-entropy of
    eval_text under the model fitted on train_text, over the vocabulary of both texts (the
    characters an RNN trained on the whole text knows): the unigram and bigram counts are
    add-one smoothed; every character of eval_text is predicted, the first from the last
    character of train_text (eval_text is taken to follow it, as a held-out part does); the
    compressor is the extra compressed bits eval_text costs after train_text.
    """
    for name, text in (("train_text", train_text), ("eval_text", eval_text)):
        if not isinstance(text, str) and not (name == "eval_text" and text is None):
            raise TypeError(f"{name} must be a str, got {type(text).__name__}.")
    if not train_text:
        raise ValueError("The yardsticks need a non-empty text to fit.")
    if eval_text is None:
        return {
            "uniform": math.log2(len(set(train_text))),
            "unigram": _entropy_of(_codes(train_text)),
            "bigram": _conditional_entropy(train_text),
            "compressor": 8 * min(_compressed_sizes(train_text).values()) / len(train_text),
        }
    if not eval_text:
        raise ValueError("The held-out text is empty: there is nothing to score.")
    vocab_size = len(set(train_text) | set(eval_text))
    return {
        "uniform": math.log2(vocab_size),
        "unigram": _unigram_cross_entropy(train_text, eval_text, vocab_size),
        "bigram": _bigram_cross_entropy(train_text, eval_text, vocab_size),
        "compressor": _compressor_extra_bits(train_text, eval_text) / len(eval_text),
    }


def below_since(points: np.ndarray, level: float) -> int | None:
    """The iteration since which a curve has stayed below `level`, or None if it is not below.

    points: (m, 2) rows of (iteration, value) in order, values in the level's units.
    """
    values = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if not len(values) or values[-1, 1] >= level:
        return None
    at_or_above = np.flatnonzero(values[:, 1] >= level)
    first_below = at_or_above[-1] + 1 if len(at_or_above) else 0
    return int(values[first_below, 0])


def _codes(text: str) -> np.ndarray:
    """The text's code points, (n,) uint64 (wide enough to pack a pair into one number)."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def _pairs(codes: np.ndarray) -> np.ndarray:
    """Each consecutive pair of code points as one number, (n - 1,)."""
    return codes[:-1] << np.uint64(32) | codes[1:]


def _entropy_of(values: np.ndarray) -> float:
    """The entropy in bits of the empirical distribution of `values`."""
    _, counts = np.unique(values, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def _conditional_entropy(text: str) -> float:
    """H(next | previous) = H(previous, next) - H(previous) over the text's consecutive pairs
    (0 for a one-character text: there is nothing to predict)."""
    if len(text) < 2:
        return 0.0
    codes = _codes(text)
    return max(0.0, _entropy_of(_pairs(codes)) - _entropy_of(codes[:-1]))


def _count_of(values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """How often each of `queries` occurs in `values`, (len(queries),)."""
    keys, counts = np.unique(values, return_counts=True)
    where = np.minimum(np.searchsorted(keys, queries), len(keys) - 1)
    return np.where(keys[where] == queries, counts[where], 0)


def _unigram_cross_entropy(train_text: str, eval_text: str, vocab_size: int) -> float:
    counts = _count_of(_codes(train_text), _codes(eval_text))
    return float(-np.log2((counts + 1) / (len(train_text) + vocab_size)).mean())


def _bigram_cross_entropy(train_text: str, eval_text: str, vocab_size: int) -> float:
    train = _codes(train_text)
    context = _codes(train_text[-1] + eval_text)  # each eval character after the one before
    pair_counts = _count_of(_pairs(train), _pairs(context))
    first_counts = _count_of(train[:-1], context[:-1])
    return float(-np.log2((pair_counts + 1) / (first_counts + vocab_size)).mean())


def _compressed_sizes(text: str) -> dict[str, int]:
    data = text.encode("utf-8")
    return {name: len(compress(data)) for name, compress in COMPRESSORS.items()}


def _compressor_extra_bits(train_text: str, eval_text: str) -> float:
    alone = _compressed_sizes(train_text)
    together = _compressed_sizes(train_text + eval_text)
    return 8 * min(together[name] - alone[name] for name in COMPRESSORS)
