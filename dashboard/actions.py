"""What the page's widgets do when used: one callback each, wired by the sidebar, the controls
and the views. A refused action (a ValueError: the session changed nothing) is told on the page
by `refused_as_message`; any other failure by `guarded`, never with a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable

import streamlit as st

from dashboard import browser_session
from dashboard.model_reads import generate
from dashboard.page_model import (
    CHECKPOINT,
    DASHBOARD_DEFAULTS,
    LOG,
    builtin_text,
    compared_networks,
    compared_start,
    start_defaults,
    uploaded_text,
)
from dashboard.page_state import (
    CONTROLS_CHANGED,
    lab,
    max_upload_mb,
    show_config_in_widgets,
    show_live_settings_in_widgets,
    show_network_in_widgets,
    wanted_config,
    wanted_start,
)
from dashboard.starts import from_checkpoint

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


def refused_as_message(
    before: str | Callable[[], str] = "", undo: Callable[[], None] | None = None
) -> Callable[[Callable], Callable]:
    """The one way a refused action reaches the page: a callback that raises ValueError (the
    session refused and changed nothing) is told as `before` (or what it returns) followed by
    why, after which `undo` puts back the controls that asked for it."""

    def decorate(callback: Callable) -> Callable:
        @functools.wraps(callback)
        def run(*args, **kwargs):
            try:
                return callback(*args, **kwargs)
            except ValueError as error:
                lab().notify("error", f"{before() if callable(before) else before}{error}")
                if undo is not None:
                    undo()
                return None

        return run

    return decorate


# ---------------------------------------------------------------------------------- the text
@guarded
@refused_as_message()
def on_builtin_choice() -> None:
    corpus = builtin_text(st.session_state.builtin_choice)
    lab().offer_text(None if corpus == lab().corpus else corpus)


@guarded
@refused_as_message()
def on_upload() -> None:
    upload = st.session_state.upload
    if upload is None:
        lab().withdraw_uploaded_text()  # the file was removed: so is the text it offered
        return
    corpus = uploaded_text(upload.name, upload.getvalue(), max_upload_mb())
    lab().offer_text(corpus)
    lab().notify(
        "success", f"Loaded {corpus.name}: {len(corpus.text):,} characters. Apply to train on it."
    )


# ---------------------------------------------------------------------------------- a new run
@guarded
@refused_as_message("Nothing was changed: ")
def on_apply() -> None:
    """Reset / Apply: a new run with the wanted settings and text; the current run is kept."""
    current = lab()
    current.new_run(wanted_config(), current.pending_corpus, wanted_start())
    st.session_state.prime = current.sample_settings.prime  # cleared if the new text cannot read it
    # A new start's own learning rate and sequence length: the controls show the new run's.
    show_live_settings_in_widgets(current.config)
    if current.origin is not None:
        current.notify("success", current.origin.describe())


@guarded
def on_start_from() -> None:
    """A new start: the network controls show the base's network (a transfer keeps it), and the
    settings controls that start's defaults; all of it pending until Apply."""
    start = wanted_start()
    if not start.ready:
        return  # an uploaded checkpoint: its network shows once it is uploaded
    show_network_in_widgets(start.config(start_defaults(start.key)))


@guarded
@refused_as_message(lambda: f"{st.session_state.base_upload.name} cannot be started from: ")
def on_base_upload() -> None:
    upload = st.session_state.base_upload
    if upload is None:
        lab().offer_start(None)
        return
    start = from_checkpoint(upload.getvalue(), upload.name)
    lab().offer_start(start)
    show_network_in_widgets(start.config(start_defaults(CHECKPOINT)))
    lab().notify(
        "success", f"Read {upload.name}: {start.config(DASHBOARD_DEFAULTS).hidden_size} units. "
        "Apply to start a new run from it on the current text.",
    )  # fmt: skip


@guarded
@refused_as_message(
    lambda: f"{st.session_state.checkpoint_upload.name} was not loaded, your model is unchanged: "
)
def on_checkpoint_upload() -> None:
    upload = st.session_state.checkpoint_upload
    if upload is None:
        return
    lab().load_checkpoint(upload.getvalue())
    show_config_in_widgets(lab().config)
    st.session_state.start_from = lab().start.key
    lab().notify("success", f"Resumed from {upload.name} at iteration {lab().iteration:,}.")


# ---------------------------------------------------------------------------------- live settings
def _show_seq_length() -> None:
    st.session_state.seq_length = lab().config.seq_length


def _show_sample_settings() -> None:
    s = lab().sample_settings
    st.session_state.sample_length = s.length
    st.session_state.temperature = s.temperature
    st.session_state.prime = s.prime


@guarded
@refused_as_message()
def on_learning_rate() -> None:
    lab().set_learning_rate(st.session_state.learning_rate)


@guarded
@refused_as_message(undo=_show_seq_length)
def on_seq_length() -> None:
    lab().set_seq_length(st.session_state.seq_length)


@guarded
@refused_as_message(undo=_show_sample_settings)
def on_sampling() -> None:
    lab().set_sample_settings(
        st.session_state.sample_length, st.session_state.temperature, st.session_state.prime
    )


@guarded
def on_stop_at_best() -> None:
    lab().set_stop_at_best(st.session_state.stop_at_best)


# ---------------------------------------------------------------------------------- training
@guarded
def on_step() -> None:
    lab().train(iterations=1)  # a divergence is told by notices()


@guarded
@refused_as_message("Play did not start: ")  # over the session's budget, or the server's cap
def on_play(action: str) -> None:
    """Do what the button said when it was clicked. A click can reach the app twice (when it
    meets a timed rerun in flight): the second time it finds the lab already so."""
    if action == "pause":
        lab().pause()
        return
    lab().play()
    # A new token for each Play: one seen while playing before is no good any more.
    st.session_state.held = browser_session.new_token(st.session_state.held, lab())


@guarded
def on_stop_train(n: int) -> None:
    current = lab()
    done = current.iteration - st.session_state.get("train_started_at", 0)
    current.notify("success", f"Stopped after {done:,} of {n:,} iterations.")


@guarded
@refused_as_message()
def on_restore_best() -> None:
    lab().restore_best()


# ---------------------------------------------------------------------------------- the views
@guarded
@refused_as_message()
def on_generate() -> None:
    st.session_state.generated = generate(
        lab(),
        st.session_state.generate_length,
        st.session_state.generate_temperature,
        st.session_state.generate_prime,
    )


@guarded
@refused_as_message("Compare cells did not start: ")
def on_compare() -> None:
    lab().compare_cells(compared_networks(), st.session_state.compare_seconds)


@guarded
def on_stop_comparison() -> None:
    lab().stop_comparison()


@guarded
@refused_as_message("Nothing was changed: ")
def on_use_compared(label: str) -> None:
    """Start a run with a compared network, on the current text: all of its settings, the live
    ones (learning rate, sequence length) included, and the controls show them."""
    current = lab()
    start, config = compared_start(compared_networks()[label])
    config = config.replace(val_fraction=current.config.val_fraction)
    current.new_run(config, start=start)
    show_config_in_widgets(current.config)
    st.session_state.start_from = start.key
    st.session_state.prime = current.sample_settings.prime
    st.session_state[CONTROLS_CHANGED] = True  # clicked in the views' fragment: see live_view
