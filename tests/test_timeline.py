"""The bounded timeline (rnnlab/timeline.py): it keeps exactly the first and the latest entries a
full list would have, however many are added, and a mirror brought up to date with only the
changes is equal to it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.timeline import TIMELINE_FIRST, TIMELINE_LATEST, Timeline, TimelineEntry


def entry(k: int) -> TimelineEntry:
    return TimelineEntry(k, 1.0, f"sample {k}")


def shown(full: list[TimelineEntry]) -> tuple[TimelineEntry, ...]:
    """What a view shows of a full timeline: its first entries and its latest."""
    if len(full) <= TIMELINE_FIRST + TIMELINE_LATEST:
        return tuple(full)
    return (*full[:TIMELINE_FIRST], *full[-TIMELINE_LATEST:])


@given(st.integers(0, 400))
def test_it_keeps_the_first_and_the_latest_of_any_number_of_entries(n: int) -> None:
    timeline, full = Timeline(), []
    for k in range(n):
        timeline.append(entry(k))
        full.append(entry(k))
        assert timeline.entries == shown(full) and timeline.count == len(full)
    assert len(timeline) <= TIMELINE_FIRST + TIMELINE_LATEST
    copy = Timeline(timeline.entries, timeline.count)
    assert copy.entries == timeline.entries and copy.count == timeline.count


@settings(max_examples=400)
@given(
    st.lists(st.one_of(st.integers(1, 130), st.just(0), st.tuples(st.floats(0, 1))), max_size=40)
)
def test_a_mirror_sent_only_the_changes_stays_equal(steps: list) -> None:
    """Each step adds that many entries, or (0) brings the mirror up to date from its marks,
    or (a fraction) cuts the original back to that share of its iterations."""
    original, mirror, added = Timeline(), Timeline(), 0
    for step in steps:
        if isinstance(step, tuple):
            original.cut_after(int(step[0] * added) - 1)
            continue
        for _ in range(step):
            original.append(entry(added))
            added += 1
        if step == 0:
            n = original.start_for(mirror.count, mirror.cuts)
            mirror.extend(n, original.since(n), original.count, original.cuts)
            assert mirror.entries == original.entries and mirror.count == original.count
            assert mirror.since(0) == original.since(0)


@given(st.integers(0, 300), st.integers(0, 300))
def test_a_cut_keeps_the_entries_up_to_the_iteration_and_counts_them(n: int, cut: int) -> None:
    timeline = Timeline()
    for k in range(n):
        timeline.append(entry(k))
    before = timeline.entries
    timeline.cut_after(cut)
    assert timeline.entries == tuple(e for e in before if e.iteration <= cut)
    # The count stays past the last entry kept; a cut that dropped something is counted.
    last_kept = timeline.entries[-1].iteration if timeline.entries else -1
    assert last_kept + 1 <= timeline.count <= n
    assert timeline.cuts == (1 if cut < n - 1 else 0)
    timeline.append(entry(10_000))
    assert timeline.since(timeline.count - 1) == (entry(10_000),)


def test_changes_that_cannot_follow_are_refused_with_nothing_changed() -> None:
    timeline = Timeline(entry(k) for k in range(5))
    with pytest.raises(ValueError, match="cannot make"):
        timeline.extend(7, [entry(7)], 8)  # from past the five held
    with pytest.raises(ValueError, match="cannot make"):
        timeline.extend(2, [entry(2), entry(3)], 3)  # more entries than the count allows
    with pytest.raises(ValueError, match="cannot make"):
        timeline.extend(2, [entry(2)], 100)  # a gap among the first entries
    assert timeline.entries == tuple(entry(k) for k in range(5)) and timeline.count == 5
