"""The sidebar, top to bottom: the text, the model (needs a new run), training (applies now) with
its pace, resuming from a checkpoint, and sampling."""

from __future__ import annotations

import streamlit as st

from dashboard import tabs
from dashboard.actions import (
    on_base_upload,
    on_builtin_choice,
    on_checkpoint_upload,
    on_learning_rate,
    on_sampling,
    on_seq_length,
    on_start_from,
    on_stop_at_best,
    on_upload,
)
from dashboard.guide import pace_note
from dashboard.limits import MAX_SECONDS_PER_ITERATION
from dashboard.page_model import (
    BATCH_SIZES,
    BUILTIN_CORPORA,
    CELL_NAMES,
    CHECKPOINT,
    DROPOUT_STEP,
    HIDDEN_STEP,
    LAYER_CHOICES,
    LEARNING_RATES,
    OPTIMIZER_NAMES,
    PRIME_MAX_CHARS,
    RANDOM,
    SAMPLE_LENGTH_RANGE,
    TEMPERATURE_RANGE,
    VAL_STEP,
    Config,
    int_range,
    seconds_per_iteration,
    start_keys,
    start_label,
)
from dashboard.page_state import (
    TAB_COMPONENT,
    base_url_path,
    lab,
    max_upload_mb,
    on_tab_reported,
    wanted_network,
)


def sidebar() -> None:
    lab()  # first: a new session's lab sets the controls' values before they are drawn
    with st.sidebar:
        text_controls()
        st.header("Model (needs a new run)")
        start_from()
        network_controls()
        st.header("Training (applies now)")
        training_controls()
        pace_caption()
        st.header("Resume")
        st.file_uploader(
            "Upload a checkpoint made on the current text (.npz)",
            type=["npz"],
            key="checkpoint_upload",
            on_change=on_checkpoint_upload,
        )
        st.header("Sampling")
        sampling_controls()
        tabs.tab_identity(
            token=st.session_state.held.token,
            known_tab=st.session_state.get("tab_id"),
            base_url_path=base_url_path(),
            key=TAB_COMPONENT,
            on_change=on_tab_reported,
        )


def text_controls() -> None:
    st.header("Text")
    st.selectbox(
        "Built-in text",
        list(BUILTIN_CORPORA),
        key="builtin_choice",
        on_change=on_builtin_choice,
    )
    st.file_uploader(
        f"…or upload a text file (up to {max_upload_mb()} MB)",
        key="upload",
        on_change=on_upload,
        help="Song lyrics, poems, code: any plain text. UTF-8 or a single-byte encoding.",
    )


def start_from() -> None:
    """The "Start from" control, and the checkpoint uploader when that is what it says."""
    st.selectbox(
        "Start from", start_keys(), key="start_from", format_func=start_label,
        on_change=on_start_from,
        help="Random weights: watch a network learn from nothing, noise first. A base model "
        "has already read a lot of English and adapts to your text within seconds, on any "
        "characters. The current model goes on learning on a new text. A run from a base keeps "
        "the base's network (cell, layers, precision, hidden size).",
    )  # fmt: skip
    if st.session_state.start_from == CHECKPOINT:
        st.file_uploader(
            "Checkpoint to start from (.npz, made on any text)",
            type=["npz"],
            key="base_upload",
            on_change=on_base_upload,
        )
    elif st.session_state.start_from != RANDOM:
        st.caption("The network below is the base's; a run from it keeps it.")


def network_controls() -> None:
    """The settings of a new run's network; a run that starts from a base keeps the base's."""
    fixed = st.session_state.start_from != RANDOM
    cell, layers = st.columns([3, 2])
    cell.selectbox(
        "Cell", Config.choices("cell"), key="cell", format_func=CELL_NAMES.get,
        help=Config.help("cell"), disabled=fixed,
    )  # fmt: skip
    layers.selectbox(
        "Layers", LAYER_CHOICES, key="layers", help=Config.help("layers"), disabled=fixed
    )
    optimizer, dtype = st.columns([3, 2])
    optimizer.selectbox(
        "Optimizer", Config.choices("optimizer"), key="optimizer",
        format_func=OPTIMIZER_NAMES.get, help=Config.help("optimizer"),
    )  # fmt: skip
    dtype.selectbox(
        "Precision", Config.choices("dtype"), key="dtype", help=Config.help("dtype"),
        disabled=fixed,
    )  # fmt: skip
    st.slider(
        "Hidden size", *int_range("hidden_size"), step=HIDDEN_STEP, key="hidden_size",
        help=Config.help("hidden_size"), disabled=fixed,
    )  # fmt: skip
    st.select_slider("Batch size", BATCH_SIZES, key="batch_size", help=Config.help("batch_size"))
    st.number_input(
        "Seed (empty: random)", *int_range("seed"), value=None, step=1, key="seed",
        help=Config.help("seed"),
    )  # fmt: skip
    st.slider(
        "Validation share", 0.0, float(Config.range("val_fraction")[1]), step=VAL_STEP,
        key="val_fraction", help=Config.help("val_fraction"),
    )  # fmt: skip
    st.slider(
        "Dropout", 0.0, float(Config.range("dropout")[1]), step=DROPOUT_STEP, key="dropout",
        help=Config.help("dropout"),
    )  # fmt: skip


def training_controls() -> None:
    """The settings that apply to the current run at once."""
    st.select_slider(
        "Learning rate",
        LEARNING_RATES,
        key="learning_rate",
        on_change=on_learning_rate,
        format_func=lambda lr: f"{lr:g}",
        help=Config.help("learning_rate"),
    )
    st.slider(
        "Sequence length",
        *int_range("seq_length"),
        key="seq_length",
        on_change=on_seq_length,
        help=Config.help("seq_length"),
    )
    st.checkbox(
        "Stop at the best validation point",
        key="stop_at_best",
        on_change=on_stop_at_best,
        help="Play and Train stop by themselves once the loss on held-out text has not "
        "improved for a few checks, and bring back the model of its best point. Turn off "
        "to watch the model memorise its text.",
    )


def pace_caption() -> None:
    """How fast the settings on the left train here, estimated (rnnlab.pace) before they do."""
    current = lab()
    wanted = wanted_network()
    corpus = current.pending_corpus or current.corpus
    seconds = seconds_per_iteration(wanted, corpus.vocab.size)
    note = f"At these settings: {pace_note(seconds, wanted.chars_per_iteration)}."
    if seconds > MAX_SECONDS_PER_ITERATION:
        note += f" That is over the {MAX_SECONDS_PER_ITERATION:g} s an iteration may take here."
    st.caption(note)


def sampling_controls() -> None:
    s = lab().sample_settings
    st.slider(
        "Temperature (0: greedy)",
        *TEMPERATURE_RANGE,
        s.temperature,
        step=0.05,
        key="temperature",
        on_change=on_sampling,
    )
    st.slider(
        "Sample length",
        *SAMPLE_LENGTH_RANGE,
        s.length,
        step=10,
        key="sample_length",
        on_change=on_sampling,
    )
    st.text_input(
        "Prime text",
        s.prime,
        max_chars=PRIME_MAX_CHARS,
        key="prime",
        on_change=on_sampling,
        help="The model reads this first and continues it.",
    )
