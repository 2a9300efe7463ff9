"""Decoding uploaded bytes into text, and the vocabulary that maps characters to ids."""

from __future__ import annotations

import codecs
import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnlab import Vocab, cap_vocabulary, load_text
from rnnlab.corpora import uploaded_corpus
from rnnlab.text import MAX_VOCAB, OTHER

# Control characters ordinary text may contain; the others mark data as binary.
TEXT_CONTROLS = "\t\n\r\f\v\x1b"


def lf_newlines(text: str) -> str:
    """Oracle for newline normalisation: every CRLF and every lone CR becomes LF."""
    return re.sub(r"\r\n?", "\n", text)


# ------------------------------------------------------------------------------ load_text
def test_plain_utf8_is_decoded_unchanged() -> None:
    text, info = load_text("héllo wörld ✓\n".encode())
    assert text == "héllo wörld ✓\n"
    assert info.encoding == "utf-8"
    assert not info.fallback and not info.bom_removed and not info.newlines_normalised
    assert info.n_chars == len(text)
    assert info.n_bytes == len("héllo wörld ✓\n".encode())


def test_utf8_byte_order_mark_is_removed() -> None:
    raw = codecs.BOM_UTF8 + "naïve text".encode()
    text, info = load_text(raw)
    assert text == "naïve text"
    assert info.bom_removed and not info.fallback
    assert info.encoding.startswith("utf-8")
    assert info.n_bytes == len(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(b"one\r\ntwo\r\n", "one\ntwo\n"), (b"one\rtwo\r", "one\ntwo\n"), (b"a\r\r\nb", "a\n\nb")],
    ids=["crlf", "lone-cr", "cr-then-crlf"],
)
def test_crlf_and_lone_cr_become_lf(raw: bytes, expected: str) -> None:
    text, info = load_text(raw)
    assert text == expected
    assert info.newlines_normalised
    assert info.n_chars == len(expected)


def test_lf_only_text_is_not_reported_as_normalised() -> None:
    _, info = load_text(b"one\ntwo\n")
    assert not info.newlines_normalised


def test_invalid_utf8_falls_back_to_cp1252() -> None:
    text, info = load_text(b"caf\xe9 na\xefve \x93quoted\x94")
    assert text == "café naïve \u201cquoted\u201d"
    assert info.fallback
    assert info.encoding == "cp1252"
    assert "utf-8" in info.describe().lower()


def test_bytes_undefined_in_cp1252_fall_back_to_latin1() -> None:
    # 0x81 has no cp1252 meaning; latin-1 maps every byte to the code point of the same value.
    text, info = load_text(b"caf\xe9 \x81 end")
    assert text == "caf\xe9 \x81 end"
    assert info.fallback and info.encoding == "latin-1"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_is_decoded(codec: str) -> None:
    bom = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
    raw = bom + "Grüße, 世界 😀\r\nline two".encode(codec)
    text, info = load_text(raw)
    assert text == "Grüße, 世界 😀\nline two"
    assert info.encoding.startswith("utf-16")
    assert info.bom_removed and info.newlines_normalised


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_told_by_its_zero_bytes(codec: str) -> None:
    raw = "Grüße aus Köln — a song\r\nline two, «café»\n".encode(codec) * 20
    text, info = load_text(raw)
    assert text.startswith("Grüße aus Köln — a song\nline two") and info.encoding == "utf-16"


def test_binary_with_nul_bytes_in_a_utf16_like_pattern_is_still_binary() -> None:
    with pytest.raises(ValueError, match="(?i)binary"):
        load_text(bytes(range(1, 200)) + b"\x00" * 7)


def test_truncated_utf16_raises_value_error() -> None:
    with pytest.raises(ValueError, match="utf-16"):
        load_text(codecs.BOM_UTF16_LE + "abc".encode("utf-16-le")[:-1])


@pytest.mark.parametrize("raw", [b"", b"   ", b" \n\t\r\n ", codecs.BOM_UTF8, codecs.BOM_UTF16_LE])
def test_empty_or_whitespace_only_input_raises(raw: bytes) -> None:
    with pytest.raises(ValueError, match="(?i)empty|no visible text"):
        load_text(raw)


def test_nul_bytes_mark_a_binary_file() -> None:
    with pytest.raises(ValueError, match="(?i)binary.*NUL"):
        load_text(b"looks like text\x00but is not")


def test_mostly_control_characters_mark_a_binary_file() -> None:
    data = bytes(range(1, 32)) * 20 + b"a few letters"
    with pytest.raises(ValueError, match="(?i)binary.*control characters"):
        load_text(data)


def test_binary_messages_say_what_to_upload_instead() -> None:
    with pytest.raises(ValueError, match=r"\.txt"):
        load_text(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")


def test_a_few_escape_and_tab_characters_are_still_text() -> None:
    text, _ = load_text(b"\x1b[1mbold\x1b[0m\tand\x0cform feed\n")
    assert text.startswith("\x1b[1mbold")


def test_non_bytes_input_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="bytes"):
        load_text("already a str")  # type: ignore[arg-type]


def _has_visible_character(text: str) -> bool:
    return any(not ch.isspace() for ch in text)


# Text a person could write: no surrogates (not encodable) and no control characters other than
# the ones ordinary files contain, which load_text rightly treats as a sign of binary data.
human_text = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs", "Cc")),
        st.sampled_from(TEXT_CONTROLS),
    ),
    max_size=200,
)


@settings(max_examples=150, deadline=None)
@given(human_text.filter(_has_visible_character).filter(lambda t: not t.startswith("\ufeff")))
def test_any_utf8_text_round_trips_up_to_newlines(text: str) -> None:
    decoded, info = load_text(text.encode("utf-8"))
    assert decoded == lf_newlines(text)
    assert info.newlines_normalised == ("\r" in text)
    assert not info.fallback
    assert info.n_chars == len(decoded)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_text_or_value_error(data: bytes) -> None:
    try:
        text, info = load_text(data)
    except ValueError:
        return
    assert isinstance(text, str) and text.strip()
    assert "\r" not in text
    assert info.n_chars == len(text)


# ---------------------------------------------------------------------------------- Vocab
def test_vocabulary_is_the_sorted_unique_characters() -> None:
    vocab = Vocab.from_text("hello world")
    assert vocab.chars == " dehlorw"
    assert vocab.size == len(vocab) == 8


@pytest.mark.parametrize(
    "text",
    ["hello world", "naïve café — “quotes”", "emoji 😀🎉 and 𝄞 clef", "日本語のテキスト\n\t"],
    ids=["ascii", "latin", "astral", "cjk"],
)
def test_encode_decode_round_trip(text: str) -> None:
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    assert ids.shape == (len(text),)
    assert vocab.decode(ids) == text
    # Each id is the character's position in the sorted vocabulary.
    assert ids.tolist() == [sorted(set(text)).index(ch) for ch in text]


def test_astral_characters_are_one_id_each() -> None:
    vocab = Vocab.from_text("a😀b")
    assert vocab.encode("😀😀").tolist() == [vocab.chars.index("😀")] * 2


@pytest.mark.parametrize(("n_chars", "dtype"), [(1, np.uint8), (256, np.uint8), (257, np.uint16)])
def test_ids_use_the_smallest_unsigned_dtype(n_chars: int, dtype: type) -> None:
    text = "".join(chr(0x100 + i) for i in range(n_chars))
    assert Vocab.from_text(text).encode(text).dtype == dtype


def test_vocabulary_beyond_65536_characters_uses_uint32() -> None:
    # Printable code points from the CJK and supplementary planes; no surrogates.
    text = "".join(chr(cp) for cp in range(0x20000, 0x20000 + 65537))
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    assert ids.dtype == np.uint32
    assert vocab.decode(ids) == text


def test_unknown_characters_raise_naming_them() -> None:
    vocab = Vocab.from_text("abc")
    with pytest.raises(ValueError, match="xz") as caught:
        vocab.encode("abzx")
    assert "vocabulary" in str(caught.value)


def test_unknown_character_above_every_known_code_point_raises() -> None:
    with pytest.raises(ValueError, match="😀"):
        Vocab.from_text("abc").encode("a😀")


def test_encoding_a_text_longer_than_one_internal_chunk_is_exact() -> None:
    # A little over a million characters crosses the encoder's chunk boundary at 2**20.
    rng = np.random.default_rng(0)
    alphabet = np.array(list("abcdé😀 \n"))
    text = "".join(alphabet[rng.integers(0, len(alphabet), size=(1 << 20) + 12345)].tolist())
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    lookup = {ch: i for i, ch in enumerate(vocab.chars)}
    assert np.array_equal(ids, np.fromiter((lookup[ch] for ch in text), dtype=np.int64))
    assert vocab.decode(ids) == text


def test_unknown_character_after_the_first_chunk_is_found() -> None:
    text = "a" * ((1 << 20) + 5) + "b"
    with pytest.raises(ValueError, match="'b'"):
        Vocab.from_text("a").encode(text)


def test_decode_rejects_out_of_range_ids() -> None:
    vocab = Vocab.from_text("abc")
    with pytest.raises(ValueError, match="0..2"):
        vocab.decode([0, 3])
    assert vocab.decode([]) == ""


def test_vocab_requires_sorted_unique_characters() -> None:
    with pytest.raises(ValueError, match="sorted"):
        Vocab("ba")
    with pytest.raises(ValueError, match="unique"):
        Vocab("aab")
    with pytest.raises(ValueError):
        Vocab("")


# ------------------------------------------------------------------------ the vocabulary cap
def zipf_text(n_distinct: int, length: int, seed: int = 0) -> str:
    """CJK-like text: n_distinct characters from U+4E00 on, the k-th about 1/k as frequent."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, n_distinct + 1)
    ids = rng.choice(n_distinct, size=length, p=weights / weights.sum())
    return "".join(chr(0x4E00 + i) for i in ids)


def test_a_text_within_the_cap_is_left_as_it_is() -> None:
    text = "the river runs\n" * 10 + "".join(chr(0x4E00 + i) for i in range(MAX_VOCAB - 20))
    assert len(set(text)) <= MAX_VOCAB
    assert cap_vocabulary(text) == (text, None)


def test_beyond_the_cap_the_rarest_characters_share_one_symbol() -> None:
    text = zipf_text(20_000, 300_000)
    capped, report = cap_vocabulary(text)
    counts = Counter(text)
    kept = {c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: MAX_VOCAB - 1]}
    # Character by character: the most frequent stay, every other one is OTHER.
    assert len(capped) == len(text)
    assert all(c == (t if t in kept else OTHER) for c, t in zip(capped, text, strict=True))
    assert set(capped) == kept | {OTHER} and len(set(capped)) == MAX_VOCAB
    assert report.kept == MAX_VOCAB - 1
    assert report.merged == len(counts) - (MAX_VOCAB - 1)
    assert report.occurrences == sum(n for c, n in counts.items() if c not in kept)
    assert report.share == pytest.approx(report.occurrences / len(text))
    assert report.describe().startswith(f"{report.merged:,} rare characters (")
    assert report.describe().endswith(f"of the text) share one symbol ⟨{OTHER}⟩")


def test_the_replacement_character_already_in_a_text_joins_the_merged_ones() -> None:
    text = OTHER * 5000 + zipf_text(1000, 50_000)  # the most frequent character of all
    capped, report = cap_vocabulary(text, limit=10)
    assert capped.startswith(OTHER * 5000)
    assert len(set(capped)) == 10  # nine kept (not counting OTHER) and OTHER
    assert report.kept == 9 and report.distinct == len(set(text))
    assert report.occurrences == sum(1 for c in capped if c == OTHER)


def test_the_cap_reads_a_text_longer_than_one_internal_chunk_exactly() -> None:
    text = "ab" * 700_000 + "xyz" + "ab"  # the rare ones straddle no chunk, but come after one
    capped, report = cap_vocabulary(text, limit=3)
    assert capped == "ab" * 700_000 + OTHER * 3 + "ab"
    assert (report.merged, report.occurrences) == (3, 3)


def test_an_upload_with_a_huge_vocabulary_trains_on_the_capped_text() -> None:
    corpus = uploaded_corpus("chinese.txt", zipf_text(20_000, 100_000).encode("utf-8"))
    assert corpus.vocab.size == MAX_VOCAB
    assert corpus.rare is not None and corpus.rare.merged > 10_000
    assert uploaded_corpus("small.txt", b"the river runs " * 10).rare is None
