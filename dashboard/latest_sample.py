"""The latest sample: how samples are drawn, the one shown, and the copy meter's series of them.

While playing, the player draws it (at most every PLAY_SAMPLE_EVERY seconds: a person reads a
300-character sample in no less, and each costs the training a few milliseconds); otherwise the
session draws it from its own model.
"""

from __future__ import annotations

import time

from rnnlab.sampling import SampleSettings
from rnnlab.trainer import Trainer

from .copy_series import CopySeries

PLAY_SAMPLE_EVERY = 1.0


class LatestSample:
    def __init__(self) -> None:
        self.settings = SampleSettings()
        self.text = ""  # without its prime
        self.series = CopySeries()
        self._drawn_at = 0.0

    @property
    def shown(self) -> str:
        """The sample as the views show it: its prime, then what the model wrote."""
        return self.settings.prime + self.text

    def draw(self, trainer: Trainer) -> None:
        """Draw it now from `trainer`'s model."""
        s = self.settings
        self.took(
            trainer.sample(s.length, prime=s.prime or None, temperature=s.temperature), trainer
        )

    def took(self, text: str, trainer: Trainer) -> None:
        """`text` is the latest sample (the player's, say) of `trainer`'s model as it is now."""
        self.text, self._drawn_at = text, time.monotonic()
        self.series.note(trainer.iteration, self.shown)

    def wanted(self) -> SampleSettings | None:
        """What to ask the player to draw a new sample with, if one is due."""
        return self.settings if time.monotonic() - self._drawn_at >= PLAY_SAMPLE_EVERY else None

    def change(self, settings: SampleSettings, trainer: Trainer, playing: bool) -> None:
        """Draw with `settings` from now on; a new sample is due at once."""
        self.settings, self._drawn_at = settings, 0.0
        if not playing:
            self.draw(trainer)

    def forget_prime_unless(self, chars: str) -> None:
        """A prime written for the old text can hold characters the new model cannot read."""
        s = self.settings
        if not set(s.prime) <= set(chars):
            self.settings = SampleSettings(s.length, s.temperature, "")

    def new_run(self) -> None:
        self.series = CopySeries()
