"""The Generate tab: a longer piece from the model as it is now, with what it copied marked."""

from __future__ import annotations

import streamlit as st

from dashboard import url_settings
from dashboard.actions import on_generate
from dashboard.guide import meter_caption
from dashboard.limits import GENERATE_MAX_CHARS
from dashboard.page_model import PRIME_MAX_CHARS, TEMPERATURE_RANGE
from dashboard.safe_text import escape_markdown, marked_text_html
from dashboard.session import LiveSnapshot


def view(live: LiveSnapshot) -> None:
    """A longer piece from the model as it is now, with what it copied marked."""
    st.caption(
        f"Write with the model of iteration {live.state.iteration:,}. The longest stretch copied "
        "verbatim from the training text is marked."
    )
    c1, c2, c3 = st.columns([2, 2, 3])
    c1.slider("Characters", 100, GENERATE_MAX_CHARS, 1000, step=100, key="generate_length")
    c2.slider(
        "Temperature (0: greedy)",
        *TEMPERATURE_RANGE,
        live.sample_settings.temperature,
        step=url_settings.TEMPERATURE_STEP,
        key="generate_temperature",
    )
    c3.text_input(
        "Prime text",
        "",
        max_chars=PRIME_MAX_CHARS,
        key="generate_prime",
        help="The model reads this first and continues it.",
    )
    st.button("Write", on_click=on_generate, type="primary", key="generate")
    generated = st.session_state.get("generated")
    if generated is None:
        return
    text, reading = generated
    st.html(marked_text_html(text, None if reading is None or not reading.length else reading.span))
    st.caption(escape_markdown(meter_caption(reading)))
    st.download_button(
        "Download as .txt",
        text.encode("utf-8"),
        file_name="rnnlab-generated.txt",
        mime="text/plain",
        key="download_generated",
    )
