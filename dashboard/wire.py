"""How the server talks with the processes it starts (Play's and Compare cells'): one wire.

Each message is a frozen dataclass, pickled and framed (an 8-byte length, then the pickle) over
the child's standard input and output: portable, no sockets or inherited descriptors. A child that
fails says so with `Failed(message)`; a reader thread per stream turns the stream's end into an
EOFError in its queue, so that nobody ever blocks reading a pipe while holding a lock.
"""

from __future__ import annotations

import os
import pickle
import queue
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class Failed:
    """The child failed: what to tell the page (one line, never a traceback)."""

    message: str


def write_message(stream: BinaryIO, message: object) -> int:
    """Write one message (8-byte length, then the pickle); returns the bytes written."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(8, "little") + data)
    stream.flush()
    return 8 + len(data)


def read_message(stream: BinaryIO) -> tuple[object, int]:
    """The next message and its size in bytes; EOFError when the stream has ended."""
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError("the stream ended")
    size = int.from_bytes(header, "little")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the stream ended inside a message")
    return pickle.loads(data), 8 + size


def read_into(stream: BinaryIO, inbox: queue.Queue) -> None:
    """Put (message, size) into `inbox` until the stream ends; then an EOFError. The stream is
    this thread's: it closes it when it ends (closing it from another thread while this one
    reads would wait for the child to write)."""
    try:
        while True:
            inbox.put(read_message(stream))
    except (EOFError, OSError, ValueError, pickle.UnpicklingError) as error:
        inbox.put((EOFError(str(error)), 0))
    finally:
        close_quietly(stream)


def messages(stream: BinaryIO) -> Iterator[object]:
    """The stream's messages as they come, until it ends or stops making sense (a child killed
    mid-message); the stream is closed then."""
    try:
        while True:
            yield read_message(stream)[0]
    except Exception:  # noqa: BLE001 - whatever a dying child left: the stream has ended
        return
    finally:
        close_quietly(stream)


def close_quietly(stream: BinaryIO) -> None:
    try:
        stream.close()
    except (OSError, ValueError):
        pass


def child_environment() -> dict[str, str]:
    """The parent's environment, with this copy of the project first on the child's path (for
    the play process and Compare cells' process alike)."""
    env = dict(os.environ)
    project = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [project, env.get("PYTHONPATH")]))
    return env
