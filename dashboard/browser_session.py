"""One browser session's hold on its lab: the secret it is parked under when the session ends
(dashboard/parking.py), the live feed's token for it, and what happens when the session ends,
which Streamlit tells through a session-scoped resource. The page (app.py) decides which lab a
session holds; this module keeps the books of holding it."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass

import streamlit as st

from . import live_feed, parking
from .session import Lab


@dataclass
class SessionEnd:
    """What to do when the browser session ends: its key and its lab (the ones it holds now)."""

    key: str
    lab: Lab


@dataclass(frozen=True)
class Held:
    """How a session holds its lab: the secret it is parked under, and the live feed's token."""

    key: str
    token: str


def end_of_session(ended: SessionEnd) -> None:
    """Streamlit calls this when the browser session ends (the tab closed or reloaded, or its
    connection lost): the feed stops answering for it, its lab is parked for a reload to claim,
    and its play process stops, on a thread of its own, as Streamlit calls this on the server's
    event loop, which a pause (seconds, at worst) must not hold up."""
    live_feed.forget(ended.lab)
    parking.park(ended.key, ended.lab)
    threading.Thread(target=ended.lab.close, name="end-of-session", daemon=True).start()


@st.cache_resource(scope="session", on_release=end_of_session, show_spinner=False)
def _watched(_session: SessionEnd) -> SessionEnd:
    """The session as a session-scoped resource: Streamlit releases it when the session ends,
    which is how the app learns that nobody is looking any more (end_of_session). The first
    call's value is the one Streamlit keeps: hold() updates it."""
    return _session


def hold(lab: Lab) -> Held:
    """This session holds `lab` from now on, under a new secret, with a new feed token."""
    held = Held(parking.new_key(), live_feed.register(lab))
    parking.attach(held.key, lab)
    ending = _watched(SessionEnd(held.key, lab))
    ending.key, ending.lab = held.key, lab
    return held


def new_token(held: Held, lab: Lab) -> Held:
    """The same hold with a new feed token (a new Play's): the lab's old tokens stop answering."""
    live_feed.forget(lab)
    return dataclasses.replace(held, token=live_feed.register(lab))


def keep_watching(held: Held, lab: Lab) -> None:
    """Called on every run of the page, so that the session's end is heard whatever ran first."""
    _watched(SessionEnd(held.key, lab))


def let_go(held: Held, lab: Lab) -> None:
    """This session gives `lab` up for another it claimed: nothing to park, no feed for it, and
    nothing of it running (closed on a thread of its own, as end_of_session does)."""
    parking.detach(held.key)
    live_feed.forget(lab)
    threading.Thread(target=lab.close, name="let-go", daemon=True).start()
