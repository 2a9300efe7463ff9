"""A run's timeline of samples, bounded: the first ones (noise turning into words) and the latest
ones, however long the run trains.

Entries are numbered by when they were added (0, 1, 2, ...), and `count` says how many ever were:
a copy that holds the first n asks for `since(n)`, which are the kept entries numbered n or
later, and `extend` puts them in place, so that a mirror of a timeline stays equal to it
(`entries` and `count` alike) with only the changes sent. The entries in between the first and
the latest are dropped as new ones come; nothing a view shows is among them. A cut (the model
went back) counts in `cuts`: a copy made before it starts again from number 0 (`start_for`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# The first samples kept (every milestone up to 7,500) and the latest ones: a day of Play makes
# thousands, and the views show only these.
TIMELINE_FIRST = 16
TIMELINE_LATEST = 40


@dataclass(frozen=True)
class TimelineEntry:
    iteration: int
    smooth_loss: float  # nats per character, smoothed, at this iteration
    text: str  # a sample drawn at this iteration


class Timeline:
    """The first TIMELINE_FIRST entries ever added and the latest TIMELINE_LATEST of the rest,
    in order. `entries` and `count` are the whole of it (Timeline(entries, count) is a copy)."""

    def __init__(
        self, entries: Iterable[TimelineEntry] = (), count: int | None = None, cuts: int = 0
    ) -> None:
        self._first: list[TimelineEntry] = []
        self._latest: list[TimelineEntry] = []
        self._count = 0
        self._cuts = 0
        entries = list(entries)
        self.extend(0, entries, len(entries) if count is None else count, cuts)

    @property
    def entries(self) -> tuple[TimelineEntry, ...]:
        return (*self._first, *self._latest)

    @property
    def count(self) -> int:
        """How many entries were ever added (kept or not)."""
        return self._count

    @property
    def cuts(self) -> int:
        """How many times entries were cut off the end (cut_after)."""
        return self._cuts

    def start_for(self, count: int, cuts: int) -> int:
        """Where the changes for a copy with `count` entries made after `cuts` cuts start: at
        its count (at most this one's), or from number 0 if this one was cut since."""
        return min(max(0, count), self._count) if cuts == self._cuts else 0

    def __len__(self) -> int:
        return len(self._first) + len(self._latest)

    def append(self, entry: TimelineEntry) -> None:
        if self._count < TIMELINE_FIRST:
            self._first.append(entry)
        else:
            self._latest.append(entry)
            if len(self._latest) > TIMELINE_LATEST:
                del self._latest[0]
        self._count += 1

    def since(self, n: int) -> tuple[TimelineEntry, ...]:
        """The kept entries numbered n or later (numbers past the count: none)."""
        n = max(0, n)
        latest_from = self._count - len(self._latest)  # the number of the first latest entry
        return (*self._first[n:], *self._latest[max(0, n - latest_from) :])

    def truncate(self, n: int) -> None:
        """Keep the entries numbered below n only (the count becomes n if it was more)."""
        n = max(0, min(n, self._count))
        latest_from = self._count - len(self._latest)
        del self._first[n:]
        del self._latest[max(0, n - latest_from) :]
        self._count = n

    def extend(self, n: int, entries: Iterable[TimelineEntry], count: int, cuts: int = 0) -> None:
        """Put `entries`, another timeline's since(n) when it had `count` entries after `cuts`
        cuts, in place of this one's from number n on. ValueError if they cannot be that, with
        nothing changed."""
        entries = list(entries)
        firsts = max(0, min(TIMELINE_FIRST - n, len(entries)))  # those of its first entries
        gap = count - n - len(entries)  # entries it dropped between its first and its latest
        if not 0 <= n <= self._count or gap < 0 or (gap and n + firsts < TIMELINE_FIRST):
            raise ValueError(
                f"{len(entries)} timeline entries from number {n} cannot make {count} "
                f"after the {self._count} held."
            )
        self.truncate(n)
        for entry in entries[:firsts]:
            self.append(entry)
        if gap:  # the other one keeps none of the latest entries numbered below its new ones
            self._latest.clear()
        self._count += gap
        for entry in entries[firsts:]:
            self.append(entry)
        self._cuts = cuts

    def cut_after(self, iteration: int) -> None:
        """Drop the entries of iterations after `iteration` (the model went back to it)."""
        kept = sum(1 for entry in self.entries if entry.iteration <= iteration)
        if kept == len(self):
            return
        self._cuts += 1
        # Entries are in order of iteration: the kept ones are a prefix of entries.
        if kept < len(self._first):
            self.truncate(kept)
        else:
            dropped = len(self) - kept
            del self._latest[len(self._latest) - dropped :]
            self._count -= dropped
