"""Looking inside a trained network: what it predicts, how surprised it is, what its units track.

Everything here reads the model and never changes it. A snippet of text is run through the
forward pass from a given hidden state (zero by default), and the numbers the dashboard shows
are derived from that one trace:

    trace = run_snippet(trainer, None, "Hello, world")
    top_k_predictions(trace, trainer.vocab)        # what it expected after each character
    rank_units(trace, text_features(trace.text))   # which units follow quotes, line position...
"""

from __future__ import annotations

import dataclasses
import unicodedata
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .architecture import Architecture
from .health import SATURATION_THRESHOLD
from .model import trace as model_trace
from .text import Vocab
from .trainer import Trainer

SIGMOID_GATES = ("r", "z", "i", "f", "o")


@dataclass(frozen=True)
class SnippetTrace:
    """One pass of the model over a snippet of T characters (H hidden units, V characters).

    ids: (T,) the snippet's character ids.
    hidden: (T, H) the top layer's hidden state after reading each character.
    probs: (T, V) next-character distribution after each character.
    surprisal: (T - 1,) -log p(the character that actually came next), in nats.
    signals: name -> (L, T, H) over the L layers: "h" the hidden states, and an LSTM's cell
    state "c" and gates "i", "f", "o", "g", or a GRU's gates "r", "z", "n".
    """

    text: str
    ids: np.ndarray
    hidden: np.ndarray
    probs: np.ndarray
    surprisal: np.ndarray
    signals: dict[str, np.ndarray] = field(default_factory=dict)
    signal: str = "h"  # what `hidden` holds: "h", or one of the other signals
    layer: int = -1  # of which layer (-1: the top one)

    def looking_at(self, signal: str = "h", layer: int = -1) -> SnippetTrace:
        """The same trace with `hidden` set to another signal (T, H) of one layer, so ranking,
        histograms and heatmaps read an LSTM's cell state or a gate as they read h."""
        if signal not in self.signals:
            raise ValueError(f"This model has no {signal!r}; it has {', '.join(self.signals)}.")
        layers = self.signals[signal].shape[0]
        if not -layers <= layer < layers:
            raise ValueError(f"This model has {layers} layers; there is no layer {layer}.")
        return dataclasses.replace(
            self, hidden=self.signals[signal][layer], signal=signal, layer=layer
        )

    @property
    def value_range(self) -> tuple[float, float]:
        """The range `hidden`'s values live in: tanh's for h and the candidates, a sigmoid's for
        the gates, and for an LSTM's cell state, which is unbounded, its largest magnitude."""
        if self.signal in SIGMOID_GATES:
            return 0.0, 1.0
        if self.signal == "c":
            top = max(1.0, float(np.abs(self.hidden).max(initial=0.0)))
            return -top, top
        return -1.0, 1.0


def run_snippet(
    trainer_or_params: Trainer | dict[str, np.ndarray],
    vocab: Vocab | None,
    text: str,
    h0: np.ndarray | None = None,
) -> SnippetTrace:
    """Run the model over `text` from the state h0 ((S,), zeros if None; S = H for the classic
    RNN, see rnnlab.architecture).

    vocab may be None when a Trainer is given (its vocabulary is used). Raises ValueError when
    the text is empty or holds characters the vocabulary does not know.
    """
    if isinstance(trainer_or_params, Trainer):
        params = trainer_or_params.params
        vocab = vocab or trainer_or_params.vocab
    else:
        params = trainer_or_params
        if vocab is None:
            raise ValueError("Pass the vocabulary the parameters were trained with.")
    if not text:
        raise ValueError("The snippet is empty: type some text to run through the model.")
    unknown = sorted(set(text) - set(vocab.chars))
    if unknown:
        shown = ", ".join(repr(ch) for ch in unknown[:20]) + (", ..." if len(unknown) > 20 else "")
        raise ValueError(
            f"The snippet contains characters the model has never seen: {shown}. "
            "Remove them, or train on a text that contains them."
        )
    arch = Architecture.from_params(params)
    S = arch.state_size
    h0 = np.zeros(S) if h0 is None else np.asarray(h0, dtype=np.float64).reshape(-1)
    if h0.shape != (S,):
        raise ValueError(f"h0 must hold {S} values (the model's state); got {h0.size}.")
    ids = vocab.encode(text).astype(np.intp)
    result = model_trace(params, ids, h0)
    hidden = result.hidden[-1].astype(np.float64)
    probs = result.probs.astype(np.float64)
    signals = {"h": result.hidden.astype(np.float64)}
    if result.cells is not None:
        signals["c"] = result.cells.astype(np.float64)
    signals.update({name: acts.astype(np.float64) for name, acts in result.gates.items()})
    # Surprisal from the logits as a log-softmax (as the loss is computed), not log(probs):
    # a confidently wrong prediction then costs a large finite number instead of log(0).
    logits = hidden[:-1] @ params["Why"].T + params["by"][:, 0]
    top = logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
    surprisal = log_norm - logits[np.arange(len(ids) - 1), ids[1:]]
    return SnippetTrace(text, ids, hidden, probs, surprisal, signals)


class Prediction(NamedTuple):
    """What the model expected after reading `char` (position t of the snippet)."""

    char: str
    top: list[tuple[str, float]]  # the k most likely next characters, most likely first
    actual: str | None  # the character that came next, None after the last one
    actual_prob: float | None


def top_k_predictions(trace: SnippetTrace, vocab: Vocab, k: int = 5) -> list[Prediction]:
    """For every position t, the k most likely next characters and the one that really came.

    Ties are broken by vocabulary order; k larger than the vocabulary gives all of it.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    k = min(k, vocab.size)
    order = np.argsort(-trace.probs, axis=1, kind="stable")[:, :k]
    rows = []
    for t, char in enumerate(trace.text):
        top = [(vocab.chars[j], float(trace.probs[t, j])) for j in order[t]]
        if t + 1 < len(trace.text):
            actual, actual_prob = trace.text[t + 1], float(trace.probs[t, trace.ids[t + 1]])
        else:
            actual, actual_prob = None, None
        rows.append(Prediction(char, top, actual, actual_prob))
    return rows


# Quote characters: straight double quotes toggle; curly ones open and close.
_QUOTE_OPEN = {"“": "”", "‘": "’"}
_BRACKETS_OPEN, _BRACKETS_CLOSE = "([{", ")]}"
_VOWELS = frozenset("aeiou")

FEATURE_NAMES = (
    "inside quotes",
    "inside brackets",
    "position in line",
    "after a space",
    "uppercase",
    "vowel",
    "end of word",
)


def text_features(text: str) -> dict[str, np.ndarray]:
    """Simple per-character features of a text, each (T,) float in [0, 1].

    Every value describes the state after reading character t, so it lines up with
    `trace.hidden[t]`: an opening quote is already inside quotes, a closing one no longer is.

    inside quotes: between " ... ", “ ... ”, ‘ ... ’, or ' ... ' (a ' opens only before a letter
        and not after one, and closes only when no letter follows, so the apostrophes in
        "don't" are ignored); reset at a blank line so one unmatched quote cannot colour the
        rest of the text.
    inside brackets: inside (), [] or {} (any nesting depth).
    position in line: characters since the last newline, divided by the longest line.
    after a space: the previous character is a space, i.e. this one starts a word.
    uppercase, vowel (a e i o u, accents ignored), end of word (a letter or digit followed by
        something else or by the end of the snippet).
    """
    T = len(text)
    features = {name: np.zeros(T) for name in FEATURE_NAMES}
    quote_close: str | None = None  # the character that would end the current quote
    depth = column = 0
    for t, ch in enumerate(text):
        prev = text[t - 1] if t else ""
        nxt = text[t + 1] if t + 1 < T else ""
        if ch == "\n" and prev == "\n":
            quote_close = None
        elif quote_close is not None and ch == quote_close:
            if ch not in "'’" or not nxt.isalnum():
                quote_close = None
        elif quote_close is None:
            if ch == '"':
                quote_close = '"'
            elif ch in _QUOTE_OPEN:
                quote_close = _QUOTE_OPEN[ch]
            elif ch == "'" and not prev.isalnum() and nxt.isalpha():
                quote_close = "'"
        if ch in _BRACKETS_OPEN:
            depth += 1
        elif ch in _BRACKETS_CLOSE:
            depth = max(0, depth - 1)
        column = 0 if ch == "\n" else column + 1

        features["inside quotes"][t] = quote_close is not None
        features["inside brackets"][t] = depth > 0
        features["position in line"][t] = column
        features["after a space"][t] = prev == " "
        features["uppercase"][t] = ch.isupper()
        features["vowel"][t] = unicodedata.normalize("NFD", ch)[0].lower() in _VOWELS
        features["end of word"][t] = ch.isalnum() and not nxt.isalnum()
    longest = features["position in line"].max(initial=0.0)
    if longest > 0:
        features["position in line"] /= longest
    return features


class UnitScore(NamedTuple):
    unit: int
    feature: str  # the feature it follows best, or "variance"
    score: float  # Pearson correlation with that feature, or the activation variance


def correlations(hidden: np.ndarray, features: dict[str, np.ndarray]) -> np.ndarray:
    """Pearson correlation of every unit with every feature, (H, F) in feature order.

    hidden: (T, H); features: name -> (T,). A unit or feature that is constant over the T
    characters has no defined correlation; it gets 0.
    """
    if not features:
        raise ValueError("Give at least one feature to correlate the units with.")
    F = np.column_stack([np.asarray(values, dtype=np.float64) for values in features.values()])
    if F.shape[0] != hidden.shape[0]:
        raise ValueError(
            f"The features describe {F.shape[0]} characters but the trace has {hidden.shape[0]}; "
            "compute them from the same text (text_features(trace.text))."
        )
    varying_units, varying_features = _varies(hidden), _varies(F)
    A = hidden[:, varying_units] - hidden[:, varying_units].mean(axis=0)
    F = F[:, varying_features] - F[:, varying_features].mean(axis=0)
    corr = np.zeros((hidden.shape[1], len(features)))
    corr[np.ix_(varying_units, varying_features)] = (A.T @ F) / np.outer(
        np.linalg.norm(A, axis=0), np.linalg.norm(F, axis=0)
    )
    return np.clip(corr, -1.0, 1.0)


def _varies(columns: np.ndarray) -> np.ndarray:
    """Which columns of (T, N) are not constant, (N,) bool.

    Centring a constant column leaves a rounding residue of ~1e-17, whose "correlation" with
    anything would be noise, so near-constant columns count as constant.
    """
    spread = np.ptp(columns, axis=0)
    return spread > 1e-12 * (1.0 + np.abs(columns).max(axis=0))


def rank_units(
    trace: SnippetTrace, features: dict[str, np.ndarray], top: int = 10
) -> list[UnitScore]:
    """The `top` units that follow some feature most closely, by |Pearson correlation|.

    Each unit appears once, with the feature it correlates with most strongly (sign kept);
    units and features that are constant over the snippet score 0 and are left out.
    """
    if trace.hidden.shape[0] < 2 or not features:
        return []
    corr = correlations(trace.hidden, features)
    names = list(features)
    best = np.abs(corr).argmax(axis=1)
    strength = np.abs(corr[np.arange(corr.shape[0]), best])
    order = np.argsort(-strength, kind="stable")
    return [
        UnitScore(int(unit), names[best[unit]], float(corr[unit, best[unit]]))
        for unit in order[:top]
        if strength[unit] > 0
    ]


def rank_units_by_variance(trace: SnippetTrace, top: int = 10) -> list[UnitScore]:
    """The `top` units whose activation varies most over the snippet (the busiest units)."""
    variance = trace.hidden.var(axis=0)
    order = np.argsort(-variance, kind="stable")
    return [UnitScore(int(unit), "variance", float(variance[unit])) for unit in order[:top]]


@dataclass(frozen=True)
class DrawnText:
    """Sampled characters and the probability each was drawn with, (n,)."""

    label: str
    text: str
    probs: np.ndarray

    @property
    def surprisal(self) -> np.ndarray:
        """-log of each drawn character's probability, (n,), in nats."""
        return -np.log(self.probs)


def sample_side_by_side(
    trainer: Trainer,
    n: int = 200,
    prime: str | None = None,
    temperature: float = 1.0,
    seed: int | None = None,
) -> tuple[DrawnText, DrawnText]:
    """The same start sampled twice: at `temperature`, and greedily (always the likeliest).

    The probabilities are those of the distribution each character was drawn from, i.e. after
    the temperature for the first. Training state is not touched (see Trainer.sample_details).
    """
    sampled_ids, sampled_probs, _ = trainer.sample_details(n, prime, temperature, seed, False)
    greedy_ids, greedy_probs, _ = trainer.sample_details(n, prime, temperature, seed, True)
    return (
        DrawnText(f"temperature {temperature:g}", trainer.vocab.decode(sampled_ids), sampled_probs),
        DrawnText("greedy", trainer.vocab.decode(greedy_ids), greedy_probs),
    )


@dataclass(frozen=True)
class Histogram:
    """Counts (bins,) of values falling between consecutive edges (bins + 1,)."""

    counts: np.ndarray
    edges: np.ndarray

    @property
    def centers(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2


def weight_histograms(
    params: dict[str, np.ndarray], bins: int = 50, names: tuple[str, ...] | None = None
) -> dict[str, Histogram]:
    """Histogram of the entries of each parameter, name -> Histogram (bins over its own range);
    names: which (all of them, in order, if None)."""
    histograms = {}
    for name in names or tuple(params):
        counts, edges = np.histogram(params[name], bins=bins)
        histograms[name] = Histogram(counts, edges)
    return histograms


def hidden_histogram(trace: SnippetTrace, bins: int = 40) -> Histogram:
    """Histogram of all hidden activations of a trace, bins evenly over [-1, 1]."""
    counts, edges = np.histogram(trace.hidden, bins=bins, range=(-1.0, 1.0))
    return Histogram(counts, edges)


def saturation_share(trace: SnippetTrace, threshold: float = SATURATION_THRESHOLD) -> float:
    """Share of hidden activations with |h| > threshold: units stuck where tanh is flat."""
    return float(np.count_nonzero(np.abs(trace.hidden) > threshold) / trace.hidden.size)
