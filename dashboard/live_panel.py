"""The Training view's live panel: stats, loss chart, latest sample and the timeline of samples,
drawn by one page of our own (live_panel/index.html) that updates in place, and that while playing
fetches its own updates from the app's server (dashboard/live_feed.py).

Why not st.plotly_chart: Streamlit builds a changed chart anew on every redraw, which while playing
costs the browser much of a core, on a machine whose other core trains; and no zoom or hover
outlasted the next redraw. This page keeps one chart and hands it each new
figure with Plotly.react, so the person's zoom survives the updates, and it redraws the sample and
the timeline only when they change. Untrusted text (samples, the prime) is set as text, never HTML.
"""

from __future__ import annotations

from pathlib import Path

import plotly
import streamlit.components.v1 as components

PANEL_FOLDER = Path(__file__).with_name("live_panel")
# plotly.js as installed with the plotly package, served by Streamlit from that folder: the page
# loads it from there, so the repository holds none of it and the versions always agree.
PLOTLY_FOLDER = Path(plotly.__file__).parent / "package_data"


def _declare() -> tuple:
    """The panel's component, and the one that serves plotly.js, declared in this run.

    Declared on every run, not once at import: a component is registered with the runtime only
    when declared during a run of the page, and `streamlit run app.py` imports this module
    before the runtime exists (to find app.py's server, st.App). Declaring costs microseconds.
    """
    panel = components.declare_component("live_panel", path=str(PANEL_FOLDER))
    plotly_js = components.declare_component("plotly_js", path=str(PLOTLY_FOLDER))
    return panel, f"../{plotly_js.name}/plotly.min.js"


def live_panel(
    content: dict,
    *,
    feed_url: str,
    feed_token: str,
    poll_seconds: float,
    key: str,
) -> None:
    """Draw (or update in place) the panel with `content` (dashboard.live_feed.panel_content). While
    content["playing"], the panel asks feed_url (sending feed_token in live_feed.TOKEN_HEADER)
    for new content every poll_seconds itself, and
    when the answer says playing has stopped (a divergence), it asks Streamlit for a rerun.
    """
    panel, plotly_js = _declare()
    panel(
        content=content,
        feed_url=feed_url,
        feed_token=feed_token,
        poll_seconds=poll_seconds,
        plotly_js=plotly_js,
        key=key,
        default=None,
    )
