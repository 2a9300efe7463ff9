"""Figures for looking inside the network: plain functions returning plotly figures, or HTML.

Nothing here computes model numbers (that is `insight` and `health`); these functions only lay
them out. Text from the snippet or from sampling ends up in plotly labels and in HTML the
dashboard renders as HTML, so every character passes through `html.escape` on its way there.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from rnnlab.health import SATURATION_THRESHOLD, HealthLog
from rnnlab.insight import (
    DrawnText,
    SnippetTrace,
    hidden_histogram,
    saturation_share,
    top_k_predictions,
    weight_histograms,
)
from rnnlab.text import Vocab

NEWLINE_MARK, SPACE_MARK, TAB_MARK = "⏎", "·", "⇥"
# ASCII punctuation html.escape leaves alone but Markdown acts on; written as numeric character
# references, so that HTML rendered through st.markdown cannot turn into emphasis, links or maths.
_MARKDOWN_ACTIVE = frozenset("\\`*_{}[]()#+-.!|~$:=")
_RGB = re.compile(r"[\d.]+")


def visible_char(ch: str) -> str:
    """A character as it should be seen in a label: newline ⏎, space ·, tab ⇥, controls as ␀..."""
    if ch == "\n":
        return NEWLINE_MARK
    if ch == " ":
        return SPACE_MARK
    if ch == "\t":
        return TAB_MARK
    if ord(ch) < 32:
        return chr(0x2400 + ord(ch))  # Unicode "control pictures"
    if ord(ch) == 127:
        return "␡"
    return ch


def plotly_label(text: str) -> str:
    """Text made safe for plotly labels, which understand a little HTML (<br>, <b>, &lt; ...)."""
    return html.escape(text, quote=False)  # plotly decodes &lt; &gt; &amp; but not &quot;


def _char_label(ch: str) -> str:
    return plotly_label(visible_char(ch))


# ------------------------------------------------------------------------------ coloured text
@lru_cache(maxsize=32)
def _palette(cmap: str) -> tuple[tuple[int, int, int], ...]:
    """256 colours sampled evenly from a plotly colorscale name (e.g. "RdBu", "Viridis_r")."""
    colours = sample_colorscale(cmap, list(np.linspace(0.0, 1.0, 256)))
    return tuple(tuple(round(float(c)) for c in _RGB.findall(colour)[:3]) for colour in colours)


def _escape_char(ch: str) -> str:
    if ch in _MARKDOWN_ACTIVE:
        return f"&#{ord(ch)};"
    return html.escape(ch)


def colored_text_html(
    chars: str | Sequence[str],
    values: np.ndarray | Sequence[float],
    vmin: float,
    vmax: float,
    cmap: str = "RdBu",
    value_label: str = "value",
) -> str:
    """Text with each character on a background coloured by its value, as one line of HTML.

    chars: T characters; values: (T,), clipped to [vmin, vmax] and mapped onto the plotly
    colorscale `cmap`; NaN leaves a character uncoloured. Every character is escaped with
    html.escape (Markdown-active punctuation as numeric references too), so the result is safe
    to render with st.html or st.markdown(unsafe_allow_html=True) whatever the text holds.
    A newline shows as ⏎ and breaks the line; hovering a character shows `value_label` and value.
    """
    chars = list(chars)
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(chars),):
        raise ValueError(
            f"Need one value per character: {len(chars)} characters, {values.size} values."
        )
    palette = _palette(cmap)
    span = vmax - vmin
    label = html.escape(value_label)
    parts = ['<div style="font-family:monospace;white-space:pre-wrap;line-height:1.7;">']
    for ch, value in zip(chars, values, strict=True):
        shown = NEWLINE_MARK if ch == "\n" else ch if ch in " \t" else visible_char(ch)
        if math.isfinite(value):
            fraction = min(max((value - vmin) / span, 0.0), 1.0) if span > 0 else 0.5
            r, g, b = palette[round(fraction * 255)]
            # Dark text on light backgrounds and light text on dark ones, by perceived luminance.
            ink = "#000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#fff"
            style = f"background:rgb({r},{g},{b});color:{ink};"
            title = f"{label} {value:.3f}"
        else:
            style, title = "", label
        parts.append(f'<span style="{style}" title="{title}">{_escape_char(shown)}</span>')
        if ch == "\n":
            # <br>, not a newline character: a blank line would end the HTML block in Markdown.
            parts.append("<br>")
    parts.append("</div>")
    return "".join(parts)


def sampled_text_html(drawn: DrawnText) -> str:
    """Sampled text coloured by the probability each character was drawn with (red = unlikely)."""
    return colored_text_html(drawn.text, drawn.probs, 0.0, 1.0, "RdYlGn", "drawn with probability")


# ----------------------------------------------------------------------------- heatmap figures
def activation_heatmap(trace: SnippetTrace, units: Sequence[int] | None = None) -> go.Figure:
    """Hidden units (rows) x characters (columns), coloured by activation in [-1, 1].

    units: which units to show, in this order (default all H).
    """
    units = list(range(trace.hidden.shape[1])) if units is None else [int(u) for u in units]
    T = len(trace.text)
    labels = [_char_label(ch) for ch in trace.text]
    unit_names = [f"unit {u}" for u in units]
    z = trace.hidden[:, units].T  # (U, T)
    low, high = trace.value_range
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=list(range(T)),
            y=unit_names,
            zmin=low,
            zmax=high,
            colorscale="RdBu",
            customdata=np.array([labels] * len(units), dtype=object).reshape(len(units), T),
            hovertemplate=(
                "%{y}, character %{x} '%{customdata}'<br>activation %{z:.3f}<extra></extra>"
            ),
            colorbar={"title": {"text": f"activation<br>({low:.3g}..{high:.3g})"}},
        )
    )
    figure.update_layout(
        title=f"{signal_label(trace).capitalize()} after each character",
        xaxis={
            "title": "character of the snippet",
            "tickmode": "array",
            "tickvals": list(range(T)),
            "ticktext": labels,
            "tickangle": 0,
        },
        yaxis={"title": "hidden unit", "autorange": "reversed", "type": "category"},
        height=max(300, 120 + 14 * len(units)),
    )
    return figure


def _wrap_positions(text: str, width: int) -> list[list[int]]:
    """Positions of the text laid out in rows: a new row after each newline and every `width`."""
    rows: list[list[int]] = [[]]
    for t, ch in enumerate(text):
        if len(rows[-1]) == width:
            rows.append([])
        rows[-1].append(t)
        if ch == "\n":
            rows.append([])
    if not rows[-1] and len(rows) > 1:
        rows.pop()
    return rows


# Over 60 lines: laying text out in rows, the heatmap, its hover and its layout belong together.
def char_strip_figure(
    text: str,
    values: np.ndarray,
    *,
    zmin: float,
    zmax: float,
    colorscale: str,
    value_label: str,
    title: str,
    hover: Sequence[str] | None = None,
    width: int = 80,
) -> go.Figure:
    """The text laid out like text (rows of at most `width` characters, breaking at newlines),
    each character a heatmap cell coloured by its value (T,); NaN cells stay blank.

    hover: optional extra hover line per character (plotly-escaped HTML).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(text),):
        raise ValueError(
            f"Need one value per character: {len(text)} characters, {values.size} values."
        )
    rows = _wrap_positions(text, width)
    columns = max(len(row) for row in rows)
    z = np.full((len(rows), columns), np.nan)
    labels = np.full((len(rows), columns), "", dtype=object)
    hovers = np.full((len(rows), columns), "", dtype=object)
    for r, positions in enumerate(rows):
        for c, t in enumerate(positions):
            z[r, c] = values[t]
            labels[r, c] = _char_label(text[t])
            value = f"{values[t]:.3f}" if math.isfinite(values[t]) else "–"
            extra = f"<br>{hover[t]}" if hover is not None and hover[t] else ""
            hovers[r, c] = f"character {t} '{labels[r, c]}'<br>{value_label}: {value}{extra}"
    figure = go.Figure(
        go.Heatmap(
            z=z,
            text=labels,
            texttemplate="%{text}",
            customdata=hovers,
            hovertemplate="%{customdata}<extra></extra>",
            zmin=zmin,
            zmax=zmax,
            colorscale=colorscale,
            xgap=1,
            ygap=1,
            colorbar={
                "title": {"text": value_label, "side": "right"},
                "orientation": "h",
                "thickness": 12,
                "yref": "container",
                "y": 0.0,
                "yanchor": "bottom",
            },
        )
    )
    figure.update_layout(
        title=title,
        xaxis={"visible": False},
        yaxis={"visible": False, "autorange": "reversed"},
        # 22 px per row of text plus room for the title and a horizontal colour bar below.
        height=130 + 22 * len(rows),
        margin={"t": 50, "b": 70, "l": 10, "r": 10},
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def unit_activation_figure(trace: SnippetTrace, unit: int, width: int = 80) -> go.Figure:
    """One hidden unit's activation over the snippet, as a strip of coloured characters."""
    return char_strip_figure(
        trace.text,
        trace.hidden[:, unit],
        zmin=-1.0,
        zmax=1.0,
        colorscale="RdBu",
        value_label="activation (tanh)",
        title=f"Unit {unit}: activation after each character (red −1, blue +1)",
        width=width,
    )


def unit_activation_html(trace: SnippetTrace, unit: int) -> str:
    """One hidden unit's activation over the snippet as coloured HTML text."""
    low, high = trace.value_range
    return colored_text_html(trace.text, trace.hidden[:, unit], low, high, "RdBu", f"unit {unit}")


def signal_label(trace: SnippetTrace) -> str:
    """What a trace's `hidden` shows, in words: "hidden units h", "layer 1's forget gate f"."""
    name = "hidden units h" if trace.signal == "h" else GATE_NAMES.get(trace.signal, "")
    name = name or "cell state c"
    layers = trace.signals[trace.signal].shape[0] if trace.signals else 1
    if layers == 1:
        return name
    return f"layer {trace.layer % layers + 1}'s {name}"


def surprisal_figure(trace: SnippetTrace, vocab: Vocab, k: int = 5, width: int = 80) -> go.Figure:
    """Each character coloured by how surprised the model was to see it, in nats.

    The first character has no prediction and stays blank. The colour scale runs from 0 to
    ln V, the surprisal of a uniform guess; anything redder is worse than guessing. Hovering a
    character shows the model's top-k predictions made just before it.
    """
    values = np.concatenate([[np.nan], trace.surprisal])
    predictions = top_k_predictions(trace, vocab, k)
    hover = [""]
    for t in range(1, len(trace.text)):
        row = predictions[t - 1]
        expected = "<br>".join(f"  '{_char_label(c)}' {p:.3f}" for c, p in row.top)
        hover.append(
            f"p = {row.actual_prob:.3f}<br>expected after '{_char_label(row.char)}':<br>{expected}"
        )
    return char_strip_figure(
        trace.text,
        values,
        zmin=0.0,
        zmax=float(np.log(vocab.size)),
        colorscale="YlOrRd",
        value_label="surprisal (nats)",
        title="Surprisal −ln p(character | text before it), in nats",
        hover=hover,
        width=width,
    )


# ------------------------------------------------------------------------------ health figures
HISTOGRAMS_PER_ROW = 5
# What each gate is, for legends and the Inside view's choice of signal.
GATE_NAMES: dict[str, str] = {
    "r": "reset gate r",
    "z": "update gate z",
    "n": "candidate n",
    "i": "input gate i",
    "f": "forget gate f",
    "o": "output gate o",
    "g": "candidate g",
}


def _empty_health_note(figure: go.Figure, health: HealthLog) -> go.Figure:
    if len(health) == 0:
        figure.add_annotation(
            text="No health records yet: train a few iterations.",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
        )
    return figure


def gradient_norm_figure(health: HealthLog) -> go.Figure:
    """L2 norm of each parameter's gradient before clipping, over training (log scale)."""
    figure = go.Figure()
    for name, norms in health.grad_norms.items():
        figure.add_trace(go.Scatter(x=health.iterations, y=norms, mode="lines", name=name))
    figure.update_layout(
        title="Gradient norm per parameter matrix, before clipping",
        xaxis_title="iteration",
        yaxis={"title": "‖∂loss/∂W‖₂ (nats per unit weight)", "type": "log"},
        hovermode="x unified",
    )
    return _empty_health_note(figure, health)


def clip_share_figure(health: HealthLog) -> go.Figure:
    """Share of gradient entries beyond ±5 that the clip cut, per matrix and overall."""
    figure = go.Figure()
    for name, shares in health.clip_shares.items():
        figure.add_trace(
            go.Scatter(x=health.iterations, y=shares, mode="lines", name=name, line={"width": 1})
        )
    figure.add_trace(
        go.Scatter(
            x=health.iterations, y=health.clip_share, mode="lines", name="all", line={"width": 3}
        )
    )
    figure.update_layout(
        title="Gradient entries clipped at ±5",
        xaxis_title="iteration",
        yaxis={"title": "share of entries clipped", "tickformat": ".1%", "rangemode": "tozero"},
        hovermode="x unified",
    )
    return _empty_health_note(figure, health)


def saturation_figure(health: HealthLog) -> go.Figure:
    """Share of saturated hidden activations (|h| > 0.95) in the training chunks, and mean |h|."""
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(x=health.iterations, y=health.saturation, mode="lines", name="|h| > 0.95")
    )
    figure.add_trace(
        go.Scatter(x=health.iterations, y=health.mean_abs_hidden, mode="lines", name="mean |h|")
    )
    for gate, shares in health.gate_saturation.items():
        figure.add_trace(
            go.Scatter(
                x=health.iterations,
                y=shares,
                mode="lines",
                name=f"{GATE_NAMES[gate]} saturated",
                line={"dash": "dot"},
            )
        )
    figure.update_layout(
        title="Saturation in the training chunks: hidden units"
        + (" and gates" if health.gates else ""),
        xaxis_title="iteration",
        yaxis={"title": "share of activations / mean |h|", "range": [0, 1]},
        hovermode="x unified",
    )
    return _empty_health_note(figure, health)


def weight_histogram_figure(params: dict[str, np.ndarray], bins: int = 50) -> go.Figure:
    """Distribution of the entries of each parameter, one panel per matrix (own x range), at
    most HISTOGRAMS_PER_ROW to a row."""
    histograms = weight_histograms(params, bins)
    columns = min(len(histograms), HISTOGRAMS_PER_ROW)
    rows = -(-len(histograms) // columns)
    figure = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[f"{name} {params[name].shape}" for name in histograms],
    )
    for index, (name, hist) in enumerate(histograms.items()):
        row, column = divmod(index, columns)
        row, column = row + 1, column + 1
        figure.add_trace(
            go.Bar(
                x=hist.centers,
                y=hist.counts,
                width=np.diff(hist.edges),
                name=name,
                hovertemplate="%{x:.4f}: %{y} entries<extra>" + name + "</extra>",
            ),
            row=row,
            col=column,
        )
        figure.update_xaxes(title_text="value", row=row, col=column)
    figure.update_yaxes(title_text="number of entries", col=1)
    figure.update_layout(
        title="Weight histograms", showlegend=False, bargap=0, height=220 + 230 * rows
    )
    return figure


def hidden_histogram_figure(trace: SnippetTrace, bins: int = 40) -> go.Figure:
    """Distribution of the hidden activations over a snippet; the shaded edges are saturated."""
    hist = hidden_histogram(trace, bins)
    share = saturation_share(trace)
    figure = go.Figure(
        go.Bar(
            x=hist.centers,
            y=hist.counts,
            width=np.diff(hist.edges),
            hovertemplate="h ≈ %{x:.3f}: %{y} activations<extra></extra>",
        )
    )
    for x0, x1 in ((-1.0, -SATURATION_THRESHOLD), (SATURATION_THRESHOLD, 1.0)):
        figure.add_vrect(x0=x0, x1=x1, fillcolor="red", opacity=0.15, line_width=0)
    figure.update_layout(
        title=(
            f"Hidden activations on the snippet: {share:.1%} saturated "
            f"(|h| > {SATURATION_THRESHOLD})"
        ),
        xaxis={"title": "activation h (tanh)", "range": [-1, 1]},
        yaxis_title="number of activations (units × characters)",
        bargap=0,
    )
    return figure
