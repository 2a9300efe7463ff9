"""The Inside the network tab: a snippet run through the current model, seen four ways, in the
order of their tabs: neurons, predictions, sampling in colour, training health."""

from __future__ import annotations

import streamlit as st

from dashboard.insight_figures import (
    GATE_NAMES,
    activation_heatmap,
    clip_share_figure,
    gradient_norm_figure,
    hidden_histogram_figure,
    sampled_text_html,
    saturation_figure,
    signal_label,
    surprisal_figure,
    unit_activation_html,
    visible_char,
    weight_histogram_figure,
)
from dashboard.limits import SNIPPET_MAX_CHARS
from dashboard.model_reads import side_by_side, snippet_trace
from dashboard.page_model import SNIPPET_LENGTH, health_of, predictions, units_worth_a_look
from dashboard.page_state import lab
from dashboard.safe_text import escape_markdown
from dashboard.session import LiveSnapshot

INSIGHT_VIEWS = ("Neurons", "Predictions", "Sampling in colour", "Training health")
SIGNAL_NAMES = {"h": "hidden units h", "c": "cell state c", **GATE_NAMES}


def view(live: LiveSnapshot) -> None:
    """Views into the current model: neurons, predictions, coloured samples, training health."""
    st.caption(
        f"The model as it is now, at iteration {live.state.iteration:,}; while playing, this "
        "view follows it."
    )
    try:
        trace = snippet_trace(lab(), chosen_snippet(live.corpus.text))
    except ValueError as error:
        st.error(escape_markdown(str(error)))
        return
    neurons, predicted, colour, health = st.tabs(
        INSIGHT_VIEWS, key="insight_view", on_change="rerun"
    )
    if neurons.open:
        with neurons:
            neurons_view(trace, live)
    if predicted.open:
        with predicted:
            predictions_view(trace, live)
    if colour.open:
        with colour:
            colour_view()
    if health.open:
        with health:
            health_view(trace, live)


def chosen_snippet(text: str) -> str:
    """The snippet the visitor chose: a stretch of the training text, or their own."""
    source, where = st.columns([1, 3])
    own = (
        source.radio("Snippet", ("From the text", "Type your own"), key="snippet_source")
        == "Type your own"
    )
    if own:
        return where.text_area(
            "Text to run through the model",
            text[:200],
            max_chars=SNIPPET_MAX_CHARS,
            key="snippet_text",
        )
    last_start = max(0, len(text) - 2)
    start = where.slider("Start at character", 0, last_start, 0, key="snippet_start")
    return text[start : start + SNIPPET_LENGTH]


def neurons_view(trace, live: LiveSnapshot) -> None:
    layers, signals = live.state.config.layers, tuple(trace.signals)
    if layers > 1 or len(signals) > 1:
        which, layer = st.columns([3, 1])
        signal = which.radio(
            "Look at", signals, horizontal=True, key="signal",
            format_func=lambda name: SIGNAL_NAMES.get(name, name),
            help="The hidden units h are what a layer hands on. An LSTM also keeps a cell "
            "state c behind its gates: the input gate i lets new values in, the forget gate f "
            "keeps old ones, the output gate o lets them out. A GRU's update gate z keeps the "
            "old state, its reset gate r forgets it when making the candidate n.",
        )  # fmt: skip
        chosen = layer.selectbox(
            "Layer", range(1, layers + 1), index=layers - 1, key="layer",
            help="Layer 1 reads the characters; each layer above reads the one below.",
        )  # fmt: skip
        trace = trace.looking_at(signal if signal in signals else "h", chosen - 1)
    ranked = units_worth_a_look(trace)
    st.markdown(
        f"**Units worth a look** ({escape_markdown(signal_label(trace))}): those that follow a "
        "simple feature of the text, and the busiest."
    )
    st.dataframe(
        [{"unit": u.unit, "follows": u.feature, "score": round(u.score, 3)} for u in ranked],
        hide_index=True,
        height=220,
        width="stretch",
    )
    unit = st.selectbox(
        "Unit",
        range(live.state.config.hidden_size),
        index=ranked[0].unit if ranked else 0,
        key="unit",
        help="Blue: near the top of its range; red: near the bottom.",
    )
    st.html(unit_activation_html(trace, unit))
    st.plotly_chart(activation_heatmap(trace), key="activation_heatmap", width="stretch")


def predictions_view(trace, live: LiveSnapshot) -> None:
    vocab = live.corpus.vocab
    st.plotly_chart(surprisal_figure(trace, vocab), key="surprisal", width="stretch")
    rows = [
        {
            "after": visible_char(p.char),
            "actual next": visible_char(p.actual) if p.actual else "",
            "p(actual)": None if p.actual_prob is None else round(p.actual_prob, 3),
            "top 5": "  ".join(f"{visible_char(c)} {q:.2f}" for c, q in p.top),
        }
        for p in predictions(trace, vocab)
    ]
    st.dataframe(rows, hide_index=True, height=300, width="stretch")


def colour_view() -> None:
    drawn, greedy = side_by_side(lab(), 200)
    st.caption(
        "The same start sampled twice; each character is shaded by the probability it was "
        "drawn with."
    )
    left, right = st.columns(2)
    for column, drawn_text in ((left, drawn), (right, greedy)):
        column.markdown(f"**{escape_markdown(drawn_text.label)}**")
        column.html(sampled_text_html(drawn_text))


def health_view(trace, live: LiveSnapshot) -> None:
    health, params = health_of(live.state)
    first, second = st.columns(2)
    first.plotly_chart(gradient_norm_figure(health), key="grad_norms", width="stretch")
    second.plotly_chart(clip_share_figure(health), key="clip_share", width="stretch")
    first.plotly_chart(saturation_figure(health), key="saturation", width="stretch")
    second.plotly_chart(hidden_histogram_figure(trace), key="hidden_histogram", width="stretch")
    st.plotly_chart(weight_histogram_figure(params), key="weight_histograms", width="stretch")
