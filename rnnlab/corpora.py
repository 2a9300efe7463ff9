"""Texts to train on: the bundled ones, Python source from this machine, and uploads."""

from __future__ import annotations

import sysconfig
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .text import RareMerge, TextInfo, Vocab, cap_vocabulary, load_text

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
# Standard-library modules read as a code corpus: plain, well-commented Python of moderate size.
STDLIB_MODULES = (
    "textwrap.py",
    "string.py",
    "shlex.py",
    "fnmatch.py",
    "colorsys.py",
    "bisect.py",
    "heapq.py",
    "queue.py",
    "sched.py",
    "glob.py",
    "genericpath.py",
    "keyword.py",
)
STDLIB_MAX_CHARS = 200_000


@dataclass(frozen=True)
class Corpus:
    """A text ready to train on, with what a person should know about where it came from."""

    name: str
    text: str
    source: str  # "bundled", "stdlib" or "upload"
    info: TextInfo | None = field(default=None, compare=False)
    rare: RareMerge | None = field(default=None, compare=False)  # rarest characters merged

    @cached_property
    def vocab(self) -> Vocab:
        return Vocab.from_text(self.text)

    @property
    def encoding(self) -> str:
        return self.info.describe() if self.info else "UTF-8"

    @property
    def n_bytes(self) -> int:
        return self.info.n_bytes if self.info else len(self.text.encode("utf-8"))

    def preview(self, chars: int = 600) -> str:
        return self.text[:chars] + ("…" if len(self.text) > chars else "")


def _bundled(file_name: str, title: str) -> Corpus:
    text, info = load_text((DATA_DIR / file_name).read_bytes())
    return Corpus(title, text, "bundled", info)


def _stdlib_source() -> Corpus:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parts = []
    for module in STDLIB_MODULES:
        path = stdlib / module
        if path.is_file():
            parts.append(path.read_text(encoding="utf-8", errors="replace"))
    if not parts:
        raise ValueError("No Python source files were found in this machine's standard library.")
    text, info = load_text("\n\n".join(parts)[:STDLIB_MAX_CHARS].encode("utf-8"))
    return Corpus("Python standard library (this machine's source)", text, "stdlib", info)


# A megabyte of 10^6 bytes, as the browser's uploader counts Streamlit's limit (outside Windows)
# and shows file sizes: "50 MB" here is the same 50,000,000 bytes there.
MB = 10**6
# The shortest text a model can train on: a chunk of the shortest sequence length (2) and the
# character after it.
MIN_CHARS = 3

BUILTIN_CORPORA = {
    "Songbook (bundled lyrics)": lambda: _bundled("lyrics.txt", "Songbook (bundled lyrics)"),
    "Poems (bundled)": lambda: _bundled("poems.txt", "Poems (bundled)"),
    "Python source (standard library)": _stdlib_source,
}
DEFAULT_CORPUS = "Songbook (bundled lyrics)"


def builtin_corpus(name: str) -> Corpus:
    if name not in BUILTIN_CORPORA:
        raise ValueError(
            f"No built-in text called {name!r}; choose one of {', '.join(BUILTIN_CORPORA)}."
        )
    return BUILTIN_CORPORA[name]()


def uploaded_corpus(file_name: str, data: bytes, max_bytes: int | None = None) -> Corpus:
    """A corpus from an uploaded file; ValueError with a clear message if it cannot be one.
    Beyond text.MAX_VOCAB distinct characters the rarest share one symbol (Corpus.rare)."""
    if max_bytes is not None and len(data) > max_bytes:
        raise ValueError(
            f"{file_name} is {len(data) / MB:,.1f} MB; the limit is {max_bytes / MB:,.0f} MB. "
            "Upload a smaller file or a part of it."
        )
    try:
        text, info = load_text(data)
    except ValueError as error:
        raise ValueError(f"{file_name}: {error}") from error
    if len(text) < MIN_CHARS:
        held = f"{len(text)} character{'s' if len(text) != 1 else ''}"
        raise ValueError(
            f"{file_name} holds only {held}; a model needs at least {MIN_CHARS} (two to read and "
            "one to predict), and a few thousand to learn anything worth watching."
        )
    text, rare = cap_vocabulary(text)
    return Corpus(file_name, text, "upload", info, rare)
