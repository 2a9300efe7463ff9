"""The bundled base models: networks that have already read a lot of English, to start from.

Each lives in data/base/ as three files made by `python bench/pretrain.py`: `<name>.npz` (a
checkpoint of the network: its weights and vocabulary, float32, without optimizer memory or
records), `<name>.json` (the facts of its card, which the dashboard and the command line read)
and `<name>.md` (the card for people: corpus, network and settings, CPU time, held-out loss).

    rnnlab.base_models()            # {"english": Path(".../data/base/english.npz")}
    rnnlab.Trainer.from_base(text, "english", learning_rate=0.002)
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent / "data" / "base"


@dataclass(frozen=True)
class BaseCard:
    """What a person should know of a base before starting from it (from `<name>.json`)."""

    name: str
    summary: str  # a phrase: "a GRU that has read 3.0 MB of English"
    network: str  # "GRU, H=256, float32"
    corpus: tuple[str, ...]  # the texts it read
    corpus_chars: int
    cpu_seconds: float
    held_out_bits_per_char: float

    @classmethod
    def from_dict(cls, values: dict) -> BaseCard:
        return cls(
            name=str(values["name"]),
            summary=str(values["summary"]),
            network=str(values["network"]),
            corpus=tuple(str(name) for name in values["corpus"]),
            corpus_chars=int(values["corpus_chars"]),
            cpu_seconds=float(values["cpu_seconds"]),
            held_out_bits_per_char=float(values["held_out_bits_per_char"]),
        )


def base_models(folder: Path | None = None) -> dict[str, Path]:
    """Bundled base models by name -> their checkpoint file, in name order (those with a card);
    folder: where to look instead of data/base."""
    return dict(_found(folder or BASE_DIR))


@functools.cache
def _found(folder: Path) -> tuple[tuple[str, Path], ...]:
    if not folder.is_dir():
        return ()
    return tuple(
        (path.stem, path)
        for path in sorted(folder.glob("*.npz"))
        if path.with_suffix(".json").is_file()
    )


def base_card(name: str, folder: Path | None = None) -> BaseCard:
    """The card of the bundled base `name`; ValueError if there is no such base."""
    models = base_models(folder)
    if name not in models:
        raise ValueError(
            f"No bundled base model {name!r}; there are: {', '.join(models) or 'none'}."
        )
    return _card(models[name].with_suffix(".json"))


@functools.cache
def _card(path: Path) -> BaseCard:
    return BaseCard.from_dict(json.loads(path.read_text(encoding="utf-8")))
