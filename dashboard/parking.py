"""Labs kept for a while after their browser session ended, so that a reload gets its model back.

A reload (or a lost connection) ends the browser session and starts a new one. The session's lab
is parked under the session's secret key, which the browser tab holds in a cookie of its own
(dashboard/tabs.py; never in the address, which people share); a new session of that tab that
brings the key claims the lab back, once. A parked lab is kept for PARK_SECONDS, and at most
MAX_PARKED are kept (the oldest go first), so closed tabs free their memory.
"""

from __future__ import annotations

import secrets
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable

from .session import Lab

PARK_SECONDS = 15 * 60.0
MAX_PARKED = 4
# A reload may start the new session before the old one has been released (parked): how long
# the new one waits for that, when the key names a lab that is still attached.
CLAIM_WAIT_SECONDS = 3.0

_parked: OrderedDict[str, tuple[float, Lab]] = OrderedDict()  # key -> (parked at, lab)
# key -> lab of a live session (held weakly: the session holds it)
_attached: weakref.WeakValueDictionary[str, Lab] = weakref.WeakValueDictionary()
_lock = threading.Condition()


def new_key() -> str:
    """A secret for a new session: 128 random bits."""
    return secrets.token_urlsafe(16)


def attach(key: str, lab: Lab) -> None:
    """`lab` belongs to a live session holding `key`."""
    with _lock:
        _attached[key] = lab


def park(key: str, lab: Lab) -> None:
    """The session holding `key` has ended: keep its lab to be claimed back."""
    with _lock:
        if _attached.get(key) is lab:
            del _attached[key]
        _parked[key] = (time.monotonic(), lab)
        _parked.move_to_end(key)
        _expire()
        _lock.notify_all()


def claim(key: str | None, wanted: Callable[[Lab], bool] = lambda lab: True) -> Lab | None:
    """The lab parked under `key`, taken out of the parking (None when there is none, or when
    it is not `wanted`: it then stays parked). If the session that holds `key` is still attached
    (a reload's new session came first), wait a moment for it to be parked."""
    if not key:
        return None
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    with _lock:
        while key in _attached and key not in _parked:
            left = deadline - time.monotonic()
            if left <= 0:
                return None  # another live tab holds it: this session gets a lab of its own
            _lock.wait(left)
        _expire()
        parked = _parked.get(key)
        if parked is None or not wanted(parked[1]):
            return None
        del _parked[key]
    return parked[1]


def key_of(lab: Lab) -> str | None:
    """The secret of the live session that holds `lab`, if one does."""
    with _lock:
        return next((key for key, held in _attached.items() if held is lab), None)


def holds(key: str) -> bool:
    """Whether `key` names a live session's lab or a parked one."""
    with _lock:
        _expire()
        return key in _attached or key in _parked


def detach(key: str) -> None:
    """The session holding `key` gave its lab up (it claimed another): nothing to park."""
    with _lock:
        _attached.pop(key, None)


def parked_count() -> int:
    with _lock:
        _expire()
        return len(_parked)


def _expire() -> None:
    """Drop labs parked too long ago, and the oldest beyond MAX_PARKED (caller holds _lock)."""
    now = time.monotonic()
    for key in [k for k, (at, _) in _parked.items() if now - at > PARK_SECONDS]:
        del _parked[key]
    while len(_parked) > MAX_PARKED:
        _parked.popitem(last=False)
