"""Where a new run's weights come from: random numbers, a bundled base, the current model, or an
uploaded checkpoint ("Start from" under Model).

A `Start` is a plain value the page hands to `Lab.new_run`. Bundled bases are read once per
server and shared by every session (their states are immutable); the current model and an
uploaded checkpoint are kept as weights only (rnnlab.transfer.as_base), never with their records.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from rnnlab import checkpoint
from rnnlab.bases import base_card, base_models
from rnnlab.config import Config
from rnnlab.state import Origin, TrainerState
from rnnlab.text import Vocab
from rnnlab.trainer import Trainer
from rnnlab.transfer import CHANGEABLE, as_base, match_vocabulary, new_config

RANDOM = "random"
CURRENT = "current"
CHECKPOINT = "checkpoint"


@dataclass(frozen=True)
class Start:
    """kind: RANDOM, "base", CURRENT or CHECKPOINT; name: the base's or the file's name; base:
    the weights to start from (None for RANDOM, for a bundled base, read when needed, and for
    the current model until a run starts from it: `network` and `vocab` then say what it is)."""

    kind: str = RANDOM
    name: str = ""
    base: TrainerState | None = field(default=None, compare=False, repr=False)
    network: Config | None = field(default=None, compare=False, repr=False)
    vocab: str = field(default="", compare=False, repr=False)

    @property
    def transfers(self) -> bool:
        return self.kind != RANDOM

    @property
    def key(self) -> str:
        """What the "Start from" control and the address call it: "random", "english", …"""
        return self.name if self.kind == "base" else self.kind

    @property
    def ready(self) -> bool:
        """Whether there is something to start from (an uploaded checkpoint may be missing)."""
        return self.kind != CHECKPOINT or self.base is not None

    def weights(self) -> TrainerState:
        """The base's state (weights, vocabulary, network); ValueError when there is none."""
        if self.kind == "base":
            return bundled_base(self.name)
        if self.base is None:
            raise ValueError(
                "Random weights have no base to start from."
                if self.kind == RANDOM
                else "Upload a checkpoint to start from first (under “Start from”)."
            )
        return self.base

    def describe(self) -> str:
        """A phrase for messages and pending changes: "random weights", "english (a GRU …)"."""
        if self.kind == RANDOM:
            return "random weights"
        if self.kind == "base":
            return f"{self.name} ({base_card(self.name).summary})"
        return (
            self.name
            or {CURRENT: "the current model", CHECKPOINT: "an uploaded checkpoint"}[self.kind]
        )

    def config(self, wanted: Config) -> Config:
        """The config a run from here trains with: `wanted` for random weights; the base's
        network with wanted's transferable settings otherwise."""
        if not self.transfers:
            return wanted
        network = self.network if self.base is None and self.network else self.weights().config
        return new_config(network, transferable(wanted))

    def trainer(self, text: str, wanted: Config) -> Trainer:
        """A new trainer on `text` from here, at `wanted`'s settings (see config)."""
        if not self.transfers:
            return Trainer(text, wanted)
        return Trainer.from_base(text, self.weights(), base_name=self.name, **transferable(wanted))

    def knows(self, chars: str) -> Origin | None:
        """How the base's vocabulary meets the characters `chars` (None for random weights)."""
        if not self.transfers:
            return None
        vocab = self.vocab if self.base is None and self.vocab else self.weights().vocab
        return match_vocabulary(vocab, chars, self.name or self.describe())


RANDOM_START = Start()


def transferable(config: Config) -> dict:
    """The settings of `config` that a transfer takes (the rest is the base's network)."""
    return {name: getattr(config, name) for name in CHANGEABLE}


def base_start(name: str) -> Start:
    """A bundled base by name; ValueError if there is none of that name."""
    if name not in base_models():
        raise ValueError(f"No bundled base model {name!r} ({', '.join(base_models()) or 'none'}).")
    return Start("base", name)


def start_of_run(trainer: Trainer) -> Start:
    """Where a resumed run's Reset starts again: its bundled base, if it started from one, else
    random weights (a checkpoint or an earlier model it came from is not kept)."""
    origin = trainer.origin
    if origin is not None and origin.base in base_models():
        return base_start(origin.base)
    return RANDOM_START


def from_trainer(trainer: Trainer, name: str) -> Start:
    """The trainer's model as it is now, to start from (a copy of its weights)."""
    return Start(CURRENT, name, as_base(trainer.state()))


def current_model(config: Config, vocab: Vocab) -> Start:
    """ "The current model" as the control offers it: its network and vocabulary, for the page
    to show; the weights are taken when a run starts from it (Lab.new_run)."""
    return Start(CURRENT, network=config, vocab=vocab.chars)


def from_checkpoint(data: bytes, file_name: str) -> Start:
    """An uploaded checkpoint as a base; ValueError saying what is wrong with it."""
    import io

    state = checkpoint.read(io.BytesIO(data)).state
    return Start(CHECKPOINT, f"checkpoint {file_name}", as_base(state))


@functools.cache
def _read_base(path: Path, modified: float) -> TrainerState:
    return as_base(checkpoint.load_state(path))


def bundled_base(name: str) -> TrainerState:
    """The weights of the bundled base `name`, read once per server (and again if the file
    changes)."""
    path = base_models()[name]
    return _read_base(path, path.stat().st_mtime)
