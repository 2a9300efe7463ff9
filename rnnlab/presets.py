"""The dashboard's starting configuration.

Chosen with `python bench/time_to_words.py --grid` on the bundled songbook (data/lyrics.txt):
training seconds until 40% of the words in sampled text are words of the corpus (the grid and
its numbers are in the README, Benchmarks). A batch of 16 streams at learning rate 0.05 got there
soonest among the settings that keep improving; larger learning rates overshoot on a small text.
The hidden size stays the classic 100, so what a person sees matches the write-ups.
"""

from .config import Config

DASHBOARD_DEFAULTS = Config(
    hidden_size=100, seq_length=25, learning_rate=0.05, batch_size=16, seed=None, val_fraction=0.1
)
# Play and Train stop by themselves once the validation loss has turned up, holding the best
# model: a person who presses Play on a small text and looks away comes back to a good model.
STOP_AT_BEST = True
