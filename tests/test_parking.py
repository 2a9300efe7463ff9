"""Labs parked after their session ended: claimed back once with the session's key, kept for a
while and at most a few, and never handed to a session that does not hold the key."""

from __future__ import annotations

import collections
import threading
import time
import weakref

import pytest

from dashboard import parking
from dashboard.session import Lab
from rnnlab import Config
from rnnlab.corpora import builtin_corpus

SONGBOOK = builtin_corpus("Songbook (bundled lyrics)")


def a_lab() -> Lab:
    return Lab(SONGBOOK, Config(hidden_size=8, seq_length=8, seed=0), stop_at_best=False)


@pytest.fixture(autouse=True)
def empty_parking(monkeypatch):
    monkeypatch.setattr(parking, "_parked", collections.OrderedDict())
    monkeypatch.setattr(parking, "_attached", weakref.WeakValueDictionary())


def test_a_parked_lab_is_claimed_once_with_its_key_and_never_without() -> None:
    lab, key = a_lab(), parking.new_key()
    parking.attach(key, lab)
    parking.park(key, lab)
    assert parking.claim(None) is None and parking.claim("") is None
    assert parking.claim(parking.new_key()) is None
    assert parking.claim(key) is lab
    assert parking.claim(key) is None, "claimed once"


def test_a_lab_that_is_not_wanted_stays_parked() -> None:
    """A shared link opened in the same browser asks for its own settings: the parked lab is not
    taken, and a reload of its own address still gets it back."""
    lab, key = a_lab(), parking.new_key()
    parking.attach(key, lab)
    parking.park(key, lab)
    assert parking.claim(key, wanted=lambda parked: False) is None
    assert parking.claim(key, wanted=lambda parked: parked is lab) is lab


def test_keys_are_unguessable() -> None:
    keys = {parking.new_key() for _ in range(1000)}
    assert len(keys) == 1000 and all(len(key) >= 22 for key in keys)


def test_a_lab_is_kept_for_a_while_then_freed(monkeypatch) -> None:
    lab, key = a_lab(), parking.new_key()
    parking.park(key, lab)
    now = time.monotonic()
    monkeypatch.setattr(parking.time, "monotonic", lambda: now + parking.PARK_SECONDS + 1)
    assert parking.claim(key) is None
    assert parking.parked_count() == 0


def test_at_most_max_parked_labs_are_kept_oldest_first_out() -> None:
    keys = [parking.new_key() for _ in range(parking.MAX_PARKED + 2)]
    for key in keys:
        parking.park(key, a_lab())
    assert parking.parked_count() == parking.MAX_PARKED
    assert parking.claim(keys[0]) is None and parking.claim(keys[1]) is None
    assert parking.claim(keys[-1]) is not None


def test_a_reload_that_comes_before_the_old_session_is_parked_waits_for_it() -> None:
    lab, key = a_lab(), parking.new_key()
    parking.attach(key, lab)
    threading.Timer(0.3, parking.park, args=(key, lab)).start()
    assert parking.claim(key) is lab


def test_a_key_still_held_by_a_live_session_gives_nothing(monkeypatch) -> None:
    monkeypatch.setattr(parking, "CLAIM_WAIT_SECONDS", 0.2)
    lab, key = a_lab(), parking.new_key()
    parking.attach(key, lab)  # another tab of the same browser, still open
    assert parking.claim(key) is None
