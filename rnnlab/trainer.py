"""The training loop: data pointer, hidden state, Adagrad, smoothed loss and history.

With batch_size B the training text is cut into B equal segments and stream b reads segment b,
all streams sharing one pointer p into their segment. With B = 1 the segment is the whole text and
every step is the classic min-char-rnn's, to the last bit.
"""

from __future__ import annotations

import math
from typing import BinaryIO

import numpy as np

from .config import Config
from .health import HealthLog
from .history import History
from .model import FlatParams, Workspace, clip_gradients, forward, forward_backward
from .optimizer import Adagrad
from .sampling import run_prime, sample_ids
from .text import Vocab

# Rollback snapshots: one every SNAPSHOT_EVERY iterations (a copy of parameters and Adagrad
# memory, cheap at that interval), at most MAX_SNAPSHOTS kept.
SNAPSHOT_EVERY = 25
MAX_SNAPSHOTS = 6


class DivergenceError(ArithmeticError):
    """Training produced a non-finite loss or parameter; the trainer was rolled back."""


class Trainer:
    """A character-level vanilla RNN being trained on one text.

    trainer = Trainer(text, Config(hidden_size=100)); trainer.step(1000); trainer.sample(200)
    """

    # A chunk loss this many times what uniform guessing costs (T·ln V) means training has
    # diverged. The loss itself stays finite (log-softmax, bounded Adagrad steps), so without
    # this a too-large learning rate would only show as a curve shooting off; None disables it.
    divergence_factor: float | None = 10.0

    def __init__(self, text: str, config: Config | None = None):
        config = config or Config()
        if not isinstance(text, str):
            raise TypeError(
                "Trainer expects the text as a str; decode bytes with rnnlab.load_text."
            )
        if not text:
            raise ValueError("The text is empty: there is nothing to learn from.")
        if config.seed is None:
            config = config.replace(seed=int(np.random.SeedSequence().entropy % 2**32))
        self.vocab = Vocab.from_text(text)
        data = self.vocab.encode(text)
        val_size = int(len(data) * config.val_fraction)
        if val_size < 2:  # a held-out part needs at least one input and one target
            val_size = 0
        self._train = data[: len(data) - val_size]
        self._val = data[len(data) - val_size :]
        _check_long_enough(len(self._train), config.seq_length, config.batch_size, val_size)
        self.config = config

        H, V, B = config.hidden_size, self.vocab.size, config.batch_size
        self._params = FlatParams(H, V)
        init_rng = np.random.default_rng(config.seed)
        for name in ("Wxh", "Whh", "Why"):
            self._params[name][...] = init_rng.standard_normal(self._params.shapes[name]) * 0.01
        self._grads = FlatParams(H, V)
        self._optimizer = Adagrad(self._params.flat.size)
        self._workspace = Workspace(config.seq_length, B, H, V)
        # Sampling draws from its own generator, so it can never shift training's random stream.
        self._sample_rng = np.random.default_rng([config.seed, 1])

        self.hidden = np.zeros((B, H))
        self.pointer = 0
        self.iteration = 0
        self.chars_seen = 0
        self.smooth_loss = -math.log(1.0 / V) * config.seq_length
        self._losses = History()
        self._smooth_losses = History()
        self.events: list[dict] = []
        self.validation_history: list[tuple[int, float]] = []
        # Gradient norms, clip share and saturation every k-th iteration (0: never); not saved
        # in checkpoints, so a loaded trainer starts a fresh log.
        self.health_every = 10
        self.health = HealthLog()
        self._snapshots: list[dict] = []
        self._take_snapshot()

    # ----------------------------------------------------------------------------- properties
    @property
    def params(self) -> dict[str, np.ndarray]:
        """Live views of the parameters: writing into these arrays changes the model."""
        return self._params.as_dict()

    @property
    def adagrad_memory(self) -> dict[str, np.ndarray]:
        """Live views of Adagrad's sum of squared gradients, keyed and shaped like params."""
        return FlatParams(
            self.config.hidden_size, self.vocab.size, self._optimizer.memory
        ).as_dict()

    @property
    def losses(self) -> np.ndarray:
        """Raw loss of every iteration, (iteration,): summed over the chunk, mean over streams."""
        return self._losses.values

    @property
    def smooth_losses(self) -> np.ndarray:
        """The smoothed loss after every iteration, (iteration,)."""
        return self._smooth_losses.values

    @property
    def train_size(self) -> int:
        return len(self._train)

    @property
    def val_size(self) -> int:
        return len(self._val)

    @property
    def epochs(self) -> float:
        return self.chars_seen / self.train_size

    @property
    def param_count(self) -> int:
        return self._params.flat.size

    @property
    def segment_length(self) -> int:
        """Characters of training text each stream reads before wrapping."""
        return self.train_size // self.config.batch_size

    # ------------------------------------------------------------------------------- training
    def step(self, n: int = 1) -> float:
        """Run n training iterations; returns the last raw loss.

        Raises DivergenceError when a loss or parameter stops being finite, or a chunk's loss
        exceeds divergence_factor times what uniform guessing costs. The failing iteration is
        never applied, and the parameters, optimizer memory, hidden state and history are rolled
        back to a snapshot taken before the updates that caused it (see _roll_back).
        """
        if n < 0:
            raise ValueError("The number of steps cannot be negative.")
        if not np.isfinite(self._params.flat).all():
            # Changed from outside since the last step() ended, when they were finite: nothing
            # else was touched, so put back exactly that state.
            self._params.flat[...] = self._at_rest["params"]
            self._optimizer.memory[...] = self._at_rest["memory"]
            raise DivergenceError(
                "The parameters held NaN or infinite values (they were changed outside training); "
                f"they were restored to iteration {self.iteration}."
            )
        T, B = self.config.seq_length, self.config.batch_size
        segment, lr = self.segment_length, self.config.learning_rate
        uniform_loss = math.log(self.vocab.size) * T
        offsets = np.arange(B) * segment
        loss = float("nan")
        for _ in range(n):
            if self.iteration - self._snapshots[-1]["iteration"] >= SNAPSHOT_EVERY:
                self._take_snapshot()
            wrapped = self.iteration == 0 or self.pointer + T + 1 >= segment
            p = 0 if wrapped else self.pointer
            # Ids are stored compactly (uint8); the kernel indexes with them, so widen the chunk.
            if B == 1:
                chunk = self._train[p : p + T + 1].astype(np.intp).reshape(T + 1, 1)
            else:
                chunk = self._train[offsets + p + np.arange(T + 1)[:, None]].astype(
                    np.intp
                )  # (T + 1, B)
            h_prev = np.zeros_like(self.hidden) if wrapped else self.hidden
            loss = forward_backward(
                self._params.views,
                chunk[:-1],
                chunk[1:],
                h_prev,
                self._grads.views,
                self._workspace,
            )
            if not math.isfinite(loss) or (
                self.divergence_factor and loss > self.divergence_factor * uniform_loss
            ):
                self._roll_back(
                    f"The loss became {loss:,.4g} at iteration {self.iteration + 1}"
                    + (
                        ""
                        if not math.isfinite(loss)
                        else f", over {self.divergence_factor:g}× the {uniform_loss:.4g} "
                        "that uniform guessing costs"
                    )
                    + ": training has diverged"
                )
            if self.health_every and self.iteration % self.health_every == 0:
                self.health.record(self.iteration + 1, self._grads.views, self._workspace.hs[1:])
            clip_gradients(self._grads.flat)
            self._optimizer.update(self._params.flat, self._grads.flat, lr)
            self.hidden[...] = self._workspace.hs[-1]
            self.pointer = p + T
            self.iteration += 1
            self.chars_seen += T * B
            self.smooth_loss = self.smooth_loss * 0.999 + loss * 0.001
            self._losses.append(loss)
            self._smooth_losses.append(self.smooth_loss)
        if not np.isfinite(self._params.flat).all():
            self._roll_back("The parameters became NaN or infinite")
        self._remember_at_rest()
        return loss

    def set_learning_rate(self, learning_rate: float) -> None:
        """Change the step size from the next iteration on; nothing else changes."""
        self._take_snapshot()  # a divergence caused by the new rate rolls back to here
        self._change("learning_rate", learning_rate)

    def set_seq_length(self, seq_length: int) -> None:
        """Change the chunk length from the next iteration on; the hidden state is kept."""
        seq_length = self.config.replace(seq_length=seq_length).seq_length  # type and range first
        _check_long_enough(self.train_size, seq_length, self.config.batch_size, self.val_size)
        self._change("seq_length", seq_length)
        self._workspace = Workspace(
            seq_length, self.config.batch_size, self.config.hidden_size, self.vocab.size
        )

    def _change(self, name: str, value: float) -> None:
        old = getattr(self.config, name)
        new_config = self.config.replace(**{name: value})  # validates the range
        new = getattr(new_config, name)
        if new == old:
            return
        self.config = new_config
        last = self.events[-1] if self.events else None
        if last and last["iteration"] == self.iteration and last["name"] == name:
            # Several changes before the next iteration (a slider moved key by key) are one
            # change; undone completely, they are none.
            if new == last["old"]:
                self.events.pop()
            else:
                last["new"] = new
            return
        self.events.append({"iteration": self.iteration, "name": name, "old": old, "new": new})

    # ----------------------------------------------------------------------------- evaluation
    def validation_loss(self, max_chars: int | None = None) -> float | None:
        """Mean loss in nats per character on the held-out text (None when there is none).

        The model reads the held-out text from a zero hidden state, carrying its state along;
        max_chars limits how much of it is read. Bits per character = nats / ln 2.
        """
        if self.val_size == 0:
            return None
        data = self._val if max_chars is None else self._val[: max(2, max_chars + 1)]
        return self.mean_loss_on(data)

    def record_validation(self, max_chars: int | None = None) -> float | None:
        """validation_loss(), also appended to validation_history as (iteration, nats/char)."""
        value = self.validation_loss(max_chars)
        if value is not None:
            self.validation_history.append((self.iteration, value))
        return value

    def mean_loss_on(self, ids: np.ndarray, chunk: int = 2048) -> float:
        """Mean -log p(next char) in nats over ids, read from a zero hidden state."""
        h = np.zeros(self.config.hidden_size)
        total = 0.0
        for start in range(0, len(ids) - 1, chunk):
            inputs = ids[start : start + chunk]
            targets = ids[start + 1 : start + chunk + 1]
            inputs = inputs[: len(targets)]
            hs, probs = forward(self._params.views, inputs, h)
            total -= np.log(np.maximum(probs[np.arange(len(targets)), targets], 1e-300)).sum()
            h = hs[-1]
        return total / (len(ids) - 1)

    # ------------------------------------------------------------------------------- sampling
    def sample(
        self,
        n: int = 200,
        prime: str | None = None,
        temperature: float = 1.0,
        seed: int | None = None,
        greedy: bool = False,
    ) -> str:
        """n characters generated by the model (the continuation only, without the prime).

        Without a prime, sampling starts where training is: from the hidden state of the first
        stream and the character at the data pointer, as the classic does. With a prime, the
        model reads the prime from a zero state first. temperature 0 or greedy=True always picks
        the most likely character. Training state and its random stream are never touched.
        """
        text, _ = self.sample_with_probs(n, prime, temperature, seed, greedy)
        return text

    def sample_with_probs(
        self,
        n: int = 200,
        prime: str | None = None,
        temperature: float = 1.0,
        seed: int | None = None,
        greedy: bool = False,
    ) -> tuple[str, np.ndarray]:
        """Like sample(), also returning the probability (n,) each character was drawn with."""
        ids, probs, _ = self.sample_details(n, prime, temperature, seed, greedy)
        return self.vocab.decode(ids), probs

    def sample_details(
        self,
        n: int = 200,
        prime: str | None = None,
        temperature: float = 1.0,
        seed: int | None = None,
        greedy: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ids (n,), drawn probabilities (n,) and full distributions (n, V) of a sample."""
        if prime:
            prime_ids = self.vocab.encode(prime)
            h = run_prime(self._params.views, np.zeros(self.config.hidden_size), prime_ids)
            first = int(prime_ids[-1])
        else:
            h = self.hidden[0].copy() if self.iteration else np.zeros(self.config.hidden_size)
            first = int(self._train[self.pointer if self.iteration else 0])
        rng = np.random.default_rng(seed) if seed is not None else self._sample_rng
        return sample_ids(self._params.views, h, first, n, rng, 0.0 if greedy else temperature)

    # ---------------------------------------------------------------------------- checkpoints
    def save(self, file: str | BinaryIO) -> None:
        """Write everything needed to resume bit-for-bit to a .npz file (path or binary file)."""
        from .checkpoint import save_checkpoint

        save_checkpoint(self, file)

    @classmethod
    def load(cls, file: str | BinaryIO, text: str) -> Trainer:
        """A trainer resumed from a checkpoint made on the same text; ValueError if it won't fit."""
        from .checkpoint import load_checkpoint

        return load_checkpoint(file, text)

    # ------------------------------------------------------------------------------- rollback
    def _remember_at_rest(self) -> None:
        self._at_rest = {
            "params": self._params.flat.copy(),
            "memory": self._optimizer.memory.copy(),
        }

    def _take_snapshot(self) -> None:
        self._remember_at_rest()
        if self._snapshots and self._snapshots[-1]["iteration"] == self.iteration:
            self._snapshots.pop()
        self._snapshots.append(
            {
                "params": self._params.flat.copy(),
                "memory": self._optimizer.memory.copy(),
                "hidden": self.hidden.copy(),
                "pointer": self.pointer,
                "iteration": self.iteration,
                "chars_seen": self.chars_seen,
                "smooth_loss": self.smooth_loss,
            }
        )
        if len(self._snapshots) > MAX_SNAPSHOTS:
            del self._snapshots[1]  # the oldest is kept as the last resort

    def _roll_back(self, reason: str) -> None:
        """Restore a state from before the divergence began, then raise DivergenceError.

        A too-large step damages the parameters in its update, but the damage shows only in the
        next iteration's loss, so the state just before the failing iteration is already bad.
        Restore the newest snapshot taken at least one update before it (a snapshot is also
        taken whenever the learning rate changes); newer ones are dropped, so a repeated
        divergence walks further back, down to the oldest snapshot.
        """
        latest_safe = self.iteration - 1
        while len(self._snapshots) > 1 and self._snapshots[-1]["iteration"] > latest_safe:
            self._snapshots.pop()
        s = self._snapshots[-1]
        self._params.flat[...] = s["params"]
        self._optimizer.memory[...] = s["memory"]
        self.hidden[...] = s["hidden"]
        self.pointer, self.iteration = s["pointer"], s["iteration"]
        self.chars_seen, self.smooth_loss = s["chars_seen"], s["smooth_loss"]
        self._losses.truncate(self.iteration)
        self._smooth_losses.truncate(self.iteration)
        self.health.truncate(self.iteration)
        self.validation_history = [
            (i, v) for i, v in self.validation_history if i <= self.iteration
        ]
        # Settings changed after the restored iteration stay in force, so their change now
        # takes effect from the restored iteration on.
        for event in self.events:
            event["iteration"] = min(event["iteration"], self.iteration)
        self._remember_at_rest()
        raise DivergenceError(
            f"{reason}. Training stopped and the model was rolled back to iteration "
            f"{self.iteration}. "
            f"Lower the learning rate (now {self.config.learning_rate:g}) and continue."
        )


def _check_long_enough(train_size: int, seq_length: int, batch_size: int, val_size: int) -> None:
    """Each stream must hold one full chunk: T inputs plus the target after the last of them."""
    needed = batch_size * (seq_length + 1)
    if train_size < needed:
        where = f" (after holding out {val_size} for validation)" if val_size else ""
        streams = f" and a batch of {batch_size} streams" if batch_size > 1 else ""
        raise ValueError(
            f"The text is {train_size} characters long{where}; it needs at least {needed} for a "
            f"sequence length of {seq_length}{streams}. Lower the sequence length"
            f"{' or the batch size' if batch_size > 1 else ''}, or use a longer text."
        )
