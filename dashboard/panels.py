"""The main panels above the views, top to bottom: the notices, the pending changes, the text a
run trains on, and the training buttons (with Train N's progress, drawn last)."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard.actions import (
    guarded,
    on_apply,
    on_play,
    on_restore_best,
    on_step,
    on_stop_train,
)
from dashboard.guide import base_knowledge, data_size_advice, train_time_note
from dashboard.page_model import (
    MAX_VOCAB,
    TRAIN_CHOICES,
    parameter_count,
    seconds_per_iteration,
    training_chars,
)
from dashboard.page_state import SHOWN_NOTICES, lab, wanted_config, wanted_network, wanted_start
from dashboard.safe_text import escape_markdown
from dashboard.session import TRAIN_MAX_SECONDS


def notices() -> None:
    """Messages from the callbacks and from training (a divergence, a failed player), once."""
    messages = lab().take_messages()
    st.session_state[SHOWN_NOTICES] = messages
    for kind, text in messages:
        show = {"error": st.error, "warning": st.warning}.get(kind, st.success)
        show(escape_markdown(text))


def pending_panel() -> None:
    current = lab()
    changes = current.pending_changes(wanted_config(), current.pending_corpus, wanted_start())
    if changes:
        st.warning(
            "**Pending changes** (they need a new model): "
            + "; ".join(escape_markdown(change) for change in changes)
            + ". Apply to start a new run; the current run stays in the chart for comparison."
        )
        start = wanted_start()
        if start.key != current.start.key and start.ready and start.transfers:
            corpus = current.pending_corpus or current.corpus
            st.caption(escape_markdown(base_knowledge(start.knows(corpus.vocab.chars))))
        st.button("Apply and start a new run", on_click=on_apply, type="primary", key="apply")
        if current.pending_corpus is not None:
            corpus_card(current.pending_corpus, "Pending text")


def corpus_card(corpus, title: str) -> None:
    with st.expander(f"{title}: {escape_markdown(corpus.name)}", expanded=title == "Pending text"):
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("Characters", f"{len(corpus.text):,}")
        c2.metric("Vocabulary", corpus.vocab.size)
        c3.metric("Size", f"{corpus.n_bytes / 1000:,.1f} kB")
        c4.metric("Encoding", corpus.encoding)
        if corpus.rare is not None:
            st.info(
                escape_markdown(
                    f"{corpus.rare.describe()}: the text has {corpus.rare.distinct:,} "
                    f"different characters, more than the {MAX_VOCAB} a model here learns."
                )
            )
        st.code(corpus.preview(), language=None, wrap_lines=True)
        start = wanted_start()
        if start.ready and start.transfers:
            st.caption(escape_markdown(base_knowledge(start.knows(corpus.vocab.chars))))
        wanted = wanted_network()
        advice = data_size_advice(
            training_chars(wanted, len(corpus.text)), parameter_count(wanted, corpus.vocab.size)
        )
        st.caption(escape_markdown(f"At hidden size {wanted.hidden_size}: {advice}"))


def controls(playing: bool) -> tuple[int | None, DeltaGenerator]:
    """The training buttons, drawn for `playing`. Returns N if "Train N" was clicked, and the slot
    for its progress bar: the training itself runs after the rest of the page is drawn."""
    c1, c2, c3, c4, c5, c6 = st.columns([1, 1.2, 1, 1.2, 1, 1.3])
    c1.button("Step", on_click=on_step, width="stretch", disabled=playing, key="step")
    n = c2.selectbox(
        "Iterations", TRAIN_CHOICES, index=2, label_visibility="collapsed", key="train_n"
    )
    train_clicked = c3.button(f"Train {n:,}", width="stretch", disabled=playing, key="train")
    c4.button(
        "⏸ Pause" if playing else "▶ Play",
        on_click=on_play,
        args=("pause" if playing else "play",),
        width="stretch",
        type="primary",
        key="play",
    )
    c5.button(
        "Reset",
        on_click=on_apply,
        width="stretch",
        key="reset",
        help="Start a new run with the settings on the left; the current run stays in the chart.",
    )
    c6.button(
        "↶ Best model",
        on_click=on_restore_best,
        width="stretch",
        key="restore_best",
        help="Pause, and bring back the model of the lowest validation loss so far (the star "
        "on the chart).",
    )
    current = lab()
    seconds = seconds_per_iteration(current.config, current.vocab.size)
    too_long = train_time_note(n, seconds, TRAIN_MAX_SECONDS)
    if too_long and not playing:
        st.caption(too_long)
    return (n if train_clicked else None), st.empty()


@guarded
def train_n(n: int, slot: DeltaGenerator) -> None:
    """Train N with a progress bar and a Stop button, after the rest of the page is on screen,
    then redraw it. Stop (or any other control) ends this run of the page at its next progress
    update, between two slices of training, with the model as trained so far."""
    with slot.container():
        bar, stop = st.columns([5, 1])
        progress = bar.progress(0.0, text=f"Training {n:,} iterations…")
        stop.button("■ Stop", key="stop_train", on_click=on_stop_train, args=(n,))
    st.session_state.train_started_at = lab().iteration
    lab().train(
        iterations=n,
        on_progress=lambda done, total: progress.progress(
            done / total, text=f"Trained {done:,} of {total:,}"
        ),
    )
    st.rerun()  # notices() tells of a divergence
