"""The page's hold on its session: the session's one Lab (created here, from the settings in the
page's address), what the controls ask for, and the controls made to show a run's settings. How
a browser session holds its lab (parking, the cookie, the feed's token, the end of the session)
is dashboard/browser_session.py; the address's format is dashboard/url_settings.py."""

from __future__ import annotations

import streamlit as st

from dashboard import browser_session, parking, tabs, url_settings
from dashboard.page_model import (
    BATCH_SIZES,
    CHECKPOINT,
    CURRENT,
    DASHBOARD_DEFAULTS,
    DEFAULT_CORPUS,
    DROPOUT_STEP,
    HIDDEN_STEP,
    LEARNING_RATES,
    NETWORK_FIELDS,
    RANDOM,
    STOP_AT_BEST,
    VAL_STEP,
    Config,
    Start,
    address_starts,
    base_start,
    builtin_corpus,
    closest_learning_rate,
    default_start_key,
    start_defaults,
)
from dashboard.session import Lab
from dashboard.starts import current_model

# Set by a button of the views' fragment that changed the Model controls (see views.live_view).
CONTROLS_CHANGED = "controls_changed"
TAB_COMPONENT = "tab"  # the key of the tab's own component (dashboard/tabs.py)
SHOWN_NOTICES = "shown_notices"  # what notices() showed in the latest run
CONTROLS = url_settings.Controls(LEARNING_RATES, BATCH_SIZES, HIDDEN_STEP, VAL_STEP, DROPOUT_STEP)


def max_upload_mb() -> int:
    return int(st.get_option("server.maxUploadSize"))


def base_url_path() -> str:
    return st.get_option("server.baseUrlPath") or ""


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
    show_config_in_widgets(new.config)
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
    if not (provisional.iteration or provisional.playing):
        parked = parking.claim(
            tabs.secret_of_tab(st.context.cookies.to_dict(), tab),
            wanted=lambda parked: address_of(parked) == st.query_params.to_dict(),
        )
    if parked is None:  # the notices of the run before stay on the page in this one
        for kind, text in st.session_state.get(SHOWN_NOTICES, []):
            provisional.notify(kind, text)
        return
    browser_session.let_go(st.session_state.held, provisional)
    take(parked, url_settings.builtin_name(parked.corpus), parked.config.seed)
    parked.notify(
        "success",
        f"Welcome back: the model is as you left it, at iteration {parked.iteration:,}.",
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
        current.config,
        current.corpus,
        current.sample_settings.temperature,
        start if start in address_starts() else None,
    )


def keep_settings_in_address() -> None:
    """The address holds the current run's settings, so a copied link opens them again."""
    wanted = address_of(lab())
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def start_of(key: str) -> Start:
    """The Start that the "Start from" control's `key` means now."""
    if key == RANDOM:
        return Start()
    if key == CURRENT:
        return current_model(lab().config, lab().vocab)
    if key == CHECKPOINT:
        return lab().offered_start or Start(CHECKPOINT)
    return base_start(key)


def wanted_start() -> Start:
    return start_of(st.session_state.get("start_from", RANDOM))


def wanted_config() -> Config:
    """The settings the Model controls ask for. The learning rate and sequence length apply at
    once to the current run; a new run from another start takes that start's instead."""
    live = lab().config
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


def wanted_network() -> Config:
    """The settings a new run would train with: the controls' own, or the base's network."""
    wanted, start = wanted_config(), wanted_start()
    return start.config(wanted) if start.ready else wanted


def show_config_in_widgets(config: Config) -> None:
    show_network_in_widgets(config)
    st.session_state.seed = None
    show_live_settings_in_widgets(config)


def show_live_settings_in_widgets(config: Config) -> None:
    """The controls that apply at once (learning rate, sequence length) show `config`."""
    st.session_state.learning_rate = closest_learning_rate(config.learning_rate)
    st.session_state.seq_length = config.seq_length


def show_network_in_widgets(config: Config) -> None:
    """The Model controls (those that need a new run) show `config`."""
    for name in NETWORK_FIELDS:
        st.session_state[name] = getattr(config, name)
    st.session_state.hidden_size = config.hidden_size
    st.session_state.batch_size = config.batch_size
    st.session_state.val_fraction = config.val_fraction
    st.session_state.dropout = config.dropout
