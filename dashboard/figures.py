"""The loss chart, as a plain function of a run's TrainerState (and earlier runs)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from rnnlab.config import Config
from rnnlab.state import SettingChange, TrainerState, initial_config, per_iteration

from .session import Run

# Points per trace: a chart some 800 px wide shows no more, and while playing every point is sent
# and drawn again twice a second, by a browser that often shares the machine with the training.
MAX_POINTS = 800
UNITS = ("nats per chunk", "bits per character")
X_AXES = ("iterations", "characters seen")
RUN_COLOURS = ("#7f7f7f", "#bcbd22", "#17becf", "#9467bd", "#8c564b", "#e377c2")
MAX_EVENT_MARKERS = 20


def loss_figure(
    state: TrainerState,
    runs: list[Run] = (),
    units: str = UNITS[0],
    x_axis: str = X_AXES[0],
    show_runs: bool = True,
) -> go.Figure:
    """Smoothed loss (bold), raw loss (faint), validation loss (points) and change markers.

    units: "nats per chunk" (the classic's printout: summed over T characters) or "bits per
    character". Earlier runs are drawn dashed behind the live one when show_runs is set.
    """
    if units not in UNITS or x_axis not in X_AXES:
        raise ValueError(f"units must be one of {UNITS} and x_axis one of {X_AXES}.")
    fig = go.Figure()
    if show_runs:
        for k, run in enumerate(runs):
            x, _, smooth = _series(
                run.config, run.events, run.losses, run.smooth_losses, units, x_axis
            )
            keep = _downsample(len(x))
            fig.add_trace(
                go.Scatter(
                    x=x[keep],
                    y=smooth[keep],
                    mode="lines",
                    name=run.label,
                    line={"color": RUN_COLOURS[k % len(RUN_COLOURS)], "dash": "dash", "width": 1.5},
                )
            )
    start = initial_config(state.config, state.events)
    x, raw, smooth = _series(
        state.config, state.events, state.losses, state.smooth_losses, units, x_axis
    )
    keep = _downsample(len(x))
    fig.add_trace(
        go.Scatter(
            x=x[keep],
            y=raw[keep],
            mode="lines",
            name="loss (raw)",
            line={"color": "rgba(31,119,180,0.25)", "width": 1},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x[keep],
            y=smooth[keep],
            mode="lines",
            name="smoothed loss",
            line={"color": "#1f77b4", "width": 3},
        )
    )
    if len(state.validation):
        iterations = state.validation[:, 0].astype(np.int64)
        nats_per_char = state.validation[:, 1]
        index = np.clip(iterations - 1, 0, max(len(x) - 1, 0))
        vx = x[index] if len(x) else iterations
        seq = per_iteration(state.config, state.events, "seq_length", max(state.iteration, 1))[
            index
        ]
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
    for event in state.events[-MAX_EVENT_MARKERS:]:
        at = event.iteration
        # Where the run was when the setting changed, so the line stays put as training goes on.
        event_x = x[min(at, len(x)) - 1] if len(x) and at > 0 else 0
        fig.add_vline(
            x=event_x,
            line={"color": "#ff7f0e", "dash": "dot", "width": 1},
            annotation_text=f"{_short(event.name)} {event.old:g}→{event.new:g}",
            annotation_position="top",
            annotation_font_size=10,
        )
    fig.update_layout(
        title=f"Loss, {run_label_short(start)}",
        xaxis_title=x_axis,
        yaxis_title=f"loss ({units})",
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        height=380,
        legend={"orientation": "h", "yanchor": "bottom", "y": -0.35},
    )
    return fig


def _series(
    config: Config,
    events: tuple[SettingChange, ...],
    losses: np.ndarray,
    smooth: np.ndarray,
    units: str,
    x_axis: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (n,), raw loss (n,) and smoothed loss (n,) in the chosen units and axis."""
    n = len(losses)
    seq = per_iteration(config, events, "seq_length", n)
    if x_axis == X_AXES[1]:
        x = np.cumsum(seq * config.batch_size)
    else:
        x = np.arange(1, n + 1, dtype=np.float64)
    scale = 1 / (seq * math.log(2)) if units == UNITS[1] else np.ones(n)
    return x, losses * scale, smooth * scale


def _downsample(n: int) -> np.ndarray:
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, MAX_POINTS).astype(np.int64))


def _short(name: str) -> str:
    return {"learning_rate": "lr", "seq_length": "T"}.get(name, name)


def run_label_short(config: Config) -> str:
    c = config
    return f"H={c.hidden_size}, T={c.seq_length}, lr={c.learning_rate:g}, B={c.batch_size}"
