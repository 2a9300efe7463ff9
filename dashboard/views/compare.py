"""The Compare cells tab: an RNN, a GRU and an LSTM (and each bundled base) trained in turn on
this text for the same CPU time, their validation curves side by side and what each writes."""

from __future__ import annotations

import streamlit as st

from dashboard.actions import on_compare, on_stop_comparison, on_use_compared
from dashboard.comparison import Cancelled, Comparison
from dashboard.comparison import Failed as ComparisonFailed
from dashboard.figures import comparison_figure
from dashboard.limits import COMPARE_SECONDS
from dashboard.page_model import compared_rows
from dashboard.page_state import lab
from dashboard.safe_text import escape_markdown
from dashboard.session import LiveSnapshot


def view(live: LiveSnapshot) -> None:
    st.caption(
        "Trains each network below on this text for the same CPU time, one after another, in a "
        "process of its own (it takes a Play slot), and draws their loss on the held-out text "
        "side by side: each cell from random weights, and each base model adapting what it "
        "has read to this text. Your own run is left as it is; “Train this one” starts a run "
        "with that network."
    )
    st.dataframe(compared_rows(live.corpus.vocab.size), hide_index=True, width="stretch")
    comparing = lab().comparing
    left, right = st.columns([3, 1])
    left.select_slider(
        "CPU seconds per network", COMPARE_SECONDS, value=30, key="compare_seconds",
        disabled=comparing,
    )  # fmt: skip
    if comparing:
        right.button("■ Stop", key="compare_stop", on_click=on_stop_comparison, width="stretch")
    else:
        right.button(
            "▶ Compare", key="compare", on_click=on_compare, type="primary", width="stretch",
            disabled=live.playing, help="Pause Play first." if live.playing else None,
        )  # fmt: skip
    comparison = lab().comparison
    if comparison is not None:
        comparison_results(comparison, live)


def comparison_results(comparison: Comparison, live: LiveSnapshot) -> None:
    """How far the comparison got, its curves, and each network's result and sample."""
    readings, results, outcome = comparison.progress()
    if outcome is None:
        label, seconds, share = comparison.status()
        st.progress(
            share,
            text=f"Training the {label}: {seconds:.0f} of {comparison.seconds} CPU-seconds "
            f"({comparison.labels.index(label) + 1} of {len(comparison.labels)})",
        )
    elif isinstance(outcome, ComparisonFailed):
        st.error(escape_markdown(outcome.message))
    elif isinstance(outcome, Cancelled):
        st.info("Stopped: what each network reached until then is below.")
    st.plotly_chart(
        comparison_figure(readings, comparison.labels), key="comparison", width="stretch"
    )
    for result in results:
        with st.container(border=True):
            head, button = st.columns([4, 1])
            head.markdown(
                f"**{escape_markdown(result.label)}**: best "
                f"{result.best_bits:.3f} bits/char on held-out text after "
                f"{result.iterations:,} iterations in {result.seconds:.0f} CPU-seconds"
                + (f" ({escape_markdown(result.note)})" if result.note else "")
            )
            button.button(
                "Train this one", key=f"use_{result.label}", on_click=on_use_compared,
                args=(result.label,), width="stretch", disabled=live.playing,
            )  # fmt: skip
            st.code(result.sample, language=None, wrap_lines=True)
