"""What the page shows and offers, in the page's own terms: the controls' choices, the starts a
run can take, the networks Compare cells trains, and the engine's numbers the views show (pace,
parameter counts, units worth a look, predictions, training health). The page reads these, never
the engine itself; no Streamlit here."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dashboard.starts import CHECKPOINT, CURRENT, RANDOM, Start, base_start
from rnnlab import Config, pace
from rnnlab.architecture import Architecture, network_label
from rnnlab.bases import base_card, base_models
from rnnlab.compare import FromBase, config_of
from rnnlab.corpora import BUILTIN_CORPORA, DEFAULT_CORPUS, MB, builtin_corpus, uploaded_corpus
from rnnlab.health import HealthLog
from rnnlab.insight import rank_units, rank_units_by_variance, text_features, top_k_predictions
from rnnlab.model import named_params
from rnnlab.presets import (
    CELL_PRESETS,
    DASHBOARD_DEFAULTS,
    DEFAULT_START,
    STOP_AT_BEST,
    TRANSFER_SETTINGS,
)
from rnnlab.sampling import PRIME_MAX_CHARS, SAMPLE_LENGTH_RANGE, TEMPERATURE_RANGE
from rnnlab.text import MAX_VOCAB

if TYPE_CHECKING:
    from dashboard.session import Lab

__all__ = [
    "BUILTIN_CORPORA",
    "CHECKPOINT",
    "CURRENT",
    "DASHBOARD_DEFAULTS",
    "DEFAULT_CORPUS",
    "MAX_VOCAB",
    "PRIME_MAX_CHARS",
    "RANDOM",
    "SAMPLE_LENGTH_RANGE",
    "STOP_AT_BEST",
    "TEMPERATURE_RANGE",
    "Config",
    "FromBase",
    "Start",
    "base_models",
    "base_start",
    "builtin_corpus",
    "seconds_per_iteration",
]

LOG = logging.getLogger("rnnlab.app")
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0)
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
TRAIN_CHOICES = (10, 100, 1000, 5000)
# While playing, the live panel asks the server for what is new this often (dashboard/live_feed.py)
# and the other views redraw this often by themselves.
PLAY_INTERVAL = 0.4
COMPARE_INTERVAL = 1.0  # the comparison reports a reading every few CPU-seconds
# The settings of the network itself, each one a select box under "Model (needs a new run)".
NETWORK_FIELDS = ("cell", "layers", "optimizer", "dtype")
CELL_NAMES = {"rnn": "RNN (vanilla, tanh)", "gru": "GRU", "lstm": "LSTM"}
OPTIMIZER_NAMES = {"adagrad": "Adagrad", "rmsprop": "RMSprop", "adam": "Adam"}
LAYER_CHOICES = tuple(range(Config.range("layers")[0], Config.range("layers")[1] + 1))
SNIPPET_LENGTH = 300
HIDDEN_STEP = 4
VAL_STEP = 0.05
DROPOUT_STEP = 0.05


def seconds_per_iteration(config: Config, vocab_size: int) -> float:
    """The engine's pace estimate (rnnlab.pace), looked up at each call, not bound at import."""
    return pace.seconds_per_iteration(config, vocab_size)


def int_range(name: str) -> tuple[int, int]:
    """The range of an integer setting, for a slider."""
    low, high = Config.range(name)
    return int(low), int(high)


def closest_learning_rate(learning_rate: float) -> float:
    return min(LEARNING_RATES, key=lambda lr: abs(lr - learning_rate))


# ---------------------------------------------------------------------------------- texts
def builtin_text(name: str):
    """A built-in text; a ValueError that says so if this server cannot read it (why goes to
    the server's log)."""
    try:
        return builtin_corpus(name)
    except (OSError, ValueError) as error:
        LOG.warning("reading the built-in text %r failed: %s", name, error)
        raise ValueError(f"The built-in text {name!r} could not be read on this server.") from None


def uploaded_text(name: str, data: bytes, max_upload_mb: int):
    """An uploaded text, or a ValueError that says what is wrong with it."""
    return uploaded_corpus(name, data, max_upload_mb * MB)


# ---------------------------------------------------------------------------------- starts
def address_starts() -> tuple[str, ...]:
    """The starts an address can name: random weights and the bundled bases."""
    return (RANDOM, *base_models())


def start_keys() -> tuple[str, ...]:
    """What the "Start from" control offers."""
    return (RANDOM, *base_models(), CURRENT, CHECKPOINT)


def default_start_key() -> str:
    """The start a new visitor gets (presets.DEFAULT_START, when this server has that base)."""
    return DEFAULT_START if DEFAULT_START in address_starts() else RANDOM


def start_defaults(key: str) -> Config:
    """The settings a run from `key` starts with: the dashboard's defaults, and for a transfer
    the transfer's training settings (the network is the base's)."""
    if key == RANDOM:
        return DASHBOARD_DEFAULTS
    return DASHBOARD_DEFAULTS.replace(**TRANSFER_SETTINGS)


def start_label(key: str) -> str:
    if key == RANDOM:
        return "Random weights (watch noise turn into words)"
    if key == CURRENT:
        return "The current model (go on with a new text)"
    if key == CHECKPOINT:
        return "An uploaded checkpoint (made on any text)"
    return f"Base “{key}”: {base_card(key).summary}"


def start_note(current: Lab) -> str:
    """Which start the current run took, and the other one click away."""
    if current.start.kind == RANDOM:
        others = " or ".join(f"“{name}”" for name in base_models())
        if not others:
            return "This run started from random weights."
        return (
            "This run started from random weights: watch it learn from nothing. To begin from a "
            f"model that already reads English, choose the base {others} under “Start from”."
        )
    return (
        f"This run started from {current.start.describe()}, so it writes words from the start. "
        "To watch a network learn from nothing, choose “Random weights” under “Start from”."
    )


# ---------------------------------------------------------------------------------- sizes
def parameter_count(config: Config, vocab_size: int) -> int:
    return Architecture.of(config, vocab_size).param_count


def training_chars(config: Config, text_length: int) -> int:
    """How many of a text's characters a run with `config` trains on (the rest validates)."""
    train_chars, _ = config.split_sizes(text_length)
    return train_chars


# ---------------------------------------------------------------------------------- Compare cells
def compared_networks() -> dict[str, Config | FromBase]:
    """What Compare cells trains: each cell from random weights, and each bundled base."""
    networks: dict[str, Config | FromBase] = dict(CELL_PRESETS)
    for name in base_models():
        config = base_start(name).config(start_defaults(name))
        networks[f"From {name}"] = FromBase(name, config)
    return networks


def compared_start(network: Config | FromBase) -> tuple[Start, Config]:
    """The start and the settings of a run with a compared network."""
    start = base_start(network.base) if isinstance(network, FromBase) else Start()
    return start, config_of(network)


def compared_rows(vocab_size: int) -> list[dict[str, Any]]:
    """The table of what Compare cells trains, on a text of `vocab_size` characters."""
    return [
        {
            "network": label,
            "cell": network_label(config),
            "starts from": network.base if isinstance(network, FromBase) else "random weights",
            "hidden": config.hidden_size,
            "seq": config.seq_length,
            "batch": config.batch_size,
            "lr": f"{config.learning_rate:g}",
            "parameters": f"{parameter_count(config, vocab_size):,}",
            "s per iteration": f"{seconds_per_iteration(config, vocab_size):.3f}",
        }
        for label, network in compared_networks().items()
        for config in (config_of(network),)
    ]


# ---------------------------------------------------------------------------------- inside
def units_worth_a_look(trace) -> list:
    """The units that follow a simple feature of the trace's text, then the busiest."""
    return rank_units(trace, text_features(trace.text)) + rank_units_by_variance(trace, top=5)


def predictions(trace, vocab) -> list:
    """What the model expected after each character of the trace (rnnlab.insight)."""
    return top_k_predictions(trace, vocab)


def health_of(state) -> tuple[HealthLog, dict]:
    """A run's training health log and its named weight matrices."""
    return HealthLog.of(state.arch, state.health), named_params(state.params, state.arch)
