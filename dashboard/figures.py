"""The loss chart, as a plain function of a run's TrainerState (and earlier runs)."""

from __future__ import annotations

import html
import math

import numpy as np
import plotly.graph_objects as go

from rnnlab.architecture import network_label
from rnnlab.compare import Reading
from rnnlab.config import Config
from rnnlab.records import iterations_at
from rnnlab.state import (
    Event,
    ModelRestored,
    Origin,
    TrainerState,
    chars_seen_at,
    initial_config,
    per_iteration_at,
)
from rnnlab.yardsticks import LABELS

from .runs import Run

# Points per trace: a chart some 800 px wide shows no more, and while playing every point is sent
# and drawn again twice a second, by a browser that often shares the machine with the training.
MAX_POINTS = 800
UNITS = ("nats per chunk", "bits per character")
X_AXES = ("iterations", "characters seen")
RUN_COLOURS = ("#7f7f7f", "#bcbd22", "#17becf", "#9467bd", "#8c564b", "#e377c2")
MAX_EVENT_MARKERS = 20
YARDSTICK_COLOUR = "#8c8c8c"


# Over 60 lines: one figure's layers (runs, losses, markers, yardsticks) in drawing order.
def loss_figure(
    state: TrainerState,
    runs: list[Run] = (),
    units: str = UNITS[0],
    x_axis: str = X_AXES[0],
    show_runs: bool = True,
    yardsticks: dict[str, float] | None = None,
) -> go.Figure:
    """Smoothed loss (bold), raw loss (faint), validation loss (points, the best one starred),
    change markers and the yardsticks (bits per character, drawn as labelled lines).

    units: "nats per chunk" (the classic's printout: summed over T characters) or "bits per
    character". Earlier runs are drawn dashed behind the live one when show_runs is set. The
    legend sits right of the chart, so it never covers the axes or the curves.
    """
    if units not in UNITS or x_axis not in X_AXES:
        raise ValueError(f"units must be one of {UNITS} and x_axis one of {X_AXES}.")
    fig = go.Figure()
    if show_runs:
        for k, run in enumerate(runs):
            # Every row of an archived run's is a sample with its iteration: all "thinned".
            x, _, smooth = _series(
                run.config, run.events, run.iterations, run.smooth_losses, run.smooth_losses,
                units, x_axis,
            )  # fmt: skip
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=smooth,
                    mode="lines",
                    # Short in the legend, so it leaves the chart its width; whole in the hover
                    # (and in the runs table of Model & runs).
                    name=f"Run {run.number}",
                    hovertemplate=f"{html.escape(run.label)}<br>%{{x}}: %{{y:.3f}}<extra></extra>",
                    line={"color": RUN_COLOURS[k % len(RUN_COLOURS)], "dash": "dash", "width": 1.5},
                )
            )
    start = initial_config(state.config, state.events)
    thinned = state.thinned_ends if state.thinned_ends is not None else np.zeros(0, np.int64)
    x, raw, smooth = _series(
        state.config, state.events, thinned, state.losses, state.smooth_losses, units, x_axis
    )
    n = state.iteration
    fig.add_trace(
        go.Scatter(
            x=x,
            y=raw,
            mode="lines",
            name="loss (raw)",
            line={"color": "rgba(31,119,180,0.25)", "width": 1},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=smooth,
            mode="lines",
            name="smoothed loss",
            line={"color": "#1f77b4", "width": 3},
        )
    )
    if len(state.validation):
        iterations = state.validation[:, 0].astype(np.int64)
        nats_per_char = state.validation[:, 1]
        counts = np.clip(iterations, 1, max(n, 1))
        vx = _x_at(state.config, state.events, counts, x_axis) if n else iterations
        seq = per_iteration_at(state.config, state.events, "seq_length", counts - 1)
        vy = nats_per_char / math.log(2) if units == UNITS[1] else nats_per_char * seq
        fig.add_trace(
            go.Scatter(
                x=vx,
                y=vy,
                mode="markers",
                name="validation loss",
                marker={"color": "#d62728", "size": 7, "symbol": "diamond"},
            )
        )
        best = int(np.argmin(nats_per_char))
        fig.add_trace(
            go.Scatter(
                x=[vx[best]],
                y=[vy[best]],
                mode="markers",
                name="best validation",
                marker={"color": "#d62728", "size": 15, "symbol": "star"},
            )
        )
    for event in state.events[-MAX_EVENT_MARKERS:]:
        at = event.iteration
        # Where the run was when the setting changed, so the line stays put as training goes on.
        event_x = _x_at(state.config, state.events, [min(at, n)], x_axis)[0] if n and at > 0 else 0
        fig.add_vline(
            x=event_x,
            line={"color": "#ff7f0e", "dash": "dot", "width": 1},
            annotation_text=_event_label(event),
            annotation_position="top",
            annotation_font_size=10,
        )
    if yardsticks:
        # In nats per chunk, at the chunk length in use now (the curves' own scale since then).
        scale = 1.0 if units == UNITS[1] else math.log(2) * state.config.seq_length
        for name, bits in yardsticks.items():
            fig.add_hline(
                y=bits * scale,
                line={"color": YARDSTICK_COLOUR, "dash": "dash", "width": 1},
                annotation_text=f"{LABELS[name]} {bits:.2f} bits/char",
                annotation_position="bottom left",
                annotation_font={"size": 10, "color": YARDSTICK_COLOUR},
            )
    fig.update_layout(
        title=f"Loss, {run_label_short(start, state.origin)}",
        xaxis_title=x_axis,
        yaxis_title=f"loss ({units})",
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        height=400,
        # Outside the plot, on the right: Plotly widens the margin to fit it, and scrolls it
        # when there are more entries than fit, so it never covers the axes or the curves.
        legend={"x": 1.02, "xanchor": "left", "y": 1.0, "yanchor": "top", "font": {"size": 11}},
    )
    return fig


def copy_figure(copy_series: np.ndarray, x_axis_title: str = "iteration") -> go.Figure:
    """The longest verbatim copy in each latest sample, over iterations: (k, 2) rows of
    (iteration, characters). Rising means the model has started to recite its text."""
    fig = go.Figure(
        go.Scatter(
            x=copy_series[:, 0],
            y=copy_series[:, 1],
            mode="lines+markers",
            name="longest copy",
            line={"color": "#9467bd", "width": 1.5},
            marker={"size": 4},
        )
    )
    fig.update_layout(
        title="Longest copied stretch per sample",
        xaxis_title=x_axis_title,
        yaxis_title="characters",
        yaxis={"rangemode": "tozero"},
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
        height=220,
        showlegend=False,
    )
    return fig


CELL_COLOURS = {"RNN": "#1f77b4", "GRU": "#2ca02c", "LSTM": "#d62728"}


def comparison_figure(readings: list[Reading], labels: tuple[str, ...]) -> go.Figure:
    """Compare cells: each network's validation bits/char over its training CPU-seconds, one
    line per label (in `labels` order), drawn as far as each has got."""
    fig = go.Figure()
    for label in labels:
        points = [r for r in readings if r.label == label]
        fig.add_trace(
            go.Scatter(
                x=[r.seconds for r in points],
                y=[r.bits for r in points],
                customdata=[r.iteration for r in points],
                mode="lines+markers",
                name=label,
                line={"color": CELL_COLOURS.get(label.split()[0]), "width": 2},
                marker={"size": 4},
                hovertemplate="%{y:.3f} bits/char after %{x:.1f} s (iteration %{customdata:,})"
                "<extra>" + label + "</extra>",
            )
        )
    fig.update_layout(
        title="Validation loss for the same CPU time",
        xaxis_title="training CPU-seconds",
        yaxis_title="bits per character (held out)",
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
        height=360,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def _event_label(event: Event) -> str:
    if isinstance(event, ModelRestored):
        return f"best of it. {event.from_iteration:,} back"
    return f"{_short(event.name)} {event.old:g}→{event.new:g}"


def _series(
    config: Config,
    events: tuple[Event, ...],
    thinned: np.ndarray,
    losses: np.ndarray,
    smooth: np.ndarray,
    units: str,
    x_axis: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, raw loss and smoothed loss at no more than MAX_POINTS rows of the run's records
    (evenly spread, the first and last kept), (k,) each, in the chosen units and axis;
    thinned: the iterations the record's thinned rows end at (rnnlab.records). Only those points
    are read: a poll costs the same after a day of Play as after a minute."""
    keep = _downsample(len(losses))
    counts = iterations_at(keep, thinned)
    x = _x_at(config, events, counts, x_axis)
    if units == UNITS[1]:
        scale = 1 / (per_iteration_at(config, events, "seq_length", counts - 1) * math.log(2))
    else:
        scale = np.ones(len(keep))
    return x, losses[keep] * scale, smooth[keep] * scale


def _x_at(config: Config, events: tuple[Event, ...], counts, x_axis: str) -> np.ndarray:
    """Where the run was after each of `counts` iterations: that count, or the characters seen."""
    counts = np.asarray(counts, dtype=np.int64)
    if x_axis == X_AXES[1]:
        return chars_seen_at(config, events, counts)
    return counts.astype(np.float64)


def _downsample(n: int) -> np.ndarray:
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, MAX_POINTS).astype(np.int64))


def _short(name: str) -> str:
    return {"learning_rate": "lr", "seq_length": "T"}.get(name, name)


def run_label_short(config: Config, origin: Origin | None = None) -> str:
    c = config
    settings = f"H={c.hidden_size}, T={c.seq_length}, lr={c.learning_rate:g}, B={c.batch_size}"
    return f"{network_label(c)}{f' from {origin.base}' if origin else ''}, {settings}"
