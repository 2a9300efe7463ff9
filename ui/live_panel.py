"""The Training view's live panel: loss chart, latest sample and the timeline of samples, drawn by
one page of our own (live_panel/index.html) that updates in place.

Why not st.plotly_chart: Streamlit builds a changed chart anew on every redraw, which while playing
(2.5 redraws a second) cost the browser a third of a core, on a machine whose other core trains;
and no zoom or hover outlasted the next redraw. This page keeps one chart and hands it each new
figure with Plotly.react, so the person's zoom survives the updates, and it redraws the sample and
the timeline only when they change. Untrusted text (samples, the prime) is set as text, never HTML.
"""

from __future__ import annotations

from pathlib import Path

import plotly
import plotly.graph_objects as go
import streamlit.components.v1 as components

_live_panel = components.declare_component(
    "live_panel", path=str(Path(__file__).with_name("live_panel"))
)
# plotly.js as installed with the plotly package, served by Streamlit from that folder: the page
# loads it from there, so the repository holds none of it and the versions always agree.
_plotly_js = components.declare_component(
    "plotly_js", path=str(Path(plotly.__file__).parent / "package_data")
)
PLOTLY_JS = f"../{_plotly_js.name}/plotly.min.js"


def live_panel(
    figure: go.Figure,
    *,
    chart_state: str,
    sample: str,
    sample_caption: str,
    timeline: list[dict],
    key: str,
) -> None:
    """Draw (or update in place) the panel.

    chart_state: the chart keeps the person's zoom and hidden traces while this stays the same
    (a change of units or x axis starts the view afresh). timeline: rows of {"iteration",
    "smoothed loss", "sample"}, newest first.
    """
    figure.update_layout(uirevision=chart_state)
    _live_panel(
        figure=figure.to_json(),
        plotly_js=PLOTLY_JS,
        sample=sample,
        sample_caption=sample_caption,
        timeline=timeline,
        key=key,
        default=None,
    )
