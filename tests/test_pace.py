"""The pace: seconds per iteration estimated from the work counted in the settings (matched with
the products the engine really makes) and the machine's measured rates; settings whose single
iteration would take too long are refused with a setting that fits; the page says the pace and
what Train N will do. How close the estimate comes to the measured time: bench/pace.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_app import errors, open_app

from dashboard import limits
from dashboard import session as session_module
from dashboard.guide import pace_note, train_time_note
from rnnlab import Config, Trainer, pace
from rnnlab import model as model_module
from rnnlab.config import SIZE_NAMES
from rnnlab.corpora import builtin_corpus

ROOT = Path(__file__).resolve().parents[1]
SONGBOOK = builtin_corpus("Songbook (bundled lyrics)")


@pytest.mark.parametrize(("H", "T", "B"), [(8, 5, 1), (16, 10, 4), (32, 7, 3)])
def test_the_counted_products_are_those_forward_backward_makes(monkeypatch, H, T, B):
    trainer = Trainer(SONGBOOK.text, Config(hidden_size=H, seq_length=T, batch_size=B, seed=0))
    trainer.health_every = 0  # its norms are element-wise work, counted as such
    flops = []
    real_dot = np.dot

    def counting_dot(a, b, out=None):
        flops.append(2 * np.size(a) * (np.shape(b)[-1] if np.ndim(b) > 1 else 1))
        return real_dot(a, b, out=out)

    monkeypatch.setattr(model_module.np, "dot", counting_dot)
    trainer.step(1)
    monkeypatch.undo()
    work = pace.iteration_work(trainer.config, trainer.vocab.size)
    assert work.flops == sum(flops)
    assert work.transcendentals == T * B * (H + trainer.vocab.size)


def test_gates_and_layers_multiply_the_recurrent_work():
    config = Config(hidden_size=64, seq_length=25, batch_size=16)
    vanilla = pace.iteration_work(config, 65)
    output = 3 * 2 * 25 * 16 * 64 * 65  # the output layer's three products
    recurrent = vanilla.flops - output
    assert pace.iteration_work(config, 65, gates=4).flops == pytest.approx(4 * recurrent + output)
    two = pace.iteration_work(config, 65, layers=2).flops
    between = 3 * 2 * 25 * 16 * 64 * 64  # the second layer reads the first's (T·B, H) states
    assert two == pytest.approx(2 * recurrent + between + output)
    stacked = pace.iteration_work(config, 65, gates=3, layers=2)
    per_step = pace.CALLS_PER_STEP[3] * 25  # per step, per layer
    assert stacked.calls == 2 * per_step + pace.CALLS_PER_ITERATION
    with pytest.raises(ValueError, match="at least one gate"):
        pace.iteration_work(config, 65, gates=0)


def test_more_of_any_setting_is_slower_and_the_rates_are_measured_once():
    base = Config(hidden_size=64, seq_length=25, batch_size=16)
    seconds = pace.seconds_per_iteration(base, 65)
    assert seconds > 0
    for change in ({"hidden_size": 128}, {"seq_length": 50}, {"batch_size": 32}):
        assert pace.seconds_per_iteration(base.replace(**change), 65) > seconds
    assert pace.seconds_per_iteration(base, 130) > seconds
    assert pace.seconds_per_iteration(base, 65, gates=4) > seconds
    assert pace.machine_rates() is pace.machine_rates()


def test_an_iteration_over_the_limit_is_refused_naming_a_setting_that_fits():
    config = Config(hidden_size=1024, seq_length=200, batch_size=64)
    limit = pace.seconds_per_iteration(config, 65) / 10
    with pytest.raises(ValueError) as refused:
        pace.check(config, 65, limit)
    message = str(refused.value)
    assert message.startswith("One iteration at these settings would take about")
    name, value = re.search(
        r"A (batch size|sequence length|hidden size) of (\d+)", message
    ).groups()
    field = {label: name for name, label in SIZE_NAMES.items()}[name]
    fitting = config.replace(**{field: int(value)})
    assert pace.seconds_per_iteration(fitting, 65) <= limit
    pace.check(fitting, 65, limit)  # no error


def test_the_session_refuses_a_new_run_whose_iteration_would_take_too_long(monkeypatch):
    lab = session_module.Lab(SONGBOOK, Config(hidden_size=16, seed=0))
    before = lab.trainer
    slow = Config(hidden_size=512, seq_length=100, batch_size=64, seed=0)
    monkeypatch.setattr(
        limits,
        "MAX_SECONDS_PER_ITERATION",
        pace.seconds_per_iteration(slow, SONGBOOK.vocab.size) / 4,
    )
    with pytest.raises(ValueError, match="would take about"):
        lab.new_run(slow)
    assert lab.trainer is before
    lab.new_run(Config(hidden_size=32, seed=0))  # a quick one still starts


def test_the_session_refuses_a_sequence_length_whose_iteration_would_take_too_long(monkeypatch):
    config = Config(hidden_size=256, batch_size=64, seq_length=25, seed=0)
    lab = session_module.Lab(SONGBOOK, config)
    limit = 4 * pace.seconds_per_iteration(config, SONGBOOK.vocab.size)  # 500 is 20 times as long
    monkeypatch.setattr(limits, "MAX_SECONDS_PER_ITERATION", limit)
    with pytest.raises(ValueError, match="A sequence length of"):
        lab.set_seq_length(500)
    assert lab.trainer.config == config
    lab.set_seq_length(50)
    assert lab.trainer.config.seq_length == 50


def test_the_limit_is_read_from_the_environment():
    env = {**os.environ, "RNNLAB_MAX_SECONDS_PER_ITERATION": "0.25"}
    result = subprocess.run(
        [sys.executable, "-c", "import dashboard.limits as s; print(s.MAX_SECONDS_PER_ITERATION)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "0.25", result.stderr


def test_the_pace_and_train_ns_time_in_words():
    assert pace_note(0.00085, 400) == "about 0.85 ms per iteration (470,000 chars/s)"
    assert pace_note(1.5, 3200) == "about 1.5 s per iteration (2,100 chars/s)"
    assert train_time_note(1000, 0.001, 120) is None
    assert train_time_note(5000, 0.144, 120) == (
        "Train 5,000 would take about 12 min; it stops after 2 min, about 833 iterations."
    )


def test_the_page_shows_the_pace_of_its_settings_and_what_train_n_will_do(monkeypatch):
    at = open_app()
    (caption,) = [c.value for c in at.sidebar.caption if c.value.startswith("At these settings")]
    assert re.fullmatch(r"At these settings: about .+ per iteration \([\d,]+ chars/s\)\.", caption)
    assert not any(c.value.startswith("Train ") for c in at.caption)
    monkeypatch.setattr(pace, "seconds_per_iteration", lambda config, vocab_size, **_: 0.144)
    at.selectbox(key="train_n").set_value(5000).run()
    assert not errors(at)
    assert any(
        c.value.startswith("Train 5,000 would take about 12 min; it stops after 2 min")
        for c in at.caption
    ), [c.value for c in at.caption]
    assert "over the" not in caption  # the defaults are well within the limit
