"""What one session may use: memory, the time one iteration takes, and how much Generate, Inside
the network and Compare cells do at a time (docs/hosting.md). `fits` refuses a setting over them,
naming one that fits."""

from __future__ import annotations

import os

from rnnlab import budget, pace
from rnnlab.compare import FromBase, config_of
from rnnlab.config import Config
from rnnlab.presets import DASHBOARD_DEFAULTS
from rnnlab.trainer import Trainer, check_text_fits

# The memory one session may use, both processes counted while playing.
SESSION_MEMORY_BYTES = int(float(os.environ.get("RNNLAB_SESSION_MEMORY_MB", "768")) * 2**20)
# One iteration cannot be interrupted and holds the session's lock: settings whose single
# iteration would take longer than this, in seconds, are refused.
MAX_SECONDS_PER_ITERATION = float(os.environ.get("RNNLAB_MAX_SECONDS_PER_ITERATION", "2"))
# Compare cells: the CPU seconds each network may train, as the page offers them.
COMPARE_SECONDS = (10, 30, 60, 120)
# Generate writes at most this many characters: a page or two, still checked for copies at once.
GENERATE_MAX_CHARS = 5000
# Inside the network reads at most this much text: its heatmaps grow with every character.
SNIPPET_MAX_CHARS = 1000


def fits(config: Config, vocab_size: int, processes: int = 1) -> None:
    """ValueError, naming a setting that fits, when a run at `config` (in `processes` processes)
    would need more memory than a session may use, or one iteration would take too long."""
    budget.check(config, vocab_size, SESSION_MEMORY_BYTES, processes)
    pace.check(config, vocab_size, MAX_SECONDS_PER_ITERATION)


def networks_to_compare(
    configs: dict[str, Config | FromBase], trainer: Trainer, text_length: int
) -> dict[str, Config | FromBase]:
    """The networks to compare, held out as `trainer`'s run is (or as the dashboard's default);
    ValueError for one that does not fit beside the session's own run, or in the text."""
    val = trainer.config.val_fraction or DASHBOARD_DEFAULTS.val_fraction
    configs = {name: c.replace(val_fraction=val, seed=None) for name, c in configs.items()}
    for network in configs.values():
        config = config_of(network)
        # The session's own run stays in memory beside the one being compared.
        budget.check(
            config, trainer.vocab.size, SESSION_MEMORY_BYTES, 2,
            "the network compared and the session's own run",
        )  # fmt: skip
        check_text_fits(text_length, config)
    return configs
