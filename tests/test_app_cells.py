"""GRU, LSTM, layers, optimizers and precision on the page, driven through Streamlit's AppTest:
the Model controls, the address, Inside the network per layer and gate, the health chart's gates
and Compare cells.

Each test opens a fresh session of app.py (the real script, the real Lab); the helpers are those
of tests/test_app.py.
"""

from __future__ import annotations

import time

from test_app import (
    INSIGHT_VIEW,
    errors,
    lab_of,
    open_app,
    open_view,
    step,
    tab,
    train,
    upload_checkpoint,
)
from test_app_learning import open_app_at

from dashboard.comparison import Finished
from rnnlab.bases import base_models
from rnnlab.presets import CELL_PRESETS

COMPARE_VIEW = "Compare cells"


def choose_network(at, **chosen) -> None:
    for key, value in chosen.items():
        at.sidebar.selectbox(key=key).select(value)
    at.run()


def test_a_two_layer_lstm_with_adam_in_float32_is_chosen_applied_and_trained():
    at = open_app()
    choose_network(at, cell="lstm", layers=2, optimizer="adam", dtype="float32")
    at.button(key="apply").click().run()
    assert not at.exception and not at.error, errors(at)
    config = lab_of(at).trainer.config
    assert (config.cell, config.layers, config.optimizer, config.dtype) == (
        "lstm",
        2,
        "adam",
        "float32",
    )
    train(at, 10)
    assert lab_of(at).trainer.iteration == 10
    # The address carries the network, and opens it again.
    query = at.query_params
    assert (query["cell"], query["layers"], query["opt"], query["dtype"]) == (
        "lstm",
        "2",
        "adam",
        "float32",
    )
    again = open_app_at(dict(query))
    assert lab_of(again).trainer.config == config
    widgets = [
        again.sidebar.selectbox(key=k).value for k in ("cell", "layers", "optimizer", "dtype")
    ]
    assert widgets == ["lstm", 2, "adam", "float32"]


def test_an_unknown_cell_in_the_address_is_ignored_and_named():
    at = open_app_at({"cell": "transformer", "layers": "9"})
    config = lab_of(at).trainer.config
    assert (config.cell, config.layers) == ("rnn", 1)
    told = " ".join(errors(at))
    assert "cell='transformer'" in told and "layers='9'" in told


def test_inside_the_network_shows_each_layers_gates_and_the_health_chart_each_gates_saturation():
    at = open_app_at({"cell": "lstm", "layers": "2", "opt": "adam", "lr": "0.003"})
    step(at)
    at.session_state["view"] = INSIGHT_VIEW
    at.session_state["insight_view"] = "Neurons"
    at.run()
    assert not at.exception, at.exception
    signals = at.radio(key="signal")
    assert signals.options == [
        "hidden units h",
        "cell state c",
        "input gate i",
        "forget gate f",
        "output gate o",
        "candidate g",
    ]
    signals.set_value("f")
    at.selectbox(key="layer").select(1)
    at.run()
    assert not at.exception, at.exception
    titles = [m.value for m in tab(at, INSIGHT_VIEW).markdown]
    assert any("layer 1\\'s forget gate f" in t for t in titles), titles  # escaped markdown
    heatmap = [c for c in at.get("plotly_chart") if "heatmap" in c.proto.spec]
    assert heatmap and '"zmin":0.0' in heatmap[0].proto.spec.replace(" ", "")

    at.session_state["insight_view"] = "Training health"
    at.run()
    assert not at.exception, at.exception
    specs = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    for gate in ("input gate i", "forget gate f", "output gate o", "candidate g"):
        assert f"{gate} saturated" in specs
    assert "Wxh2" in specs and "Whh2" in specs  # both layers' weights in the histograms


def test_the_classic_rnn_has_no_signal_choice():
    at = open_app()
    step(at)
    at.session_state["view"] = INSIGHT_VIEW
    at.session_state["insight_view"] = "Neurons"
    at.run()
    assert not at.exception, at.exception
    assert "signal" not in [radio.key for radio in at.radio]


def test_compare_cells_trains_each_network_and_a_result_starts_a_run():
    at = open_app()
    lab = lab_of(at)
    iteration = lab.trainer.iteration
    open_view(at, COMPARE_VIEW)
    # Each cell from random weights, and each bundled base adapting to the text.
    networks = [*CELL_PRESETS, *(f"From {name}" for name in base_models())]
    assert list(tab(at, COMPARE_VIEW).dataframe[0].value["network"]) == networks
    at.select_slider(key="compare_seconds").set_value(10)
    at.button(key="compare").click().run()
    assert not at.exception and not at.error, errors(at)
    assert lab.comparing
    deadline = time.monotonic() + 240
    while lab.comparing:
        assert time.monotonic() < deadline, "the comparison did not finish"
        time.sleep(0.5)
    at.run()
    assert not at.exception, at.exception
    _, results, outcome = lab.comparison.progress()
    assert isinstance(outcome, Finished) and [r.label for r in results] == networks
    shown = " ".join(m.value for m in tab(at, COMPARE_VIEW).markdown)
    for label in networks:
        assert f"**{label}**: best" in shown
    assert len(tab(at, COMPARE_VIEW).code) == len(networks)  # each sample, as plain text
    assert lab.trainer.iteration == iteration  # the session's own run was not touched
    at.button(key="use_LSTM").click().run()
    assert not at.exception and not at.error, errors(at)
    assert lab.trainer.iteration == 0
    assert lab.trainer.config == CELL_PRESETS["LSTM"].replace(seed=lab.trainer.config.seed)
    assert at.sidebar.selectbox(key="cell").value == "lstm"
    assert at.sidebar.select_slider(key="learning_rate").value == 0.003


def test_compare_cells_can_be_stopped_and_says_so():
    at = open_app()
    lab = lab_of(at)
    open_view(at, COMPARE_VIEW)
    at.select_slider(key="compare_seconds").set_value(60)
    at.button(key="compare").click().run()
    deadline = time.monotonic() + 60
    while not lab.comparison.progress()[0]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    at.run()
    at.button(key="compare_stop").click().run()
    assert not at.exception, at.exception
    assert not lab.comparing and not lab.holds_a_slot
    assert any("Stopped" in i.value for i in tab(at, COMPARE_VIEW).info)


VIEWS_TO_DRAW = ("Training", "Generate", INSIGHT_VIEW, COMPARE_VIEW, "Model & runs")
INSIGHT_TABS = ("Neurons", "Predictions", "Sampling in colour", "Training health")


def test_every_view_draws_a_gru_and_its_checkpoint_resumes_on_the_page():
    at = open_app_at({"cell": "gru", "layers": "2", "opt": "rmsprop", "dtype": "float32"})
    train(at, 10)
    lab = lab_of(at)
    for view in VIEWS_TO_DRAW:
        at.session_state["view"] = view
        at.run()
        assert not at.exception and not at.error, (view, at.exception, errors(at))
    at.session_state["view"] = INSIGHT_VIEW
    for inside in INSIGHT_TABS:
        at.session_state["insight_view"] = inside
        at.run()
        assert not at.exception and not at.error, (inside, at.exception, errors(at))
    at.session_state["view"] = "Generate"
    at.run()
    at.button(key="generate").click().run()
    assert not at.exception and not at.error, errors(at)
    saved = lab.checkpoint_bytes()
    params = {name: value.copy() for name, value in lab.trainer.params.items()}
    at.button(key="reset").click().run()
    step(at)
    upload_checkpoint(at, "gru.npz", saved)
    assert not at.error, errors(at)
    assert lab.trainer.iteration == 10 and lab.trainer.config.cell == "gru"
    for name, value in params.items():
        assert (lab.trainer.params[name] == value).all() and value.dtype.name == "float32"
