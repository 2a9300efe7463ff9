"""The views under the training buttons, one module per tab in their on-screen order: training
(the live panel), generate, inside (the network), compare (cells), files (model & runs). The
open one is drawn in a fragment that redraws itself while playing (live_view)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard.actions import failure_message
from dashboard.page_model import COMPARE_INTERVAL, LOG, PLAY_INTERVAL
from dashboard.page_state import CONTROLS_CHANGED, lab
from dashboard.views import compare, files, generate, inside, training

VIEWS = ("Training", "Generate", "Inside the network", "Compare cells", "Model & runs")
DRAWN = (training.view, generate.view, inside.view, compare.view, files.view)


def refresh_every(playing: bool, comparing: bool) -> float | None:
    """How often the open view redraws by itself: while playing, with a view open other than
    Training (whose panel asks the server for its own updates, dashboard/live_feed.py), and
    while Compare cells runs with its view open."""
    view = st.session_state.get("view", VIEWS[0])
    if comparing and view == VIEWS[3]:
        return COMPARE_INTERVAL
    return PLAY_INTERVAL if playing and view != VIEWS[0] else None


def live_view(drawn_playing: bool, run_every: float | None) -> None:
    """The open view: a fragment (see app.page) that, while playing with a view other than
    Training open, redraws itself every `run_every` seconds from a fresh snapshot.

    drawn_playing and run_every are what the last full run of the page drew and chose; when
    they no longer hold (training stopped by itself, or another view was opened), the whole page
    runs again, so that its buttons and this fragment's timing follow.
    """
    if st.session_state.get(CONTROLS_CHANGED) or lab().has_messages:
        # A button of this fragment changed what the rest of the page draws (the notices, the
        # Model controls): run the whole page now, so that it shows them before the browser
        # sends its old values of the controls back (which would undo the change).
        st.rerun(scope="app")
    inside_open = st.session_state.get("view", VIEWS[0]) == VIEWS[2]
    # Only Inside the network draws the model itself: the other views take none of its copies.
    live = lab().snapshot(with_model=inside_open, copy_model=inside_open)
    if live.playing != drawn_playing or refresh_every(live.playing, lab().comparing) != run_every:
        st.rerun(scope="app")
    # Only the open tab is drawn: the page stays light however many views there are.
    for tab, view in zip(st.tabs(VIEWS, key="view", on_change="rerun"), DRAWN, strict=True):
        if tab.open:
            with tab:
                drawn_safely(view, live)


def drawn_safely(view: Callable[..., None], *args) -> None:
    """Draw one view; if it fails, say so in its place and leave the rest of the page working."""
    try:
        view(*args)
    except Exception as error:  # noqa: BLE001 - no traceback may reach a visitor
        LOG.exception("drawing %s failed", f"{view.__module__}.{view.__name__}")
        st.error(failure_message(error))
