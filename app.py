"""rnnlab: watch a character-level RNN learn. Run with `streamlit run app.py`.

The page, in the order it draws: the sidebar (dashboard/sidebar.py), the title and which start
the run took, the notices, the pending changes and the text (dashboard/panels.py), the training
buttons, and the views in their tabs (dashboard/views/). The widgets' callbacks are
dashboard/actions.py; the session's one Lab and what the controls ask for,
dashboard/page_state.py. No numerics here and no locks: every Lab method takes the session's lock
itself. Untrusted text (uploads, samples, file names) is shown only through plain-text elements
(st.code, st.text, dataframes, the live panel's text nodes) or escaped first.
"""

from __future__ import annotations

import os

# One BLAS thread, set before NumPy is first imported (Streamlit itself does not import it): the
# model's matrices are small, and a second thread's spinning competes with the server and the
# browser on a small machine (docs/benchmarks.md). The player process inherits this.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import streamlit as st

from dashboard import children, live_feed, tabs
from dashboard.page_model import start_note
from dashboard.page_state import CONTROLS_CHANGED, base_url_path, keep_settings_in_address, lab
from dashboard.panels import controls, corpus_card, notices, pending_panel, train_n
from dashboard.safe_text import escape_markdown
from dashboard.sidebar import sidebar
from dashboard.views import live_view, refresh_every


def page() -> None:
    st.set_page_config(page_title="rnnlab: watch an RNN learn", page_icon="🔁", layout="wide")
    st.session_state.pop(CONTROLS_CHANGED, None)  # this run draws the controls as they are now
    sidebar()
    st.title("rnnlab: watch a recurrent neural network learn")
    st.caption(
        "A character-level recurrent network (the classic vanilla RNN, or a GRU or LSTM of up "
        "to three layers) reads your text a few characters at a time and learns to predict the "
        "next one. Step it, train it, or press Play and watch the "
        "loss fall and the samples turn from noise into words."
    )
    st.caption(escape_markdown(start_note(lab())))
    # Read once, before the messages are taken: the live feed (another thread) may find the
    # player stopped at any moment, and queue why; live_view then sees that playing no longer
    # holds and runs the page again, which shows the message and the Play button.
    playing = lab().playing
    notices()
    pending_panel()
    corpus_card(lab().corpus, "Training on")
    requested_iterations, progress_slot = controls(playing)
    run_every = refresh_every(playing, lab().comparing)
    st.fragment(run_every=run_every)(live_view)(playing, run_every)
    keep_settings_in_address()
    if requested_iterations:
        train_n(requested_iterations, progress_slot)


if __name__ == "__main__":
    page()  # Streamlit runs this file as the page, once for every run
else:
    # `streamlit run app.py` imports this file to find the server to start: Streamlit's own, with
    # the routes the live panel asks for updates while playing and a tab for its cookie.
    app = st.App(
        __file__,
        routes=live_feed.routes(base_url_path()) + tabs.routes(base_url_path()),
        lifespan=children.lifespan,  # no play process outlives the server
    )
