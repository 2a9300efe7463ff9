"""Checkpoints: a TrainerState in one .npz file, read back with no pickle and no trust.

`save_state` encodes the value, `load_state` decodes and checks it; `Trainer.save` and
`Trainer.load` are these two around `Trainer.state()` and `Trainer.from_state`. So training 200
iterations, saving, loading and training 100 more gives the same losses, bit for bit, as 300,
and the health log, validation points and setting changes come back as they were.

Reading never trusts the file: members are size-checked before they are decompressed, every
array's name, dtype and shape is checked here, and the state's consistency (shapes against its
config, ranges, order of records) by the Trainer it is loaded into. Every failure is a
ValueError that says what is wrong.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from .architecture import Architecture
from .config import Config
from .health import HealthLog
from .model import FlatParams
from .state import BestModel, Origin, TrainerState, event_from_dict, frozen

FORMAT = "rnnlab-checkpoint-2"
# Format 1 (before 2026-11-30) had no health log; it still loads, with an empty one.
READABLE_FORMATS = ("rnnlab-checkpoint-1", FORMAT)
# No honest checkpoint is larger: the biggest model (H = 1024 with a large vocabulary) plus a
# long loss history stays far below this, and it stops zip bombs before they are inflated.
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
MAX_JSON_CHARS = 10_000_000
# The longest run a checkpoint may hold, read from the members' headers before any is read: its
# records alone are 16 bytes an iteration, and drawing them costs a few times that. (A crafted
# file of 351 kB claimed 20 million iterations.)
MAX_ITERATIONS = 10_000_000
MAX_VALIDATION_POINTS = 100_000
# Health is recorded every 10 iterations at most often (trainer.health_every).
MAX_HEALTH_ROWS = MAX_ITERATIONS // 10 + 1
# Rows a record member may have, by name; any other member is bounded by MAX_UNCOMPRESSED_BYTES.
MAX_ROWS = {
    "losses": MAX_ITERATIONS,
    "smooth_losses": MAX_ITERATIONS,
    "validation": MAX_VALIDATION_POINTS,
    "validation_history": MAX_VALIDATION_POINTS,
    "health": MAX_HEALTH_ROWS,
}


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint file holds: the state, and the digest of the text it was trained on
    (None in checkpoints made before 2026-11-30)."""

    state: TrainerState
    text_digest: str | None


def text_digest(text: str) -> str:
    """The SHA-256 of a text's UTF-8 bytes, in hex: tells texts with the same characters apart."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def save_state(
    state: TrainerState, file: str | os.PathLike | BinaryIO, text_digest: str | None = None
) -> None:
    """Write `state` as a .npz checkpoint to a path or a binary file, with the digest of the text
    it was trained on (text_digest(text)) when given."""
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "config": np.array(json.dumps(state.config.to_dict())),
        "vocab": np.array(state.vocab),
        "params": state.params,
        "optimizer_memory": state.optimizer_memory,
        "hidden": state.hidden,
        "pointer": np.array(state.pointer, dtype=np.int64),
        "iteration": np.array(state.iteration, dtype=np.int64),
        "chars_seen": np.array(state.chars_seen, dtype=np.int64),
        "smooth_loss": np.array(state.smooth_loss),
        "losses": state.losses,
        "smooth_losses": state.smooth_losses,
        "validation": state.validation,
        "events": np.array(json.dumps([event.to_dict() for event in state.events])),
        "health": state.health,
        "sample_rng": np.array(json.dumps(state.sample_rng)),
    }
    if state.dropout_rng:
        arrays["dropout_rng"] = np.array(json.dumps(state.dropout_rng))
    if state.origin is not None:
        arrays["origin"] = np.array(json.dumps(state.origin.to_dict()))
    if text_digest is not None:
        arrays["text_sha256"] = np.array(text_digest)
    if state.best is not None:
        best = {"iteration": state.best.iteration, "validation": state.best.validation}
        arrays["best"] = np.array(json.dumps(best))
        arrays["best_params"] = state.best.params
    if isinstance(file, (str, os.PathLike)):
        # Given a path, numpy would append ".npz" to it; write exactly where we were asked to.
        with open(file, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    else:
        np.savez_compressed(file, **arrays)


def load_state(file: str | os.PathLike | BinaryIO) -> TrainerState:
    """The TrainerState in a checkpoint; ValueError for anything malformed."""
    return read(file).state


def read(file: str | os.PathLike | BinaryIO) -> Checkpoint:
    """The state and text digest in a checkpoint; ValueError for anything malformed."""
    try:
        raw = _read_bytes(file)
        arrays = _read_arrays(raw)
    except ValueError:
        raise
    except Exception as error:  # zipfile, OSError, EOFError...: all mean the same to a person
        raise ValueError(
            f"This is not a readable rnnlab checkpoint ({type(error).__name__})."
        ) from error
    digest = None
    if "text_sha256" in arrays:
        digest = _string(arrays, "text_sha256")
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError("The checkpoint's text digest is not a SHA-256 in hex.")
    return Checkpoint(_decode(arrays), digest)


def _read_bytes(file: str | os.PathLike | BinaryIO) -> bytes:
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
        for info in archive.infolist():
            _check_member_header(archive, info)
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _check_member_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Refuse a member whose .npy header declares an object array or more rows than a run of
    MAX_ITERATIONS would have, before its data is read."""
    if not info.filename.endswith(".npy"):
        return  # not an array: np.load leaves it out, and a missing member is named later
    name = info.filename.removesuffix(".npy")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read_header(member)
    if dtype.hasobject:
        raise ValueError(
            f"The checkpoint's {name!r} holds Python objects (a pickle); refusing to read it."
        )
    rows = shape[0] if shape else 1
    if name in MAX_ROWS and rows > MAX_ROWS[name]:
        raise ValueError(
            f"The checkpoint's {name!r} holds {rows:,} rows, more than a run this dashboard "
            f"loads ({MAX_ITERATIONS:,} iterations at most); refusing to read it."
        )


def _decode(arrays: dict[str, np.ndarray]) -> TrainerState:
    version = _string(arrays, "format")
    if version not in READABLE_FORMATS:
        raise ValueError(f"Unknown checkpoint format {version!r}; expected {FORMAT!r}.")
    config_values = _json(arrays, "config")
    if not isinstance(config_values, dict):
        raise ValueError("The checkpoint's config is not a set of named values.")
    try:
        config = Config.from_dict(config_values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"The checkpoint's config is invalid: {error}") from error
    if version == FORMAT:
        params, memory = _numbers(arrays, "params"), _numbers(arrays, "optimizer_memory")
        validation, health = _numbers(arrays, "validation"), _numbers(arrays, "health")
    else:
        params, memory = _flat_from_version_1(arrays, config)
        validation, health = (
            _numbers(arrays, "validation_history"),
            np.zeros((0, HealthLog.columns())),
        )
    events = _json(arrays, "events")
    if not isinstance(events, list):
        raise ValueError("The checkpoint's events (setting changes) are not a list.")
    try:
        events = tuple(event_from_dict(event) for event in events)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"The checkpoint's events (setting changes) are malformed: {error}"
        ) from error
    sample_rng = _json(arrays, "sample_rng")
    if not isinstance(sample_rng, dict):
        raise ValueError("The checkpoint's random state is malformed.")
    # Both optional: checkpoints made before dropout and transfer (2026-12) have neither.
    dropout_rng = _json(arrays, "dropout_rng") if "dropout_rng" in arrays else None
    if dropout_rng is not None and not isinstance(dropout_rng, dict):
        raise ValueError("The checkpoint's dropout random state is malformed.")
    origin = None
    if "origin" in arrays:
        try:
            origin = Origin.from_dict(_json(arrays, "origin"))
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"The checkpoint's origin (its base model) is malformed: {error}"
            ) from error
    iteration = _integer(arrays, "iteration")
    if not 0 <= iteration <= MAX_ITERATIONS:
        raise ValueError(
            f"The checkpoint claims {iteration:,} iterations; this dashboard loads runs of up to "
            f"{MAX_ITERATIONS:,}."
        )
    return TrainerState(
        config=config,
        vocab=_string(arrays, "vocab"),
        params=params,
        optimizer_memory=memory,
        hidden=_numbers(arrays, "hidden"),
        pointer=_integer(arrays, "pointer"),
        iteration=iteration,
        chars_seen=_integer(arrays, "chars_seen"),
        smooth_loss=_real(arrays, "smooth_loss"),
        losses=_numbers(arrays, "losses"),
        smooth_losses=_numbers(arrays, "smooth_losses"),
        validation=validation.reshape(-1, 2) if validation.size == 0 else validation,
        events=events,
        health=health,
        sample_rng=sample_rng,
        best=_best(arrays),
        dropout_rng=dropout_rng,
        origin=origin,
    )


def _best(arrays: dict[str, np.ndarray]) -> BestModel | None:
    """The best model, if the checkpoint keeps one (those made before 2026-11-30 do not)."""
    if "best" not in arrays:
        return None
    values = _json(arrays, "best")
    if not isinstance(values, dict) or set(values) != {"iteration", "validation"}:
        raise ValueError("The checkpoint's best model needs exactly an iteration and a validation.")
    iteration, validation = values["iteration"], values["validation"]
    if isinstance(iteration, bool) or not isinstance(iteration, int):
        raise ValueError("The checkpoint's best model's iteration must be a whole number.")
    if isinstance(validation, bool) or not isinstance(validation, (int, float)):
        raise ValueError("The checkpoint's best validation loss must be a number.")
    return BestModel(iteration, float(validation), _numbers(arrays, "best_params"))


def _flat_from_version_1(
    arrays: dict[str, np.ndarray], config: Config
) -> tuple[np.ndarray, np.ndarray]:
    """Format 1 stored each parameter (and its Adagrad memory) as its own (rows, columns) array."""
    vocab_size = len(_string(arrays, "vocab"))
    flats = []
    for prefix in ("param", "memory"):
        flat = FlatParams(Architecture.of(config, vocab_size))
        for name, shape in flat.shapes.items():
            value = _numbers(arrays, f"{prefix}_{name}")
            if value.shape != shape:
                raise ValueError(
                    f"The checkpoint's {prefix}_{name!r} has shape {value.shape}, but its config "
                    f"needs {shape}; the file is corrupt or was edited."
                )
            flat[name][...] = value
        flats.append(frozen(flat.flat))
    return flats[0], flats[1]


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


def _numbers(arrays: dict[str, np.ndarray], name: str) -> np.ndarray:
    """A numeric member as a read-only float64 array (its shape is checked by the trainer)."""
    value = _get(arrays, name)
    if value.dtype.kind not in "fiu":
        raise ValueError(f"The checkpoint's {name!r} must be numeric, not {value.dtype}.")
    return frozen(value)


def _real(arrays: dict[str, np.ndarray], name: str) -> float:
    value = _numbers(arrays, name)
    if value.shape != ():
        raise ValueError(f"The checkpoint's {name!r} must be a single number.")
    return float(value)


def _integer(arrays: dict[str, np.ndarray], name: str) -> int:
    value = _get(arrays, name)
    if value.dtype.kind not in "iu" or value.shape != ():
        raise ValueError(f"The checkpoint's {name!r} must be a single whole number.")
    return int(value)
