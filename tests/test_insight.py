"""Numbers behind "See inside the network", checked against direct, loop-form computations."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnlab
from rnnlab.health import HealthLog
from rnnlab.insight import (
    FEATURE_NAMES,
    SnippetTrace,
    correlations,
    hidden_histogram,
    rank_units,
    rank_units_by_variance,
    run_snippet,
    sample_side_by_side,
    saturation_share,
    text_features,
    top_k_predictions,
    weight_histograms,
)

TEXT = (
    'She said "hello (and goodbye)" to the Owl.\n'
    "The Owl didn't answer; it looked at the moon [again].\n"
    "“Come back,” she called, ‘please’, and waited.\n"
) * 4


def random_params(H: int, V: int, seed: int = 0, scale: float = 0.5) -> dict[str, np.ndarray]:
    """Weights large enough that tanh, the recurrence and the softmax all matter."""
    rng = np.random.default_rng(seed)
    shapes = {"Wxh": (H, V), "Whh": (H, H), "Why": (V, H), "bh": (H, 1), "by": (V, 1)}
    return {name: rng.standard_normal(shape) * scale for name, shape in shapes.items()}


def manual_forward(params, ids, h0):
    """The maths one step at a time, with one-hot column vectors: hs (T, H), probs (T, V)."""
    V = params["Why"].shape[0]
    h = np.asarray(h0, dtype=np.float64).reshape(-1, 1)
    hs, probs = [], []
    for i in ids:
        x = np.zeros((V, 1))
        x[i] = 1.0
        h = np.tanh(params["Wxh"] @ x + params["Whh"] @ h + params["bh"])
        y = params["Why"] @ h + params["by"]
        e = np.exp(y - y.max())
        hs.append(h[:, 0])
        probs.append((e / e.sum())[:, 0])
    return np.array(hs), np.array(probs)


@pytest.fixture(scope="module")
def vocab() -> rnnlab.Vocab:
    return rnnlab.Vocab.from_text(TEXT)


@pytest.fixture(scope="module")
def params(vocab) -> dict[str, np.ndarray]:
    return random_params(12, vocab.size)


# ------------------------------------------------------------------------------- run_snippet
def test_activations_and_probabilities_match_a_manual_forward_pass(params, vocab):
    snippet = TEXT[:60]
    h0 = np.tanh(np.random.default_rng(1).standard_normal(12))
    trace = run_snippet(params, vocab, snippet, h0)
    hs, probs = manual_forward(params, vocab.encode(snippet), h0)
    assert trace.hidden.shape == (60, 12) and trace.probs.shape == (60, vocab.size)
    np.testing.assert_allclose(trace.hidden, hs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(trace.probs, probs, rtol=1e-10, atol=1e-15)
    assert trace.ids.tolist() == vocab.encode(snippet).tolist()


def test_top_five_predictions_are_the_softmax_of_a_manual_forward_pass(params, vocab):
    snippet = TEXT[:40]
    _, probs = manual_forward(params, vocab.encode(snippet), np.zeros(12))
    rows = top_k_predictions(run_snippet(params, vocab, snippet), vocab, k=5)
    assert len(rows) == len(snippet)
    for t, row in enumerate(rows):
        expected = sorted(range(vocab.size), key=lambda j: -probs[t, j])[:5]
        assert row.char == snippet[t]
        assert [c for c, _ in row.top] == [vocab.chars[j] for j in expected]
        np.testing.assert_allclose([p for _, p in row.top], probs[t, expected], rtol=1e-10)
        if t + 1 < len(snippet):
            assert row.actual == snippet[t + 1]
            assert row.actual_prob == pytest.approx(probs[t, vocab.chars.index(snippet[t + 1])])
    assert rows[-1].actual is None and rows[-1].actual_prob is None


def test_k_larger_than_the_vocabulary_lists_every_character(params, vocab):
    rows = top_k_predictions(run_snippet(params, vocab, "the"), vocab, k=1000)
    assert len(rows[0].top) == vocab.size
    assert sum(p for _, p in rows[0].top) == pytest.approx(1.0)


def test_surprisal_summed_over_a_chunk_equals_the_training_loss(params, vocab):
    snippet = TEXT[5:31]  # 25 inputs and their 25 targets
    ids = vocab.encode(snippet).astype(np.intp)
    h0 = np.tanh(np.random.default_rng(2).standard_normal(12))
    trace = run_snippet(params, vocab, snippet, h0)
    loss, _, _ = rnnlab.loss_and_grads(params, ids[:-1], ids[1:], h0.reshape(12, 1))
    assert trace.surprisal.shape == (25,)
    np.testing.assert_allclose(trace.surprisal.sum(), loss, rtol=1e-10)
    _, probs = manual_forward(params, ids, h0)
    np.testing.assert_allclose(trace.surprisal, -np.log(probs[np.arange(25), ids[1:]]), rtol=1e-9)


def test_a_trainer_can_be_passed_instead_of_params_and_is_not_changed():
    trainer = rnnlab.Trainer(TEXT, rnnlab.Config(hidden_size=8, seq_length=10, seed=3))
    trainer.step(5)
    before = {name: value.copy() for name, value in trainer.params.items()}
    hidden, pointer = trainer.hidden.copy(), trainer.pointer
    trace = run_snippet(trainer, None, "The Owl")
    direct = run_snippet(trainer.params, trainer.vocab, "The Owl")
    np.testing.assert_array_equal(trace.hidden, direct.hidden)
    for name, value in trainer.params.items():
        np.testing.assert_array_equal(value, before[name])
    np.testing.assert_array_equal(trainer.hidden, hidden)
    assert trainer.pointer == pointer


def test_characters_outside_the_vocabulary_are_named_in_the_error(params, vocab):
    with pytest.raises(ValueError, match=r"'Z'.*'~'|'~'.*'Z'") as error:
        run_snippet(params, vocab, "the Zoo~")
    assert "never seen" in str(error.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": ""}, "empty"),
        ({"vocab": None}, "vocabulary"),
        ({"h0": np.zeros(5)}, "12 values"),
    ],
)
def test_bad_snippet_arguments_raise_value_errors_that_say_what_to_do(
    params, vocab, kwargs, message
):
    arguments = {"vocab": vocab, "text": "the", "h0": None} | kwargs
    with pytest.raises(ValueError, match=message):
        run_snippet(params, arguments["vocab"], arguments["text"], arguments["h0"])


def test_a_single_character_snippet_has_no_surprisal(params, vocab):
    trace = run_snippet(params, vocab, "a")
    assert trace.surprisal.shape == (0,) and trace.hidden.shape == (1, 12)
    assert rank_units(trace, text_features("a")) == []


# ----------------------------------------------------------------------------- text_features
def feature(text: str, name: str) -> str:
    return "".join(str(int(v)) for v in text_features(text)[name])


def test_every_feature_has_one_value_per_character():
    features = text_features(TEXT)
    assert tuple(features) == FEATURE_NAMES
    assert all(values.shape == (len(TEXT),) for values in features.values())
    assert all(((values >= 0) & (values <= 1)).all() for values in features.values())


def test_inside_quotes_starts_at_the_opening_quote_and_ends_at_the_closing_one():
    assert feature('a "bc" d', "inside quotes") == "00111000"
    assert feature("a “bc” d", "inside quotes") == "00111000"
    assert feature("a ‘bc’ d", "inside quotes") == "00111000"
    assert feature("a 'bc' d", "inside quotes") == "00111000"


def test_apostrophes_do_not_open_or_close_quotes():
    assert feature("don't", "inside quotes") == "00000"
    assert feature("'I don't,' he", "inside quotes") == "1111111110000"


def test_an_unmatched_quote_ends_at_a_blank_line():
    assert feature('a "b\n\nc', "inside quotes") == "0011100"


def test_inside_brackets_counts_nesting_and_ignores_stray_closers():
    assert feature("a (b [c] d) e", "inside brackets") == "0011111111000"
    assert feature(") x (y", "inside brackets") == "000011"


def test_position_in_line_counts_characters_since_the_newline_scaled_by_the_longest_line():
    values = text_features("ab\ncdef\ng")["position in line"]
    np.testing.assert_allclose(values, np.array([1, 2, 0, 1, 2, 3, 4, 0, 1]) / 4)


def test_letter_features():
    text = "Éa Big ox."
    assert feature(text, "after a space") == "0001000100"
    assert feature(text, "uppercase") == "1001000000"
    assert feature(text, "vowel") == "1100100100"  # É counts as a vowel
    assert feature(text, "end of word") == "0100010010"


# ------------------------------------------------------------------------------ rank_units
def planted_trace(T: int = 120, H: int = 16, seed: int = 0) -> tuple[SnippetTrace, dict]:
    """Random activations, with unit 7 an exact affine copy of "inside quotes"."""
    text = ('x "quoted words" and more ' * 10)[:T]
    features = text_features(text)
    hidden = np.random.default_rng(seed).uniform(-0.5, 0.5, (T, H))
    hidden[:, 7] = 0.9 - 1.8 * features["inside quotes"]  # negatively tied: -1 correlation
    ids, probs = np.zeros(T, np.intp), np.full((T, 3), 1 / 3)
    trace = SnippetTrace(text, ids, hidden, probs, np.zeros(T - 1))
    return trace, features


def test_a_unit_planted_to_track_a_feature_is_ranked_first():
    trace, features = planted_trace()
    ranking = rank_units(trace, features, top=5)
    assert ranking[0].unit == 7
    assert ranking[0].feature == "inside quotes"
    assert ranking[0].score == pytest.approx(-1.0, abs=1e-12)
    assert len(ranking) == 5
    strengths = [abs(entry.score) for entry in ranking]
    assert strengths == sorted(strengths, reverse=True)
    assert len({entry.unit for entry in ranking}) == 5


def test_constant_units_and_constant_features_score_zero_instead_of_nan():
    trace, features = planted_trace()
    trace.hidden[:, 3] = 0.3  # a unit that never moves
    features = features | {"never": np.zeros(len(trace.text)), "always": np.ones(len(trace.text))}
    corr = correlations(trace.hidden, features)
    assert np.isfinite(corr).all()
    assert (corr[3] == 0).all()
    assert (corr[:, list(features).index("never")] == 0).all()
    assert (corr[:, list(features).index("always")] == 0).all()
    assert 3 not in [entry.unit for entry in rank_units(trace, features, top=16)]


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=2, max_value=30),
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_correlations_agree_with_numpy_corrcoef(T, H, seed):
    rng = np.random.default_rng(seed)
    hidden = np.tanh(rng.standard_normal((T, H)))
    features = {"a": rng.integers(0, 2, T).astype(float), "b": rng.uniform(0, 1, T)}
    corr = correlations(hidden, features)
    assert corr.shape == (H, 2) and np.isfinite(corr).all()
    for f, values in enumerate(features.values()):
        for unit in range(H):
            if np.ptp(values) > 0:
                expected = np.corrcoef(hidden[:, unit], values)[0, 1]
                assert corr[unit, f] == pytest.approx(expected, abs=1e-9)
            else:
                assert corr[unit, f] == 0


def test_features_of_another_length_are_refused():
    trace, _ = planted_trace()
    with pytest.raises(ValueError, match="same text"):
        correlations(trace.hidden, text_features("short"))


def test_variance_ranking_lists_the_busiest_units_first():
    trace, _ = planted_trace()
    ranking = rank_units_by_variance(trace, top=3)
    assert ranking[0].unit == 7 and ranking[0].feature == "variance"
    assert [entry.unit for entry in ranking] == list(np.argsort(-trace.hidden.var(axis=0))[:3])
    assert ranking[0].score == pytest.approx(trace.hidden[:, 7].var())


# ------------------------------------------------------------------------------ sampling
def test_sampling_side_by_side_reports_the_probability_each_character_was_drawn_with():
    trainer = rnnlab.Trainer(TEXT, rnnlab.Config(hidden_size=16, seq_length=20, seed=4))
    trainer.step(30)
    hidden = trainer.hidden.copy()
    sampled, greedy = sample_side_by_side(trainer, 40, prime="The ", temperature=0.7, seed=5)
    ids, probs, dists = trainer.sample_details(40, "The ", 0.7, 5, False)
    assert sampled.text == trainer.vocab.decode(ids)
    np.testing.assert_array_equal(sampled.probs, probs)
    np.testing.assert_array_equal(sampled.probs, dists[np.arange(40), ids])
    ids, probs, dists = trainer.sample_details(40, "The ", 0.7, 5, True)
    assert greedy.text == trainer.vocab.decode(ids) and greedy.label == "greedy"
    np.testing.assert_array_equal(greedy.probs, dists.max(axis=1))
    np.testing.assert_allclose(sampled.surprisal, -np.log(sampled.probs))
    np.testing.assert_array_equal(trainer.hidden, hidden)


# ----------------------------------------------------------------------- summaries of the model
def test_weight_histograms_count_every_entry_of_every_matrix(params):
    histograms = weight_histograms(params, bins=20)
    assert list(histograms) == list(rnnlab.PARAM_NAMES)
    for name, hist in histograms.items():
        assert hist.counts.sum() == params[name].size
        assert hist.edges[0] == params[name].min() and hist.edges[-1] == params[name].max()
        assert hist.centers.shape == (20,)


def test_saturation_share_is_the_fraction_of_activations_beyond_095(params, vocab):
    trace = run_snippet(params, vocab, TEXT[:80])
    expected = np.mean(np.abs(trace.hidden) > 0.95)
    assert saturation_share(trace) == pytest.approx(expected)
    assert 0 < expected < 1  # the large test weights saturate some units, not all
    hist = hidden_histogram(trace, bins=10)
    assert hist.counts.sum() == trace.hidden.size
    assert hist.edges[0] == -1 and hist.edges[-1] == 1


# -------------------------------------------------------------------------- training health
def health_trainer(health_every: int = 10, **config) -> rnnlab.Trainer:
    trainer = rnnlab.Trainer(TEXT, rnnlab.Config(hidden_size=20, seq_length=25, seed=6, **config))
    trainer.health_every = health_every
    # Large weights saturate the units and make some gradients exceed the clip, so the clip
    # share is tested on non-zero values.
    for name in ("Wxh", "Whh", "Why"):
        trainer.params[name][...] *= 150
    return trainer


def expected_health(params, inputs, targets, h_prev):
    _, grads, _ = rnnlab.loss_and_grads(params, inputs, targets, h_prev.reshape(-1, 1), clip=False)
    hs, _ = rnnlab.forward(params, inputs, h_prev.reshape(-1))
    return grads, hs


def assert_record_matches(health, row, grads, hs):
    for name in rnnlab.PARAM_NAMES:
        assert health.grad_norms[name][row] == pytest.approx(np.linalg.norm(grads[name]), rel=1e-10)
        assert health.clip_shares[name][row] == np.mean(np.abs(grads[name]) > 5)
    all_grads = np.concatenate([g.ravel() for g in grads.values()])
    assert health.clip_share[row] == pytest.approx(np.mean(np.abs(all_grads) > 5))
    assert health.total_grad_norm[row] == pytest.approx(np.linalg.norm(all_grads), rel=1e-10)
    assert health.saturation[row] == pytest.approx(np.mean(np.abs(hs) > 0.95))
    assert health.mean_abs_hidden[row] == pytest.approx(np.mean(np.abs(hs)))


def test_recorded_gradient_norms_are_those_of_the_unclipped_gradients_of_that_chunk():
    trainer = health_trainer()
    initial = {name: value.copy() for name, value in trainer.params.items()}
    data = trainer.vocab.encode(TEXT).astype(np.intp)
    T = trainer.config.seq_length

    trainer.step(1)
    grads, hs = expected_health(initial, data[:T], data[1 : T + 1], np.zeros(20))
    assert trainer.health.iterations.tolist() == [1]
    assert trainer.health.clip_share[0] > 0  # the check below is not a trivial 0 == 0
    assert_record_matches(trainer.health, 0, grads, hs)

    trainer.step(9)  # iterations 2..10; the next record is iteration 11, from a carried state
    params = {name: value.copy() for name, value in trainer.params.items()}
    p, h = trainer.pointer, trainer.hidden[0].copy()
    trainer.step(1)
    grads, hs = expected_health(params, data[p : p + T], data[p + 1 : p + T + 1], h)
    assert trainer.health.iterations.tolist() == [1, 11]
    assert_record_matches(trainer.health, 1, grads, hs)


def test_health_is_recorded_every_kth_iteration_and_not_at_all_when_disabled():
    trainer = health_trainer(health_every=3)
    trainer.step(10)
    assert trainer.health.iterations.tolist() == [1, 4, 7, 10]
    trainer.health_every = 0
    trainer.step(10)
    assert len(trainer.health) == 4


def test_recording_health_does_not_change_training():
    recorded, silent = health_trainer(health_every=1), health_trainer(health_every=0)
    recorded.step(15)
    silent.step(15)
    np.testing.assert_array_equal(recorded.losses, silent.losses)
    for name in rnnlab.PARAM_NAMES:
        np.testing.assert_array_equal(recorded.params[name], silent.params[name])


def test_health_log_is_rolled_back_with_the_trainer():
    trainer = health_trainer(health_every=2)
    trainer.step(10)
    assert trainer.health.iterations.tolist() == [1, 3, 5, 7, 9]
    # A learning rate of 10 wrecks the model in one update; the blow-up shows a step later and
    # training is rolled back to the snapshot taken when the rate was changed (iteration 10).
    trainer.set_learning_rate(10.0)
    with pytest.raises(rnnlab.DivergenceError):
        trainer.step(50)
    assert trainer.iteration == 10 and len(trainer.losses) == 10
    assert trainer.health.iterations.tolist() == [1, 3, 5, 7, 9]
    trainer.set_learning_rate(0.1)
    trainer.step(4)
    assert trainer.health.iterations.tolist() == [1, 3, 5, 7, 9, 11, 13]


def test_a_loaded_checkpoint_keeps_the_health_log():
    trainer = health_trainer(health_every=1)
    trainer.step(3)
    buffer = io.BytesIO()
    trainer.save(buffer)
    buffer.seek(0)
    loaded = rnnlab.Trainer.load(buffer, TEXT)
    np.testing.assert_array_equal(loaded.health.rows, trainer.health.rows)
    assert list(loaded.health.iterations) == [1, 2, 3]


def test_health_log_grows_past_its_first_buffer_and_keeps_every_row():
    log = HealthLog()
    grads = {name: np.full((2, 3), float(i)) for i, name in enumerate(rnnlab.PARAM_NAMES)}
    for iteration in range(1, 2501):  # the first buffer holds 1,024 rows
        log.record(iteration, grads, np.full((4, 1, 3), 0.5))
    assert len(log) == 2500 and log.iterations.tolist() == list(range(1, 2501))
    np.testing.assert_allclose(log.grad_norms["by"], np.sqrt(6 * 16.0))
    np.testing.assert_array_equal(log.saturation, 0.0)
    log.truncate(150)
    assert log.iterations[-1] == 150


# ------------------------------------------------------------------- cells and stacked layers
def test_a_two_layer_lstm_shows_every_layers_hidden_units_cell_state_and_gates() -> None:
    config = rnnlab.Config(
        cell="lstm", layers=2, hidden_size=8, seq_length=10, batch_size=2, learning_rate=0.01,
        optimizer="adam", seed=0,
    )  # fmt: skip
    trainer = rnnlab.Trainer("a 'quoted' line\nand another one\n" * 20, config)
    trainer.step(20)
    trace = run_snippet(trainer, None, "a 'line'\n")
    assert set(trace.signals) == {"h", "c", "i", "f", "o", "g"}
    assert all(values.shape == (2, 9, 8) for values in trace.signals.values())
    assert np.array_equal(trace.hidden, trace.signals["h"][-1])
    forget = trace.looking_at("f", 0)
    assert forget.value_range == (0.0, 1.0) and np.array_equal(forget.hidden, trace.signals["f"][0])
    assert ((forget.hidden > 0) & (forget.hidden < 1)).all()
    cells = trace.looking_at("c", 1)
    low, high = cells.value_range
    assert high == -low >= max(1.0, np.abs(trace.signals["c"][1]).max())
    # The LSTM's h is o ⊙ tanh(c), layer by layer.
    assert np.allclose(trace.signals["h"], trace.signals["o"] * np.tanh(trace.signals["c"]))
    ranked = rank_units(cells, text_features(trace.text), top=3)
    assert len(ranked) <= 3 and all(0 <= u.unit < 8 for u in ranked)
    with pytest.raises(ValueError, match="no 'r'"):
        trace.looking_at("r")
    with pytest.raises(ValueError, match="no layer 2"):
        trace.looking_at("h", 2)


def test_a_gru_trace_has_its_gates_and_the_classic_only_h() -> None:
    gru = rnnlab.Trainer("abcabcabd" * 30, rnnlab.Config(cell="gru", hidden_size=6, seed=0))
    assert set(run_snippet(gru, None, "abcab").signals) == {"h", "r", "z", "n"}
    classic = rnnlab.Trainer("abcabcabd" * 30, rnnlab.Config(hidden_size=6, seed=0))
    assert set(run_snippet(classic, None, "abcab").signals) == {"h"}
