"""How much of a sample is copied from the training text: a memorisation meter.

    index = CopyIndex(text)              # once per training text
    report = meter(sample, index)        # per sample: longest verbatim copy, share of known words

A model that has memorised its text samples long stretches of it verbatim. `CopyIndex` finds the
longest stretch of a sample that occurs in the text, exactly, with a suffix array of the text: the
starting positions of all its suffixes in sorted order, so that the suffixes beginning with any
given string form one interval of it, found by bisection.

The pipeline, top to bottom:

* `encode_text`: the text as ids of its sorted vocabulary, written big-endian in a fixed width of
  1, 2 or 4 bytes, so that comparing byte strings compares the texts character by character;
* `build_suffix_array`: prefix doubling (Manber-Myers, with Larsson-Sadakane's in-place ranks) in
  NumPy. Suffixes start in buckets by their first few characters; each round doubles the number
  of characters the order is known for and re-sorts only the suffixes still tied with others,
  a chunk of the suffix array at a time, so that temporary arrays stay a small share of the text;
* `text_words`: the words of the text, as `rnnlab.metrics.corpus_words` finds them, but with a
  regular expression run once per distinct white-space separated token;
* `CopyIndex.longest_copy`: for each start in the sample, one bisection says whether the sample
  continues with a longer copy than the best so far, and only then is the copy extended.

Prefix doubling takes as many rounds as the doubling needs to reach the longest prefix two
suffixes share. In a text that repeats one paragraph many times, nearly every suffix shares a
prefix almost as long as the text with another, so the sort stops once it has ordered the first
`max_copy` characters of each suffix: about log2(max_copy / 3) rounds over the whole text, where
an ordinary text needs a few over a shrinking part of it. Copies are therefore found exactly up to
`max_copy` characters, and a longer copy is reported as its first `max_copy` characters.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from .metrics import APOSTROPHES, split_words, word_share

MAX_COPY = 5000  # the app's samples are at most this long, so its copies are measured exactly
UNICODE_SIZE = 0x110000
ENCODE_CHUNK = 1 << 20  # characters encoded per step: bounds the temporary code point arrays
WORDS_CHUNK = 1 << 20  # characters split into tokens per step: bounds the list of tokens
COUNT_KEYS = 1 << 22  # most buckets of the first sort: bounds its count arrays
SORT_CHUNK_BITS = 18  # most suffixes re-sorted per step (2**18): bounds the sort's int64 arrays
SORTED, HEAD, REST = 0, 1, 2  # marks of a place in the suffix array: sorted, or in a tied group


@dataclass(frozen=True)
class CopyReport:
    """What `meter` found in one sample.

    length, sample_start, text_start: the longest verbatim copy (see CopyIndex.longest_copy).
    word_share: share in [0, 1] of the sample's words (counting repeats) found in the text.
    novel_words: the sample's words that the text lacks, in order of first appearance, each once.
    """

    length: int
    sample_start: int
    text_start: int
    word_share: float
    novel_words: tuple[str, ...]

    @property
    def span(self) -> tuple[int, int]:
        """The copied stretch as sample[span[0]:span[1]]."""
        return self.sample_start, self.sample_start + self.length


class CopyIndex:
    """The training text, indexed to find the longest verbatim copy in a sample.

    CopyIndex(text) costs one suffix array of the text: 4 bytes a character, plus the text's ids
    (1, 2 or 4 bytes a character, by vocabulary size); building it needs about twice that at its
    peak. Queries take time logarithmic in the text's length per character of the sample.

    words: the distinct words of the text, equal to rnnlab.metrics.corpus_words(text).
    max_copy: copies are found exactly up to this many characters (see longest_copy).
    """

    def __init__(self, text: str, max_copy: int = MAX_COPY) -> None:
        if not isinstance(text, str):
            raise TypeError(
                f"CopyIndex needs the training text as a str, not {type(text).__name__}; "
                "decode bytes first (rnnlab.load_text does)"
            )
        if isinstance(max_copy, bool) or not isinstance(max_copy, int) or max_copy < 1:
            raise ValueError(f"max_copy must be a positive int, not {max_copy!r}")
        if len(text) >= np.iinfo(np.int32).max:
            raise ValueError(
                f"The text has {len(text):,} characters; CopyIndex indexes at most "
                f"{np.iinfo(np.int32).max - 1:,} — index a part of it"
            )
        self._max_copy = max_copy
        self.words = text_words(text)
        vocabulary, self._data, self._width = encode_text(text)
        self._char_bytes = {
            char: i.to_bytes(self._width, "big") for i, char in enumerate(vocabulary)
        }
        codes = np.frombuffer(self._data, dtype=f">u{self._width}")
        self._sa = build_suffix_array(codes, len(vocabulary), depth=max_copy)
        self._sa.flags.writeable = False
        self._sa_view = memoryview(self._sa)

    @property
    def max_copy(self) -> int:
        """The longest copy measured: the suffix array is sorted this many characters deep."""
        return self._max_copy

    @property
    def suffix_array(self) -> np.ndarray:
        """(n,) int32, read-only: the starts of the text's suffixes, ordered by their first
        max_copy characters (suffixes that agree on all of those are in no particular order)."""
        return self._sa

    def longest_copy(self, sample: str) -> tuple[int, int, int]:
        """(length, sample_start, text_start) of the longest stretch of `sample` that occurs
        verbatim in the text: sample[sample_start:sample_start + length] ==
        text[text_start:text_start + length].

        Among equally long stretches, the one that starts first in the sample; text_start is the
        stretch's first occurrence in the text. Stretches longer than max_copy are measured as
        their first max_copy characters. (0, 0, -1) when no character of the sample is in the
        text (so for an empty sample or text).
        """
        if not isinstance(sample, str):
            raise TypeError(f"longest_copy needs the sample as a str, not {type(sample).__name__}")
        best = (0, 0, 0, 0)  # length, sample_start, suffix array interval [lo, hi)
        for piece_start, piece in self._pieces(sample):
            best = self._longest_in_piece(piece, piece_start, best)
            if best[0] == self.max_copy:
                break
        length, sample_start, lo, hi = best
        if length == 0:
            return 0, 0, -1
        return length, sample_start, int(self._sa[lo:hi].min())

    def _pieces(self, sample: str) -> list[tuple[int, bytes]]:
        """The runs of `sample` made of the text's characters, as (start, encoded run): a copy
        cannot contain a character the text lacks."""
        found, start, run = [], 0, []
        for i, char in enumerate(sample):
            code = self._char_bytes.get(char)
            if code is None:
                if run:
                    found.append((start, b"".join(run)))
                run = []
                start = i + 1
            else:
                run.append(code)
        if run:
            found.append((start, b"".join(run)))
        return found

    def _longest_in_piece(
        self, piece: bytes, piece_start: int, best: tuple[int, int, int, int]
    ) -> tuple[int, int, int, int]:
        """`best` improved by copies inside one encoded piece starting at piece_start."""
        width, n = self._width, len(self._sa)
        size = len(piece) // width
        for i in range(size):
            length = best[0] + 1
            if length > min(size - i, self.max_copy):
                break
            lo, hi = self._interval(piece[i * width : (i + length) * width], 0, n)
            if lo == hi:
                continue
            # The stretch at i beats the best: extend it as far as the text allows.
            while length < min(size - i, self.max_copy):
                longer = piece[i * width : (i + length + 1) * width]
                next_lo, next_hi = self._interval(longer, lo, hi)
                if next_lo == next_hi:
                    break
                lo, hi, length = next_lo, next_hi, length + 1
            best = (length, piece_start + i, lo, hi)
        return best

    def _interval(self, pattern: bytes, lo: int, hi: int) -> tuple[int, int]:
        """The suffix array interval, within [lo, hi), of the suffixes that start with the
        encoded `pattern`; empty (lo == hi) when the text does not contain it."""
        prefix = self._prefix_key(len(pattern))
        first = bisect.bisect_left(self._sa_view, pattern, lo, hi, key=prefix)
        if first == hi or prefix(self._sa_view[first]) != pattern:
            return first, first
        return first, bisect.bisect_right(self._sa_view, pattern, first, hi, key=prefix)

    def _prefix_key(self, size: int) -> Callable[[int], bytes]:
        """Bisection key: the first `size` bytes of the encoded suffix at a text position."""
        data, width = self._data, self._width
        return lambda position: data[position * width : position * width + size]


def meter(sample: str, index: CopyIndex) -> CopyReport:
    """The longest copy of the text in `sample`, and how many of its words the text knows."""
    if not isinstance(index, CopyIndex):
        raise TypeError(f"meter needs a CopyIndex of the text, not {type(index).__name__}")
    length, sample_start, text_start = index.longest_copy(sample)
    novel = dict.fromkeys(word for word in split_words(sample) if word not in index.words)
    return CopyReport(
        length=length,
        sample_start=sample_start,
        text_start=text_start,
        word_share=word_share(sample, index.words),
        novel_words=tuple(novel),
    )


@cache
def word_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(a word, a character no word contains) as regular expressions.

    A letter is a character whose str.isalpha() is true: listed explicitly, because the regex
    classes \\w and \\d disagree with isalpha on characters such as "²" and "Ⅻ".
    """
    letters = [code for code in range(UNICODE_SIZE) if chr(code).isalpha()]
    ranges = []
    start = previous = letters[0]
    for code in letters[1:] + [-1]:
        if code != previous + 1:
            ranges.append(
                f"\\U{start:08x}-\\U{previous:08x}" if previous > start else f"\\U{start:08x}"
            )
            start = code
        previous = code
    letter = "".join(ranges)
    apostrophe = re.escape(APOSTROPHES)
    word = re.compile(f"[{letter}]+(?:[{apostrophe}][{letter}]+)*")
    return word, re.compile(f"[^{letter}{apostrophe}]")


def text_words(text: str) -> frozenset[str]:
    """The distinct words of `text`, exactly rnnlab.metrics.corpus_words(text), fast.

    No word contains white space, so the words of the text are the words of its distinct
    white-space separated tokens, which are far fewer than its tokens.
    """
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    word, non_word = word_patterns()
    tokens: set[str] = set()
    start = 0
    while start < len(text):
        # Cut where no word goes on, so that no word straddles two chunks.
        cut = non_word.search(text, min(start + WORDS_CHUNK, len(text)))
        end = cut.end() if cut else len(text)
        tokens.update(text[start:end].split())
        start = end
    spellings = {spelling for token in tokens for spelling in word.findall(token)}
    # Lowercased word by word, not as one text: "Σ" lowercases by what follows it in the word.
    return frozenset(spelling.replace("\u2019", "'").lower() for spelling in spellings)


def encode_text(text: str) -> tuple[str, bytes, int]:
    """(vocabulary, data, width): the sorted distinct characters of `text`, and the text as
    their ids (position in the vocabulary), each written big-endian in `width` bytes."""
    seen = np.zeros(UNICODE_SIZE, dtype=bool)
    for start in range(0, len(text), ENCODE_CHUNK):
        seen[code_points(text[start : start + ENCODE_CHUNK])] = True
    vocabulary = np.flatnonzero(seen)
    width = 1 if len(vocabulary) <= 1 << 8 else 2 if len(vocabulary) <= 1 << 16 else 4
    ids = np.zeros(UNICODE_SIZE, dtype=f">u{width}")
    ids[vocabulary] = np.arange(len(vocabulary))
    buffer = bytearray(len(text) * width)
    codes = np.frombuffer(buffer, dtype=f">u{width}")
    for start in range(0, len(text), ENCODE_CHUNK):
        codes[start : start + ENCODE_CHUNK] = ids[code_points(text[start : start + ENCODE_CHUNK])]
    return "".join(map(chr, vocabulary)), bytes(buffer), width


def code_points(text: str) -> np.ndarray:
    """(len(text),) uint32 code points; lone surrogates (which Python allows) included."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def build_suffix_array(
    codes: np.ndarray, alphabet_size: int, depth: int, chunk: int | None = None
) -> np.ndarray:
    """(n,) int32 suffix array of `codes` (n,) with values in [0, alphabet_size), sorted by at
    least the first `depth` characters of each suffix (fully sorted when no two suffixes agree
    on that many). A suffix that ends sorts before the suffixes it is a prefix of.

    Besides the suffix array `sa`, the sort keeps
      rank (n + 1,) int32: for each suffix, where in `sa` the group of suffixes it is still tied
        with starts (its own place once sorted); rank[n] = -1 stands for the end of the text;
      marks (n,) uint8: for each place in `sa`, SORTED, or the HEAD or the REST of a tied group.
    Temporary arrays are built `chunk` places of `sa` at a time: by default a small share of n,
    at most 2**SORT_CHUNK_BITS (a larger chunk is faster and takes more memory).
    """
    n = len(codes)
    sa = np.zeros(n, dtype=np.int32)
    rank = np.full(n + 1, -1, dtype=np.int32)
    if n == 0:
        return sa
    # Sort keys pack a group, a rank and an index into 63 bits (see sort_small_groups).
    largest = 1 << min(SORT_CHUNK_BITS, (63 - (n + 1).bit_length()) // 2)
    chunk = min(chunk or max(n // 64, 1 << 12), largest)
    known, marks = bucket_sort(codes, alphabet_size, sa, rank, chunk)
    while known < depth and marks.any():
        refine(sa, rank, marks, known, chunk)
        known *= 2
    return sa


def bucket_sort(
    codes: np.ndarray, alphabet_size: int, sa: np.ndarray, rank: np.ndarray, chunk: int
) -> tuple[int, np.ndarray]:
    """Fill `sa` (n,) and `rank` (n + 1,) with the suffixes sorted by their first k characters.

    A counting sort over at most n / 16 buckets, run over the text in chunks. Returns k and the
    marks (n,) uint8 of the tied groups, which are the buckets of more than one suffix.
    """
    n = len(codes)
    radix = alphabet_size + 1  # 0 marks the end of the text
    chars = 1
    while radix ** (chars + 1) <= min(COUNT_KEYS, n // 16):
        chars += 1
    keys = radix**chars
    counts = np.zeros(keys, dtype=np.int32)
    # Counting steps span at least `keys` suffixes: each one costs a count array.
    for start in range(0, n, max(chunk, keys)):
        key = bucket_key(codes, start, min(start + max(chunk, keys), n), chars, radix)
        rank[start : start + len(key)] = key
        counts += np.bincount(key, minlength=keys).astype(np.int32)
    bucket_start = np.cumsum(counts, dtype=np.int32) - counts
    filled = bucket_start.copy()
    index_bits = chunk.bit_length()
    for start in range(0, n, chunk):
        key = rank[start : min(start + chunk, n)].astype(np.int64)
        local = np.arange(len(key))
        ordered = np.sort((key << index_bits) | local)
        order, sorted_key = ordered & ((1 << index_bits) - 1), ordered >> index_bits
        run_start = np.ones(len(key), dtype=bool)
        run_start[1:] = sorted_key[1:] != sorted_key[:-1]
        first_of_run = np.maximum.accumulate(np.where(run_start, local, 0))
        sa[filled[sorted_key] + local - first_of_run] = start + order
        runs = np.flatnonzero(run_start)
        filled[sorted_key[runs]] += np.diff(runs, append=len(key)).astype(np.int32)
        rank[start : start + len(key)] = bucket_start[key]
    tied = counts > 1
    marks = np.repeat(np.where(tied, REST, SORTED).astype(np.uint8), counts)
    marks[bucket_start[tied]] = HEAD
    return chars, marks


def bucket_key(codes: np.ndarray, start: int, stop: int, chars: int, radix: int) -> np.ndarray:
    """(stop - start,) int64: the first `chars` characters of each suffix as a number in base
    `radix`, characters counted from 1 so that the end of the text (0) sorts first."""
    key = np.zeros(stop - start, dtype=np.int64)
    for offset in range(chars):
        following = codes[start + offset : stop + offset]
        key *= radix
        key[: len(following)] += following.astype(np.int64) + 1
    return key


def refine(sa: np.ndarray, rank: np.ndarray, marks: np.ndarray, known: int, chunk: int) -> None:
    """One round of prefix doubling: each tied group, sorted by its first `known` characters,
    gets sorted by 2 * known, keyed by the rank of the suffix `known` characters further on.

    The suffix array is swept a chunk at a time: the tied groups of each stretch of `chunk`
    places together, a group larger than a chunk on its own.
    """
    n = len(sa)
    start = 0
    while start < n:
        stop = min(start + chunk, n)
        if stop < n:
            # End the stretch where a group starts or a sorted place is, so no group is split.
            boundaries = np.flatnonzero(marks[start + 1 : stop + 1] != REST)
            stop = start + 1 + int(boundaries[-1]) if len(boundaries) else start
        if stop > start:
            sort_small_groups(sa, rank, marks, start, stop, known)
        else:
            stop = group_end(marks, start, chunk)
            sort_large_group(sa, rank, marks, start, stop, known, chunk)
        start = stop


def group_end(marks: np.ndarray, head: int, chunk: int) -> int:
    """Where the tied group that starts at `head` ends (exclusive)."""
    position = head + 1
    while position < len(marks):
        boundaries = np.flatnonzero(marks[position : position + chunk] != REST)
        if len(boundaries):
            return position + int(boundaries[0])
        position += chunk
    return len(marks)


def following_rank(rank: np.ndarray, suffixes: np.ndarray, known: int) -> np.ndarray:
    """(m,) int64 rank + 1 of the suffixes `known` characters after `suffixes` (m,): 0 past the
    end of the text, so that a suffix that ends sorts first."""
    return rank[np.minimum(suffixes + known, len(rank) - 1)].astype(np.int64) + 1


def sort_small_groups(
    sa: np.ndarray, rank: np.ndarray, marks: np.ndarray, start: int, stop: int, known: int
) -> None:
    """Sort the tied groups in sa[start:stop] with one sort of packed int64 keys
    (group | following rank | index), then split them where the group or rank changes."""
    window = marks[start:stop]
    tied = np.flatnonzero(window)
    if not len(tied):
        return
    positions = start + tied
    group_of = np.cumsum(window[tied] == HEAD, dtype=np.int32).astype(np.int64) - 1
    rank_bits = len(rank).bit_length()
    index_bits = (len(tied) - 1).bit_length()
    local = np.arange(len(tied))
    suffixes = sa[positions]
    # Ranks are read before any is written: a group may hold both i and i + known.
    following = following_rank(rank, suffixes, known)
    keys = np.sort((group_of << (rank_bits + index_bits)) | (following << index_bits) | local)
    suffixes = suffixes[keys & ((1 << index_bits) - 1)]
    sa[positions] = suffixes
    tie = keys >> index_bits
    starts_group = np.ones(len(tied) + 1, dtype=bool)
    starts_group[1:-1] = tie[1:] != tie[:-1]
    settle(rank, marks, positions, suffixes, starts_group, -1)


def sort_large_group(
    sa: np.ndarray,
    rank: np.ndarray,
    marks: np.ndarray,
    start: int,
    stop: int,
    known: int,
    chunk: int,
) -> None:
    """Sort the group sa[start:stop] as sort_small_groups does, with keys (following rank |
    suffix) so that one (stop - start,) int64 array is all that spans the group; the rest is
    done `chunk` places at a time."""
    rank_bits = len(rank).bit_length()
    keys = np.empty(stop - start, dtype=np.int64)
    for offset in range(0, len(keys), chunk):
        suffixes = sa[start + offset : min(start + offset + chunk, stop)].astype(np.int64)
        keys[offset : offset + len(suffixes)] = (
            following_rank(rank, suffixes, known) << rank_bits
        ) | suffixes
    keys.sort()
    head, previous_tie = -1, -1
    for offset in range(0, len(keys), chunk):
        part = keys[offset : offset + chunk]
        suffixes = part & ((1 << rank_bits) - 1)
        sa[start + offset : start + offset + len(part)] = suffixes
        # One key further on tells whether the last suffix of the part ends its group.
        tie = keys[offset : offset + chunk + 1] >> rank_bits
        starts_group = np.append(np.diff(tie, prepend=previous_tie) != 0, True)
        positions = np.arange(start + offset, start + offset + len(part))
        head = settle(rank, marks, positions, suffixes, starts_group[: len(part) + 1], head)
        previous_tie = int(tie[len(part) - 1])


def settle(
    rank: np.ndarray,
    marks: np.ndarray,
    positions: np.ndarray,
    suffixes: np.ndarray,
    starts_group: np.ndarray,
    head: int,
) -> int:
    """Record the groups a sort found: `suffixes` (m,) now sit at `positions` (m,) of the suffix
    array; starts_group (m + 1,) says whether each, and the suffix after the last, begins a new
    group. `head` is where the group running into the first suffix starts. Returns the head of
    the last suffix's group."""
    begins = starts_group[:-1]
    heads = np.maximum.accumulate(np.where(begins, positions, head))
    rank[suffixes] = heads
    alone = begins & starts_group[1:]
    # HEAD is REST - 1 and SORTED is 0: uint8 arithmetic, no int64 temporaries.
    marks[positions] = (REST - begins.view(np.uint8)) * ~alone
    return int(heads[-1])
