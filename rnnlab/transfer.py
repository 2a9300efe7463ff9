"""Transfer: start a run on any text from a base model's weights (`Trainer.from_base`).

The base's network (cell, layers, hidden size, precision) and every weight carry over. Only two
places depend on the vocabulary, the first layer's input columns (Wxh) and the output layer's rows
(Why, by), and they are matched character by character:

* a character of the new text that the base knows keeps its input column, output row and bias;
* a character the base never saw starts from its *kin* when the base knows one: the same letter
  without its accent (é from e), the plain form of typographic punctuation (’ from ', “ from ",
  — from -), or the other case (Q from q). It takes the kin's input column and output row, so the
  model reads and predicts it as it did the kin; its bias is the kin's plus the log of how much
  more or less often the text uses it (or, when the kin itself is not in the text, the kin's
  probability is shared among the characters standing in for it by their counts);
* a character with no kin starts as the base's average character: the mean of its input columns
  (a neutral "some character" rather than the zero column of "no input", which the base never
  saw), the mean of its output rows, and the lowest bias the base has, so it takes no probability
  from the known characters until the text shows it is needed;
* characters of the base that the new text lacks leave the output layer: the softmax then shares
  their probability among the characters that remain.

Nothing else changes: a base on a text with its own vocabulary predicts exactly as the base did.
"""

from __future__ import annotations

import dataclasses
import os
import unicodedata
from pathlib import Path
from typing import BinaryIO

import numpy as np

from . import checkpoint
from .architecture import Architecture
from .config import Config
from .model import FlatParams
from .presets import TRANSFER_SETTINGS
from .state import Origin, TrainerState

# What a transfer may change; everything else (the network) comes from the base.
CHANGEABLE = (
    "learning_rate",
    "seq_length",
    "batch_size",
    "optimizer",
    "dropout",
    "val_fraction",
    "seed",
)
# Typographic characters and their plain forms, both ways round: a text typed on a phone has
# curly quotes where a Gutenberg text has straight ones, and the other way round.
TYPOGRAPHIC_KIN = {
    "‘": "'", "’": "'", "‚": "'", "′": "'", "`": "'", "´": "'",
    "“": '"', "”": '"', "„": '"', "″": '"', "«": '"', "»": '"',
    "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-", "…": ".",
    "\u00a0": " ", "\t": " ", "\r": "\n",
}  # fmt: skip
PLAIN_TO_TYPOGRAPHIC = {"'": "’", '"': "”", "-": "—"}


def kin(char: str, known: str | set[str]) -> str | None:
    """The character of `known` that `char` starts from, or None (see the module's docstring)."""
    candidates = [unicodedata.normalize("NFKD", char)[:1], TYPOGRAPHIC_KIN.get(char, "")]
    candidates += [PLAIN_TO_TYPOGRAPHIC.get(char, ""), char.swapcase()]
    for candidate in candidates:
        if len(candidate) == 1 and candidate != char and candidate in known:
            return candidate
    return None


def new_config(base: Config, changes: dict) -> Config:
    """The base's network trained at the transfer's settings (presets.TRANSFER_SETTINGS, chosen
    for adapting a base to a small text) with `changes` (names in CHANGEABLE) over them; the
    seed is the base's unless changed. ValueError naming what may not change, and why."""
    refused = sorted(set(changes) - set(CHANGEABLE))
    if refused:
        fields = {f: getattr(base, f, None) for f in refused}
        unknown = [name for name in refused if not hasattr(base, name)]
        if unknown:
            raise ValueError(f"Unknown settings: {', '.join(unknown)}.")
        said = ", ".join(f"{_words(name)} (the base's: {value})" for name, value in fields.items())
        raise ValueError(
            f"A model that starts from a base keeps the base's network: its cell, layers, hidden "
            f"size and precision. These cannot change: {said}. A transfer may change the "
            f"{', '.join(_words(name) for name in CHANGEABLE)}; to choose the network, start "
            "from random weights."
        )
    return base.replace(**(TRANSFER_SETTINGS | changes))


def _words(name: str) -> str:
    return {"seq_length": "sequence length", "val_fraction": "validation share"}.get(
        name, name.replace("_", " ")
    )


def read_base(base: TrainerState | str | os.PathLike | BinaryIO) -> tuple[TrainerState, str]:
    """(state, name) of a base given as a state, a bundled base's name, or a checkpoint (a path
    or a binary file); ValueError when it is none of these or cannot be read."""
    from .bases import base_models

    if isinstance(base, TrainerState):
        return base, "a model"
    if isinstance(base, str) and base in base_models() and not Path(base).exists():
        return checkpoint.load_state(base_models()[base]), base
    if isinstance(base, (str, os.PathLike)):
        path = Path(base)
        if not path.is_file():
            names = ", ".join(base_models()) or "none here"
            raise ValueError(
                f"No base model {str(base)!r}: give a checkpoint file or a bundled base's name "
                f"({names})."
            )
        return checkpoint.load_state(path), path.name
    if hasattr(base, "read"):
        return checkpoint.load_state(base), getattr(base, "name", None) or "a checkpoint"
    raise TypeError(
        "A base is a TrainerState, a bundled base's name or a checkpoint (path or binary file)."
    )


def transferred_params(
    base: TrainerState, chars: str, counts: np.ndarray, base_name: str
) -> tuple[np.ndarray, Origin]:
    """The flat parameters (P,) of the base's network on the vocabulary `chars` (sorted, with
    each character's count in the new text, (V,)), and the Origin saying how they were mapped."""
    old_arch = base.arch
    old = FlatParams(old_arch, check_base(base)).views
    arch = Architecture(
        old_arch.cell, old_arch.layers, old_arch.hidden_size, len(chars), old_arch.dtype
    )
    new = FlatParams(arch)
    for name in arch.param_names:
        if name not in ("Wxh", "Why", "by"):
            new[name][...] = old[name]
    origin = match_vocabulary(base.vocab, chars, base_name)
    index = {c: i for i, c in enumerate(base.vocab)}
    known, kinships, fresh = origin.known, origin.kin, origin.new
    position = {c: j for j, c in enumerate(chars)}
    for c in known:
        i, j = index[c], position[c]
        new["Wxh"][:, j] = old["Wxh"][:, i]
        new["Why"][j] = old["Why"][i]
        new["by"][j] = old["by"][i]
    count = {c: float(counts[position[c]]) for c in chars}
    for c, k in kinships:
        i, j = index[k], position[c]
        new["Wxh"][:, j] = old["Wxh"][:, i]
        new["Why"][j] = old["Why"][i]
        # The kin's probability, scaled by how the text uses c against the kin (or, with the
        # kin absent, against all that stand in for it).
        share_of = count[k] if k in position else sum(count[n] for n, m in kinships if m == k)
        new["by"][j] = old["by"][i] + np.log(count[c] / share_of)
    for c in fresh:
        j = position[c]
        new["Wxh"][:, j] = old["Wxh"].mean(axis=1)
        new["Why"][j] = old["Why"].mean(axis=0)
        new["by"][j] = old["by"].min()
    return new.flat, origin


def match_vocabulary(base_vocab: str, chars: str, base_name: str) -> Origin:
    """How a base's vocabulary meets the characters `chars` of a new text: which it knows, which
    start from their kin, which start fresh, and which of the base's the text lacks."""
    index = set(base_vocab)
    known, kinships, fresh = [], [], []
    for c in chars:
        if c in index:
            known.append(c)
        elif (k := kin(c, index)) is not None:
            kinships.append((c, k))
        else:
            fresh.append(c)
    dropped = "".join(c for c in base_vocab if c not in set(chars))
    return Origin(base_name, "".join(known), tuple(kinships), "".join(fresh), dropped)


def as_base(state: TrainerState) -> TrainerState:
    """`state` with only what a transfer reads (config, vocabulary, parameters): the records,
    optimizer memory, hidden state and best model dropped, so that keeping it costs one copy of
    the parameters."""
    empty = np.zeros(0)
    empty.flags.writeable = False
    return dataclasses.replace(
        state, optimizer_memory=empty, hidden=empty, losses=empty, smooth_losses=empty,
        validation=empty.reshape(0, 2), health=empty.reshape(0, 0), events=(), best=None,
        pointer=0, iteration=0, chars_seen=0,
    )  # fmt: skip


def check_base(state: TrainerState) -> np.ndarray:
    """The base's parameters (P,) in its precision; ValueError when the state cannot be a base
    (no model in it, the wrong number of parameters, values that are not finite numbers)."""
    if (
        not isinstance(state.vocab, str)
        or not state.vocab
        or len(set(state.vocab)) != len(state.vocab)
    ):
        raise ValueError("The base's vocabulary must be distinct characters.")
    arch = state.arch
    params = state.params
    if not isinstance(params, np.ndarray) or params.dtype.kind not in "fiu":
        raise ValueError("The base's parameters must be a numeric array.")
    if params.size == 0:
        raise ValueError(
            "This state holds no model (it was taken with with_model=False), so it cannot be a "
            "base; take it with trainer.state()."
        )
    if params.shape != (arch.param_count,):
        raise ValueError(
            f"The base's parameters have shape {params.shape}, but its config ({arch.label}, "
            f"H={arch.hidden_size}, {arch.vocab_size} characters) needs ({arch.param_count},); "
            "it is corrupt or was edited."
        )
    with np.errstate(over="ignore"):
        params = np.asarray(params, dtype=arch.float)
    if not np.isfinite(params).all():
        raise ValueError(f"The base's parameters hold values that are not finite in {arch.dtype}.")
    return params
