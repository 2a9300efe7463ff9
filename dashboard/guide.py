"""What the numbers mean, in words: the yardsticks passed, the overfitting guide, the copy meter's
caption and the data-size advisor. Plain text (the page and the panel show it as text)."""

from __future__ import annotations

import math

import numpy as np

from rnnlab.copying import CopyReport
from rnnlab.overfitting import Overfitting
from rnnlab.records import iterations_at
from rnnlab.state import Origin, TrainerState, per_iteration_at
from rnnlab.yardsticks import LABELS, below_since

# Points of the smoothed training loss looked at when nothing is held out (a thinned curve: the
# answer moves by at most this share of the run).
TRAINING_POINTS = 2000
NOVEL_WORDS_SHOWN = 12


def yardstick_note(state: TrainerState, yardsticks: dict[str, float], in_sample: bool) -> str:
    """Which yardsticks the model has passed, and since when ("better than a bigram model since
    iteration 1,240"), on validation when part of the text is held out."""
    if len(state.validation):
        curve = np.column_stack([state.validation[:, 0], state.validation[:, 1] / math.log(2)])
        what = "On held-out text the model is"
    else:
        curve = _smoothed_bits(state)
        what = (
            "In training (nothing is held out) the model is"
            if in_sample
            else "Until the first validation check, in training the model is"
        )
    passed, ahead = [], []
    for name, bits in sorted(yardsticks.items(), key=lambda item: -item[1]):
        since = below_since(curve, bits)
        if since is None:
            ahead.append(f"{LABELS[name]} ({bits:.2f} bits/char)")
        else:
            passed.append(f"{_article(LABELS[name])} since iteration {since:,}")
    parts = []
    if passed:
        parts.append(f"{what} better than " + "; than ".join(passed))
    if ahead:
        parts.append(
            ("not yet better than " if passed else f"{what} not yet better than ")
            + "; ".join(_article(label) for label in ahead)
        )
    where = (
        "These yardsticks are measured on the training text itself."
        if in_sample
        else "The yardsticks are measured on the held-out text, fitted on the training text."
    )
    return "; ".join(parts) + ". " + where


def overfitting_note(turn: Overfitting, state: TrainerState) -> str:
    """The guide shown once the validation loss has turned up."""
    c = state.config
    return (
        f"The model is memorising its text. The validation loss has not improved for "
        f"{turn.checks} checks since iteration {turn.best_iteration:,} (best "
        f"{turn.best / math.log(2):.3f} bits/char, now {turn.latest / math.log(2):.3f}, "
        f"{turn.rise:+.0%}): the training loss still falls, but on text it has not seen the model "
        f"gets worse, and its samples copy more of the text. To learn more, give it more text, "
        f"a smaller hidden size (now {c.hidden_size}) or a lower learning rate (now "
        f"{c.learning_rate:g}); or bring back the best model (button above the chart)."
    )


def meter_caption(reading: CopyReport | None, unavailable: bool = False) -> str:
    """One line under a sample: its longest copy, known words and new words (unavailable: the
    text could not be measured, see text_analysis)."""
    if reading is None:
        if unavailable:
            return "No copy meter for this text (see above the chart)."
        return "The copy meter is still indexing the text."
    copied = (
        "nothing copied"
        if reading.length == 0
        else f"longest stretch copied from the text: {reading.length} characters (marked)"
    )
    words = f"{reading.word_share:.0%} of its words occur in the text"
    novel = reading.novel_words
    if novel:
        shown = ", ".join(novel[:NOVEL_WORDS_SHOWN])
        more = (
            f" and {len(novel) - NOVEL_WORDS_SHOWN} more" if len(novel) > NOVEL_WORDS_SHOWN else ""
        )
        words += f"; new words: {shown}{more}"
    return f"{copied} · {words}"


def data_size_advice(train_chars: int, parameters: int) -> str:
    """What to expect from a text this long for a model this big."""
    ratio = train_chars / parameters
    head = (
        f"{train_chars:,} characters to train on for {parameters:,} parameters "
        f"({ratio:.2g} per parameter)."
    )
    if ratio < 2:
        return head + (
            " A model this big memorises a text this small within a minute or so: watch the "
            "validation loss turn up and the samples start to copy the text. For more learning, "
            "use a longer text or a smaller hidden size."
        )
    if ratio < 20:
        return head + (
            " Expect words and lines that look like the text within a minute, then a slow turn "
            "towards memorising; the validation loss shows when."
        )
    return head + (
        " Plenty of text for this model: it can go on learning for a long while before it "
        "memorises; a larger hidden size would learn more."
    )


def _smoothed_bits(state: TrainerState) -> np.ndarray:
    """(k, 2) rows of (iteration, smoothed training loss in bits per character), thinned."""
    n = len(state.smooth_losses)
    if n == 0:
        return np.zeros((0, 2))
    keep = np.unique(np.linspace(0, n - 1, min(n, TRAINING_POINTS)).astype(np.int64))
    thinned = state.thinned_ends if state.thinned_ends is not None else np.zeros(0, np.int64)
    iterations = iterations_at(keep, thinned)
    seq = per_iteration_at(state.config, state.events, "seq_length", iterations - 1)
    return np.column_stack([iterations, state.smooth_losses[keep] / seq / math.log(2)])


def _article(label: str) -> str:
    return ("a " if label.startswith(("bigram", "uniform")) else "the ") + label


def pace_note(seconds_per_iteration: float, chars_per_iteration: int) -> str:
    """The estimated pace of a setting, to two digits: "about 0.85 ms per iteration (470,000
    chars/s)"."""
    rate = float(f"{chars_per_iteration / seconds_per_iteration:.2g}")
    return f"about {duration(seconds_per_iteration)} per iteration ({rate:,.0f} chars/s)"


def train_time_note(n: int, seconds_per_iteration: float, max_seconds: float) -> str | None:
    """What Train N will do when it would take longer than it may run ("Train 5,000 would take
    about 12 min; it stops after 2 min"), or None when it fits."""
    if n * seconds_per_iteration <= max_seconds:
        return None
    return (
        f"Train {n:,} would take about {duration(n * seconds_per_iteration)}; it stops after "
        f"{duration(max_seconds)}, about {int(max_seconds / seconds_per_iteration):,} iterations."
    )


def duration(seconds: float) -> str:
    """A rounded duration for people: "0.85 ms", "23 ms", "1.5 s", "40 s", "12 min", "3.5 h"."""
    if seconds < 0.1:
        return f"{_two_digits(seconds * 1000)} ms"
    if seconds < 90:
        return f"{_two_digits(seconds)} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{_two_digits(seconds / 3600)} h"


def _two_digits(x: float) -> str:
    return f"{x:.2g}" if x < 10 else f"{x:.0f}"


def base_knowledge(origin: Origin) -> str:
    """What a base knows of a text, for its card: "english knows 60 of this text's 63
    characters; 1 new one starts from a known one ('’' from "'"); …"."""
    first = (
        f"Starting from {origin.base}: it knows {len(origin.known)} of this text's "
        f"{origin.text_chars} characters"
    )
    return "; ".join([first, *origin.details()]) + "."
