"""What a new run would change: the differences between the run and the settings on the page
that only a new model can take (the live settings change while it trains)."""

from __future__ import annotations

from rnnlab.config import Config
from rnnlab.corpora import Corpus

from .starts import Start

# Hyperparameters that shape the model: changing them needs a new model (a new run).
STRUCTURAL = (
    "cell", "layers", "optimizer", "dtype", "hidden_size", "batch_size", "seed", "val_fraction",
    "dropout",
)  # fmt: skip


def pending_changes(
    current: tuple[Config, Corpus, Start], wanted: Config, corpus: Corpus | None, start: Start
) -> list[str]:
    """Human-readable differences between the `current` run (its config, text and start) and
    one at `wanted` on `corpus` (None: the same text) from `start`."""
    config, text, start_now = current
    if start.ready:
        wanted = start.config(wanted)
    changes = [
        f"{name.replace('_', ' ')}: {getattr(config, name)} → {getattr(wanted, name)}"
        for name in STRUCTURAL
        if name != "seed" and getattr(wanted, name) != getattr(config, name)
    ]
    if wanted.seed is not None and wanted.seed != config.seed:
        changes.append(f"seed: {config.seed} → {wanted.seed}")
    if corpus is not None and corpus != text:
        changes.append(f"text: {text.name} → {corpus.name}")
    if start.key != start_now.key:
        changes.insert(0, f"start from: {start_now.describe()} → {start.describe()}")
    return changes
