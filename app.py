"""rnnlab: watch a character-level RNN learn. Run with `streamlit run app.py`.

A thin view: every widget is wired to a method of the session's `Lab` (rnnlab/lab.py), every
figure comes from rnnlab.figures. Untrusted text (uploads, samples, file names) is shown only
through plain-text elements (st.code, st.text, dataframes, the live panel's text nodes) or escaped
first.
"""

from __future__ import annotations

import os

# One BLAS thread, set before NumPy is first imported (Streamlit itself does not import it). The
# model's matrices are small: a second BLAS thread gains little, while its spinning competes with
# the server and the browser; on 2 cores it cut the speed of training while playing from 89,000
# to 23,000 characters per second (bench/dashboard_speed.py). The player process inherits this.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import functools
from collections.abc import Callable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from rnnlab import Config
from rnnlab.corpora import BUILTIN_CORPORA, DEFAULT_CORPUS, builtin_corpus, uploaded_corpus
from rnnlab.figures import UNITS, X_AXES
from rnnlab.insight import (
    rank_units,
    rank_units_by_variance,
    run_snippet,
    sample_side_by_side,
    text_features,
    top_k_predictions,
)
from rnnlab.insight_figures import (
    activation_heatmap,
    clip_share_figure,
    gradient_norm_figure,
    hidden_histogram_figure,
    sampled_text_html,
    saturation_figure,
    surprisal_figure,
    unit_activation_html,
    visible_char,
    weight_histogram_figure,
)
from rnnlab.lab import Lab, LiveSnapshot
from rnnlab.presets import DASHBOARD_DEFAULTS
from rnnlab.safe_text import escape_markdown
from ui import live_feed
from ui.live_panel import live_panel

MAX_UPLOAD_MB = int(st.get_option("server.maxUploadSize"))
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0)
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
TRAIN_CHOICES = (10, 100, 1000, 5000)
# While playing, the lab trains in a process of its own (Lab.play) and the live panel asks the
# server for what is new every PLAY_INTERVAL seconds (ui/live_feed.py); the other views redraw
# that often by themselves. More than twice a second, and the page is never busy for long.
PLAY_INTERVAL = 0.4
VIEWS = ("Training", "Inside the network", "Model & runs")
INSIGHT_VIEWS = ("Neurons", "Predictions", "Sampling in colour", "Training health")
SNIPPET_LENGTH = 300


# ------------------------------------------------------------------------------ session state
def lab() -> Lab:
    """The session's one state object, created on first use."""
    if "lab" not in st.session_state:
        st.session_state.lab = Lab.create(builtin_corpus(DEFAULT_CORPUS), DASHBOARD_DEFAULTS)
        st.session_state.feed_token = live_feed.register(st.session_state.lab)
        _show_config_in_widgets(st.session_state.lab.trainer.config)
        st.session_state.builtin_choice = DEFAULT_CORPUS
    return st.session_state.lab


def _show_config_in_widgets(config: Config) -> None:
    st.session_state.hidden_size = config.hidden_size
    st.session_state.batch_size = config.batch_size
    st.session_state.seed = None
    st.session_state.val_fraction = config.val_fraction
    st.session_state.learning_rate = min(
        LEARNING_RATES, key=lambda lr: abs(lr - config.learning_rate)
    )
    st.session_state.seq_length = config.seq_length


def notify(kind: str, text: str) -> None:
    """Queue a message for the top of the page; `text` may hold untrusted names: escaped."""
    lab().notices.append((kind, escape_markdown(text)))


def wanted_config() -> Config:
    t = lab().trainer.config
    seed = st.session_state.get("seed")
    return Config(
        hidden_size=st.session_state.hidden_size,
        seq_length=t.seq_length,
        learning_rate=t.learning_rate,
        batch_size=st.session_state.batch_size,
        seed=None if seed is None else int(seed),
        val_fraction=st.session_state.val_fraction,
    )


# ---------------------------------------------------------------------------------- callbacks
def locked(callback: Callable[..., None]) -> Callable[..., None]:
    """Run a widget callback holding the lab's lock: the live view may be drawing meanwhile."""

    @functools.wraps(callback)
    def run(*args) -> None:
        with lab().lock:
            callback(*args)

    return run


@locked
def on_builtin_choice() -> None:
    name = st.session_state.builtin_choice
    try:
        corpus = builtin_corpus(name)
    except (OSError, ValueError) as error:
        notify("error", f"Could not read {name}: {error}")
        return
    lab().pending_corpus = None if corpus == lab().corpus else corpus


@locked
def on_upload() -> None:
    upload = st.session_state.upload
    if upload is None:
        if lab().pending_corpus is not None and lab().pending_corpus.source == "upload":
            lab().pending_corpus = None  # the file was removed: so is the text it offered
        return
    try:
        corpus = uploaded_corpus(upload.name, upload.getvalue(), MAX_UPLOAD_MB * 1_000_000)
    except ValueError as error:
        notify("error", str(error))
        return
    lab().pending_corpus = corpus
    notify(
        "success", f"Loaded {corpus.name}: {len(corpus.text):,} characters. Apply to train on it."
    )


@locked
def on_apply() -> None:
    """Reset / Apply: a new run with the wanted settings and text; the current run is kept."""
    current = lab()
    try:
        config = wanted_config()
        current.new_run(config, current.pending_corpus)
    except ValueError as error:
        notify("error", f"Nothing was changed: {error}")
        return
    current.pending_corpus = None
    current.pause()
    st.session_state.prime = current.sample_settings.prime  # cleared if the new text cannot read it


@locked
def on_learning_rate() -> None:
    try:
        lab().set_learning_rate(st.session_state.learning_rate)
    except ValueError as error:
        notify("error", str(error))


@locked
def on_seq_length() -> None:
    try:
        lab().set_seq_length(st.session_state.seq_length)
    except ValueError as error:
        notify("error", str(error))
        st.session_state.seq_length = lab().trainer.config.seq_length


@locked
def on_sampling() -> None:
    s = lab().sample_settings
    try:
        lab().set_sample_settings(
            st.session_state.sample_length, st.session_state.temperature, st.session_state.prime
        )
    except ValueError as error:
        notify("error", str(error))
        st.session_state.sample_length, st.session_state.temperature, st.session_state.prime = (
            s.length,
            s.temperature,
            s.prime,
        )


@locked
def on_step() -> None:
    lab().train(iterations=1)  # a divergence is told by notices()


@locked
def on_play(action: str) -> None:
    """Do what the button said when it was clicked. A click can reach the app twice (when it
    meets the live view's timed rerun in flight): the second time it finds the lab already so."""
    if action == "pause":
        lab().pause()
    else:
        lab().play()


@locked
def on_checkpoint_upload() -> None:
    upload = st.session_state.checkpoint_upload
    if upload is None:
        return
    try:
        lab().load_checkpoint(upload.getvalue())
    except ValueError as error:
        notify("error", f"{upload.name} was not loaded, your model is unchanged: {error}")
        return
    lab().pause()
    _show_config_in_widgets(lab().trainer.config)
    notify("success", f"Resumed from {upload.name} at iteration {lab().trainer.iteration:,}.")


# ------------------------------------------------------------------------------------ sidebar
def sidebar() -> None:
    current = lab()
    with st.sidebar:
        st.header("Text")
        st.selectbox(
            "Built-in text",
            list(BUILTIN_CORPORA),
            key="builtin_choice",
            on_change=on_builtin_choice,
        )
        st.file_uploader(
            f"…or upload a text file (up to {MAX_UPLOAD_MB} MB)",
            key="upload",
            on_change=on_upload,
            help="Song lyrics, poems, code: any plain text. UTF-8 or a single-byte encoding.",
        )

        st.header("Model (needs a new run)")
        st.slider(
            "Hidden size",
            *_int_range("hidden_size"),
            step=4,
            key="hidden_size",
            help=Config.help("hidden_size"),
        )
        st.select_slider(
            "Batch size", BATCH_SIZES, key="batch_size", help=Config.help("batch_size")
        )
        st.number_input(
            "Seed (empty: random)",
            *_int_range("seed"),
            value=None,
            step=1,
            key="seed",
            help=Config.help("seed"),
        )
        st.slider(
            "Validation share",
            0.0,
            float(Config.range("val_fraction")[1]),
            step=0.05,
            key="val_fraction",
            help=Config.help("val_fraction"),
        )

        st.header("Training (applies now)")
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
            *_int_range("seq_length"),
            key="seq_length",
            on_change=on_seq_length,
            help=Config.help("seq_length"),
        )

        st.header("Resume")
        st.file_uploader(
            "Upload a checkpoint made on the current text (.npz)",
            type=["npz"],
            key="checkpoint_upload",
            on_change=on_checkpoint_upload,
        )

        st.header("Sampling")
        s = current.sample_settings
        st.slider(
            "Temperature (0: greedy)",
            0.0,
            2.0,
            s.temperature,
            step=0.05,
            key="temperature",
            on_change=on_sampling,
        )
        st.slider(
            "Sample length", 20, 2000, s.length, step=10, key="sample_length", on_change=on_sampling
        )
        st.text_input(
            "Prime text",
            s.prime,
            key="prime",
            on_change=on_sampling,
            help="The model reads this first and continues it.",
        )


def _int_range(name: str) -> tuple[int, int]:
    low, high = Config.range(name)
    return int(low), int(high)


# --------------------------------------------------------------------------------- main panels
def notices() -> None:
    current = lab()
    if current.divergence_message:  # from Step, Train N or the player process
        notify("error", f"Training paused. {current.divergence_message}")
        current.divergence_message = None
    for kind, text in current.notices:
        (st.error if kind == "error" else st.success)(text)
    current.notices.clear()


def pending_panel() -> None:
    current = lab()
    changes = current.pending_changes(wanted_config(), current.pending_corpus)
    if changes:
        st.warning(
            "**Pending changes** (they need a new model): "
            + "; ".join(escape_markdown(change) for change in changes)
            + ". Apply to start a new run; the current run stays in the chart for comparison."
        )
        st.button("Apply and start a new run", on_click=on_apply, type="primary", key="apply")
        if current.pending_corpus is not None:
            corpus_card(current.pending_corpus, "Pending text")


def corpus_card(corpus, title: str) -> None:
    with st.expander(f"{title}: {escape_markdown(corpus.name)}", expanded=title == "Pending text"):
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("Characters", f"{len(corpus.text):,}")
        c2.metric("Vocabulary", corpus.vocab.size)
        c3.metric("Size", f"{corpus.n_bytes / 1000:,.1f} kB")
        c4.metric("Encoding", corpus.encoding)
        st.code(corpus.preview(), language=None, wrap_lines=True)


def controls() -> tuple[int | None, DeltaGenerator]:
    """The training buttons. Returns N if "Train N" was clicked, and the slot for its progress bar:
    the training itself runs after the rest of the page is drawn."""
    current = lab()
    c1, c2, c3, c4, c5 = st.columns([1, 1.2, 1, 1.2, 1])
    c1.button("Step", on_click=on_step, width="stretch", disabled=current.playing, key="step")
    n = c2.selectbox(
        "Iterations", TRAIN_CHOICES, index=2, label_visibility="collapsed", key="train_n"
    )
    train_clicked = c3.button(
        f"Train {n:,}", width="stretch", disabled=current.playing, key="train"
    )
    c4.button(
        "⏸ Pause" if current.playing else "▶ Play",
        on_click=on_play,
        args=("pause" if current.playing else "play",),
        width="stretch",
        type="primary",
        key="play",
    )
    c5.button(
        "Reset",
        on_click=on_apply,
        width="stretch",
        key="reset",
        help="Start a new run with the settings on the left; the current run stays in the chart.",
    )
    return (n if train_clicked else None), st.empty()


def train_n(n: int, slot: DeltaGenerator) -> None:
    """Train N with a progress bar, after the rest of the page is on screen, then redraw it."""
    progress = slot.progress(0.0, text=f"Training {n:,} iterations…")
    lab().train(
        iterations=n,
        on_progress=lambda done, total: progress.progress(
            done / total, text=f"Trained {done:,} of {total:,}"
        ),
    )
    st.rerun()  # notices() tells of a divergence


def live_refresh() -> float | None:
    """How often the live view redraws by itself: while playing, with a view open other than
    Training (whose panel asks the server for its own updates, ui/live_feed.py)."""
    training_open = st.session_state.get("view", VIEWS[0]) == VIEWS[0]
    return PLAY_INTERVAL if lab().playing and not training_open else None


def live_view() -> None:
    """The open view. A fragment (see page()): while playing with another view than Training
    open, it redraws on its own every PLAY_INTERVAL seconds, each time bringing the lab up to
    date with its player process. The Training view's panel asks for its own updates."""
    current = lab()
    with current.lock:
        # A full run of the page has just synced (page()); a run of this fragment alone has not.
        if not st.session_state.pop("page_synced", False):
            current.sync()
        if st.session_state.get("drawn_playing") and not current.playing:
            # Playing stopped by itself (a divergence): redraw the whole page, with the message
            # and the Play button.
            st.rerun(scope="app")
        if live_refresh() != st.session_state.get("live_refresh"):
            # Another view was opened (a run of this fragment alone): the page sets how often
            # this fragment redraws by itself.
            st.rerun(scope="app")
        live = current.snapshot()
    # Drawn from the snapshot, without the lock: callbacks need not wait for the drawing.
    draw_live_view(current, live)


def draw_live_view(current: Lab, live: LiveSnapshot) -> None:
    training, inside, files = st.tabs(VIEWS, key="view", on_change="rerun")
    # Only the open tab is drawn: the page stays light however many views there are.
    if training.open:
        with training:
            training_view(live)
    if inside.open:
        with inside, current.lock:
            insight_view()
    if files.open:
        with files, current.lock:
            files_view()


def training_view(live: LiveSnapshot) -> None:
    options = st.columns([3, 3, 2, 2])
    units = options[0].radio("Units", UNITS, horizontal=True, key="units")
    x_axis = options[1].radio("x axis", X_AXES, horizontal=True, key="x_axis")
    show_runs = options[2].toggle("Show earlier runs", value=True, key="show_runs")
    live_panel(
        live_feed.panel_content(live, units, x_axis, show_runs),
        feed_url=live_feed.feed_url(st.session_state.feed_token, units, x_axis, show_runs),
        poll_seconds=PLAY_INTERVAL,
        key="live_panel",
    )


def files_view() -> None:
    current = lab()
    st.subheader("Save")
    if current.playing:
        st.info("Pause training to download the model or its history.")
    else:
        c1, c2 = st.columns(2)
        c1.download_button(
            "Download model checkpoint (.npz)",
            current.checkpoint_bytes(),
            file_name=f"rnnlab-iteration-{current.trainer.iteration}.npz",
            mime="application/octet-stream",
            key="download_checkpoint",
        )
        c2.download_button(
            "Download loss history (.csv)",
            current.history_csv(),
            file_name=f"rnnlab-history-{current.trainer.iteration}.csv",
            mime="text/csv",
            key="download_history",
        )
    st.caption("To resume from a checkpoint, upload it in the sidebar.")
    st.subheader("Runs")
    rows = [
        {
            "run": r.number,
            "text": r.corpus_name,
            "settings": r.label,
            "iterations": len(r.losses),
            "final smoothed loss": round(float(r.smooth_losses[-1]), 2),
        }
        for r in current.runs
    ]
    if rows:
        st.dataframe(rows, width="stretch", hide_index=True)
    else:
        st.caption("Earlier runs appear here after a Reset.")


def insight_view() -> None:
    """Views into the current model: neurons, predictions, coloured samples, training health."""
    current = lab()
    trainer = current.trainer
    st.caption(
        f"The model as it is now, at iteration {trainer.iteration:,}; while playing, this view "
        "follows it."
    )
    source, where = st.columns([1, 3])
    own = (
        source.radio("Snippet", ("From the text", "Type your own"), key="snippet_source")
        == "Type your own"
    )
    if own:
        snippet = where.text_area(
            "Text to run through the model", current.corpus.text[:200], key="snippet_text"
        )
    else:
        last_start = max(0, len(current.corpus.text) - 2)
        start = where.slider("Start at character", 0, last_start, 0, key="snippet_start")
        snippet = current.corpus.text[start : start + SNIPPET_LENGTH]
    try:
        trace = run_snippet(trainer, None, snippet)
    except ValueError as error:
        st.error(escape_markdown(str(error)))
        return
    neurons, predictions, colour, health = st.tabs(
        INSIGHT_VIEWS, key="insight_view", on_change="rerun"
    )
    if neurons.open:
        with neurons:
            neurons_view(trace)
    if predictions.open:
        with predictions:
            predictions_view(trace)
    if colour.open:
        with colour:
            colour_view()
    if health.open:
        with health:
            health_view(trace)


def neurons_view(trace) -> None:
    ranked = rank_units(trace, text_features(trace.text)) + rank_units_by_variance(trace, top=5)
    st.markdown(
        "**Units worth a look**: those that follow a simple feature of the text, and the busiest."
    )
    st.dataframe(
        [{"unit": u.unit, "follows": u.feature, "score": round(u.score, 3)} for u in ranked],
        hide_index=True,
        height=220,
        width="stretch",
    )
    unit = st.selectbox(
        "Unit",
        range(lab().trainer.config.hidden_size),
        index=ranked[0].unit if ranked else 0,
        key="unit",
        help="Blue: activation near +1; red: near −1.",
    )
    st.html(unit_activation_html(trace, unit))
    st.plotly_chart(activation_heatmap(trace), key="activation_heatmap", width="stretch")


def predictions_view(trace) -> None:
    vocab = lab().trainer.vocab
    st.plotly_chart(surprisal_figure(trace, vocab), key="surprisal", width="stretch")
    rows = [
        {
            "after": visible_char(p.char),
            "actual next": visible_char(p.actual) if p.actual else "",
            "p(actual)": None if p.actual_prob is None else round(p.actual_prob, 3),
            "top 5": "  ".join(f"{visible_char(c)} {q:.2f}" for c, q in p.top),
        }
        for p in top_k_predictions(trace, vocab)
    ]
    st.dataframe(rows, hide_index=True, height=300, width="stretch")


def colour_view() -> None:
    current = lab()
    s = current.sample_settings
    drawn, greedy = sample_side_by_side(
        current.trainer,
        n=200,
        prime=s.prime or None,
        temperature=s.temperature or 1.0,
        seed=current.trainer.iteration,
    )
    st.caption(
        "The same start sampled twice; each character is shaded by the probability it was "
        "drawn with."
    )
    left, right = st.columns(2)
    for column, drawn_text in ((left, drawn), (right, greedy)):
        column.markdown(f"**{escape_markdown(drawn_text.label)}**")
        column.html(sampled_text_html(drawn_text))


def health_view(trace) -> None:
    trainer = lab().trainer
    first, second = st.columns(2)
    first.plotly_chart(gradient_norm_figure(trainer.health), key="grad_norms", width="stretch")
    second.plotly_chart(clip_share_figure(trainer.health), key="clip_share", width="stretch")
    first.plotly_chart(saturation_figure(trainer.health), key="saturation", width="stretch")
    second.plotly_chart(hidden_histogram_figure(trace), key="hidden_histogram", width="stretch")
    st.plotly_chart(
        weight_histogram_figure(trainer.params), key="weight_histograms", width="stretch"
    )


# ------------------------------------------------------------------------------------- page
def page() -> None:
    st.set_page_config(page_title="rnnlab: watch an RNN learn", page_icon="🔁", layout="wide")
    current = lab()
    # The lab's lock is held for the whole run, so that no callback changes the model while the
    # page reads it (see locked).
    with current.lock:
        current.sync()
        st.session_state.page_synced = True
        st.session_state.drawn_playing = current.playing
        draw_page()


def draw_page() -> None:
    sidebar()
    st.title("rnnlab: watch a recurrent neural network learn")
    st.caption(
        "A character-level vanilla RNN (one tanh layer) reads your text a few characters at a "
        "time and learns to predict the next one. Step it, train it, or press Play and watch the "
        "loss fall and the samples turn from noise into words."
    )
    notices()
    pending_panel()
    corpus_card(lab().corpus, "Training on")
    requested_iterations, progress_slot = controls()
    st.session_state.live_refresh = live_refresh()
    st.fragment(run_every=st.session_state.live_refresh)(live_view)()
    if requested_iterations:
        train_n(requested_iterations, progress_slot)


if __name__ == "__main__":
    page()  # Streamlit runs this file as the page, once for every run
else:
    # `streamlit run app.py` imports this file to find the server to start: Streamlit's own, with
    # the route that the live panel asks for updates while playing.
    app = st.App(__file__, routes=live_feed.routes())
