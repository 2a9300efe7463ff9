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

from . import optimizer, records
from .architecture import Architecture
from .config import Config
from .health import HealthLog
from .model import FlatParams
from .records import LossRecord, rows_for, thin_table
from .state import BestModel, Origin, TrainerState, event_from_dict, frozen

FORMAT = "rnnlab-checkpoint-2"
# Format 1 (before 2026-11-30) had no health log; it still loads, with an empty one.
READABLE_FORMATS = ("rnnlab-checkpoint-1", FORMAT)
# No honest checkpoint is larger: the biggest model (H = 1024 with a large vocabulary) plus a
# long loss history stays far below this, and it stops zip bombs before they are inflated.
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
MAX_JSON_CHARS = 10_000_000
# The most rows a record member may declare in its header. A run's records are bounded however
# long it trained (rnnlab.records: at most 100,000 loss rows); checkpoints made before
# 2026-12-04 kept one row per iteration, up to these, and are thinned as they are read.
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
    if state.thinned_ends is not None and len(state.thinned_ends):
        arrays["thinned_ends"] = np.asarray(state.thinned_ends, np.int64)
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
        if not raw.startswith(b"PK"):
            raise ValueError("This is not an rnnlab checkpoint: it is not a .npz (zip) file.")
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = _Members(archive)
            digest = None
            if "text_sha256" in members:
                digest = members.string("text_sha256")
                if not re.fullmatch(r"[0-9a-f]{64}", digest):
                    raise ValueError("The checkpoint's text digest is not a SHA-256 in hex.")
            return Checkpoint(_decode(members), digest)
    except ValueError:
        raise
    except RecursionError as error:
        raise ValueError("The checkpoint holds data nested too deeply to be real.") from error
    except Exception as error:  # zipfile, OSError, EOFError...: all mean the same to a person
        raise ValueError(
            f"This is not a readable rnnlab checkpoint ({type(error).__name__})."
        ) from error


def _read_bytes(file: str | os.PathLike | BinaryIO) -> bytes:
    if isinstance(file, (str, bytes)) or hasattr(file, "__fspath__"):
        with open(file, "rb") as handle:
            return handle.read()
    return file.read()


class _Members:
    """The arrays of a checkpoint's zip, read one at a time and only when asked for, each after
    its .npy header (shape and dtype) has been checked against what the caller expects: a
    member that declares more than its config needs is refused before it is inflated."""

    def __init__(self, archive: zipfile.ZipFile):
        infos = archive.infolist()
        if sum(info.file_size for info in infos) > MAX_UNCOMPRESSED_BYTES:
            raise ValueError("The checkpoint would unpack to more than 2 GB; refusing to read it.")
        self.archive = archive
        # Not arrays (no .npy) are left out, as np.load leaves them; a missing one is named.
        self.infos = {
            info.filename.removesuffix(".npy"): info
            for info in infos
            if info.filename.endswith(".npy")
        }

    def __contains__(self, name: str) -> bool:
        return name in self.infos

    def header(self, name: str) -> tuple[tuple[int, ...], np.dtype]:
        """The member's declared shape and dtype, read from its header alone."""
        if name not in self.infos:
            raise ValueError(
                f"The checkpoint is missing {name!r}; it is truncated or not an rnnlab checkpoint."
            )
        with self.archive.open(self.infos[name]) as member:
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
        return shape, dtype

    def numbers(self, name: str, shape: tuple[int | None, ...] | None = None) -> np.ndarray:
        """A numeric member as a read-only array (float32 and float64 as they are, anything else
        as float64), refused from its header if it is not numeric or not of `shape` (None
        entries: any length; the shape itself None: any shape)."""
        declared, dtype = self.header(name)
        if dtype.kind not in "fiu" or dtype.itemsize > 8:
            raise ValueError(f"The checkpoint's {name!r} must be numeric, not {dtype}.")
        rows = declared[0] if declared else 1
        if name in MAX_ROWS and rows > MAX_ROWS[name]:
            raise ValueError(
                f"The checkpoint's {name!r} holds {rows:,} rows, more than a run this dashboard "
                f"loads ({MAX_ITERATIONS:,} iterations at most); refusing to read it."
            )
        if shape is not None and (
            len(declared) != len(shape)
            or any(
                want is not None and got != want for got, want in zip(declared, shape, strict=True)
            )
        ):
            shown = tuple("n" if want is None else want for want in shape)
            raise ValueError(
                f"The checkpoint's {name!r} has shape {declared}, but its config needs {shown}; "
                "it is corrupt or was edited."
            )
        with self.archive.open(self.infos[name]) as member:
            value = np.lib.format.read_array(member, allow_pickle=False)
        if value.dtype not in (np.float32, np.float64):
            return frozen(value)
        value.flags.writeable = False
        return value

    def string(self, name: str) -> str:
        shape, dtype = self.header(name)
        if dtype.kind != "U" or shape != () or dtype.itemsize > 4 * MAX_JSON_CHARS:
            raise ValueError(f"The checkpoint's {name!r} must be a single string.")
        with self.archive.open(self.infos[name]) as member:
            return str(np.lib.format.read_array(member, allow_pickle=False))

    def json(self, name: str):
        value = self.string(name)
        if len(value) > MAX_JSON_CHARS:
            raise ValueError(f"The checkpoint's {name!r} is implausibly large.")
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"The checkpoint's {name!r} is not valid JSON.") from error
        except RecursionError as error:
            raise ValueError(f"The checkpoint's {name!r} is nested too deeply.") from error

    def real(self, name: str) -> float:
        value = self.numbers(name, ())
        return float(value)

    def integer(self, name: str) -> int:
        shape, dtype = self.header(name)
        if dtype.kind not in "iu" or shape != ():
            raise ValueError(f"The checkpoint's {name!r} must be a single whole number.")
        with self.archive.open(self.infos[name]) as member:
            return int(np.lib.format.read_array(member, allow_pickle=False))


def _decode(members: _Members) -> TrainerState:
    """The state, read in an order that knows each array's size before inflating it: the format,
    config and vocabulary first (small), then every array against the shape they imply."""
    version = members.string("format")
    if version not in READABLE_FORMATS:
        raise ValueError(f"Unknown checkpoint format {version!r}; expected {FORMAT!r}.")
    config_values = members.json("config")
    if not isinstance(config_values, dict):
        raise ValueError("The checkpoint's config is not a set of named values.")
    try:
        config = Config.from_dict(config_values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"The checkpoint's config is invalid: {error}") from error
    vocab = members.string("vocab")
    if not vocab:
        raise ValueError("The checkpoint's vocabulary is empty.")
    arch = Architecture.of(config, len(vocab))
    P = arch.param_count
    iteration = members.integer("iteration")
    if not 0 <= iteration <= 2**62:
        raise ValueError(f"The checkpoint claims {iteration:,} iterations, which cannot be.")
    thinned = _thinned_ends(members, iteration)
    if version == FORMAT:
        params = members.numbers("params", (P,))
        memory = members.numbers("optimizer_memory", (optimizer.slots(config.optimizer) * P,))
        validation = members.numbers("validation", (None, 2))
        health_width = HealthLog.columns(len(arch.param_names), len(arch.gate_names))
        health = members.numbers("health", (None, health_width))
    else:
        params, memory = _flat_from_version_1(members, arch)
        validation = members.numbers("validation_history")
        health = np.zeros((0, HealthLog.columns()))
    events = members.json("events")
    if not isinstance(events, list):
        raise ValueError("The checkpoint's events (setting changes) are not a list.")
    try:
        events = tuple(event_from_dict(event) for event in events)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"The checkpoint's events (setting changes) are malformed: {error}"
        ) from error
    return TrainerState(
        config=config,
        vocab=vocab,
        params=params,
        optimizer_memory=memory,
        hidden=members.numbers("hidden", (config.batch_size, arch.state_size)),
        pointer=members.integer("pointer"),
        iteration=iteration,
        chars_seen=members.integer("chars_seen"),
        smooth_loss=members.real("smooth_loss"),
        **_loss_rows(members, iteration, thinned),
        validation=_bounded(validation.reshape(-1, 2) if validation.size == 0 else validation),
        events=events,
        health=_bounded(health),
        sample_rng=_random_state(members, "sample_rng"),
        best=_best(members, P),
        # Both optional: checkpoints made before dropout and transfer (2026-12) have neither.
        dropout_rng=_random_state(members, "dropout_rng") if "dropout_rng" in members else None,
        origin=_origin(members) if "origin" in members else None,
    )


def _thinned_ends(members: _Members, iteration: int) -> np.ndarray:
    """The iterations the thinned loss rows end at (none in a checkpoint of a short run)."""
    if "thinned_ends" not in members:
        return np.zeros(0, np.int64)
    ends = members.numbers("thinned_ends", (None,))
    if len(ends) > records.MAX_LOSS_ROWS or (ends != np.round(ends)).any():
        raise ValueError("The checkpoint's thinned loss rows are malformed.")
    ends = ends.astype(np.int64)
    if len(ends) and (ends[0] < 1 or ends[-1] > iteration or (np.diff(ends) <= 0).any()):
        raise ValueError(
            f"The checkpoint's thinned loss rows must end at increasing iterations up to "
            f"{iteration:,}."
        )
    return ends


def _loss_rows(members: _Members, iteration: int, thinned: np.ndarray) -> dict:
    """losses, smooth_losses and thinned_ends for the state: checked against the rows the run
    holds, and thinned as a run of today would be when a checkpoint made before 2026-12-04 holds
    more (one row per iteration)."""
    rows = rows_for(iteration, thinned)
    record = LossRecord(
        members.numbers("losses", (rows,)),
        members.numbers("smooth_losses", (rows,)),
        thinned,
        limit=max(records.MAX_LOSS_ROWS, rows + 1),
    )
    while len(record) >= records.MAX_LOSS_ROWS:
        record.thin()
    return {
        "losses": record.losses,
        "smooth_losses": record.smooth_losses,
        "thinned_ends": record.thinned,
    }


def _bounded(table: np.ndarray) -> np.ndarray:
    """A validation or health table thinned to under records.MAX_TABLE_ROWS, as a run keeps it."""
    while len(table) >= records.MAX_TABLE_ROWS:
        table = thin_table(table)
    table = np.asarray(table)
    table.flags.writeable = False
    return table


def _random_state(members: _Members, name: str) -> dict:
    """A bit generator's state, refused unless NumPy takes it."""
    state = members.json(name)
    what = "dropout random state" if name == "dropout_rng" else "random state"
    try:
        if not isinstance(state, dict):
            raise TypeError
        np.random.default_rng().bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as error:
        raise ValueError(f"The checkpoint's {what} ({name}) is malformed.") from error
    return state


def _origin(members: _Members) -> Origin:
    try:
        return Origin.from_dict(members.json("origin"))
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"The checkpoint's origin (its base model) is malformed: {error}"
        ) from error


def _best(members: _Members, P: int) -> BestModel | None:
    """The best model, if the checkpoint keeps one (those made before 2026-11-30 do not)."""
    if "best" not in members:
        return None
    values = members.json("best")
    if not isinstance(values, dict) or set(values) != {"iteration", "validation"}:
        raise ValueError("The checkpoint's best model needs exactly an iteration and a validation.")
    iteration, validation = values["iteration"], values["validation"]
    if isinstance(iteration, bool) or not isinstance(iteration, int):
        raise ValueError("The checkpoint's best model's iteration must be a whole number.")
    if isinstance(validation, bool) or not isinstance(validation, (int, float)):
        raise ValueError("The checkpoint's best validation loss must be a number.")
    return BestModel(iteration, float(validation), members.numbers("best_params", (P,)))


def _flat_from_version_1(members: _Members, arch: Architecture) -> tuple[np.ndarray, np.ndarray]:
    """Format 1 stored each parameter (and its Adagrad memory) as its own (rows, columns) array."""
    flats = []
    for prefix in ("param", "memory"):
        flat = FlatParams(arch)
        for name, shape in flat.shapes.items():
            flat[name][...] = members.numbers(f"{prefix}_{name}", shape)
        flats.append(frozen(flat.flat))
    return flats[0], flats[1]
