"""The timeline as the views hold it: the run's samples kept (its first and latest, bounded in
the engine: rnnlab.timeline), sent whole once and then only what was added since, for as long as
a holder's copy is still good."""

from __future__ import annotations

import itertools

from rnnlab.schedule import Schedule, TimelineEntry
from rnnlab.timeline import TIMELINE_FIRST, TIMELINE_LATEST

__all__ = ["TIMELINE_FIRST", "TIMELINE_LATEST", "TimelineCopies"]
# Timeline generations, unique across the server's labs: a mark names one.
_generations = itertools.count(1)


class TimelineCopies:
    """Marks for copies of one session's timeline. A mark names the timeline's generation (a new
    one whenever it is replaced or cut back rather than added to), whether the copy meter had
    read its samples, and how many entries the copy had."""

    def __init__(self) -> None:
        self._generation = next(_generations)

    def replaced(self) -> None:
        """The timeline was replaced or cut back (not added to): copies of it are no good."""
        self._generation = next(_generations)

    def since(
        self, schedule: Schedule, mark: str, meters_ready: bool
    ) -> tuple[tuple[TimelineEntry, ...], bool, str]:
        """(entries, replaces, new mark): the entries of `schedule`'s timeline added since
        `mark` if a holder of it can add them to its copy, else the whole timeline."""
        valid_for = f"{self._generation}.{int(meters_ready)}."
        count = schedule.timeline_count
        now = f"{valid_for}{count}"
        held = _entries_held(mark, valid_for)
        # More new entries than the view keeps at the end: the holder's first ones may be
        # short of TIMELINE_FIRST, so it gets the whole timeline instead.
        if held is not None and 0 <= count - held <= TIMELINE_LATEST:
            return schedule.timeline_since(held), False, now
        return schedule.timeline, True, now


def _entries_held(mark: str, valid_for: str) -> int | None:
    """How many timeline entries the holder of `mark` has, if its copy is of the timeline that
    marks starting `valid_for` name; None if not (or the mark is not one of ours)."""
    held = mark.removeprefix(valid_for) if mark.startswith(valid_for) else ""
    return int(held) if held.isdigit() and len(held) <= 12 else None
