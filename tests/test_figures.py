"""The loss chart: traces, units, axes, earlier runs, change markers and downsampling."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dashboard import figures
from dashboard.figures import MAX_POINTS, UNITS, X_AXES, loss_figure
from dashboard.runs import Run
from dashboard.session import Lab
from rnnlab import Config, Trainer
from rnnlab.corpora import builtin_corpus
from rnnlab.state import TrainerState

TEXT = builtin_corpus("Songbook (bundled lyrics)").text
CONFIG = Config(hidden_size=8, seq_length=5, batch_size=2, seed=0, val_fraction=0.1)
NATS, BITS = UNITS
ITERATIONS, CHARS = X_AXES


def trace(fig, name: str):
    matches = [t for t in fig.data if t.name == name]
    assert len(matches) == 1, [t.name for t in fig.data]
    return matches[0]


def vline_xs(fig) -> list[float]:
    return [shape.x0 for shape in fig.layout.shapes]


@pytest.fixture(scope="module")
def state() -> TrainerState:
    """20 iterations: 10 at T=5, then 10 at T=8; validation measured at iterations 10 and 20."""
    t = Trainer(TEXT, CONFIG)
    t.step(10)
    t.record_validation(500)
    t.set_seq_length(8)
    t.step(10)
    t.record_validation(500)
    return t.state()


SEQ = np.array([5] * 10 + [8] * 10, dtype=float)
CHARS_SEEN = np.cumsum(SEQ * CONFIG.batch_size)


def test_nats_per_chunk_show_the_losses_as_recorded(state):
    fig = loss_figure(state, units=NATS)
    np.testing.assert_allclose(trace(fig, "loss (raw)").y, state.losses)
    np.testing.assert_allclose(trace(fig, "smoothed loss").y, state.smooth_losses)


def test_bits_per_character_divide_each_iteration_by_its_own_sequence_length(state):
    fig = loss_figure(state, units=BITS)
    bits = SEQ * math.log(2)
    np.testing.assert_allclose(trace(fig, "loss (raw)").y, state.losses / bits)
    np.testing.assert_allclose(trace(fig, "smoothed loss").y, state.smooth_losses / bits)


def test_x_axis_is_the_iteration_or_the_characters_seen_so_far(state):
    np.testing.assert_array_equal(
        trace(loss_figure(state, x_axis=ITERATIONS), "smoothed loss").x, np.arange(1, 21)
    )
    by_chars = trace(loss_figure(state, x_axis=CHARS), "smoothed loss").x
    np.testing.assert_array_equal(by_chars, CHARS_SEEN)
    assert by_chars[-1] == state.chars_seen


def test_validation_points_sit_at_their_iterations_in_both_units(state):
    (i10, v10), (i20, v20) = state.validation_history
    assert (i10, i20) == (10, 20)
    nats = trace(loss_figure(state, units=NATS, x_axis=CHARS), "validation loss")
    np.testing.assert_allclose(nats.x, [CHARS_SEEN[9], CHARS_SEEN[19]])
    np.testing.assert_allclose(nats.y, [v10 * 5, v20 * 8])  # nats per character × that chunk's T
    bits = trace(loss_figure(state, units=BITS, x_axis=ITERATIONS), "validation loss")
    np.testing.assert_allclose(bits.x, [10, 20])
    np.testing.assert_allclose(bits.y, [v10 / math.log(2), v20 / math.log(2)])


def test_no_validation_trace_without_validation_losses():
    t = Trainer(TEXT, CONFIG.replace(val_fraction=0.0))
    t.step(3)
    assert "validation loss" not in [tr.name for tr in loss_figure(t.state()).data]


def test_a_setting_change_is_marked_where_the_run_was_when_it_changed():
    t = Trainer(TEXT, CONFIG)
    t.step(10)
    t.set_seq_length(8)
    for _ in range(2):  # before and after more training: the marker must not move
        assert vline_xs(loss_figure(t.state(), x_axis=ITERATIONS)) == [10]
        assert vline_xs(loss_figure(t.state(), x_axis=CHARS)) == [10 * 5 * CONFIG.batch_size]
        t.step(5)
    annotations = [a.text for a in loss_figure(t.state()).layout.annotations]
    assert annotations == ["T 5→8"]


def test_every_recent_change_gets_a_marker():
    t = Trainer(TEXT, CONFIG)
    t.set_learning_rate(0.05)  # at iteration 0: drawn at the origin
    t.step(4)
    t.set_learning_rate(0.2)
    t.step(2)
    fig = loss_figure(t.state())
    assert vline_xs(fig) == [0, 4]
    assert [a.text for a in fig.layout.annotations] == ["lr 0.1→0.05", "lr 0.05→0.2"]


def _finished_runs() -> tuple[Lab, tuple[Run, ...]]:
    lab = Lab(builtin_corpus("Songbook (bundled lyrics)"), CONFIG)
    lab.train(iterations=4)
    lab.new_run(CONFIG.replace(seed=1))
    lab.train(iterations=6)
    lab.new_run(CONFIG.replace(seed=2))
    lab.train(iterations=2)
    return lab, lab.runs


def test_earlier_runs_are_drawn_only_when_asked():
    lab, runs = _finished_runs()
    shown = loss_figure(lab.snapshot().state, runs, show_runs=True)
    for run in runs:
        drawn = trace(shown, f"Run {run.number}")
        np.testing.assert_allclose(drawn.y, run.smooth_losses)
        assert drawn.line.dash == "dash"
    hidden = loss_figure(lab.snapshot().state, runs, show_runs=False)
    assert [t.name for t in hidden.data] == ["loss (raw)", "smoothed loss"]


def test_earlier_runs_use_the_same_units_and_axis():
    lab, runs = _finished_runs()
    fig = loss_figure(lab.snapshot().state, runs, units=BITS, x_axis=CHARS)
    drawn = trace(fig, f"Run {runs[1].number}")
    np.testing.assert_allclose(drawn.y, runs[1].smooth_losses / 5 / math.log(2))
    np.testing.assert_array_equal(drawn.x, np.arange(1, 7) * 5 * CONFIG.batch_size)


def test_long_histories_are_downsampled_keeping_the_first_and_last_points(monkeypatch):
    monkeypatch.setattr(figures, "MAX_POINTS", 40)
    t = Trainer(TEXT, CONFIG.replace(val_fraction=0.0))
    t.step(100)
    for name in ("loss (raw)", "smoothed loss"):
        drawn = trace(loss_figure(t.state()), name)
        assert len(drawn.x) <= 40
        assert (drawn.x[0], drawn.x[-1]) == (1, 100)
        assert np.all(np.diff(drawn.x) > 0)
    short = Trainer(TEXT, CONFIG.replace(val_fraction=0.0))
    short.step(40)
    assert len(trace(loss_figure(short.state()), "smoothed loss").x) == 40


def test_a_long_earlier_run_is_capped_at_max_points():
    n = 3 * MAX_POINTS + 7
    run = Run(
        number=1,
        corpus_name="x",
        config=CONFIG,
        trained=n,
        iterations=np.arange(1, n + 1),
        smooth_losses=np.linspace(80, 30, n),
        validation_history=[],
        events=(),
    )
    t = Trainer(TEXT, CONFIG)
    drawn = trace(loss_figure(t.state(), [run]), f"Run {run.number}")
    assert len(drawn.x) <= MAX_POINTS
    assert (drawn.x[0], drawn.x[-1]) == (1, n)
    assert (drawn.y[0], drawn.y[-1]) == (80, 30)


def test_an_untrained_model_draws_empty_traces():
    fig = loss_figure(Trainer(TEXT, CONFIG).state())
    assert len(trace(fig, "smoothed loss").x) == 0


def test_unknown_units_or_axis_raise():
    t = Trainer(TEXT, CONFIG)
    with pytest.raises(ValueError, match="units"):
        loss_figure(t.state(), units="furlongs")
    with pytest.raises(ValueError, match="x_axis"):
        loss_figure(t.state(), x_axis="seconds")


# ------------------------------------------------------------------ yardsticks, best, legend
YARDSTICKS = {"uniform": 5.0, "unigram": 4.0, "bigram": 3.0, "compressor": 2.0}


def yardstick_lines(fig) -> dict[str, float]:
    """Annotation text -> y of each horizontal dashed line."""
    lines = [s for s in fig.layout.shapes if s.y0 == s.y1 and s.line.dash == "dash"]
    labels = [a.text for a in fig.layout.annotations if "bits/char" in (a.text or "")]
    assert len(lines) == len(labels) == len(YARDSTICKS)
    return dict(zip(labels, (s.y0 for s in lines), strict=True))


def test_yardsticks_are_labelled_lines_in_both_units(state):
    in_bits = yardstick_lines(loss_figure(state, units=BITS, yardsticks=YARDSTICKS))
    assert in_bits == {
        "uniform guess 5.00 bits/char": 5.0,
        "character frequencies 4.00 bits/char": 4.0,
        "bigram model 3.00 bits/char": 3.0,
        "best compressor 2.00 bits/char": 2.0,
    }
    in_nats = yardstick_lines(loss_figure(state, units=NATS, yardsticks=YARDSTICKS))
    # Nats per chunk at the chunk length in use now (T = 8).
    for label, y in in_nats.items():
        assert y == pytest.approx(in_bits[label] * math.log(2) * 8)


def test_no_yardstick_lines_before_they_are_measured(state):
    fig = loss_figure(state, units=BITS, yardsticks=None)
    assert not [a for a in fig.layout.annotations if "bits/char" in (a.text or "")]


def test_the_best_validation_point_is_starred(state):
    fig = loss_figure(state, units=BITS)
    best = trace(fig, "best validation")
    values = state.validation[:, 1] / math.log(2)
    assert list(best.y) == [pytest.approx(values.min())]


def test_a_restored_best_model_is_marked_on_the_chart():
    t = Trainer(TEXT, CONFIG)
    t.step(10)
    t.record_validation(500)
    t.step(5)
    t.restore_best()
    fig = loss_figure(t.state())
    assert [a.text for a in fig.layout.annotations] == ["best of it. 10 back"]
    assert vline_xs(fig) == [15]


def test_the_legend_sits_outside_the_plot_on_the_right_whatever_the_runs(state):
    iterations, smooth = state.loss_iterations, state.smooth_losses
    runs = [
        Run(k, "songs", CONFIG, state.iteration, iterations, smooth, [], ()) for k in range(1, 9)
    ]
    legend = loss_figure(state, runs).layout.legend
    assert legend.x >= 1.0 and legend.xanchor == "left"


def test_copy_figure_draws_the_longest_copy_per_sample():
    series = np.array([(0, 3), (500, 8), (1000, 25)], dtype=float)
    fig = figures.copy_figure(series)
    assert list(fig.data[0].x) == [0, 500, 1000] and list(fig.data[0].y) == [3, 8, 25]


def test_an_earlier_run_is_short_in_the_legend_and_whole_in_the_hover(state):
    run = Run(
        7, "songs", CONFIG, state.iteration, state.loss_iterations, state.smooth_losses, [], ()
    )
    drawn = trace(loss_figure(state, [run]), "Run 7")
    assert drawn.hovertemplate.startswith(run.label)
