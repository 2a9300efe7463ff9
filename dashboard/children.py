"""The server's child processes (Play's and Compare cells'), started one way and never left
behind: when the server shuts down (`lifespan`, for st.App: on SIGTERM uvicorn shuts down, then
raises the signal again, so no atexit hook runs) or the interpreter exits, any child still
running is killed, a stopped one too, which would never read the end of its input."""

from __future__ import annotations

import atexit
import contextlib
import subprocess
import sys
import weakref
from collections.abc import AsyncIterator

_running: weakref.WeakSet[subprocess.Popen] = weakref.WeakSet()


def spawn(module: str, env: dict[str, str], *, stderr: bool = True) -> subprocess.Popen:
    """`python -m module` with pipes for its standard input and output (its standard error the
    server's, or discarded), in a session of its own: on POSIX a scheduling group of its own
    (Linux autogroups), so its training gets a fair share of the CPU against a browser's many
    threads."""
    process = subprocess.Popen(
        [sys.executable, "-m", module],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=None if stderr else subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    _running.add(process)
    return process


@contextlib.asynccontextmanager
async def lifespan(_app: object) -> AsyncIterator[None]:
    """The server's lifespan (st.App): its children go when it shuts down."""
    yield
    kill_survivors()


@atexit.register
def kill_survivors() -> None:
    """Kill every child still running, never waiting on one (the kernel ends a killed process,
    a stopped one too)."""
    for process in list(_running):
        if process.poll() is None:
            try:
                process.kill()
            except OSError:
                pass  # it ended meanwhile
