"""The dashboard driven through Streamlit's AppTest: every widget path a person can take.

Each test opens a fresh session of app.py (the real script, the real Lab) and checks both what the
page shows and what the session's Lab holds. Messages that carry untrusted text are escaped for
markdown, so assertions read them through `shown`, which drops the backslash escapes as a reader's
browser would.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import streamlit
from process_tree import children
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest
from waiting import wait_until

from dashboard import live_feed
from dashboard.figures import UNITS, X_AXES
from dashboard.safe_text import escape_markdown
from dashboard.session import Lab
from rnnlab import Config, Trainer
from rnnlab.corpora import DEFAULT_CORPUS
from rnnlab.state import SettingChange

APP = Path(__file__).resolve().parent.parent / "app.py"
TIMEOUT = 60  # seconds per script run; generous for slow CI machines, never reached normally
TRAINING_VIEW = "Training"
INSIGHT_VIEW = "Inside the network"
FILES_VIEW = "Model & runs"
PLAY = "▶ Play"
PAUSE = "⏸ Pause"
# About 1,100 characters: long enough for the default batch of streams, short enough that a long
# sequence length no longer fits.
SHORT_TEXT = "the quick brown fox jumps over the lazy dog\n" * 25
INJECTION = (
    "<script>alert(1)</script><img src=x onerror=alert(1)> **bold** [x](javascript:alert(1))"
)


# ----------------------------------------------------------------------------------- helpers
def open_app() -> AppTest:
    """A fresh session of the page from random weights (from=random): the classic start, whose
    small RNN these tests drive; the default start has tests of its own (test_app_transfer)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["from"] = "random"
    at.run()
    assert not at.exception, at.exception
    return at


def lab_of(at: AppTest) -> Lab:
    return at.session_state["lab"]


def shown(text: str) -> str:
    """Markdown text as it reads on the page: backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def as_code(text: str) -> str:
    """Text as st.code holds it: one leading and one trailing newline dropped."""
    return re.sub(r"\n\Z", "", re.sub(r"\A\n", "", text))


def errors(at: AppTest) -> list[str]:
    return [shown(e.value) for e in at.error]


def warnings(at: AppTest) -> list[str]:
    return [shown(w.value) for w in at.warning]


def successes(at: AppTest) -> list[str]:
    return [shown(s.value) for s in at.success]


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert len(values) == 1, f"expected one {label!r} metric, found {values}"
    return values[0]


def live_panel_args(at: AppTest) -> dict:
    """The arguments the Training view's live panel (dashboard/live_panel.py) was given."""
    panels = [
        e for e in at.get("component_instance") if e.proto.component_name.endswith(".live_panel")
    ]
    assert len(panels) == 1, f"expected one live panel, found {len(panels)}"
    return json.loads(panels[0].proto.json_args)


def live_panel(at: AppTest) -> dict:
    """What the live panel was given to draw; its figure parsed from the JSON the page hands to
    plotly.js."""
    content = live_panel_args(at)["content"]
    return {**content, "figure": json.loads(content["figure"])}


def stat(at: AppTest, label: str) -> str:
    """A number shown in the live panel's stats (dashboard/live_feed.stat_rows), in the Training
    view (opened first if another view is open)."""
    if at.session_state["view"] != TRAINING_VIEW:
        open_view(at, TRAINING_VIEW)
    values = [value for name, value, _ in live_panel(at)["stats"] if name == label]
    assert len(values) == 1, f"expected one {label!r} stat, found {values}"
    return values[0]


def values(data) -> np.ndarray:
    """A trace's x or y as plotly's JSON holds it: a list, or a typed array in base64."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"])
    return np.asarray(data)


def train(at: AppTest, n: int) -> None:
    """Choose N in the selectbox and click "Train N" in the same rerun."""
    at.selectbox(key="train_n").select(n)
    at.button(key="train").click().run()
    assert not at.exception, at.exception


def step(at: AppTest) -> None:
    at.button(key="step").click().run()
    assert not at.exception, at.exception


def upload_text(at: AppTest, name: str, data: bytes) -> None:
    at.file_uploader(key="upload").set_value((name, data, "text/plain")).run()
    assert not at.exception, at.exception


def open_view(at: AppTest, label: str) -> None:
    """Switch the page's tabs (st.tabs key "view"); only the open tab's content is drawn."""
    at.session_state["view"] = label
    at.run()
    assert not at.exception, at.exception
    assert [t.label for t in at.tabs if t.children] == [label]


def upload_checkpoint(at: AppTest, name: str, data: bytes) -> None:
    """Upload through the "Model & runs" view, where the checkpoint uploader lives."""
    open_view(at, FILES_VIEW)
    uploader = at.file_uploader(key="checkpoint_upload")
    uploader.set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, at.exception


def tab(at: AppTest, label: str):
    matches = [t for t in at.tabs if t.label == label]
    assert len(matches) == 1, [t.label for t in at.tabs]
    return matches[0]


def state_of(lab: Lab) -> dict:
    """Everything a failed action must leave as it was."""
    t = lab.trainer
    return {
        "trainer": t,
        "iteration": t.iteration,
        "losses": t.losses.copy(),
        "smooth_losses": t.smooth_losses.copy(),
        "config": t.config,
        "params": {name: value.copy() for name, value in t.params.items()},
        "sample_settings": lab.sample_settings,
        "corpus": lab.corpus,
        "runs": len(lab.runs),
        "run_number": lab.run_number,
    }


def assert_unchanged(lab: Lab, before: dict) -> None:
    t = lab.trainer
    assert t is before["trainer"]
    assert t.iteration == before["iteration"]
    np.testing.assert_array_equal(t.losses, before["losses"])
    np.testing.assert_array_equal(t.smooth_losses, before["smooth_losses"])
    assert t.config == before["config"]
    for name, value in before["params"].items():
        np.testing.assert_array_equal(t.params[name], value)
    assert lab.sample_settings == before["sample_settings"]
    assert lab.corpus is before["corpus"]
    assert len(lab.runs) == before["runs"]
    assert lab.run_number == before["run_number"]


def play_processes() -> set[int]:
    """The play processes (dashboard/player.py) this test process runs now."""
    return children(os.getpid(), "dashboard.player")


@pytest.fixture
def fragment_timers(monkeypatch) -> list:
    """The `run_every` of every fragment the page makes (st.fragment, spied on), in order: how
    often Streamlit is asked to run it again by itself (None: never)."""
    timers = []
    real_fragment = streamlit.fragment

    def fragment(func=None, *, run_every=None, **options):
        timers.append(run_every)
        return real_fragment(func, run_every=run_every, **options)

    monkeypatch.setattr(streamlit, "fragment", fragment)
    return timers


@pytest.fixture
def upload_limit_1mb():
    """The server's upload limit lowered to 1 MB, so an over-limit file costs 1 MB, not 50."""
    old = streamlit_config.get_option("server.maxUploadSize")
    streamlit_config.set_option("server.maxUploadSize", 1)
    yield
    streamlit_config.set_option("server.maxUploadSize", old)


# ------------------------------------------------------------------------------ opening page
def test_app_opens_on_the_bundled_songbook_at_iteration_zero_with_a_loss_chart():
    at = open_app()
    lab = lab_of(at)
    assert lab.corpus.name == DEFAULT_CORPUS
    assert lab.trainer.iteration == 0
    assert stat(at, "Iteration") == "0"
    assert not at.error and not at.warning
    panel = live_panel(at)
    assert {"loss (raw)", "smoothed loss"} <= {trace["name"] for trace in panel["figure"]["data"]}
    assert panel["sample"] == lab.latest_sample, "a sample of the untrained model from the start"
    assert [row["iteration"] for row in panel["timeline"]] == [0]
    assert any(shown(e.label) == f"Training on: {DEFAULT_CORPUS}" for e in at.expander)


def test_two_sessions_are_independent():
    first, second = open_app(), open_app()
    assert lab_of(first) is not lab_of(second)
    step(first)
    second.run()
    assert lab_of(first).trainer.iteration == 1
    assert lab_of(second).trainer.iteration == 0
    assert stat(second, "Iteration") == "0"


# ---------------------------------------------------------------------------------- training
def test_step_trains_one_iteration_and_train_n_trains_the_chosen_number():
    at = open_app()
    lab = lab_of(at)
    step(at)
    assert lab.trainer.iteration == 1
    assert stat(at, "Iteration") == "1"
    train(at, 10)
    assert lab.trainer.iteration == 11
    assert stat(at, "Iteration") == "11"
    assert len(lab.trainer.losses) == 11


def test_play_trains_in_the_background_and_the_button_toggles_between_play_and_pause():
    at = open_app()
    lab = lab_of(at)
    open_view(at, FILES_VIEW)
    assert {d.key for d in at.get("download_button")} == {"download_checkpoint", "download_history"}
    assert at.button(key="play").label == PLAY
    others = play_processes()
    at.button(key="play").click().run()
    assert lab.playing
    player = play_processes() - others
    assert len(player) == 1, "Play trains in a process of its own"
    assert at.button(key="play").label == PAUSE
    assert at.button(key="step").disabled and at.button(key="train").disabled
    assert not at.get("download_button"), "downloads are offered only while paused"
    open_view(at, TRAINING_VIEW)
    assert live_panel_args(at)["content"]["playing"], "the panel asks for its own updates"
    before = lab.trainer.iteration
    # What the page and the live feed do on every refresh: a snapshot, synced with the player.
    wait_until(lambda: lab.snapshot().state.iteration > before + 20)
    snapshots = []
    real_snapshot = lab.snapshot
    lab.snapshot = lambda *args, **kwargs: (snapshots.append(1), real_snapshot(*args, **kwargs))[1]
    at.run()  # what a refresh of the page shows
    del lab.snapshot
    assert len(snapshots) == 1, "a full run of the page brings the lab up to date once"
    assert int(stat(at, "Iteration").replace(",", "")) > before + 20
    at.button(key="play").click().run()
    assert not lab.playing
    assert at.button(key="play").label == PLAY
    assert not player & play_processes(), "the player process ends at a pause"
    paused_at = lab.trainer.iteration
    at.run()  # with no player process left, nothing trains on
    assert lab.trainer.iteration == paused_at
    assert stat(at, "Iteration") == f"{paused_at:,}"
    assert not live_panel_args(at)["content"]["playing"]
    open_view(at, FILES_VIEW)
    assert {d.key for d in at.get("download_button")} == {"download_checkpoint", "download_history"}


def test_while_playing_only_views_other_than_training_redraw_by_themselves(fragment_timers):
    # The Training view's panel asks the server for its updates (dashboard/live_feed.py); the
    # other views are a fragment that Streamlit runs again every PLAY_INTERVAL seconds while
    # playing. fragment_timers[-1]: how often the last full run of the page asked for that.
    at = open_app()
    lab = lab_of(at)
    assert fragment_timers == [None]
    at.button(key="play").click().run()
    try:
        assert fragment_timers[-1] is None, "with Training open the page does not rerun by itself"
        args = live_panel_args(at)
        assert args["content"]["playing"] and args["poll_seconds"] == 0.4
        assert args["feed_url"].startswith("/rnnlab/live?")
        assert args["feed_token"] == at.session_state["held"].token
        assert at.session_state["held"].token not in args["feed_url"]
        at.session_state["view"] = INSIGHT_VIEW  # (its own tabs open inside it)
        at.run()
        assert not at.exception, at.exception
        assert fragment_timers[-1] == 0.4, "another view redraws itself while playing"
        # What each of those runs draws: the model as it is now.
        first = insight_iteration(at)
        wait_until(lambda: insight_iteration(at.run()) > first)
        open_view(at, TRAINING_VIEW)
        assert fragment_timers[-1] is None
    finally:
        at.button(key="play").click().run()
    assert not lab.playing
    assert fragment_timers[-1] is None
    assert not live_panel_args(at)["content"]["playing"], "the panel stops asking"
    at.session_state["view"] = INSIGHT_VIEW
    at.run()
    assert fragment_timers[-1] is None, "nor does another view, once paused"


def insight_iteration(at: AppTest) -> int:
    """The iteration that the "Inside the network" view says it shows."""
    assert not at.exception, at.exception
    captions = [re.search(r"at iteration ([\d,]+)", c.value) for c in tab(at, INSIGHT_VIEW).caption]
    found = [int(m.group(1).replace(",", "")) for m in captions if m]
    assert len(found) == 1, [c.value for c in at.caption]
    return found[0]


def test_reset_starts_a_new_run_and_keeps_the_previous_one_in_the_runs_table():
    at = open_app()
    lab = lab_of(at)
    step(at)
    old_trainer = lab.trainer
    at.button(key="reset").click().run()
    assert lab.trainer is not old_trainer
    assert lab.trainer.iteration == 0
    assert len(lab.runs) == 1
    assert lab.runs[0].number == 1 and lab.runs[0].trained == 1
    open_view(at, FILES_VIEW)
    table = tab(at, FILES_VIEW).dataframe[0].value
    assert table["run"].tolist() == [1]
    assert table["iterations"].tolist() == [1]


def test_the_chart_options_redraw_the_live_panel_and_its_timeline_follows_the_milestones():
    at = open_app()
    lab = lab_of(at)
    train(at, 100)
    at.button(key="reset").click().run()
    train(at, 10)
    panel = live_panel(at)
    names = [trace["name"] for trace in panel["figure"]["data"]]
    assert names[0] == f"Run {lab.runs[0].number}", "the earlier run is drawn behind the live one"
    smooth = next(t for t in panel["figure"]["data"] if t["name"] == "smoothed loss")
    np.testing.assert_allclose(values(smooth["y"]), lab.trainer.smooth_losses)
    assert values(smooth["x"]).tolist() == list(range(1, 11))
    assert [row["iteration"] for row in panel["timeline"]] == sorted(
        (e.iteration for e in lab.timeline), reverse=True
    ), "newest first"
    first_state = panel["figure"]["layout"]["uirevision"]

    at.radio(key="units").set_value("bits per character").run()
    at.radio(key="x_axis").set_value("characters seen").run()
    at.toggle(key="show_runs").set_value(False).run()
    panel = live_panel(at)
    assert [t["name"] for t in panel["figure"]["data"]][0] != lab.runs[0].label
    smooth = next(t for t in panel["figure"]["data"] if t["name"] == "smoothed loss")
    t = lab.trainer
    per_char_bits = t.smooth_losses / (t.config.seq_length * np.log(2))
    np.testing.assert_allclose(values(smooth["y"]), per_char_bits)
    chunk = t.config.seq_length * t.config.batch_size
    assert values(smooth["x"]).tolist() == [chunk * k for k in range(1, 11)]
    assert panel["figure"]["layout"]["uirevision"] != first_state, "a new view starts unzoomed"


# ----------------------------------------------------------------------------- live controls
def test_learning_rate_and_sequence_length_apply_immediately_and_are_recorded_as_events():
    at = open_app()
    lab = lab_of(at)
    step(at)
    trainer = lab.trainer
    old_lr, old_seq = trainer.config.learning_rate, trainer.config.seq_length
    at.select_slider(key="learning_rate").set_value(0.02).run()
    assert lab.trainer is trainer
    assert trainer.config.learning_rate == 0.02
    assert trainer.events[-1] == SettingChange(1, "learning_rate", old_lr, 0.02)
    at.sidebar.slider(key="seq_length").set_value(40).run()
    assert lab.trainer is trainer
    assert trainer.config.seq_length == 40
    assert trainer.events[-1] == SettingChange(1, "seq_length", old_seq, 40)
    assert not at.warning, "live settings must not show up as pending changes"
    step(at)
    assert trainer.chars_seen == (old_seq + 40) * trainer.config.batch_size


def test_sampling_settings_change_the_latest_sample():
    at = open_app()
    lab = lab_of(at)
    step(at)
    at.sidebar.slider(key="temperature").set_value(0.0).run()
    at.sidebar.slider(key="sample_length").set_value(50).run()
    at.text_input(key="prime").input("The ").run()
    assert not at.error
    s = lab.sample_settings
    assert (s.temperature, s.length, s.prime) == (0.0, 50, "The ")
    # Temperature 0 is greedy, so the sample is fully determined by the model.
    expected = lab.trainer.sample(50, prime="The ", temperature=0.0)
    assert lab.latest_sample == expected
    panel = live_panel(at)
    assert panel["sample"] == "The " + expected
    assert panel["sample_caption"] == "50 characters at temperature 0, primed"


def test_a_prime_with_an_unknown_character_shows_an_error_and_keeps_the_settings():
    at = open_app()
    lab = lab_of(at)
    before = lab.sample_settings
    sample = lab.latest_sample
    at.text_input(key="prime").input("snow☃").run()
    assert any("not in the vocabulary" in e for e in errors(at))
    assert lab.sample_settings == before
    assert lab.latest_sample == sample
    assert at.text_input(key="prime").value == before.prime


# --------------------------------------------------------------------------- pending changes
def _choose_hidden_size(at: AppTest, config: Config):
    value = 64 if config.hidden_size != 64 else 32
    at.sidebar.slider(key="hidden_size").set_value(value)
    return f"hidden size: {config.hidden_size} → {value}", lambda c: c.hidden_size == value


def _choose_batch_size(at: AppTest, config: Config):
    value = 16 if config.batch_size != 16 else 4
    at.select_slider(key="batch_size").set_value(value)
    return f"batch size: {config.batch_size} → {value}", lambda c: c.batch_size == value


def _choose_seed(at: AppTest, config: Config):
    value = 123 if config.seed != 123 else 124
    at.number_input(key="seed").set_value(value)
    return f"seed: {config.seed} → {value}", lambda c: c.seed == value


def _choose_val_fraction(at: AppTest, config: Config):
    value = 0.25 if config.val_fraction != 0.25 else 0.3
    at.sidebar.slider(key="val_fraction").set_value(value)
    return f"val fraction: {config.val_fraction} → {value}", lambda c: c.val_fraction == value


@pytest.mark.parametrize(
    "choose",
    [_choose_hidden_size, _choose_batch_size, _choose_seed, _choose_val_fraction],
    ids=["hidden_size", "batch_size", "seed", "val_fraction"],
)
def test_structural_settings_wait_as_pending_changes_until_applied(choose):
    at = open_app()
    lab = lab_of(at)
    step(at)
    trainer, old_config = lab.trainer, lab.trainer.config
    change, applied = choose(at, old_config)
    at.run()
    assert any(change in w for w in warnings(at)), warnings(at)
    assert lab.trainer is trainer and trainer.iteration == 1 and trainer.config == old_config
    at.button(key="apply").click().run()
    assert not at.error and not at.warning
    assert lab.trainer is not trainer
    assert applied(lab.trainer.config)
    assert lab.trainer.iteration == 0
    assert lab.runs[-1].config == old_config and lab.runs[-1].trained == 1


def test_choosing_another_built_in_text_waits_until_applied():
    at = open_app()
    lab = lab_of(at)
    step(at)
    trainer = lab.trainer
    at.selectbox(key="builtin_choice").select("Poems (bundled)").run()
    assert any(f"text: {DEFAULT_CORPUS} → Poems (bundled)" in w for w in warnings(at))
    assert lab.trainer is trainer and trainer.iteration == 1 and lab.corpus.name == DEFAULT_CORPUS
    at.button(key="apply").click().run()
    assert lab.corpus.name == "Poems (bundled)"
    assert lab.trainer is not trainer and lab.trainer.iteration == 0
    assert lab.runs[-1].corpus_name == DEFAULT_CORPUS
    assert not at.warning


# ------------------------------------------------------------------------------- checkpoints
def test_checkpoint_upload_restores_the_saved_iteration_and_parameters():
    at = open_app()
    lab = lab_of(at)
    train(at, 10)
    saved = lab.checkpoint_bytes()
    saved_params = {name: value.copy() for name, value in lab.trainer.params.items()}
    saved_losses = lab.trainer.losses.copy()
    at.button(key="reset").click().run()
    train(at, 10)
    step(at)
    assert lab.trainer.iteration == 11
    upload_checkpoint(at, "saved.npz", saved)
    assert not at.error
    assert any("Resumed from saved.npz at iteration 10" in s for s in successes(at))
    assert lab.trainer.iteration == 10
    assert stat(at, "Iteration") == "10"
    for name, value in saved_params.items():
        np.testing.assert_array_equal(lab.trainer.params[name], value)
    np.testing.assert_array_equal(lab.trainer.losses, saved_losses)
    assert [run.trained for run in lab.runs] == [10, 11]
    open_view(at, FILES_VIEW)
    assert {d.key for d in at.get("download_button")} == {"download_checkpoint", "download_history"}


def _random_bytes(lab: Lab) -> bytes:
    return np.random.default_rng(0).bytes(4000)


def _truncated_checkpoint(lab: Lab) -> bytes:
    data = lab.checkpoint_bytes()
    return data[: len(data) // 2]


def _other_texts_checkpoint(lab: Lab) -> bytes:
    other = Trainer("xyz zyx yxz " * 300, lab.trainer.config)
    other.step(2)
    buffer = io.BytesIO()
    other.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "make",
    [_random_bytes, _truncated_checkpoint, _other_texts_checkpoint],
    ids=["random-bytes", "truncated-npz", "other-text"],
)
def test_a_bad_checkpoint_shows_an_error_and_leaves_the_model_unchanged(make):
    at = open_app()
    lab = lab_of(at)
    train(at, 10)
    before = state_of(lab)
    upload_checkpoint(at, "bad.npz", make(lab))
    refused = "bad.npz was not loaded, your model is unchanged"
    assert any(refused in e for e in errors(at)), errors(at)
    assert_unchanged(lab, before)
    assert stat(at, "Iteration") == "10"


# ------------------------------------------------------------------------------ text uploads
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"  \n\t \r\n  ", "only whitespace"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)) * 4, "binary"),
    ],
    ids=["empty", "whitespace-only", "binary"],
)
def test_an_unusable_upload_shows_an_error_and_changes_nothing(data, message):
    at = open_app()
    lab = lab_of(at)
    step(at)
    before = state_of(lab)
    upload_text(at, "upload.txt", data)
    assert any(e.startswith("upload.txt") and message in e for e in errors(at)), errors(at)
    assert lab.pending_corpus is None
    assert not at.warning
    assert_unchanged(lab, before)


def test_an_upload_over_the_size_limit_is_refused(upload_limit_1mb):
    at = open_app()
    lab = lab_of(at)
    assert "up to 1 MB" in at.file_uploader(key="upload").label
    before = state_of(lab)
    # 1,160,000 bytes: 1.2 MB of 10^6 bytes, as the browser's uploader counts them.
    upload_text(at, "big.txt", b"abcdefghi\n" * 116_000)
    assert any("big.txt is 1.2 MB; the limit is 1 MB" in e for e in errors(at)), errors(at)
    assert lab.pending_corpus is None
    assert_unchanged(lab, before)


def test_a_tiny_text_is_refused_on_apply_and_the_run_continues():
    at = open_app()
    lab = lab_of(at)
    step(at)
    before = state_of(lab)
    upload_text(at, "tiny.txt", b"hello")
    assert any("Loaded tiny.txt: 5 characters" in s for s in successes(at))
    at.button(key="apply").click().run()
    assert any("Nothing was changed" in e and "needs at least" in e for e in errors(at)), errors(at)
    assert_unchanged(lab, before)
    step(at)
    assert lab.trainer.iteration == 2


def test_a_cp1252_upload_is_decoded_and_its_encoding_is_shown():
    text = "Café “naïve” résumé – déjà vu.\n" * 60
    data = text.encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    at = open_app()
    lab = lab_of(at)
    upload_text(at, "latin.txt", data)
    assert not at.error
    assert any("cp1252" in m.value for m in at.metric if m.label == "Encoding")
    at.button(key="apply").click().run()
    assert not at.error
    assert lab.corpus.name == "latin.txt" and lab.corpus.text == text
    assert "cp1252" in lab.corpus.encoding
    assert "cp1252" in metric(at, "Encoding")  # only the "Training on" card is left
    step(at)
    assert lab.trainer.iteration == 1


def test_removing_the_uploaded_file_withdraws_its_pending_text():
    at = open_app()
    lab = lab_of(at)
    upload_text(at, "short.txt", SHORT_TEXT.encode())
    assert lab.pending_corpus is not None and at.warning
    at.file_uploader(key="upload").set_value(None).run()
    assert lab.pending_corpus is None
    assert not at.warning


def test_a_prime_the_new_text_cannot_read_is_cleared_when_the_new_run_starts():
    at = open_app()
    lab = lab_of(at)
    at.text_input(key="prime").input("Verse").run()
    assert lab.sample_settings.prime == "Verse"
    upload_text(at, "abc.txt", b"abc cab bca " * 200)
    at.button(key="apply").click().run()
    assert not at.error and not at.exception
    assert lab.corpus.name == "abc.txt"
    assert lab.sample_settings.prime == ""
    assert at.text_input(key="prime").value == ""
    step(at)
    assert lab.trainer.iteration == 1


def _markdown_bodies(at: AppTest) -> list[str]:
    """Every text the page renders as markdown (st.code and dataframes show text literally)."""
    bodies = []
    for elements in (
        at.markdown,
        at.caption,
        at.error,
        at.warning,
        at.success,
        at.info,
        at.title,
        at.header,
        at.subheader,
    ):
        bodies += [e.value for e in elements]
    bodies += [e.label for e in at.expander] + [t.label for t in at.tabs]
    bodies += [m.label for m in at.metric] + [m.value for m in at.metric]
    return bodies


def _assert_nothing_unescaped(bodies: list[str]) -> None:
    for body in bodies:
        assert not re.search(r"(?<!\\)<\s*(script|img)", body, re.IGNORECASE), body
        assert "**bold**" not in body and "](javascript" not in body, body


def test_html_and_markdown_in_an_upload_are_shown_literally_never_rendered():
    name = INJECTION + ".txt"
    content = (INJECTION + "\n") * 12
    at = open_app()
    lab = lab_of(at)
    upload_text(at, name, content.encode())
    assert any(INJECTION in c.value for c in at.code), "the content is shown as plain text"
    bodies = _markdown_bodies(at)
    assert any(escape_markdown(name) in body for body in bodies), "the name is shown, escaped"
    _assert_nothing_unescaped(bodies)
    at.button(key="apply").click().run()
    assert lab.corpus.name == name
    _assert_nothing_unescaped(_markdown_bodies(at))
    upload_text(at, name, b"")  # the same name in an error message
    assert any(e.startswith(name) for e in errors(at))
    _assert_nothing_unescaped(_markdown_bodies(at))


def test_html_views_of_the_network_escape_an_injecting_text():
    at = open_app()
    upload_text(at, "inject.txt", ((INJECTION + "\n") * 12).encode())
    at.button(key="apply").click().run()
    at.session_state["view"] = "Inside the network"
    for view in ("Neurons", "Sampling in colour"):  # the views that draw the text as HTML
        at.session_state["insight_view"] = view
        at.run()
        assert not at.exception, at.exception
        assert [t.label for t in at.tabs if t.children] == ["Inside the network", view]
        html = [element.proto.body for element in at.get("html")]
        assert html
        if view == "Neurons":  # draws the text itself (the colour view draws random samples)
            assert any("&lt;" in body for body in html), "the text's < is drawn, escaped"
        for body in html:
            assert not re.search(r"<\s*(script|img)", body, re.IGNORECASE), body[:200]
        _assert_nothing_unescaped(_markdown_bodies(at))


def test_a_sequence_length_too_long_for_the_text_is_refused_and_the_slider_reverts():
    at = open_app()
    lab = lab_of(at)
    upload_text(at, "short.txt", SHORT_TEXT.encode())
    at.button(key="apply").click().run()
    assert lab.corpus.name == "short.txt" and not at.error
    step(at)
    before = state_of(lab)
    at.sidebar.slider(key="seq_length").set_value(200).run()
    assert any("needs at least" in e for e in errors(at)), errors(at)
    assert at.sidebar.slider(key="seq_length").value == before["config"].seq_length
    assert lab.trainer.events == ()
    assert_unchanged(lab, before)


# ------------------------------------------------------------------------------- divergence
def _rolled_back_to(message: str) -> int:
    match = re.search(r"rolled back to iteration (\d+)", message)
    assert match, message
    return int(match.group(1))


def test_a_diverging_learning_rate_stops_training_and_rolls_back():
    at = open_app()
    lab = lab_of(at)
    train(at, 10)
    at.select_slider(key="learning_rate").set_value(10.0).run()
    train(at, 100)
    diverged = [e for e in errors(at) if "diverged" in e and "rolled back" in e]
    assert len(diverged) == 1, errors(at)
    rollback = _rolled_back_to(diverged[0])
    t = lab.trainer
    assert 10 <= rollback < 110
    assert t.iteration == rollback
    assert len(t.losses) == len(t.smooth_losses) == rollback
    assert stat(at, "Iteration") == f"{rollback:,}"
    assert all(entry.iteration <= rollback for entry in lab.timeline)
    assert not lab.playing and at.button(key="play").label == PLAY


def test_divergence_while_playing_stops_play_and_reports_the_rollback():
    at = open_app()
    lab = lab_of(at)
    at.button(key="play").click().run()
    at.select_slider(key="learning_rate").set_value(10.0).run()
    shown = errors(at)  # the player may have diverged already when this run synced
    # What the page and the live feed do on every refresh: a snapshot, synced with the player.
    wait_until(lambda: not lab.snapshot().playing)  # divergence comes within a few iterations
    at.run()  # the page's next refresh tells, if it has not yet
    shown += errors(at)
    assert not lab.playing
    assert at.button(key="play").label == PLAY
    diverged = [e for e in shown if "diverged" in e and "rolled back" in e]
    assert len(diverged) == 1, shown
    assert lab.trainer.iteration == _rolled_back_to(diverged[0]) == len(lab.trainer.losses)


def test_a_divergence_the_live_feed_finds_while_the_page_runs_is_told_in_that_run():
    # The live feed (another thread of the server) may take the stopped player back at any
    # moment of a run of the page: here, just after the page has shown its messages. That run
    # must still end with the message and the Play button, not with a stale Pause button and
    # the message left for some later run.
    at = open_app()
    lab = lab_of(at)
    at.button(key="play").click().run()
    token = at.session_state["held"].token  # a new one at each Play
    real_take_messages = lab.take_messages

    def take_messages_then_the_feed_polls():
        messages = real_take_messages()
        del lab.take_messages  # once
        wait_until(lambda: not live_feed.poll(token, UNITS[0], X_AXES[0], True)["playing"])
        return messages

    lab.take_messages = take_messages_then_the_feed_polls
    at.select_slider(key="learning_rate").set_value(10.0).run()  # diverges in a few iterations
    assert not at.exception, at.exception
    assert not lab.playing
    assert at.button(key="play").label == PLAY
    assert any("diverged" in e and "rolled back" in e for e in errors(at)), errors(at)


def test_each_play_gets_a_new_feed_token_and_the_old_one_is_dead():
    at = open_app()
    lab = lab_of(at)
    first = at.session_state["held"].token
    at.button(key="play").click().run()
    try:
        second = at.session_state["held"].token
        assert second != first
        assert live_feed.poll(first, UNITS[0], X_AXES[0], True) is None
        assert live_feed.poll(second, UNITS[0], X_AXES[0], True) is not None
    finally:
        lab.pause()
