"""Text in: decoding uploaded bytes, and the character vocabulary that turns text into ids.

The corpus is held as one compact integer array (1 byte per character for vocabularies of up to
256 characters), never as a Python list of characters: a 50 MB text must not cost gigabytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Control characters that ordinary text contains; anything else below 0x20 suggests binary data.
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\v\x1b")
# More than this share of unexpected control characters means the data is not text.
_MAX_CONTROL_SHARE = 0.05
# Encoding a huge text goes through UTF-32 (4 bytes per character): do it in pieces so the
# temporary copy stays small.
_ENCODE_CHUNK = 1 << 20
# The most distinct characters a text keeps (cap_vocabulary): every alphabetic script fits with
# room to spare (English prose has about 100, with accents, Greek and Cyrillic a few hundred),
# while a text of thousands (Chinese, Japanese) would make the output layer, its (T·B, V)
# buffers and its (T·B, H) x (H, V) products the bulk of every iteration, for characters seen
# too rarely to learn.
MAX_VOCAB = 512
# What the rarest characters become beyond MAX_VOCAB: Unicode's own "a character that could not
# be shown"; one already in the text joins them.
OTHER = "\ufffd"


@dataclass(frozen=True)
class TextInfo:
    """What `load_text` did to the bytes it was given."""

    encoding: str  # the codec actually used, e.g. "utf-8" or "cp1252"
    fallback: bool  # True when the bytes were not valid UTF-8 and a single-byte codec was used
    bom_removed: bool
    newlines_normalised: bool  # CRLF or lone CR line endings were turned into LF
    n_bytes: int
    n_chars: int

    def describe(self) -> str:
        """One plain sentence for people, e.g. for the dashboard."""
        parts = [
            self.encoding.upper() if not self.fallback else f"{self.encoding} (not valid UTF-8)"
        ]
        if self.bom_removed:
            parts.append("byte-order mark removed")
        if self.newlines_normalised:
            parts.append("line endings converted to LF")
        return ", ".join(parts)


def load_text(data: bytes) -> tuple[str, TextInfo]:
    """Decode an uploaded file into text.

    UTF-8 (a leading BOM is dropped), UTF-16 or UTF-32 with a BOM, or UTF-16 without one when its
    zero bytes say so (every other byte zero, as in text of mostly Latin letters); anything else
    that is not valid UTF-8 is decoded with cp1252, or latin-1 where cp1252 leaves bytes
    undefined, and `info` says so.
    CRLF and CR line endings become LF. Raises ValueError for empty or binary data.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"load_text expects bytes, got {type(data).__name__}.")
    data = bytes(data)
    if not data.strip():
        raise ValueError("The file is empty (or only whitespace): there is no text to learn from.")

    bom_removed = False
    fallback = False
    # UTF-32's little-endian mark starts with UTF-16's: look for it first.
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        encoding, bom_removed = "utf-32", True
        text = _decode_or_raise(data, "utf-32")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding, bom_removed = "utf-16", True
        text = _decode_or_raise(data, "utf-16")
    elif (codec := _utf16_without_bom(data)) is not None:
        encoding = "utf-16"
        text = _decode_or_raise(data, codec)
    else:
        if b"\x00" in data:
            raise ValueError(
                "This looks like a binary file (it contains NUL bytes), not text. "
                "Upload a plain text file such as .txt, .md or .py (a UTF-16 file of text that "
                "is not mostly Latin letters needs its byte-order mark)."
            )
        if data.startswith(b"\xef\xbb\xbf"):
            data, bom_removed = data[3:], True
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            fallback = True
            try:
                text, encoding = data.decode("cp1252"), "cp1252"
            except UnicodeDecodeError:
                text, encoding = data.decode("latin-1"), "latin-1"

    controls = sum(1 for ch in _sample(text) if ord(ch) < 32 and ord(ch) not in _TEXT_CONTROLS)
    if controls > _MAX_CONTROL_SHARE * len(_sample(text)):
        raise ValueError(
            "This looks like a binary file (it is mostly control characters), not text. "
            "Upload a plain text file such as .txt, .md or .py."
        )

    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    info = TextInfo(
        encoding=encoding,
        fallback=fallback,
        bom_removed=bom_removed,
        newlines_normalised=normalised != text,
        n_bytes=len(data) + (3 if bom_removed and encoding == "utf-8" else 0),
        n_chars=len(normalised),
    )
    if not normalised.strip():
        raise ValueError("The file holds no visible text: there is nothing to learn from.")
    return normalised, info


@dataclass(frozen=True)
class RareMerge:
    """What `cap_vocabulary` did: of the text's `kept + merged` distinct characters, `merged`
    (`occurrences` of them in a text of `n_chars`) became `symbol`."""

    kept: int
    merged: int
    occurrences: int
    n_chars: int
    symbol: str = OTHER

    @property
    def distinct(self) -> int:
        """The text's distinct characters before the merge."""
        return self.kept + self.merged

    @property
    def share(self) -> float:
        return self.occurrences / self.n_chars

    def describe(self) -> str:
        """One plain sentence for people, e.g. for the dashboard's text card."""
        return (
            f"{self.merged:,} rare characters ({self.share:.1%} of the text) share one symbol "
            f"⟨{self.symbol}⟩"
        )


def cap_vocabulary(text: str, limit: int = MAX_VOCAB) -> tuple[str, RareMerge | None]:
    """The text with at most `limit` distinct characters: beyond it, all but the `limit - 1` most
    frequent (ties broken by code point) become OTHER, and the report says how many and how much
    of the text; (text, None) when it has `limit` or fewer. Linear in the text, in pieces."""
    if limit < 2:
        raise ValueError("A vocabulary cap needs room for at least one character and OTHER.")
    counts = np.zeros(0, dtype=np.int64)
    for piece in _codepoint_pieces(text):
        found = np.bincount(piece)
        if len(found) > len(counts):
            counts = np.pad(counts, (0, len(found) - len(counts)))
        counts[: len(found)] += found
    present = np.flatnonzero(counts)
    if len(present) <= limit:
        return text, None
    other = ord(OTHER)
    candidates = present[present != other]
    # Most frequent first; np.lexsort sorts by its last key first.
    ranked = candidates[np.lexsort((candidates, -counts[candidates]))]
    kept = ranked[: limit - 1]
    table = np.full(len(counts), other, dtype=np.uint32)
    table[kept] = kept
    merged = present[table[present] == other]
    pieces = [
        table[piece].tobytes().decode("utf-32-le", "surrogatepass")
        for piece in _codepoint_pieces(text)
    ]
    report = RareMerge(len(kept), len(merged), int(counts[merged].sum()), len(text))
    return "".join(pieces), report


def _codepoint_pieces(text: str):
    """The text's code points, (n,) uint32 each, _ENCODE_CHUNK characters at a time."""
    for start in range(0, len(text), _ENCODE_CHUNK):
        piece = text[start : start + _ENCODE_CHUNK]
        yield np.frombuffer(piece.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _decode_or_raise(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise ValueError(
            f"The file starts like {encoding} text but is not valid {encoding}."
        ) from error


def _utf16_without_bom(data: bytes) -> str | None:
    """ "utf-16-le" or "utf-16-be" when the zero bytes show UTF-16 without a byte-order mark:
    in text of mostly Latin letters every character's high byte is zero, so one of the two byte
    positions is mostly zeros and the other almost never; else None."""
    if len(data) < 2 or len(data) % 2 or b"\x00" not in data:
        return None
    even, odd = data[0::2], data[1::2]
    zero_even, zero_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if zero_odd > 0.5 and zero_even < 0.01:
        return "utf-16-le"
    if zero_even > 0.5 and zero_odd < 0.01:
        return "utf-16-be"
    return None


def _sample(text: str, size: int = 100_000) -> str:
    # The binary check looks at the start of the text only: a huge file need not be scanned twice.
    return text[:size]


class Vocab:
    """The sorted unique characters of a text, and the mapping between characters and ids."""

    def __init__(self, chars: str):
        if not chars:
            raise ValueError("A vocabulary needs at least one character.")
        if len(set(chars)) != len(chars) or list(chars) != sorted(chars):
            raise ValueError("Vocabulary characters must be unique and sorted.")
        self.chars = chars
        codepoints = np.fromiter((ord(c) for c in chars), dtype=np.int64, count=len(chars))
        self._codepoints = codepoints.astype(np.uint32)
        self._lookup = np.full(int(codepoints.max()) + 1, -1, dtype=np.int64)
        self._lookup[codepoints] = np.arange(len(chars))
        self.dtype = (
            np.uint8 if len(chars) <= 256 else np.uint16 if len(chars) <= 65536 else np.uint32
        )

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        return cls("".join(sorted(set(text))))

    @property
    def size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and other.chars == self.chars

    def __repr__(self) -> str:
        return f"Vocab({self.size} characters)"

    def encode(self, text: str) -> np.ndarray:
        """Text -> ids, shape (len(text),), the smallest unsigned dtype that holds them."""
        out = np.empty(len(text), dtype=self.dtype)
        for start in range(0, len(text), _ENCODE_CHUNK):
            piece = text[start : start + _ENCODE_CHUNK]
            codepoints = np.frombuffer(piece.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            ids = np.full(codepoints.shape, -1, dtype=np.int64)
            known = codepoints < len(self._lookup)
            ids[known] = self._lookup[codepoints[known]]
            if (ids < 0).any():
                missing = sorted({piece[i] for i in np.flatnonzero(ids < 0)[:1000]})
                raise ValueError(
                    f"Characters not in the vocabulary: {''.join(missing)!r}. "
                    "The model only knows the characters of the text it was trained on."
                )
            out[start : start + len(piece)] = ids
        return out

    def decode(self, ids: np.ndarray | list[int]) -> str:
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(f"Ids must be in 0..{self.size - 1}.")
        # Through code points, in whole arrays: never one str per id, which a large text makes slow.
        if self._codepoints[-1] < 256:  # one byte each (the code points are sorted)
            return self._codepoints.astype(np.uint8)[ids].tobytes().decode("latin-1")
        return self._codepoints[ids].tobytes().decode("utf-32-le", "surrogatepass")
