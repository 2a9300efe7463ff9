"""Checkpoints: a trainer's whole state in one .npz file, read back with no pickle and no trust.

A checkpoint holds the config, vocabulary, parameters, Adagrad memory, data pointer, hidden state,
iteration, smoothed loss, loss history, events and the sampler's random state, so that training
200 iterations, saving, loading and training 100 more gives the same losses, bit for bit, as 300.

Reading never trusts the file: every array's name, dtype, shape and values are checked against
the config it claims and the text it is loaded for, members are size-checked before they are
decompressed, and every failure is a ValueError that says what is wrong.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from typing import BinaryIO

import numpy as np

from .config import Config
from .history import History
from .model import param_shapes
from .text import Vocab
from .trainer import Trainer

FORMAT = "rnnlab-checkpoint-1"
# No honest checkpoint is larger: the biggest model (H = 1024 with a large vocabulary) plus a
# long loss history stays far below this, and it stops zip bombs before they are inflated.
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
MAX_JSON_CHARS = 10_000_000


def save_checkpoint(trainer: Trainer, file: str | BinaryIO) -> None:
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "config": np.array(json.dumps(trainer.config.to_dict())),
        "vocab": np.array(trainer.vocab.chars),
        "pointer": np.array(trainer.pointer, dtype=np.int64),
        "iteration": np.array(trainer.iteration, dtype=np.int64),
        "chars_seen": np.array(trainer.chars_seen, dtype=np.int64),
        "smooth_loss": np.array(trainer.smooth_loss),
        "hidden": trainer.hidden,
        "losses": trainer.losses,
        "smooth_losses": trainer.smooth_losses,
        "validation_history": np.array(trainer.validation_history, dtype=np.float64).reshape(-1, 2),
        "events": np.array(json.dumps(trainer.events)),
        "sample_rng": np.array(json.dumps(trainer._sample_rng.bit_generator.state)),
    }
    memory = trainer.adagrad_memory
    for name, value in trainer.params.items():
        arrays[f"param_{name}"] = value
        arrays[f"memory_{name}"] = memory[name]
    if isinstance(file, (str, os.PathLike)):
        # Given a path, numpy would append ".npz" to it; write exactly where we were asked to.
        with open(file, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    else:
        np.savez_compressed(file, **arrays)


def load_checkpoint(file: str | BinaryIO, text: str) -> Trainer:
    """A Trainer on `text` with the checkpoint's state; ValueError for anything malformed."""
    try:
        raw = _read_bytes(file)
        arrays = _read_arrays(raw)
    except ValueError:
        raise
    except Exception as error:  # zipfile, OSError, EOFError...: all mean the same to a person
        raise ValueError(
            f"This is not a readable rnnlab checkpoint ({type(error).__name__}: {error})."
        ) from error
    return _build_trainer(arrays, text)


def _read_bytes(file: str | BinaryIO) -> bytes:
    if isinstance(file, (str, bytes)) or hasattr(file, "__fspath__"):
        with open(file, "rb") as handle:
            return handle.read()
    return file.read()


def _read_arrays(raw: bytes) -> dict[str, np.ndarray]:
    if not raw.startswith(b"PK"):
        raise ValueError("This is not an rnnlab checkpoint: it is not a .npz (zip) file.")
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        total = sum(info.file_size for info in archive.infolist())
        if total > MAX_UNCOMPRESSED_BYTES:
            raise ValueError("The checkpoint would unpack to more than 2 GB; refusing to read it.")
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _build_trainer(arrays: dict[str, np.ndarray], text: str) -> Trainer:
    if _string(arrays, "format") != FORMAT:
        raise ValueError(
            f"Unknown checkpoint format {_string(arrays, 'format')!r}; expected {FORMAT!r}."
        )
    config_values = _json(arrays, "config")
    if not isinstance(config_values, dict):
        raise ValueError("The checkpoint's config is not a set of named values.")
    try:
        config = Config.from_dict(config_values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"The checkpoint's config is invalid: {error}") from error

    chars = _string(arrays, "vocab")
    text_vocab = Vocab.from_text(text)
    if chars != text_vocab.chars:
        missing = "".join(sorted(set(chars) - set(text_vocab.chars)))
        extra = "".join(sorted(set(text_vocab.chars) - set(chars)))
        details = "; ".join(
            part
            for part in (
                f"characters only in the checkpoint's text: {missing!r}" if missing else "",
                f"characters only in this text: {extra!r}" if extra else "",
            )
            if part
        )
        raise ValueError(
            "This checkpoint was trained on a text with a different vocabulary "
            f"({len(chars)} characters vs {text_vocab.size} here; {details}). "
            "Load it together with the text it was trained on."
        )

    trainer = Trainer(text, config)  # validates that the text is long enough for this config
    H, V, B = config.hidden_size, text_vocab.size, config.batch_size
    for name, shape in param_shapes(H, V).items():
        trainer.params[name][...] = _finite_array(arrays, f"param_{name}", shape)
        trainer.adagrad_memory[name][...] = _finite_array(arrays, f"memory_{name}", shape)
    if (trainer._optimizer.memory < 0).any():
        raise ValueError("The checkpoint's Adagrad memory has negative values; it is corrupt.")

    iteration = _integer(arrays, "iteration", 0, 2**62)
    pointer = _integer(arrays, "pointer", 0, trainer.segment_length - 1)
    trainer.hidden[...] = _finite_array(arrays, "hidden", (B, H))
    if np.abs(trainer.hidden).max(initial=0.0) > 1.0:
        raise ValueError(
            "The checkpoint's hidden state is outside tanh's range [-1, 1]; it is corrupt."
        )
    losses = _finite_array(arrays, "losses", (iteration,))
    smooth_losses = _finite_array(arrays, "smooth_losses", (iteration,))
    validation = _finite_array(arrays, "validation_history", None)
    if validation.ndim != 2 or validation.shape[1] != 2:
        raise ValueError("The checkpoint's validation history must have shape (n, 2).")
    events = _json(arrays, "events")
    if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
        raise ValueError("The checkpoint's event list is malformed.")
    try:
        trainer._sample_rng.bit_generator.state = _json(arrays, "sample_rng")
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError("The checkpoint's random state is malformed.") from error

    trainer.iteration = iteration
    trainer.pointer = pointer
    trainer.chars_seen = _integer(arrays, "chars_seen", 0, 2**62)
    trainer.smooth_loss = float(_finite_array(arrays, "smooth_loss", ()))
    trainer._losses = History(losses)
    trainer._smooth_losses = History(smooth_losses)
    trainer.validation_history = [(int(i), float(v)) for i, v in validation]
    trainer.events = events
    trainer._snapshots = []
    trainer._take_snapshot()
    return trainer


def _get(arrays: dict[str, np.ndarray], name: str) -> np.ndarray:
    if name not in arrays:
        raise ValueError(
            f"The checkpoint is missing {name!r}; it is truncated or not an rnnlab checkpoint."
        )
    return arrays[name]


def _string(arrays: dict[str, np.ndarray], name: str) -> str:
    value = _get(arrays, name)
    if value.dtype.kind != "U" or value.shape != ():
        raise ValueError(f"The checkpoint's {name!r} must be a single string.")
    return str(value)


def _json(arrays: dict[str, np.ndarray], name: str):
    value = _string(arrays, name)
    if len(value) > MAX_JSON_CHARS:
        raise ValueError(f"The checkpoint's {name!r} is implausibly large.")
    try:
        return json.loads(value)
    except json.JSONDecodeError as error:
        raise ValueError(f"The checkpoint's {name!r} is not valid JSON.") from error


def _finite_array(
    arrays: dict[str, np.ndarray], name: str, shape: tuple[int, ...] | None
) -> np.ndarray:
    value = _get(arrays, name)
    if value.dtype.kind not in "fiu":
        raise ValueError(f"The checkpoint's {name!r} must be numeric, not {value.dtype}.")
    if shape is not None and value.shape != shape:
        raise ValueError(
            f"The checkpoint's {name!r} has shape {value.shape}, but its config needs {shape}; "
            "the file is corrupt or was edited."
        )
    value = value.astype(np.float64)
    if not np.isfinite(value).all():
        raise ValueError(f"The checkpoint's {name!r} holds NaN or infinite values.")
    return value


def _integer(arrays: dict[str, np.ndarray], name: str, low: int, high: int) -> int:
    value = _get(arrays, name)
    if value.dtype.kind not in "iu" or value.shape != ():
        raise ValueError(f"The checkpoint's {name!r} must be a single whole number.")
    if not low <= int(value) <= high:
        raise ValueError(f"The checkpoint's {name!r} is {int(value)}, outside {low}..{high}.")
    return int(value)
