"""The dashboard's starting configuration, chosen for how soon the samples turn into words.

Chosen with `python bench/time_to_words.py --grid` on the bundled songbook (data/lyrics.txt):
training CPU seconds until 40% of the words in sampled text (3 x 400 characters, temperature 1)
are words of the corpus, median of 3 seeds. From the grid of 2026-11-23:

    H=100 T=25 lr=0.1  B=1   4.07 s   (the classic settings, on this engine)
    H=100 T=25 lr=0.05 B=8   3.05 s
    H=100 T=25 lr=0.05 B=16  2.15 s   <- chosen
    H=64  T=25 lr=0.05 B=8   1.77 s   (fastest, but a smaller model that stops improving sooner)
    any batch size at lr >= 0.2: 13 s to never (the batched gradient is a mean, yet Adagrad's
    larger steps overshoot on this small text)

The loop-form baseline at the classic settings took 12.81 s in the side-by-side run recorded in
the README (and the defaults 2.04 s). The hidden size stays the classic 100, so what a person
sees matches the write-ups; a batch of 16 streams also makes the curves smoother.
"""

from .config import Config

DASHBOARD_DEFAULTS = Config(
    hidden_size=100, seq_length=25, learning_rate=0.05, batch_size=16, seed=None, val_fraction=0.1
)
