"""The training loop: data pointer, hidden state, Adagrad, smoothed loss and history.

With batch_size B the training text is cut into B equal segments and stream b reads segment b,
all streams sharing one pointer p into their segment. With B = 1 the segment is the whole text and
every step is the classic min-char-rnn's, to the last bit.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Any, BinaryIO

import numpy as np

from . import checkpoint, optimizer, records, transfer
from .architecture import Architecture
from .config import Config
from .gradcheck import gradcheck
from .health import HealthLog
from .history import History
from .model import (
    FlatParams,
    Workspace,
    clip_gradients,
    draw_masks,
    forward_backward,
    init_flat_params,
    trace,
)
from .records import LossRecord, rows_for, thin_table
from .sampling import run_prime, sample_ids
from .state import (
    BestModel,
    Event,
    Marks,
    ModelRestored,
    Origin,
    SettingChange,
    TrainerDelta,
    TrainerState,
    frozen,
)
from .text import Vocab

# Rollback snapshots (TrainerStates): one every SNAPSHOT_EVERY iterations, at most MAX_SNAPSHOTS
# kept. Each copies the parameters and Adagrad memory, cheap at that interval.
SNAPSHOT_EVERY = 25
MAX_SNAPSHOTS = 6


# What a state without its model holds in place of each parameter-sized array.
NO_MODEL = frozen(np.zeros(0))


class DivergenceError(ArithmeticError):
    """Training produced a non-finite loss or parameter; the trainer was rolled back."""


class Trainer:
    """A character-level recurrent network (the classic vanilla RNN by default; a GRU or an
    LSTM, up to three layers, per its Config) being trained on one text.

    trainer = Trainer(text, Config(hidden_size=100)); trainer.step(1000); trainer.sample(200)
    """

    # A chunk loss this many times what uniform guessing costs (T·ln V) means training has
    # diverged. The loss itself stays finite (log-softmax, bounded Adagrad steps), so without
    # this a too-large learning rate would only show as a curve shooting off; None disables it.
    divergence_factor: float | None = 10.0

    def __init__(
        self, text: str, config: Config | None = None, initial_params: np.ndarray | None = None
    ):
        """initial_params: (P,) the weights to start from (in the layout of state().params)
        instead of the seed's random draw; copied."""
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
        self._data = self.vocab.encode(text)
        self._build(config)
        if initial_params is None:
            self._params = init_flat_params(self.arch, np.random.default_rng(config.seed))
        else:
            self._params = FlatParams(self.arch, np.array(initial_params, dtype=self.arch.float))
        self._optimizer = optimizer.make(config.optimizer, self.arch.param_count, self.arch.float)
        # Sampling draws from its own generator, so it can never shift training's random stream;
        # dropout's masks from another, part of the state, so that a resume draws the same ones.
        self._sample_rng = np.random.default_rng([config.seed, 1])
        self._dropout_rng = np.random.default_rng([config.seed, 2])
        self.hidden = self._zero_state(config.batch_size)
        self.pointer = 0
        self.iteration = 0
        self.chars_seen = 0
        self.smooth_loss = -math.log(1.0 / self.vocab.size) * config.seq_length
        self._losses = LossRecord()
        self._validation = History(row_shape=(2,))
        self._rewrites = 0  # times the records were thinned or put back (Marks.rewrites)
        self.events: tuple[Event, ...] = ()
        self.origin: Origin | None = None  # the base model it started from (from_base)
        self._best: BestModel | None = None
        # Gradient norms, clip share and saturation every k-th iteration (0: never).
        self.health_every = 10
        self.health = HealthLog.of(self.arch)
        self._rollback_marks: list[Marks] = []  # the records' lengths after each rollback
        self._snapshots: list[TrainerState] = []
        self._take_snapshot()

    def _build(self, config: Config) -> None:
        """Split the text and allocate what training at `config` needs (not the parameters).

        Everything is allocated before anything is assigned, so a failure changes nothing.
        """
        train, val = self._split(config)
        arch = Architecture.of(config, self.vocab.size)
        grads = FlatParams(arch)
        workspace = Workspace(arch, config.seq_length, config.batch_size, config.dropout > 0)
        self.config, self.arch, self._train, self._val = config, arch, train, val
        self._grads, self._workspace = grads, workspace

    def _zero_state(self, streams: int | None = None) -> np.ndarray:
        """The state every stream starts from: (streams, S) zeros, or (S,) if streams is None."""
        shape = (self.arch.state_size,) if streams is None else (streams, self.arch.state_size)
        return np.zeros(shape, self.arch.float)

    def _split(self, config: Config) -> tuple[np.ndarray, np.ndarray]:
        """The training and held-out ids at `config`; ValueError if the text is too short."""
        train_size, val_size = config.split_sizes(len(self._data))
        train, val = self._data[:train_size], self._data[train_size:]
        _check_long_enough(len(train), config.seq_length, config.batch_size, val_size)
        return train, val

    # ---------------------------------------------------------------------------- the state
    def state(self, with_model: bool = True) -> TrainerState:
        """The whole state as one immutable value (see rnnlab.state).

        with_model=False leaves out what is parameter-sized: the parameters, optimizer memory and
        hidden state are empty, (0,), and so is the sampler's state. That is a state for drawing
        the records, which copies nothing big; it cannot be trained or sampled from.
        """
        return TrainerState(
            config=self.config,
            vocab=self.vocab.chars,
            params=frozen(self._params.flat) if with_model else NO_MODEL,
            optimizer_memory=frozen(self._optimizer.memory) if with_model else NO_MODEL,
            hidden=frozen(self.hidden) if with_model else NO_MODEL,
            pointer=self.pointer,
            iteration=self.iteration,
            chars_seen=self.chars_seen,
            smooth_loss=self.smooth_loss,
            losses=self._losses.losses,
            smooth_losses=self._losses.smooth_losses,
            validation=self._validation.values,
            events=self.events,
            health=self.health.rows,
            sample_rng=self._sample_rng.bit_generator.state if with_model else {},
            best=self._best,
            dropout_rng=self._dropout_rng.bit_generator.state if with_model else {},
            origin=self.origin,
            thinned_ends=self._losses.thinned,
        )

    @classmethod
    def from_state(cls, text: str, state: TrainerState) -> Trainer:
        """A trainer on `text` (the one the state was trained on) that goes on exactly from
        `state`; ValueError, saying what is wrong, when the state does not fit the text."""
        # The vocabulary first: a text too short for the state's config is most likely the wrong
        # text, and the mismatch says so.
        if isinstance(text, str) and text:
            chars = Vocab.from_text(text).chars
            if state.vocab != chars:
                raise ValueError(_vocabulary_mismatch(state.vocab, chars))
        trainer = cls(text, state.config)
        trainer.load_state(state)
        return trainer

    @classmethod
    def from_base(
        cls,
        text: str,
        base: TrainerState | str | os.PathLike | BinaryIO,
        *,
        base_name: str | None = None,
        **changes: Any,
    ) -> Trainer:
        """A new run on `text` that starts from a base model's weights, on any vocabulary.

        base: a TrainerState (trainer.state()), a bundled base's name (rnnlab.base_models()) or
        a checkpoint file. The network (cell, layers, hidden size, precision) and every weight
        come from the base; characters are matched one by one (rnnlab.transfer says how new ones
        start), and `trainer.origin` says what was carried over. It trains at the transfer's
        settings (rnnlab.presets.TRANSFER_SETTINGS), over which `changes` may set learning_rate,
        seq_length, batch_size, optimizer, dropout, val_fraction and seed (the base's seed unless
        changed); the optimizer's memory, the records and the hidden state start fresh.
        base_name: what to call the base in the origin (default: its name or file name).
        ValueError for a change that is not allowed or a base that cannot be read.
        """
        state, name = transfer.read_base(base)
        transfer.check_base(state)
        config = transfer.new_config(state.config, changes)
        if not isinstance(text, str) or not text:
            return cls(text, config)  # which says what is wrong with the text
        vocab = Vocab.from_text(text)
        counts = np.bincount(vocab.encode(text), minlength=vocab.size)
        params, origin = transfer.transferred_params(state, vocab.chars, counts, base_name or name)
        trainer = cls(text, config, initial_params=params)
        trainer.origin = origin
        return trainer

    def load_state(self, state: TrainerState) -> None:
        """Put `state` in place of this trainer's (same text); ValueError leaves all as it was."""
        if not isinstance(state, TrainerState):
            raise TypeError("load_state expects a TrainerState (from Trainer.state()).")
        if state.vocab != self.vocab.chars:
            raise ValueError(_vocabulary_mismatch(state.vocab, self.vocab.chars))
        train, _ = self._split(state.config)
        arch = Architecture.of(state.config, self.vocab.size)
        _check_state(state, len(train) // state.config.batch_size, arch)
        params = FlatParams(arch, np.array(state.params, dtype=arch.float))
        rule = optimizer.make(state.config.optimizer, arch.param_count, arch.float)
        rule.memory[...] = state.optimizer_memory
        sample_rng = np.random.default_rng()
        sample_rng.bit_generator.state = state.sample_rng
        dropout_rng = np.random.default_rng([state.config.seed, 2])
        if state.dropout_rng is not None:  # None in checkpoints made before dropout
            dropout_rng.bit_generator.state = state.dropout_rng
        kept = (
            LossRecord(state.losses, state.smooth_losses, state.thinned_ends),
            History(state.validation, row_shape=(2,)),
            HealthLog.of(arch, state.health),
        )
        self._build(state.config)
        self._params, self._optimizer, self._sample_rng = params, rule, sample_rng
        self._dropout_rng, self.origin = dropout_rng, state.origin
        self._losses, self._validation, self.health = kept
        self._rewrites = 0
        self._assign_progress(state)
        self.events = tuple(state.events)
        self._best = state.best
        self._rollback_marks = []
        self._snapshots = []
        self._take_snapshot()

    def _assign_progress(self, state: TrainerState) -> None:
        self.hidden = np.array(state.hidden, dtype=self.arch.float)
        self.pointer, self.iteration = int(state.pointer), int(state.iteration)
        self.chars_seen, self.smooth_loss = int(state.chars_seen), float(state.smooth_loss)

    def marks(self) -> Marks:
        """How far each record reaches now (to ask for a delta from later on)."""
        return Marks(
            len(self._losses),
            len(self._validation),
            len(self.health),
            len(self._rollback_marks),
            self._best.iteration if self._best else -1,
            self._rewrites,
        )

    def delta(self, since: Marks, with_model: bool = False) -> TrainerDelta:
        """What changed since `since` (marks of this trainer, or of a mirror of it); with_model
        adds the parameters and hidden state."""
        start = Marks(
            min(since.losses, len(self._losses)),
            min(since.validation, len(self._validation)),
            min(since.health, len(self.health)),
        )
        for rewound in self._rollback_marks[since.rollbacks :]:
            start = Marks(
                min(start.losses, rewound.losses),
                min(start.validation, rewound.validation),
                min(start.health, rewound.health),
            )
        rewritten = since.rewrites != self._rewrites
        if rewritten:  # the records were thinned or put back since: the mirror's are replaced
            start = Marks()
        start = Marks(start.losses, start.validation, start.health, len(self._rollback_marks))
        best_iteration = self._best.iteration if self._best else -1
        # Like the parameters, the best model comes only with the model (it is as big). A
        # rollback can bring back an older best: compared by iteration, not only counted.
        best_changed = with_model and (
            best_iteration != since.best_iteration or len(self._rollback_marks) > since.rollbacks
        )
        return TrainerDelta(
            since=start,
            config=self.config,
            events=self.events,
            pointer=self.pointer,
            iteration=self.iteration,
            chars_seen=self.chars_seen,
            smooth_loss=self.smooth_loss,
            new_losses=self._losses.losses[start.losses :],
            new_smooth_losses=self._losses.smooth_losses[start.losses :],
            new_validation=self._validation.values[start.validation :],
            new_health=self.health.rows[start.health :],
            params=frozen(self._params.flat) if with_model else None,
            hidden=frozen(self.hidden) if with_model else None,
            best_changed=best_changed,
            best=self._best if best_changed else None,
            rewrites=self._rewrites,
            thinned_ends=self._losses.thinned if rewritten else None,
        )

    def apply_delta(self, delta: TrainerDelta) -> None:
        """Bring this trainer, a mirror of the one that made `delta`, up to date with it.

        A mirror is for looking at: its records, counters and settings follow the original, and
        its parameters and best model whenever a delta carries them; its optimizer memory does
        not (load the original's whole state() to go on training from it). Its marks() are in the
        original's terms.
        """
        if delta.config.seq_length != self.config.seq_length:
            self._build(delta.config)
        self.config, self.events = delta.config, tuple(delta.events)
        self.pointer, self.iteration = delta.pointer, delta.iteration
        self.chars_seen, self.smooth_loss = delta.chars_seen, delta.smooth_loss
        if delta.thinned_ends is not None:  # rewritten: the records start afresh
            self._losses = LossRecord(delta.new_losses, delta.new_smooth_losses, delta.thinned_ends)
            self._validation = History(delta.new_validation, row_shape=(2,))
            self.health = HealthLog.of(self.arch, delta.new_health)
        else:
            self._losses.truncate(delta.since.losses)
            self._losses.extend(delta.new_losses, delta.new_smooth_losses)
            self._validation.truncate(delta.since.validation)
            self._validation.extend(delta.new_validation)
            self.health.truncate(delta.since.health)
            self.health.extend(delta.new_health)
        self._rewrites = delta.rewrites
        self._rollback_marks = self._rollback_marks[: delta.since.rollbacks]
        while len(self._rollback_marks) < delta.since.rollbacks:
            self._rollback_marks.append(delta.since)
        if delta.params is not None:
            self._params.flat[...] = delta.params
        if delta.hidden is not None:
            self.hidden = np.array(delta.hidden, dtype=self.arch.float)
        if delta.best_changed:
            self._best = delta.best
        self._remember_at_rest()

    def __reduce__(self):
        # Pickled as its text and state: never its work buffers, gradients or snapshots.
        return Trainer.from_state, (self.vocab.decode(self._data), self.state())

    # ----------------------------------------------------------------------------- properties
    @property
    def params(self) -> dict[str, np.ndarray]:
        """Live views of the parameters: writing into these arrays changes the model."""
        return self._params.as_dict()

    @property
    def adagrad_memory(self) -> dict[str, np.ndarray]:
        """Live views of the optimizer's (first) memory, keyed and shaped like params: Adagrad's
        sum of squared gradients, RMSprop's decaying mean of them, Adam's first moments."""
        return FlatParams(self.arch, self._optimizer.memory[: self.arch.param_count]).as_dict()

    @property
    def losses(self) -> np.ndarray:
        """Raw loss of every iteration, (r,): summed over the chunk, mean over streams; once a long
        run's records were thinned, of each block of iterations (loss_iterations says which)."""
        return self._losses.losses

    @property
    def smooth_losses(self) -> np.ndarray:
        """The smoothed loss after every iteration (each block's last, once thinned), (r,)."""
        return self._losses.smooth_losses

    @property
    def loss_iterations(self) -> np.ndarray:
        """(r,) the iteration (1-based) each row of losses and smooth_losses ends at."""
        return self._losses.iterations()

    @property
    def train_text(self) -> str:
        """The part of the text trained on (all of it but the held-out end)."""
        return self.vocab.decode(self._train)

    @property
    def held_out_text(self) -> str:
        """The held-out end of the text that validation reads ("" when none is held out)."""
        return self.vocab.decode(self._val)

    @property
    def validation_record(self) -> np.ndarray:
        """(m, 2) rows of (iteration, nats per character), read-only."""
        return self._validation.values

    @property
    def validation_history(self) -> list[tuple[int, float]]:
        """(iteration, nats per character) of every validation recorded."""
        return [(int(i), float(v)) for i, v in self._validation.values]

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
        return self.arch.param_count

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
            self._params.flat[...] = self._at_rest[0]
            self._optimizer.memory[...] = self._at_rest[1]
            raise DivergenceError(
                "The parameters held NaN or infinite values (they were changed outside training); "
                f"they were restored to iteration {self.iteration}."
            )
        T, B = self.config.seq_length, self.config.batch_size
        lr = self.config.learning_rate
        uniform_loss = math.log(self.vocab.size) * T
        loss = float("nan")
        for _ in range(n):
            if self.iteration - self._snapshots[-1].iteration >= SNAPSHOT_EVERY:
                self._take_snapshot()
            p, chunk, state_prev = self._next_chunk()
            loss = forward_backward(
                self._params.views,
                chunk[:-1],
                chunk[1:],
                state_prev,
                self._grads.views,
                self._workspace,
                self._draw_masks(self._dropout_rng),
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
                self._record_health()
            clip_gradients(self._grads.flat)
            self._optimizer.update(self._params.flat, self._grads.flat, lr, self.iteration + 1)
            self.hidden[...] = self._workspace.state_out
            self.pointer = p + T
            self.iteration += 1
            self.chars_seen += T * B
            self.smooth_loss = self.smooth_loss * 0.999 + loss * 0.001
            if self._losses.append(loss, self.smooth_loss):
                self._rewrites += 1
        if not np.isfinite(self._params.flat).all():
            self._roll_back("The parameters became NaN or infinite")
        self._remember_at_rest()
        return loss

    def _next_chunk(self) -> tuple[int, np.ndarray, np.ndarray]:
        """Where the next iteration reads (p), its ids (T + 1, B) and the state it starts from:
        the start of every segment and zeros when the streams wrap (or before the first)."""
        T, B = self.config.seq_length, self.config.batch_size
        wrapped = self.iteration == 0 or self.pointer + T + 1 >= self.segment_length
        p = 0 if wrapped else self.pointer
        # Ids are stored compactly (uint8); the kernel indexes with them, so widen the chunk.
        if B == 1:
            chunk = self._train[p : p + T + 1].astype(np.intp).reshape(T + 1, 1)
        else:
            rows = np.arange(B) * self.segment_length + p + np.arange(T + 1)[:, None]
            chunk = self._train[rows].astype(np.intp)
        return p, chunk, np.zeros_like(self.hidden) if wrapped else self.hidden

    def _draw_masks(self, rng: np.random.Generator) -> np.ndarray | None:
        """The next iteration's dropout masks (L, T, B, H), None without dropout."""
        if not self.config.dropout:
            return None
        return draw_masks(rng, self.config.dropout, self._workspace)

    def _record_health(self) -> None:
        layers = self._workspace.layers
        H = self.arch.hidden_size
        gates = {
            name: [lb.acts[:, :, k * H : (k + 1) * H] for lb in layers]
            for k, name in enumerate(self.arch.gate_names)
        }
        hidden = [lb.hs[1:] for lb in layers]
        if self.health.record(self.iteration + 1, self._grads.views, hidden, gates):
            self._rewrites += 1

    def gradcheck(self, samples_per_param: int | None = 20, step: float = 1e-5) -> dict[str, float]:
        """Worst relative error per parameter between the analytic gradients (unclipped) and
        central finite differences, on the chunk the next step() would train on.

        Values below 1e-6 (float64) mean the backward pass is right. Computed on a float64 copy
        of the model, with the dropout masks the next step would draw held fixed; the trainer is
        not changed. samples_per_param limits the entries checked in each array (all if None).
        """
        _, chunk, state = self._next_chunk()
        params = {name: np.array(v, dtype=np.float64) for name, v in self.params.items()}
        rng = np.random.default_rng()
        rng.bit_generator.state = self._dropout_rng.bit_generator.state
        masks = self._draw_masks(rng)
        return gradcheck(
            params,
            chunk[:-1],
            chunk[1:],
            np.array(state, dtype=np.float64).T,
            step=step,
            samples_per_param=samples_per_param,
            masks=None if masks is None else masks.astype(np.float64),
        )

    def set_learning_rate(self, learning_rate: float) -> None:
        """Change the step size from the next iteration on; nothing else changes."""
        self._take_snapshot()  # a divergence caused by the new rate rolls back to here
        self._change("learning_rate", learning_rate)

    def set_seq_length(self, seq_length: int) -> None:
        """Change the chunk length from the next iteration on; the hidden state is kept."""
        seq_length = self.config.replace(seq_length=seq_length).seq_length  # type and range first
        _check_long_enough(self.train_size, seq_length, self.config.batch_size, self.val_size)
        # Allocated before anything changes: if it fails, the trainer is as it was.
        workspace = Workspace(
            self.arch, seq_length, self.config.batch_size, self.config.dropout > 0
        )
        self._change("seq_length", seq_length)
        self._workspace = workspace

    def _change(self, name: str, value: float) -> None:
        old = getattr(self.config, name)
        new_config = self.config.replace(**{name: value})  # validates the range
        new = getattr(new_config, name)
        if new == old:
            return
        self.config = new_config
        last = self.events[-1] if self.events else None
        if (
            isinstance(last, SettingChange)
            and last.iteration == self.iteration
            and last.name == name
        ):
            # Several changes before the next iteration (a slider moved key by key) are one
            # change; undone completely, they are none.
            merged = (
                () if new == last.old else (SettingChange(last.iteration, name, last.old, new),)
            )
            self.events = self.events[:-1] + merged
            return
        self.events = self.events + (SettingChange(self.iteration, name, old, new),)

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
        """validation_loss(), also appended to validation_history as (iteration, nats/char).

        A new lowest value keeps a copy of the parameters as the run's best model.
        """
        value = self.validation_loss(max_chars)
        if value is not None:
            self._validation.append((self.iteration, value))
            if len(self._validation) >= records.MAX_TABLE_ROWS:
                self._validation = History(thin_table(self._validation.values), row_shape=(2,))
                self._rewrites += 1
            if self._best is None or value < self._best.validation:
                self._best = BestModel(self.iteration, value, frozen(self._params.flat))
        return value

    @property
    def best(self) -> BestModel | None:
        """The model at the lowest validation loss recorded so far (None before the first)."""
        return self._best

    def restore_best(self) -> None:
        """Bring back the parameters of the best validation point and go on from there.

        The iteration count, records and Adagrad memory go on (the memory is the history of
        steps taken, and keeps the steps small); the hidden state starts from zero, as it
        belonged to the other parameters. The chart marks it as an event.
        """
        if self._best is None:
            raise ValueError("There is no best model yet: it is kept at each validation point.")
        self._params.flat[...] = self._best.params
        self.hidden[...] = 0.0
        self.events = self.events + (ModelRestored(self.iteration, self._best.iteration),)
        self._take_snapshot()

    def mean_loss_on(self, ids: np.ndarray, chunk: int = 2048) -> float:
        """Mean -log p(next char) in nats over ids, read from a zero hidden state."""
        state = self._zero_state()
        total = 0.0
        for start in range(0, len(ids) - 1, chunk):
            inputs = ids[start : start + chunk]
            targets = ids[start + 1 : start + chunk + 1]
            inputs = inputs[: len(targets)]
            result = trace(self._params.views, inputs, state)
            probs = result.probs[np.arange(len(targets)), targets].astype(np.float64)
            total -= np.log(np.maximum(probs, 1e-300)).sum()
            state = result.state
        return float(total / (len(ids) - 1))

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
            h = run_prime(self._params.views, self._zero_state(), prime_ids)
            first = int(prime_ids[-1])
        else:
            h = self.hidden[0].copy() if self.iteration else self._zero_state()
            first = int(self._train[self.pointer if self.iteration else 0])
        rng = np.random.default_rng(seed) if seed is not None else self._sample_rng
        return sample_ids(self._params.views, h, first, n, rng, 0.0 if greedy else temperature)

    # ---------------------------------------------------------------------------- checkpoints
    def save(self, file: str | BinaryIO) -> None:
        """Write everything needed to resume bit-for-bit to a .npz file (path or binary file)."""
        checkpoint.save_state(self.state(), file, self.text_digest)

    @functools.cached_property
    def text_digest(self) -> str:
        """checkpoint.text_digest of the whole text (a trainer's text never changes)."""
        return checkpoint.text_digest(self.vocab.decode(self._data))

    @classmethod
    def load(cls, file: str | BinaryIO, text: str) -> Trainer:
        """A trainer resumed from a checkpoint made on the same text; ValueError if it won't fit."""
        state = checkpoint.load_state(file)
        if not isinstance(text, str) or not text:
            raise ValueError("Load a checkpoint together with the (non-empty) text it was made on.")
        return cls.from_state(text, state)

    # ------------------------------------------------------------------------------- rollback
    def _remember_at_rest(self) -> None:
        self._at_rest = (self._params.flat.copy(), self._optimizer.memory.copy())

    def _take_snapshot(self) -> None:
        self._remember_at_rest()
        if self._snapshots and self._snapshots[-1].iteration == self.iteration:
            self._snapshots.pop()
        self._snapshots.append(self.state())
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
        while len(self._snapshots) > 1 and self._snapshots[-1].iteration > latest_safe:
            self._snapshots.pop()
        s = self._snapshots[-1]
        self._params.flat[...] = s.params
        self._optimizer.memory[...] = s.optimizer_memory
        self._assign_progress(s)
        # The snapshot's records, as they were (thinned since, they are no prefix of these).
        self._losses = LossRecord(s.losses, s.smooth_losses, s.thinned_ends)
        self._validation = History(s.validation, row_shape=(2,))
        self.health = HealthLog.of(self.arch, s.health)
        self._rewrites += 1
        self._rollback_marks.append(
            Marks(len(self._losses), len(self._validation), len(self.health))
        )
        # Settings changed after the restored iteration stay in force, so their change now
        # takes effect from the restored iteration on; a model brought back after it is undone.
        self.events = tuple(
            SettingChange(min(e.iteration, self.iteration), e.name, e.old, e.new)
            if isinstance(e, SettingChange)
            else e
            for e in self.events
            if isinstance(e, SettingChange) or e.iteration <= self.iteration
        )
        self._best = s.best
        self._remember_at_rest()
        raise DivergenceError(
            f"{reason}. Training stopped and the model was rolled back to iteration "
            f"{self.iteration}. "
            f"Lower the learning rate (now {self.config.learning_rate:g}) and continue."
        )


def _fits(values: np.ndarray, arch: Architecture) -> bool:
    """Whether every value is finite in the model's precision (1e39 is not, in float32)."""
    with np.errstate(over="ignore"):
        return bool(np.isfinite(values.astype(arch.float)).all())


def check_text_fits(n_chars: int, config: Config) -> None:
    """ValueError, saying what to change, when a text of n_chars is too short for `config`."""
    train_size, val_size = config.split_sizes(n_chars)
    _check_long_enough(train_size, config.seq_length, config.batch_size, val_size)


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


def _vocabulary_mismatch(saved: str, here: str) -> str:
    missing = "".join(sorted(set(saved) - set(here)))
    extra = "".join(sorted(set(here) - set(saved)))
    details = "; ".join(
        part
        for part in (
            f"characters only in the checkpoint's text: {missing!r}" if missing else "",
            f"characters only in this text: {extra!r}" if extra else "",
        )
        if part
    )
    return (
        "This checkpoint was trained on a text with a different vocabulary "
        f"({len(saved)} characters vs {len(here)} here{'; ' + details if details else ''}). "
        "Load it together with the text it was trained on."
    )


def _check_state(state: TrainerState, segment_length: int, arch: Architecture) -> None:
    """ValueError naming the first part of `state` that cannot be this trainer's state."""
    c = state.config
    B, S = c.batch_size, arch.state_size
    P = arch.param_count
    n = state.iteration

    def array(name: str, shape: tuple[int | None, ...], model: bool = False) -> np.ndarray:
        """The state's `name`, checked; model=True: it is the model's, in its precision."""
        value = getattr(state, name)
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
            raise ValueError(f"The state's {name} must be a numeric array.")
        if len(value.shape) != len(shape) or any(
            want is not None and got != want for got, want in zip(value.shape, shape, strict=True)
        ):
            shown = tuple("n" if want is None else want for want in shape)
            raise ValueError(
                f"The state's {name} has shape {value.shape}, but its config needs {shown}; "
                "it is corrupt or was edited."
            )
        if not np.isfinite(value).all():
            raise ValueError(f"The state's {name} holds NaN or infinite values.")
        if model and not _fits(value, arch):
            raise ValueError(f"The state's {name} holds values too large for {arch.dtype}.")
        return value

    for name, low, high in (
        ("iteration", 0, 2**62),
        ("chars_seen", 0, 2**62),
        ("pointer", 0, segment_length - 1),
    ):
        value = getattr(state, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"The state's {name} must be a whole number.")
        if not low <= value <= high:
            raise ValueError(f"The state's {name} is {value}, outside {low}..{high}.")
    if not isinstance(state.smooth_loss, float):
        raise ValueError("The state's smooth_loss must be a number.")
    if not math.isfinite(state.smooth_loss):
        raise ValueError("The state's smooth_loss holds NaN or infinite values.")
    array("params", (P,), model=True)
    memory = array("optimizer_memory", (optimizer.slots(c.optimizer) * P,), model=True)
    # Squared gradients (Adagrad, RMSprop; Adam's second half) are never negative.
    if (memory[-P:] < 0).any():
        raise ValueError("The state's optimizer memory has negative values; it is corrupt.")
    hidden = array("hidden", (B, S), model=True)
    h_parts = [hidden[:, arch.h_slice(layer)] for layer in range(arch.layers)]
    if max(np.abs(h).max(initial=0.0) for h in h_parts) > 1.0:
        raise ValueError("The state's hidden state is outside tanh's range [-1, 1]; it is corrupt.")
    thinned = state.thinned_ends if state.thinned_ends is not None else np.zeros(0, np.int64)
    if (
        not isinstance(thinned, np.ndarray)
        or thinned.ndim != 1
        or thinned.dtype.kind not in "iu"
        or (len(thinned) and (thinned[0] < 1 or thinned[-1] > n or (np.diff(thinned) <= 0).any()))
    ):
        raise ValueError(
            f"The state's thinned loss rows must end at increasing iterations, none beyond {n}."
        )
    rows = rows_for(n, thinned)
    if rows > records.MAX_LOSS_ROWS:
        raise ValueError(
            f"The state's loss record would hold {rows:,} rows, more than the "
            f"{records.MAX_LOSS_ROWS:,} a record keeps; it is corrupt or was edited."
        )
    array("losses", (rows,))
    array("smooth_losses", (rows,))
    health_columns = HealthLog.columns(len(arch.param_names), len(arch.gate_names))
    for name, shape in (("validation", (None, 2)), ("health", (None, health_columns))):
        table = array(name, shape)
        if len(table) >= records.MAX_TABLE_ROWS:
            raise ValueError(
                f"The state's {name} record holds {len(table):,} rows; a run keeps fewer than "
                f"{records.MAX_TABLE_ROWS:,}."
            )
        iterations = table[:, 0]
        if (iterations < 0).any() or (iterations > n).any() or (np.diff(iterations) < 0).any():
            raise ValueError(
                f"The state's {name} record has iterations out of order or beyond {n}."
            )
    if not isinstance(state.events, tuple) or not all(
        isinstance(event, (SettingChange, ModelRestored)) for event in state.events
    ):
        raise ValueError("The state's events must be a tuple of SettingChanges and ModelRestoreds.")
    for event in state.events:
        if event.iteration > n:
            raise ValueError(
                f"The state's events hold a change at iteration {event.iteration}, after the "
                f"state's own iteration {n}."
            )
    best = state.best
    if best is not None:
        if not isinstance(best, BestModel):
            raise ValueError("The state's best model must be a BestModel or None.")
        if isinstance(best.iteration, bool) or not isinstance(best.iteration, (int, np.integer)):
            raise ValueError("The state's best model's iteration must be a whole number.")
        if not 0 <= best.iteration <= n:
            raise ValueError(
                f"The state's best model is from iteration {best.iteration}, beyond {n}."
            )
        if not isinstance(best.validation, float) or not math.isfinite(best.validation):
            raise ValueError("The state's best validation loss must be a finite number.")
        if (
            not isinstance(best.params, np.ndarray)
            or best.params.shape != (P,)
            or not np.isfinite(best.params).all()
            or not _fits(best.params, arch)
        ):
            raise ValueError(f"The state's best model must hold {P} finite parameters.")
    for name in ("sample_rng", "dropout_rng"):
        value = getattr(state, name)
        if value is None and name == "dropout_rng":
            continue
        try:
            np.random.default_rng().bit_generator.state = value
        except (TypeError, ValueError, KeyError, OverflowError) as error:
            raise ValueError(f"The state's random state ({name}) is malformed.") from error
    if state.origin is not None and not isinstance(state.origin, Origin):
        raise ValueError("The state's origin must be an Origin or None.")
