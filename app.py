"""rnnlab: watch a character-level RNN learn. Run with `streamlit run app.py`.

The page: widgets wired to the session's `Lab` (dashboard/session.py), views drawn from the
snapshot it hands out (dashboard/figures.py, dashboard/insight_figures.py, the live panel). No
numerics here and no locks: every Lab method takes the session's lock itself. Untrusted text
(uploads, samples, file names) is shown only through plain-text elements (st.code, st.text,
dataframes, the live panel's text nodes) or escaped first.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable

# One BLAS thread, set before NumPy is first imported (Streamlit itself does not import it): the
# model's matrices are small, and a second thread's spinning competes with the server and the
# browser on a small machine (docs/benchmarks.md). The player process inherits this.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import browser_session, children, live_feed, parking, tabs, url_settings
from dashboard.comparison import Cancelled
from dashboard.comparison import Failed as ComparisonFailed
from dashboard.figures import UNITS, X_AXES, comparison_figure
from dashboard.guide import (
    base_knowledge,
    data_size_advice,
    meter_caption,
    pace_note,
    train_time_note,
)
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
from dashboard.live_panel import live_panel
from dashboard.safe_text import escape_markdown, marked_text_html
from dashboard.session import (
    COMPARE_SECONDS,
    GENERATE_MAX_CHARS,
    MAX_SECONDS_PER_ITERATION,
    SNIPPET_MAX_CHARS,
    TRAIN_MAX_SECONDS,
    Lab,
    LiveSnapshot,
)
from dashboard.starts import (
    CHECKPOINT,
    CURRENT,
    RANDOM,
    Start,
    base_start,
    current_model,
    from_checkpoint,
)
from rnnlab import Config
from rnnlab.architecture import Architecture, network_label
from rnnlab.bases import base_card, base_models
from rnnlab.compare import FromBase, config_of
from rnnlab.corpora import BUILTIN_CORPORA, DEFAULT_CORPUS, MB, builtin_corpus, uploaded_corpus
from rnnlab.health import HealthLog
from rnnlab.insight import rank_units, rank_units_by_variance, text_features, top_k_predictions
from rnnlab.model import named_params
from rnnlab.pace import seconds_per_iteration
from rnnlab.presets import (
    CELL_PRESETS,
    DASHBOARD_DEFAULTS,
    DEFAULT_START,
    STOP_AT_BEST,
    TRANSFER_SETTINGS,
)
from rnnlab.sampling import PRIME_MAX_CHARS, SAMPLE_LENGTH_RANGE, TEMPERATURE_RANGE
from rnnlab.text import MAX_VOCAB

MAX_UPLOAD_MB = int(st.get_option("server.maxUploadSize"))
BASE_URL_PATH = st.get_option("server.baseUrlPath") or ""
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0)
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
TRAIN_CHOICES = (10, 100, 1000, 5000)
# While playing, the live panel asks the server for what is new this often (dashboard/live_feed.py)
# and the other views redraw this often by themselves.
PLAY_INTERVAL = 0.4
COMPARE_INTERVAL = 1.0  # the comparison reports a reading every few CPU-seconds
VIEWS = ("Training", "Generate", "Inside the network", "Compare cells", "Model & runs")
# Set by a button of the views' fragment that changed the Model controls (see live_view).
CONTROLS_CHANGED = "controls_changed"
TAB_COMPONENT = "tab"  # the key of the tab's own component (dashboard/tabs.py)
SHOWN_NOTICES = "shown_notices"  # what notices() showed in the latest run
# The settings of the network itself, each one a select box under "Model (needs a new run)".
NETWORK_FIELDS = ("cell", "layers", "optimizer", "dtype")
CELL_NAMES = {"rnn": "RNN (vanilla, tanh)", "gru": "GRU", "lstm": "LSTM"}
OPTIMIZER_NAMES = {"adagrad": "Adagrad", "rmsprop": "RMSprop", "adam": "Adam"}
LAYER_CHOICES = tuple(range(Config.range("layers")[0], Config.range("layers")[1] + 1))
INSIGHT_VIEWS = ("Neurons", "Predictions", "Sampling in colour", "Training health")
SIGNAL_NAMES = {"h": "hidden units h", "c": "cell state c", **GATE_NAMES}
SNIPPET_LENGTH = 300
HIDDEN_STEP = 4
VAL_STEP = 0.05
DROPOUT_STEP = 0.05
CONTROLS = url_settings.Controls(LEARNING_RATES, BATCH_SIZES, HIDDEN_STEP, VAL_STEP, DROPOUT_STEP)


# ------------------------------------------------------------------------------ session state
def lab() -> Lab:
    """The session's one state object: a new one with the settings in the page's address (a
    shared link) over the defaults, until the tab says which it is and a reload of it claims the
    model it left behind a moment ago (on_tab_reported)."""
    if "lab" not in st.session_state:
        new, text, seed = new_lab_from_address()
        take(new, text, seed)
    browser_session.keep_watching(st.session_state.held, st.session_state.lab)
    return st.session_state.lab


def take(new: Lab, text: str | None, seed: int | None) -> None:
    """Make `new` this session's lab (dashboard/browser_session.py), and show its settings in the
    controls."""
    st.session_state.lab = new
    st.session_state.held = browser_session.hold(new)
    _show_config_in_widgets(new.trainer.config)
    st.session_state.start_from = new.start.key
    st.session_state.seed = seed
    st.session_state.builtin_choice = text or DEFAULT_CORPUS
    st.session_state.stop_at_best = new.stop_at_best


def on_tab_reported() -> None:
    """The tab told the page which it is (dashboard/tabs.py). The first time in a session, and
    while this session has trained nothing: if the tab left a model behind a moment ago (a
    reload) at this address, it takes that one back, under a new secret; another address (a
    shared link opened in this tab) gets its own settings, and the parked lab stays parked."""
    tab = st.session_state.get(TAB_COMPONENT)
    if not tabs.is_tab_id(tab) or st.session_state.get("tab_id"):
        return
    st.session_state.tab_id = tab
    provisional = lab()
    parked = None
    if not (provisional.trainer.iteration or provisional.playing):
        parked = parking.claim(
            tabs.secret_of_tab(st.context.cookies.to_dict(), tab),
            wanted=lambda parked: address_of(parked) == st.query_params.to_dict(),
        )
    if parked is None:  # the notices of the run before stay on the page in this one
        for kind, text in st.session_state.get(SHOWN_NOTICES, []):
            provisional.notify(kind, text)
        return
    browser_session.let_go(st.session_state.held, provisional)
    take(parked, url_settings.builtin_name(parked.corpus), parked.trainer.config.seed)
    parked.notify(
        "success",
        f"Welcome back: the model is as you left it, at iteration {parked.trainer.iteration:,}.",
    )


def new_lab_from_address() -> tuple[Lab, str, int | None]:
    """A lab with the settings in the address over the defaults, its built-in text's name and
    the seed asked for; what was ignored, and why, is told on the page."""
    starts = {key: start_defaults(key) for key in address_starts()}
    asked = url_settings.read(st.query_params, DASHBOARD_DEFAULTS, CONTROLS, starts)
    text = asked.text or DEFAULT_CORPUS
    seed = asked.config.seed
    start_key = asked.start or default_start_key()
    try:
        new = Lab(builtin_corpus(text), asked.config, STOP_AT_BEST, start_of(start_key))
    except ValueError as error:  # settings that do not fit the text: the start's defaults
        new = Lab(
            builtin_corpus(DEFAULT_CORPUS), start_defaults(start_key), STOP_AT_BEST,
            start_of(start_key),
        )  # fmt: skip
        text, seed = DEFAULT_CORPUS, None
        new.notify("error", f"The settings in the address were not used: {error}")
    if asked.temperature is not None:
        s = new.sample_settings
        new.set_sample_settings(s.length, asked.temperature, s.prime)
    for problem in asked.ignored:
        new.notify("error", f"Ignored {problem.rstrip('.')}.")
    return new, text, seed


def address_of(current: Lab) -> dict[str, str]:
    """The query that holds a lab's settings (url_settings.write)."""
    start = current.start.key
    return url_settings.write(
        current.trainer.config,
        current.corpus,
        current.sample_settings.temperature,
        start if start in address_starts() else None,
    )


# ---------------------------------------------------------------------------------- starting
def address_starts() -> tuple[str, ...]:
    """The starts an address can name: random weights and the bundled bases."""
    return (RANDOM, *base_models())


def default_start_key() -> str:
    """The start a new visitor gets (presets.DEFAULT_START, when this server has that base)."""
    return DEFAULT_START if DEFAULT_START in address_starts() else RANDOM


def start_of(key: str) -> Start:
    """The Start that the "Start from" control's `key` means now."""
    if key == RANDOM:
        return Start()
    if key == CURRENT:
        return current_model(lab().trainer)
    if key == CHECKPOINT:
        return lab().offered_start or Start(CHECKPOINT)
    return base_start(key)


def start_defaults(key: str) -> Config:
    """The settings a run from `key` starts with: the dashboard's defaults, and for a transfer
    the transfer's training settings (the network is the base's)."""
    if key == RANDOM:
        return DASHBOARD_DEFAULTS
    return DASHBOARD_DEFAULTS.replace(**TRANSFER_SETTINGS)


def wanted_start() -> Start:
    return start_of(st.session_state.get("start_from", RANDOM))


def start_note(current: Lab) -> str:
    """Which start the current run took, and the other one click away."""
    if current.start.kind == RANDOM:
        others = " or ".join(f"“{name}”" for name in base_models())
        if not others:
            return "This run started from random weights."
        return (
            "This run started from random weights: watch it learn from nothing. To begin from a "
            f"model that already reads English, choose the base {others} under “Start from”."
        )
    return (
        f"This run started from {current.start.describe()}, so it writes words from the start. "
        "To watch a network learn from nothing, choose “Random weights” under “Start from”."
    )


def start_label(key: str) -> str:
    if key == RANDOM:
        return "Random weights (watch noise turn into words)"
    if key == CURRENT:
        return "The current model (go on with a new text)"
    if key == CHECKPOINT:
        return "An uploaded checkpoint (made on any text)"
    return f"Base “{key}”: {base_card(key).summary}"


def keep_settings_in_address() -> None:
    """The address holds the current run's settings, so a copied link opens them again."""
    wanted = address_of(lab())
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def _show_config_in_widgets(config: Config) -> None:
    _show_network_in_widgets(config)
    st.session_state.seed = None
    st.session_state.learning_rate = closest_learning_rate(config.learning_rate)
    st.session_state.seq_length = config.seq_length


def _show_network_in_widgets(config: Config) -> None:
    """The Model controls (those that need a new run) show `config`."""
    for name in NETWORK_FIELDS:
        st.session_state[name] = getattr(config, name)
    st.session_state.hidden_size = config.hidden_size
    st.session_state.batch_size = config.batch_size
    st.session_state.val_fraction = config.val_fraction
    st.session_state.dropout = config.dropout


def closest_learning_rate(learning_rate: float) -> float:
    return min(LEARNING_RATES, key=lambda lr: abs(lr - learning_rate))


def wanted_config() -> Config:
    """The settings the Model controls ask for. The learning rate and sequence length apply at
    once to the current run; a new run from another start takes that start's instead."""
    live = lab().trainer.config
    if st.session_state.get("start_from", RANDOM) != lab().start.key:
        live = start_defaults(st.session_state.start_from)
    seed = st.session_state.get("seed")
    return Config(
        hidden_size=st.session_state.hidden_size,
        seq_length=live.seq_length,
        learning_rate=live.learning_rate,
        batch_size=st.session_state.batch_size,
        seed=None if seed is None else int(seed),
        val_fraction=st.session_state.val_fraction,
        dropout=st.session_state.dropout,
        **{name: st.session_state[name] for name in NETWORK_FIELDS},
    )


# ---------------------------------------------------------------------------------- callbacks
LOG = logging.getLogger("rnnlab.app")
OUT_OF_MEMORY = (
    "There was not enough memory for that, so nothing was changed. Try a smaller hidden size, "
    "batch size or sequence length."
)


def failure_message(error: Exception) -> str:
    """What a visitor is told of an unexpected failure: what kind, never a traceback or a path
    (those go to the server's log)."""
    if isinstance(error, MemoryError):
        return OUT_OF_MEMORY
    return (
        f"Something went wrong ({type(error).__name__}), and nothing was changed. If it happens "
        "again, reload the page."
    )


def guarded(callback: Callable) -> Callable:
    """A widget callback whose every failure becomes a message on the page (MemoryError too).
    The session's methods change nothing unless they succeed (dashboard/session.py)."""

    @functools.wraps(callback)
    def run(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - no traceback may reach a visitor
            LOG.exception("%s failed", callback.__name__)
            lab().notify("error", failure_message(error))
            return None

    return run


def drawn_safely(view: Callable[..., None], *args) -> None:
    """Draw one view; if it fails, say so in its place and leave the rest of the page working."""
    try:
        view(*args)
    except Exception as error:  # noqa: BLE001 - no traceback may reach a visitor
        LOG.exception("drawing %s failed", view.__name__)
        st.error(failure_message(error))


@guarded
def on_builtin_choice() -> None:
    name = st.session_state.builtin_choice
    try:
        corpus = builtin_corpus(name)
    except (OSError, ValueError) as error:
        LOG.warning("reading the built-in text %r failed: %s", name, error)
        lab().notify("error", f"The built-in text {name!r} could not be read on this server.")
        return
    lab().offer_text(None if corpus == lab().corpus else corpus)


@guarded
def on_upload() -> None:
    upload = st.session_state.upload
    if upload is None:
        lab().withdraw_uploaded_text()  # the file was removed: so is the text it offered
        return
    try:
        corpus = uploaded_corpus(upload.name, upload.getvalue(), MAX_UPLOAD_MB * MB)
    except ValueError as error:
        lab().notify("error", str(error))
        return
    lab().offer_text(corpus)
    lab().notify(
        "success", f"Loaded {corpus.name}: {len(corpus.text):,} characters. Apply to train on it."
    )


@guarded
def on_apply() -> None:
    """Reset / Apply: a new run with the wanted settings and text; the current run is kept."""
    current = lab()
    try:
        current.new_run(wanted_config(), current.pending_corpus, wanted_start())
    except ValueError as error:
        current.notify("error", f"Nothing was changed: {error}")
        return
    st.session_state.prime = current.sample_settings.prime  # cleared if the new text cannot read it
    # A new start's own learning rate and sequence length: the controls show the new run's.
    st.session_state.learning_rate = closest_learning_rate(current.trainer.config.learning_rate)
    st.session_state.seq_length = current.trainer.config.seq_length
    if current.trainer.origin is not None:
        current.notify("success", current.trainer.origin.describe())


@guarded
def on_start_from() -> None:
    """A new start: the network controls show the base's network (a transfer keeps it), and the
    settings controls that start's defaults; all of it pending until Apply."""
    start = wanted_start()
    if not start.ready:
        return  # an uploaded checkpoint: its network shows once it is uploaded
    _show_network_in_widgets(start.config(start_defaults(start.key)))


@guarded
def on_base_upload() -> None:
    upload = st.session_state.base_upload
    if upload is None:
        lab().offer_start(None)
        return
    try:
        start = from_checkpoint(upload.getvalue(), upload.name)
    except ValueError as error:
        lab().notify("error", f"{upload.name} cannot be started from: {error}")
        return
    lab().offer_start(start)
    _show_network_in_widgets(start.config(start_defaults(CHECKPOINT)))
    lab().notify(
        "success", f"Read {upload.name}: {start.config(DASHBOARD_DEFAULTS).hidden_size} units. "
        "Apply to start a new run from it on the current text.",
    )  # fmt: skip


@guarded
def on_stop_train(n: int) -> None:
    current = lab()
    done = current.trainer.iteration - st.session_state.get("train_started_at", 0)
    current.notify("success", f"Stopped after {done:,} of {n:,} iterations.")


@guarded
def on_compare() -> None:
    current = lab()
    try:
        current.compare_cells(compared_networks(), st.session_state.compare_seconds)
    except ValueError as error:
        current.notify("error", f"Compare cells did not start: {error}")


@guarded
def on_stop_comparison() -> None:
    lab().stop_comparison()


@guarded
def on_use_compared(label: str) -> None:
    """Start a run with a compared network, on the current text: all of its settings, the live
    ones (learning rate, sequence length) included, and the controls show them."""
    current = lab()
    network = compared_networks()[label]
    start = base_start(network.base) if isinstance(network, FromBase) else Start()
    config = config_of(network).replace(val_fraction=current.trainer.config.val_fraction)
    try:
        current.new_run(config, start=start)
    except ValueError as error:
        current.notify("error", f"Nothing was changed: {error}")
        return
    _show_config_in_widgets(current.trainer.config)
    st.session_state.start_from = start.key
    st.session_state.prime = current.sample_settings.prime
    st.session_state[CONTROLS_CHANGED] = True  # clicked in the views' fragment: see live_view


def compared_networks() -> dict[str, Config | FromBase]:
    """What Compare cells trains: each cell from random weights, and each bundled base."""
    networks: dict[str, Config | FromBase] = dict(CELL_PRESETS)
    for name in base_models():
        config = base_start(name).config(start_defaults(name))
        networks[f"From {name}"] = FromBase(name, config)
    return networks


@guarded
def on_learning_rate() -> None:
    try:
        lab().set_learning_rate(st.session_state.learning_rate)
    except ValueError as error:
        lab().notify("error", str(error))


@guarded
def on_seq_length() -> None:
    try:
        lab().set_seq_length(st.session_state.seq_length)
    except ValueError as error:
        lab().notify("error", str(error))
        st.session_state.seq_length = lab().trainer.config.seq_length


@guarded
def on_sampling() -> None:
    s = lab().sample_settings
    try:
        lab().set_sample_settings(
            st.session_state.sample_length, st.session_state.temperature, st.session_state.prime
        )
    except ValueError as error:
        lab().notify("error", str(error))
        st.session_state.sample_length, st.session_state.temperature, st.session_state.prime = (
            s.length,
            s.temperature,
            s.prime,
        )


@guarded
def on_stop_at_best() -> None:
    lab().set_stop_at_best(st.session_state.stop_at_best)


@guarded
def on_restore_best() -> None:
    try:
        lab().restore_best()
    except ValueError as error:
        lab().notify("error", str(error))


@guarded
def on_generate() -> None:
    try:
        st.session_state.generated = lab().generate(
            st.session_state.generate_length,
            st.session_state.generate_temperature,
            st.session_state.generate_prime,
        )
    except ValueError as error:
        lab().notify("error", str(error))


@guarded
def on_step() -> None:
    lab().train(iterations=1)  # a divergence is told by notices()


@guarded
def on_play(action: str) -> None:
    """Do what the button said when it was clicked. A click can reach the app twice (when it
    meets a timed rerun in flight): the second time it finds the lab already so."""
    if action == "pause":
        lab().pause()
        return
    try:
        lab().play()
    except ValueError as error:  # over the session's budget, or the server's cap on Play
        lab().notify("error", f"Play did not start: {error}")
        return
    # A new token for each Play: one seen while playing before is no good any more.
    st.session_state.held = browser_session.new_token(st.session_state.held, lab())


@guarded
def on_checkpoint_upload() -> None:
    upload = st.session_state.checkpoint_upload
    if upload is None:
        return
    try:
        lab().load_checkpoint(upload.getvalue())
    except ValueError as error:
        lab().notify("error", f"{upload.name} was not loaded, your model is unchanged: {error}")
        return
    _show_config_in_widgets(lab().trainer.config)
    st.session_state.start_from = lab().start.key
    lab().notify("success", f"Resumed from {upload.name} at iteration {lab().trainer.iteration:,}.")


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
        start_from()
        # A run that starts from a base keeps the base's network.
        fixed = st.session_state.start_from != RANDOM
        cell, layers = st.columns([3, 2])
        cell.selectbox(
            "Cell", Config.choices("cell"), key="cell", format_func=CELL_NAMES.get,
            help=Config.help("cell"), disabled=fixed,
        )  # fmt: skip
        layers.selectbox(
            "Layers", LAYER_CHOICES, key="layers", help=Config.help("layers"), disabled=fixed
        )
        optimizer, dtype = st.columns([3, 2])
        optimizer.selectbox(
            "Optimizer", Config.choices("optimizer"), key="optimizer",
            format_func=OPTIMIZER_NAMES.get, help=Config.help("optimizer"),
        )  # fmt: skip
        dtype.selectbox(
            "Precision", Config.choices("dtype"), key="dtype", help=Config.help("dtype"),
            disabled=fixed,
        )  # fmt: skip
        st.slider(
            "Hidden size",
            *_int_range("hidden_size"),
            step=HIDDEN_STEP,
            key="hidden_size",
            help=Config.help("hidden_size"),
            disabled=fixed,
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
            step=VAL_STEP,
            key="val_fraction",
            help=Config.help("val_fraction"),
        )
        st.slider(
            "Dropout",
            0.0,
            float(Config.range("dropout")[1]),
            step=DROPOUT_STEP,
            key="dropout",
            help=Config.help("dropout"),
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
        st.checkbox(
            "Stop at the best validation point",
            key="stop_at_best",
            on_change=on_stop_at_best,
            help="Play and Train stop by themselves once the loss on held-out text has not "
            "improved for a few checks, and bring back the model of its best point. Turn off "
            "to watch the model memorise its text.",
        )

        pace_caption()

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
            *TEMPERATURE_RANGE,
            s.temperature,
            step=0.05,
            key="temperature",
            on_change=on_sampling,
        )
        st.slider(
            "Sample length",
            *SAMPLE_LENGTH_RANGE,
            s.length,
            step=10,
            key="sample_length",
            on_change=on_sampling,
        )
        st.text_input(
            "Prime text",
            s.prime,
            max_chars=PRIME_MAX_CHARS,
            key="prime",
            on_change=on_sampling,
            help="The model reads this first and continues it.",
        )
        tabs.tab_identity(
            token=st.session_state.held.token,
            known_tab=st.session_state.get("tab_id"),
            base_url_path=BASE_URL_PATH,
            key=TAB_COMPONENT,
            on_change=on_tab_reported,
        )


def start_from() -> None:
    """The "Start from" control, and the checkpoint uploader when that is what it says."""
    keys = (RANDOM, *base_models(), CURRENT, CHECKPOINT)
    st.selectbox(
        "Start from", keys, key="start_from", format_func=start_label, on_change=on_start_from,
        help="Random weights: watch a network learn from nothing, noise first. A base model "
        "has already read a lot of English and adapts to your text within seconds, on any "
        "characters. The current model goes on learning on a new text. A run from a base keeps "
        "the base's network (cell, layers, precision, hidden size).",
    )  # fmt: skip
    if st.session_state.start_from == CHECKPOINT:
        st.file_uploader(
            "Checkpoint to start from (.npz, made on any text)",
            type=["npz"],
            key="base_upload",
            on_change=on_base_upload,
        )
    elif st.session_state.start_from != RANDOM:
        st.caption("The network below is the base's; a run from it keeps it.")


def pace_caption() -> None:
    """How fast the settings on the left train here, estimated (rnnlab.pace) before they do."""
    current = lab()
    wanted = wanted_config()
    start = wanted_start()
    if start.ready:
        wanted = start.config(wanted)
    corpus = current.pending_corpus or current.corpus
    seconds = seconds_per_iteration(wanted, corpus.vocab.size)
    note = f"At these settings: {pace_note(seconds, wanted.chars_per_iteration)}."
    if seconds > MAX_SECONDS_PER_ITERATION:
        note += f" That is over the {MAX_SECONDS_PER_ITERATION:g} s an iteration may take here."
    st.caption(note)


def _int_range(name: str) -> tuple[int, int]:
    low, high = Config.range(name)
    return int(low), int(high)


# --------------------------------------------------------------------------------- main panels
def notices() -> None:
    """Messages from the callbacks and from training (a divergence, a failed player), once."""
    messages = lab().take_messages()
    st.session_state[SHOWN_NOTICES] = messages
    for kind, text in messages:
        show = {"error": st.error, "warning": st.warning}.get(kind, st.success)
        show(escape_markdown(text))


def pending_panel() -> None:
    current = lab()
    changes = current.pending_changes(wanted_config(), current.pending_corpus, wanted_start())
    if changes:
        st.warning(
            "**Pending changes** (they need a new model): "
            + "; ".join(escape_markdown(change) for change in changes)
            + ". Apply to start a new run; the current run stays in the chart for comparison."
        )
        start = wanted_start()
        if start.key != current.start.key and start.ready and start.transfers:
            corpus = current.pending_corpus or current.corpus
            st.caption(escape_markdown(base_knowledge(start.knows(corpus.vocab.chars))))
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
        if corpus.rare is not None:
            st.info(
                escape_markdown(
                    f"{corpus.rare.describe()}: the text has {corpus.rare.distinct:,} "
                    f"different characters, more than the {MAX_VOCAB} a model here learns."
                )
            )
        st.code(corpus.preview(), language=None, wrap_lines=True)
        start = wanted_start()
        if start.ready and start.transfers:
            st.caption(escape_markdown(base_knowledge(start.knows(corpus.vocab.chars))))
        wanted = wanted_config()
        if start.ready:
            wanted = start.config(wanted)
        train_chars, _ = wanted.split_sizes(len(corpus.text))
        st.caption(
            escape_markdown(
                "At hidden size "
                f"{wanted.hidden_size}: "
                + data_size_advice(
                    train_chars, Architecture.of(wanted, corpus.vocab.size).param_count
                )
            )
        )


def controls(playing: bool) -> tuple[int | None, DeltaGenerator]:
    """The training buttons, drawn for `playing`. Returns N if "Train N" was clicked, and the slot
    for its progress bar: the training itself runs after the rest of the page is drawn."""
    c1, c2, c3, c4, c5, c6 = st.columns([1, 1.2, 1, 1.2, 1, 1.3])
    c1.button("Step", on_click=on_step, width="stretch", disabled=playing, key="step")
    n = c2.selectbox(
        "Iterations", TRAIN_CHOICES, index=2, label_visibility="collapsed", key="train_n"
    )
    train_clicked = c3.button(f"Train {n:,}", width="stretch", disabled=playing, key="train")
    c4.button(
        "⏸ Pause" if playing else "▶ Play",
        on_click=on_play,
        args=("pause" if playing else "play",),
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
    c6.button(
        "↶ Best model",
        on_click=on_restore_best,
        width="stretch",
        key="restore_best",
        help="Pause, and bring back the model of the lowest validation loss so far (the star "
        "on the chart).",
    )
    current = lab().trainer
    seconds = seconds_per_iteration(current.config, current.vocab.size)
    too_long = train_time_note(n, seconds, TRAIN_MAX_SECONDS)
    if too_long and not playing:
        st.caption(too_long)
    return (n if train_clicked else None), st.empty()


@guarded
def train_n(n: int, slot: DeltaGenerator) -> None:
    """Train N with a progress bar and a Stop button, after the rest of the page is on screen,
    then redraw it. Stop (or any other control) ends this run of the page at its next progress
    update, between two slices of training, with the model as trained so far."""
    with slot.container():
        bar, stop = st.columns([5, 1])
        progress = bar.progress(0.0, text=f"Training {n:,} iterations…")
        stop.button("■ Stop", key="stop_train", on_click=on_stop_train, args=(n,))
    st.session_state.train_started_at = lab().trainer.iteration
    lab().train(
        iterations=n,
        on_progress=lambda done, total: progress.progress(
            done / total, text=f"Trained {done:,} of {total:,}"
        ),
    )
    st.rerun()  # notices() tells of a divergence


def refresh_every(playing: bool, comparing: bool) -> float | None:
    """How often the open view redraws by itself: while playing, with a view open other than
    Training (whose panel asks the server for its own updates, dashboard/live_feed.py), and
    while Compare cells runs with its view open."""
    view = st.session_state.get("view", VIEWS[0])
    if comparing and view == VIEWS[3]:
        return COMPARE_INTERVAL
    return PLAY_INTERVAL if playing and view != VIEWS[0] else None


def live_view(drawn_playing: bool, run_every: float | None) -> None:
    """The open view: a fragment (see page) that, while playing with a view other than
    Training open, redraws itself every `run_every` seconds from a fresh snapshot.

    drawn_playing and run_every are what the last full run of the page drew and chose; when
    they no longer hold (training stopped by itself, or another view was opened), the whole page
    runs again, so that its buttons and this fragment's timing follow.
    """
    if st.session_state.get(CONTROLS_CHANGED) or lab().has_messages:
        # A button of this fragment changed what the rest of the page draws (the notices, the
        # Model controls): run the whole page now, so that it shows them before the browser
        # sends its old values of the controls back (which would undo the change).
        st.rerun(scope="app")
    inside_open = st.session_state.get("view", VIEWS[0]) == VIEWS[2]
    # Only Inside the network draws the model itself: the other views take none of its copies.
    live = lab().snapshot(with_model=inside_open, copy_model=inside_open)
    if live.playing != drawn_playing or refresh_every(live.playing, lab().comparing) != run_every:
        st.rerun(scope="app")
    training, generate, inside, compare, files = st.tabs(VIEWS, key="view", on_change="rerun")
    # Only the open tab is drawn: the page stays light however many views there are.
    if training.open:
        with training:
            drawn_safely(training_view, live)
    if generate.open:
        with generate:
            drawn_safely(generate_view, live)
    if inside.open:
        with inside:
            drawn_safely(insight_view, live)
    if compare.open:
        with compare:
            drawn_safely(compare_view, live)
    if files.open:
        with files:
            drawn_safely(files_view, live)


def training_view(live: LiveSnapshot) -> None:
    options = st.columns([3, 3, 2, 2])
    units = options[0].radio("Units", UNITS, horizontal=True, key="units")
    x_axis = options[1].radio("x axis", X_AXES, horizontal=True, key="x_axis")
    show_runs = options[2].toggle("Show earlier runs", value=True, key="show_runs")
    live_panel(
        live_feed.panel_content(live, units, x_axis, show_runs),
        feed_url=live_feed.feed_url(units, x_axis, show_runs, BASE_URL_PATH),
        feed_token=st.session_state.held.token,
        poll_seconds=PLAY_INTERVAL,
        key="live_panel",
    )


def generate_view(live: LiveSnapshot) -> None:
    """A longer piece from the model as it is now, with what it copied marked."""
    st.caption(
        f"Write with the model of iteration {live.state.iteration:,}. The longest stretch copied "
        "verbatim from the training text is marked."
    )
    c1, c2, c3 = st.columns([2, 2, 3])
    c1.slider("Characters", 100, GENERATE_MAX_CHARS, 1000, step=100, key="generate_length")
    c2.slider(
        "Temperature (0: greedy)",
        *TEMPERATURE_RANGE,
        live.sample_settings.temperature,
        step=url_settings.TEMPERATURE_STEP,
        key="generate_temperature",
    )
    c3.text_input(
        "Prime text",
        "",
        max_chars=PRIME_MAX_CHARS,
        key="generate_prime",
        help="The model reads this first and continues it.",
    )
    st.button("Write", on_click=on_generate, type="primary", key="generate")
    generated = st.session_state.get("generated")
    if generated is None:
        return
    text, reading = generated
    st.html(marked_text_html(text, None if reading is None or not reading.length else reading.span))
    st.caption(escape_markdown(meter_caption(reading)))
    st.download_button(
        "Download as .txt",
        text.encode("utf-8"),
        file_name="rnnlab-generated.txt",
        mime="text/plain",
        key="download_generated",
    )


def files_view(live: LiveSnapshot) -> None:
    st.subheader("Save")
    if live.playing:
        st.info("Pause training to download the model or its history.")
    else:
        iteration = live.state.iteration
        c1, c2 = st.columns(2)
        # Built only when clicked: a long run's history takes a while to write out.
        c1.download_button(
            "Download model checkpoint (.npz)",
            lab().checkpoint_bytes,
            file_name=f"rnnlab-iteration-{iteration}.npz",
            mime="application/octet-stream",
            key="download_checkpoint",
        )
        c2.download_button(
            "Download loss history (.csv)",
            lab().history_csv,
            file_name=f"rnnlab-history-{iteration}.csv",
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
            "iterations": r.trained,
            "final smoothed loss": round(float(r.smooth_losses[-1]), 2),
        }
        for r in live.runs
    ]
    if rows:
        st.dataframe(rows, width="stretch", hide_index=True)
    else:
        st.caption("Earlier runs appear here after a Reset.")


def insight_view(live: LiveSnapshot) -> None:
    """Views into the current model: neurons, predictions, coloured samples, training health."""
    text = live.corpus.text
    st.caption(
        f"The model as it is now, at iteration {live.state.iteration:,}; while playing, this "
        "view follows it."
    )
    source, where = st.columns([1, 3])
    own = (
        source.radio("Snippet", ("From the text", "Type your own"), key="snippet_source")
        == "Type your own"
    )
    if own:
        snippet = where.text_area(
            "Text to run through the model",
            text[:200],
            max_chars=SNIPPET_MAX_CHARS,
            key="snippet_text",
        )
    else:
        last_start = max(0, len(text) - 2)
        start = where.slider("Start at character", 0, last_start, 0, key="snippet_start")
        snippet = text[start : start + SNIPPET_LENGTH]
    try:
        trace = lab().run_snippet(snippet)
    except ValueError as error:
        st.error(escape_markdown(str(error)))
        return
    neurons, predictions, colour, health = st.tabs(
        INSIGHT_VIEWS, key="insight_view", on_change="rerun"
    )
    if neurons.open:
        with neurons:
            neurons_view(trace, live)
    if predictions.open:
        with predictions:
            predictions_view(trace, live)
    if colour.open:
        with colour:
            colour_view()
    if health.open:
        with health:
            health_view(trace, live)


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
    ranked = rank_units(trace, text_features(trace.text)) + rank_units_by_variance(trace, top=5)
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


def compare_view(live: LiveSnapshot) -> None:
    """Compare cells: an RNN, a GRU and an LSTM trained in turn on this text for the same CPU
    time, their validation curves side by side and what each writes."""
    current = lab()
    vocab = live.corpus.vocab.size
    st.caption(
        "Trains each network below on this text for the same CPU time, one after another, in a "
        "process of its own (it takes a Play slot), and draws their loss on the held-out text "
        "side by side: each cell from random weights, and each base model adapting what it "
        "has read to this text. Your own run is left as it is; “Train this one” starts a run "
        "with that network."
    )
    st.dataframe(
        [
            {
                "network": label,
                "cell": network_label(config),
                "starts from": network.base if isinstance(network, FromBase) else "random weights",
                "hidden": config.hidden_size,
                "seq": config.seq_length,
                "batch": config.batch_size,
                "lr": f"{config.learning_rate:g}",
                "parameters": f"{Architecture.of(config, vocab).param_count:,}",
                "s per iteration": f"{seconds_per_iteration(config, vocab):.3f}",
            }
            for label, network in compared_networks().items()
            for config in (config_of(network),)
        ],
        hide_index=True,
        width="stretch",
    )
    left, right = st.columns([3, 1])
    left.select_slider(
        "CPU seconds per network", COMPARE_SECONDS, value=30, key="compare_seconds",
        disabled=current.comparing,
    )  # fmt: skip
    if current.comparing:
        right.button("■ Stop", key="compare_stop", on_click=on_stop_comparison, width="stretch")
    else:
        right.button(
            "▶ Compare", key="compare", on_click=on_compare, type="primary", width="stretch",
            disabled=live.playing, help="Pause Play first." if live.playing else None,
        )  # fmt: skip
    comparison = current.comparison
    if comparison is None:
        return
    readings, results, outcome = comparison.progress()
    if outcome is None:
        label, seconds, share = comparison.status()
        st.progress(
            share,
            text=f"Training the {label}: {seconds:.0f} of {comparison.seconds} CPU-seconds "
            f"({comparison.labels.index(label) + 1} of {len(comparison.labels)})",
        )
    elif isinstance(outcome, ComparisonFailed):
        st.error(escape_markdown(outcome.message))
    elif isinstance(outcome, Cancelled):
        st.info("Stopped: what each network reached until then is below.")
    st.plotly_chart(
        comparison_figure(readings, comparison.labels), key="comparison", width="stretch"
    )
    for result in results:
        with st.container(border=True):
            head, button = st.columns([4, 1])
            head.markdown(
                f"**{escape_markdown(result.label)}**: best "
                f"{result.best_bits:.3f} bits/char on held-out text after "
                f"{result.iterations:,} iterations in {result.seconds:.0f} CPU-seconds"
                + (f" ({escape_markdown(result.note)})" if result.note else "")
            )
            button.button(
                "Train this one", key=f"use_{result.label}", on_click=on_use_compared,
                args=(result.label,), width="stretch", disabled=live.playing,
            )  # fmt: skip
            st.code(result.sample, language=None, wrap_lines=True)


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
        for p in top_k_predictions(trace, vocab)
    ]
    st.dataframe(rows, hide_index=True, height=300, width="stretch")


def colour_view() -> None:
    drawn, greedy = lab().sample_side_by_side(200)
    st.caption(
        "The same start sampled twice; each character is shaded by the probability it was "
        "drawn with."
    )
    left, right = st.columns(2)
    for column, drawn_text in ((left, drawn), (right, greedy)):
        column.markdown(f"**{escape_markdown(drawn_text.label)}**")
        column.html(sampled_text_html(drawn_text))


def health_view(trace, live: LiveSnapshot) -> None:
    health = HealthLog.of(live.state.arch, live.state.health)
    params = named_params(live.state.params, live.state.arch)
    first, second = st.columns(2)
    first.plotly_chart(gradient_norm_figure(health), key="grad_norms", width="stretch")
    second.plotly_chart(clip_share_figure(health), key="clip_share", width="stretch")
    first.plotly_chart(saturation_figure(health), key="saturation", width="stretch")
    second.plotly_chart(hidden_histogram_figure(trace), key="hidden_histogram", width="stretch")
    st.plotly_chart(weight_histogram_figure(params), key="weight_histograms", width="stretch")


# ------------------------------------------------------------------------------------- page
def page() -> None:
    st.set_page_config(page_title="rnnlab: watch an RNN learn", page_icon="🔁", layout="wide")
    st.session_state.pop(CONTROLS_CHANGED, None)  # this run draws the controls as they are now
    sidebar()
    st.title("rnnlab: watch a recurrent neural network learn")
    st.caption(
        "A character-level recurrent network (the classic vanilla RNN, or a GRU or LSTM of up "
        "to three layers) reads your text a few characters at a time and learns to predict the "
        "next one. Step it, train it, or press Play and watch the "
        "loss fall and the samples turn from noise into words."
    )
    st.caption(escape_markdown(start_note(lab())))
    # Read once, before the messages are taken: the live feed (another thread) may find the
    # player stopped at any moment, and queue why; live_view then sees that playing no longer
    # holds and runs the page again, which shows the message and the Play button.
    playing = lab().playing
    notices()
    pending_panel()
    corpus_card(lab().corpus, "Training on")
    requested_iterations, progress_slot = controls(playing)
    run_every = refresh_every(playing, lab().comparing)
    st.fragment(run_every=run_every)(live_view)(playing, run_every)
    keep_settings_in_address()
    if requested_iterations:
        train_n(requested_iterations, progress_slot)


if __name__ == "__main__":
    page()  # Streamlit runs this file as the page, once for every run
else:
    # `streamlit run app.py` imports this file to find the server to start: Streamlit's own, with
    # the routes the live panel asks for updates while playing and a tab for its cookie.
    app = st.App(
        __file__,
        routes=live_feed.routes(BASE_URL_PATH) + tabs.routes(BASE_URL_PATH),
        lifespan=children.lifespan,  # no play process outlives the server
    )
