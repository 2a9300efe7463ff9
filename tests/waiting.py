"""Waiting in a test is polling, with a deadline, for the state that proves what the test waits
for; never a fixed sleep. The deadlines are generous, for a slow machine whose cores other work
shares: a test that passes waits only as long as it must."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
DEADLINE = 60.0


def wait_until(
    condition: Callable[[], T],
    what: str = "the condition",
    timeout: float = DEADLINE,
    pause: Callable[[], object] = lambda: time.sleep(0.02),
) -> T:
    """Call `condition` until it returns something true, and return that; fail, saying `what` was
    awaited, after `timeout` seconds. `pause` runs between calls (a browser page's own wait, so
    that the page goes on meanwhile)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}"
        pause()
    return value
