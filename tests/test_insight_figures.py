"""Figures and HTML for "See inside the network": they build, show the right numbers, and
never let text from a snippet or a sample become markup."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import numpy as np
import plotly.graph_objects as go
import pytest

import rnnlab
from dashboard.insight_figures import (
    NEWLINE_MARK,
    SPACE_MARK,
    activation_heatmap,
    char_strip_figure,
    clip_share_figure,
    colored_text_html,
    gradient_norm_figure,
    hidden_histogram_figure,
    sampled_text_html,
    saturation_figure,
    surprisal_figure,
    unit_activation_figure,
    unit_activation_html,
    visible_char,
    weight_histogram_figure,
)
from rnnlab.health import HealthLog
from rnnlab.insight import DrawnText, run_snippet

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "**bold** and _em_",
    "[x](javascript:alert(1))",
    "&amp; \"quoted\" 'single' &lt;",
    "a\n\n    indented <b>code</b>\n",
    "$x^2$ `code` # Heading | table |",
]
TEXT = "".join(HOSTILE) + "The quick brown fox jumps over the lazy dog.\n" * 3


@pytest.fixture(scope="module")
def vocab() -> rnnlab.Vocab:
    return rnnlab.Vocab.from_text(TEXT)


@pytest.fixture(scope="module")
def params(vocab) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    H, V = 10, vocab.size
    shapes = {"Wxh": (H, V), "Whh": (H, H), "Why": (V, H), "bh": (H, 1), "by": (V, 1)}
    return {name: rng.standard_normal(shape) * 0.5 for name, shape in shapes.items()}


@pytest.fixture(scope="module")
def trace(params, vocab):
    return run_snippet(params, vocab, "Hi <b>x</b>\nok [y](z) & **w**")


class Markup(HTMLParser):
    """Collects the tags, attributes and decoded text of an HTML fragment."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: set[str] = set()
        self.text = ""
        self.feed(source)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.update(name for name, _ in attrs)

    def handle_data(self, data):
        self.text += data


# ----------------------------------------------------------------------------- HTML escaping
@pytest.mark.parametrize("snippet", HOSTILE)
def test_coloured_text_html_turns_hostile_text_into_text_not_markup(snippet):
    out = colored_text_html(snippet, np.linspace(-1, 1, len(snippet)), -1.0, 1.0, "RdBu")
    lowered = out.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<b>" not in lowered
    assert "javascript:" not in lowered and "**" not in out and "](" not in out
    assert "\n" not in out  # a blank line would end the HTML block when rendered as Markdown
    markup = Markup(out)
    assert set(markup.tags) <= {"div", "span", "br"}
    assert markup.attributes <= {"style", "title"}
    assert markup.text == snippet.replace("\n", NEWLINE_MARK)
    assert markup.tags.count("span") == len(snippet)
    for ch in set(snippet) & set("<>&\"'"):
        assert html.escape(ch) in out


def test_script_and_img_tags_are_present_only_as_escaped_text():
    out = colored_text_html("<script>", np.zeros(8), -1, 1, "RdBu")
    assert out.count("&lt;") == 1 and out.count("&gt;") == 1
    out = colored_text_html("<img src=x onerror=alert(1)>", np.zeros(28), -1, 1, "RdBu")
    assert "&lt;" in out and "onerror" not in Markup(out).attributes


def test_the_value_label_is_escaped_too():
    out = colored_text_html("ab", [0.0, 1.0], 0, 1, "Viridis", value_label='"><script>')
    assert "<script" not in out and Markup(out).tags.count("span") == 2


def test_colours_follow_the_colour_scale_and_nan_is_left_uncoloured():
    out = colored_text_html("abcd", [-5.0, -1.0, 1.0, np.nan], -1.0, 1.0, "RdBu")
    spans = out.split("<span")[1:]
    assert "background:rgb(103,0,31)" in spans[0] and "background:rgb(103,0,31)" in spans[1]
    assert "background:rgb(5,48,97)" in spans[2]  # RdBu runs from dark red to dark blue
    assert "background" not in spans[3]
    assert 'title="value -5.000"' in spans[0]


def test_newlines_show_a_mark_and_break_the_line():
    out = colored_text_html("a\nb", [0, 0, 0], 0, 1, "RdBu")
    assert f">{NEWLINE_MARK}</span><br>" in out


def test_one_value_per_character_is_required():
    with pytest.raises(ValueError, match="one value per character"):
        colored_text_html("abc", [0.0, 1.0], 0, 1, "RdBu")


def test_sampled_text_is_coloured_by_the_drawn_probability():
    drawn = DrawnText("temperature 1", "<a>\n", np.array([0.0, 0.5, 1.0, 0.25]))
    out = sampled_text_html(drawn)
    assert Markup(out).text == "<a>" + NEWLINE_MARK
    assert "background:rgb(165,0,38)" in out.split("<span")[1]  # RdYlGn: improbable is red
    assert 'title="drawn with probability 1.000"' in out


def test_unit_activation_html_shows_every_character_of_the_snippet(trace):
    assert Markup(unit_activation_html(trace, 2)).text == trace.text.replace("\n", NEWLINE_MARK)


# --------------------------------------------------------------------------- plotly figures
def test_visible_characters_for_labels():
    shown = [visible_char(c) for c in "\n \ta\x00\x7f"]
    assert shown == [NEWLINE_MARK, SPACE_MARK, "⇥", "a", "␀", "␡"]


def test_activation_heatmap_is_units_by_characters_with_visible_tick_labels(trace):
    figure = activation_heatmap(trace)
    (heatmap,) = figure.data
    assert isinstance(heatmap, go.Heatmap)
    np.testing.assert_array_equal(np.array(heatmap.z), trace.hidden.T)
    assert (heatmap.zmin, heatmap.zmax) == (-1.0, 1.0)
    assert heatmap.colorscale == go.Heatmap(colorscale="RdBu").colorscale
    ticks = list(figure.layout.xaxis.ticktext)
    assert len(ticks) == len(trace.text)
    assert ticks[2] == SPACE_MARK and ticks[trace.text.index("\n")] == NEWLINE_MARK
    assert ticks[3] == "&lt;" and ticks[5] == "&gt;"  # plotly would read "<b>" as bold
    assert not any("<" in label for label in ticks)
    figure.to_json()


def test_activation_heatmap_shows_the_chosen_units_in_order(trace):
    (heatmap,) = activation_heatmap(trace, units=[4, 1]).data
    assert list(heatmap.y) == ["unit 4", "unit 1"]
    np.testing.assert_array_equal(np.array(heatmap.z), trace.hidden[:, [4, 1]].T)


def strip_values(figure: go.Figure) -> tuple[np.ndarray, list[str]]:
    """The values and labels of a character strip in reading order, padding dropped."""
    (heatmap,) = figure.data
    z = np.array(heatmap.z, dtype=float)
    text = np.array(heatmap.text, dtype=object)
    cells = [(r, c) for r in range(z.shape[0]) for c in range(z.shape[1]) if text[r, c] != ""]
    return np.array([z[r, c] for r, c in cells]), [text[r, c] for r, c in cells]


def test_unit_strip_lays_the_text_out_in_lines_coloured_by_the_unit(trace):
    figure = unit_activation_figure(trace, 3, width=8)
    values, labels = strip_values(figure)
    np.testing.assert_array_equal(values, trace.hidden[:, 3])
    assert labels == [html.escape(visible_char(c), quote=False) for c in trace.text]
    (heatmap,) = figure.data
    assert (heatmap.zmin, heatmap.zmax) == (-1.0, 1.0) and heatmap.texttemplate == "%{text}"
    # "Hi <b>x</b>\n" (12 characters) fills rows of 8 and 4; the newline starts a new row for
    # "ok [y](z) & **w**" (17): rows of 8, 8 and 1.
    assert np.array(heatmap.z).shape[1] == 8 and len(heatmap.z) == 5
    figure.to_json()


def test_surprisal_strip_colours_each_character_by_its_surprisal_and_hovers_predictions(
    trace, vocab
):
    figure = surprisal_figure(trace, vocab, k=5)
    values, _ = strip_values(figure)
    assert np.isnan(values[0])
    np.testing.assert_allclose(values[1:], trace.surprisal)
    (heatmap,) = figure.data
    assert heatmap.zmin == 0 and heatmap.zmax == pytest.approx(np.log(vocab.size))
    assert "nats" in heatmap.colorbar.title.text and "nats" in figure.layout.title.text
    hover = np.array(heatmap.customdata, dtype=object)[0, 1]  # the second character, "i"
    best = int(np.argmax(trace.probs[0]))
    label = html.escape(visible_char(vocab.chars[best]), quote=False)
    assert f"'{label}' {trace.probs[0, best]:.3f}" in hover
    assert f"p = {trace.probs[0, trace.ids[1]]:.3f}" in hover
    assert hover.count("<br>") == 4 + 4  # four header lines, then five predictions
    figure.to_json()


def test_character_strip_needs_one_value_per_character():
    with pytest.raises(ValueError, match="one value per character"):
        char_strip_figure(
            "abc", np.zeros(2), zmin=0, zmax=1, colorscale="RdBu", value_label="v", title="t"
        )


@pytest.fixture(scope="module")
def health() -> HealthLog:
    trainer = rnnlab.Trainer(TEXT, rnnlab.Config(hidden_size=8, seq_length=10, seed=1))
    trainer.health_every = 2
    trainer.step(20)
    return trainer.health


def test_gradient_norm_figure_has_one_line_per_matrix(health):
    figure = gradient_norm_figure(health)
    assert [trace.name for trace in figure.data] == list(rnnlab.PARAM_NAMES)
    for trace in figure.data:
        assert isinstance(trace, go.Scatter)
        np.testing.assert_array_equal(trace.x, health.iterations)
        np.testing.assert_array_equal(trace.y, health.grad_norms[trace.name])
    assert figure.layout.yaxis.type == "log"
    assert figure.layout.xaxis.title.text == "iteration"
    figure.to_json()


def test_clip_share_figure_has_each_matrix_and_the_total(health):
    figure = clip_share_figure(health)
    assert [trace.name for trace in figure.data] == [*rnnlab.PARAM_NAMES, "all"]
    np.testing.assert_array_equal(figure.data[-1].y, health.clip_share)
    assert figure.layout.yaxis.tickformat == ".1%"


def test_saturation_figure_shows_share_and_mean(health):
    figure = saturation_figure(health)
    np.testing.assert_array_equal(figure.data[0].y, health.saturation)
    np.testing.assert_array_equal(figure.data[1].y, health.mean_abs_hidden)


@pytest.mark.parametrize("build", [gradient_norm_figure, clip_share_figure, saturation_figure])
def test_health_figures_say_so_when_nothing_was_recorded_yet(build):
    figure = build(HealthLog())
    assert "No health records yet" in figure.layout.annotations[0].text
    figure.to_json()


def test_weight_histogram_figure_has_a_panel_per_matrix(params):
    figure = weight_histogram_figure(params, bins=12)
    assert len(figure.data) == 5 and all(isinstance(t, go.Bar) for t in figure.data)
    for trace, name in zip(figure.data, rnnlab.PARAM_NAMES, strict=True):
        assert sum(trace.y) == params[name].size and len(trace.x) == 12
    figure.to_json()


def test_hidden_histogram_figure_counts_every_activation(trace):
    figure = hidden_histogram_figure(trace, bins=20)
    (bars,) = figure.data
    assert sum(bars.y) == trace.hidden.size
    share = np.mean(np.abs(trace.hidden) > 0.95)
    assert f"{share:.1%} saturated" in figure.layout.title.text
    assert len(figure.layout.shapes) == 2
    figure.to_json()
