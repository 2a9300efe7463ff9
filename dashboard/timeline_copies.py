"""The timeline as the views hold it: its first and latest samples, sent whole once and then only
what was added since, for as long as a holder's copy is still good."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from rnnlab.schedule import TimelineEntry

# The timeline's samples the views show: the first ones (every milestone up to 7,500) and the
# latest ones; a day of Play makes thousands.
TIMELINE_FIRST = 16
TIMELINE_LATEST = 40
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
        self, timeline: Sequence[TimelineEntry], mark: str, meters_ready: bool
    ) -> tuple[tuple[TimelineEntry, ...], bool, str]:
        """(entries, replaces, new mark): the entries added since `mark` if a holder of it can
        add them to its copy, else the whole shown timeline."""
        valid_for = f"{self._generation}.{int(meters_ready)}."
        now = f"{valid_for}{len(timeline)}"
        held = _entries_held(mark, valid_for)
        # More new entries than the view keeps at the end: the holder's first ones may be
        # short of TIMELINE_FIRST, so it gets the whole thinned timeline instead.
        if held is not None and 0 <= len(timeline) - held <= TIMELINE_LATEST:
            return tuple(timeline[held:]), False, now
        return thinned(timeline), True, now


def thinned(timeline: Sequence[TimelineEntry]) -> tuple[TimelineEntry, ...]:
    """The timeline entries the views show: the first TIMELINE_FIRST (noise turning into words)
    and the latest TIMELINE_LATEST, so that a snapshot costs the same however long the run."""
    if len(timeline) <= TIMELINE_FIRST + TIMELINE_LATEST:
        return tuple(timeline)
    return tuple(timeline[:TIMELINE_FIRST]) + tuple(timeline[-TIMELINE_LATEST:])


def _entries_held(mark: str, valid_for: str) -> int | None:
    """How many timeline entries the holder of `mark` has, if its copy is of the timeline that
    marks starting `valid_for` name; None if not (or the mark is not one of ours)."""
    held = mark.removeprefix(valid_for) if mark.startswith(valid_for) else ""
    return int(held) if held.isdigit() and len(held) <= 12 else None
