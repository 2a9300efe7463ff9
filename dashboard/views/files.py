"""The Model & runs tab: the model and its history to download, and the runs so far."""

from __future__ import annotations

import functools

import streamlit as st

from dashboard.model_reads import history_csv
from dashboard.page_state import lab
from dashboard.session import LiveSnapshot


def view(live: LiveSnapshot) -> None:
    st.subheader("Save")
    if live.playing:
        st.info("Pause training to download the model or its history.")
    else:
        iteration = live.state.iteration
        c1, c2 = st.columns(2)
        # Built only when clicked: a long run's history takes a while to write out.
        c1.download_button(
            "Download model checkpoint (.npz)",
            lab().checkpoint_bytes,
            file_name=f"rnnlab-iteration-{iteration}.npz",
            mime="application/octet-stream",
            key="download_checkpoint",
        )
        c2.download_button(
            "Download loss history (.csv)",
            functools.partial(history_csv, lab()),
            file_name=f"rnnlab-history-{iteration}.csv",
            mime="text/csv",
            key="download_history",
        )
    st.caption("To resume from a checkpoint, upload it in the sidebar.")
    st.subheader("Runs")
    rows = [
        {
            "run": r.number,
            "text": r.corpus_name,
            "settings": r.label,
            "iterations": r.trained,
            "final smoothed loss": round(float(r.smooth_losses[-1]), 2),
        }
        for r in live.runs
    ]
    if rows:
        st.dataframe(rows, width="stretch", hide_index=True)
    else:
        st.caption("Earlier runs appear here after a Reset.")
