"""The live child processes of a process, read from /proc (Linux), for tests that check that
Play starts one process and leaves none behind."""

from __future__ import annotations

from pathlib import Path


def children(parent: int, module: str) -> set[int]:
    """The live children of `parent` started as `python -m <module>`."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (name)"
            command = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue  # it ended meanwhile
        # (An ended child not yet reaped has no command line.)
        if int(fields[1]) == parent and module.encode() in command:
            pids.add(int(stat.parent.name))
    return pids
