"""The Training tab: the loss chart and the latest sample, in the live panel."""

from __future__ import annotations

import streamlit as st

from dashboard import live_feed
from dashboard.figures import UNITS, X_AXES
from dashboard.live_panel import live_panel
from dashboard.page_model import PLAY_INTERVAL
from dashboard.page_state import base_url_path
from dashboard.session import LiveSnapshot


def view(live: LiveSnapshot) -> None:
    options = st.columns([3, 3, 2, 2])
    units = options[0].radio("Units", UNITS, horizontal=True, key="units")
    x_axis = options[1].radio("x axis", X_AXES, horizontal=True, key="x_axis")
    show_runs = options[2].toggle("Show earlier runs", value=True, key="show_runs")
    live_panel(
        live_feed.panel_content(live, units, x_axis, show_runs),
        feed_url=live_feed.feed_url(units, x_axis, show_runs, base_url_path()),
        feed_token=st.session_state.held.token,
        poll_seconds=PLAY_INTERVAL,
        key="live_panel",
    )
