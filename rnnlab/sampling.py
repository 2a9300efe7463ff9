"""Generating text from the model one character at a time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .architecture import Architecture
from .model import step


def sample_ids(
    params: dict[str, np.ndarray],
    h: np.ndarray,
    first_id: int,
    n: int,
    rng: np.random.Generator,
    temperature: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feed `first_id`, then each drawn character back in, n times.

    h: (S,) the state to start from (not modified; S = H for the classic RNN). temperature 0
    picks the most likely character (greedy); otherwise probabilities are softmax(y / temperature).
    Returns ids (n,), the probability each drawn character had (n,), and the full next-character
    distributions (n, V) they were drawn from.
    """
    if n < 0:
        raise ValueError("The number of characters to sample cannot be negative.")
    check_temperature(temperature)
    arch = Architecture.from_params(params)
    V = arch.vocab_size
    h = np.array(h, dtype=arch.float).reshape(-1)
    ids = np.empty(n, dtype=np.int64)
    chosen_probs = np.empty(n)
    distributions = np.empty((n, V))
    current = first_id
    for i in range(n):
        logits, h = step(params, arch, current, h)
        logits = logits.astype(np.float64)
        if temperature == 0:
            probs = _softmax(logits)
            current = int(np.argmax(probs))
        else:
            probs = _softmax(logits / temperature)
            # Inverse-CDF draw: one uniform number per character, much cheaper than rng.choice.
            current = min(int(np.searchsorted(np.cumsum(probs), rng.random() * probs.sum())), V - 1)
        ids[i] = current
        chosen_probs[i] = probs[current]
        distributions[i] = probs
    return ids, chosen_probs, distributions


def run_prime(params: dict[str, np.ndarray], h: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The state (S,) after reading ids[:-1] from h; the last id is left to seed sampling."""
    arch = Architecture.from_params(params)
    h = np.array(h, dtype=arch.float).reshape(-1)
    for current in ids[:-1]:
        _, h = step(params, arch, int(current), h)
    return h


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max())
    return e / e.sum()


# Ranges the dashboard's controls offer and every check enforces (one source for both).
SAMPLE_LENGTH_RANGE = (20, 2000)
TEMPERATURE_RANGE = (0.0, 2.0)
PRIME_MAX_CHARS = 200


def check_temperature(temperature: float) -> None:
    """ValueError unless `temperature` is 0 (greedy) or a finite positive number."""
    if not temperature >= 0 or not np.isfinite(temperature):
        raise ValueError(f"Temperature must be 0 (greedy) or positive, got {temperature!r}.")


@dataclass(frozen=True)
class SampleSettings:
    """How the latest sample is drawn: its length, temperature (0: greedy) and prime text."""

    length: int = 300
    temperature: float = 1.0
    prime: str = ""

    def __post_init__(self) -> None:
        low, high = SAMPLE_LENGTH_RANGE
        if isinstance(self.length, bool) or not isinstance(self.length, int | np.integer):
            raise ValueError("The sample length must be a whole number of characters.")
        if not low <= self.length <= high:
            raise ValueError(f"The sample length must be between {low} and {high} characters.")
        low, high = TEMPERATURE_RANGE
        if not isinstance(self.temperature, int | float) or not low <= self.temperature <= high:
            raise ValueError(f"The temperature must be between {low:g} (greedy) and {high:g}.")
        if not isinstance(self.prime, str) or len(self.prime) > PRIME_MAX_CHARS:
            raise ValueError(f"The prime text can be at most {PRIME_MAX_CHARS} characters long.")
