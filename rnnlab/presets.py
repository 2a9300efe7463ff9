"""The dashboard's starting configuration, chosen for the held-out loss a person gets to watch.

Chosen with `python bench/presets_by_validation.py` and a few runs of its `run()` at learning
rate 0.01 (the tables, with their dates, are in docs/benchmarks.md, "How the defaults were
chosen"): the best validation bits/char each setting reaches within a minute of CPU, on the
bundled songbook and on two texts nothing was tuned on. On texts this small most settings reach a
similar best; what differs is when, and how fast they get worse after it. At a high learning rate
the best came almost at once and the rest of the minute was memorisation. At 0.01 with 64 hidden
units the best is the lowest on average over the three texts, and comes late enough that a
person sees the loss fall and the samples form words before the model starts to recite its text;
the stop at the best validation point (on by default) ends Play there. Time to words came second:
a batch of 16 gets there soonest at this rate.
"""

from .config import Config

DASHBOARD_DEFAULTS = Config(
    hidden_size=64, seq_length=25, learning_rate=0.01, batch_size=16, seed=None, val_fraction=0.1
)
# Play and Train stop by themselves once the validation loss has turned up, holding the best
# model: a person who presses Play on a small text and looks away comes back to a good model.
STOP_AT_BEST = True

# One network of each cell, as Compare cells trains them and the Model controls offer them: the
# classic RNN at the defaults above, and the gated cells at the settings that did best per
# CPU-second in `python bench/cells_quality.py` (docs/benchmarks.md, "Cells compared").
CELL_PRESETS = {
    "RNN": DASHBOARD_DEFAULTS,
    "GRU": DASHBOARD_DEFAULTS.replace(
        cell="gru", hidden_size=128, seq_length=50, batch_size=32, learning_rate=0.003,
        optimizer="adam", dtype="float32",
    ),
    "LSTM": DASHBOARD_DEFAULTS.replace(
        cell="lstm", hidden_size=128, seq_length=50, batch_size=32, learning_rate=0.003,
        optimizer="adam", dtype="float32",
    ),
}  # fmt: skip

# A run that starts from a base model (Trainer.from_base): the settings it trains with, chosen
# with `python bench/transfer.py --grid` (docs/benchmarks.md, "Starting from a base model"):
# the batch and sequence length the base was trained with, and no dropout, which only held the
# base back on every text tried.
TRANSFER_SETTINGS = {
    "learning_rate": 0.003,
    "seq_length": 100,
    "batch_size": 32,
    "optimizer": "adam",
    "dropout": 0.0,
    "val_fraction": 0.1,
}
# Where a new visitor's first run starts: "random" (weights drawn from the seed) or a bundled
# base's name (rnnlab.bases). The base: by the rule the defaults follow (the best held-out loss
# after a minute of Play, on texts not tuned on), it beats random weights by a fifth or more
# (docs/benchmarks.md, "Starting from a base model"); random weights are one choice away.
DEFAULT_START = "english"
