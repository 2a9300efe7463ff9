"""The live feed (dashboard/live_feed.py): the route the Training view's panel asks while
playing, called the way Starlette calls it, and app.py's server that mounts it."""

from __future__ import annotations

import dataclasses
import gc
import json
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from starlette.requests import Request
from waiting import wait_until

from dashboard import live_feed, tabs, timeline_copies
from dashboard.figures import UNITS, X_AXES
from dashboard.session import Lab
from rnnlab import Config, Trainer
from rnnlab import schedule as schedule_module
from rnnlab.corpora import builtin_corpus
from rnnlab.timeline import Timeline

REPO_ROOT = Path(__file__).resolve().parents[1]
SMALL = Config(hidden_size=16, seq_length=10, learning_rate=0.1, batch_size=4, seed=0)


def make_lab() -> Lab:
    return Lab(builtin_corpus("Songbook (bundled lyrics)"), SMALL)


def ask(url: str, token: str = ""):
    """Call the route as Starlette does for GET `url` (path and query), with `token` in the
    header the panel sends it in."""
    parts = urlsplit(url)
    route = live_feed.routes()[0]
    matched, scope = route.matches({"type": "http", "method": "GET", "path": parts.path})
    assert matched.name == "FULL", f"the route does not match {parts.path}"
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "path": parts.path,
            "query_string": parts.query.encode(),
            "headers": [(live_feed.TOKEN_HEADER.lower().encode(), token.encode())],
            **scope,
        }
    )
    response = route.endpoint(request)
    body = json.loads(response.body)
    return response, body


def stats(content: dict) -> dict[str, str]:
    return {label: value for label, value, _ in content["stats"]}


def analysed(lab: Lab) -> None:
    """Wait for the text's yardsticks and copy index (built in the background), so that two
    answers in a row draw the same."""
    wait_until(
        lambda: (snap := lab.snapshot()).yardsticks is not None and snap.latest_copy is not None,
        "the text's analysis",
    )


def test_the_feed_answers_what_the_page_itself_gives_the_panel():
    lab = make_lab()
    lab.train(iterations=30)
    analysed(lab)
    token = live_feed.register(lab)
    response, body = ask(live_feed.feed_url(UNITS[1], X_AXES[1], show_runs=False), token)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert body == live_feed.panel_content(lab.snapshot(), UNITS[1], X_AXES[1], False)
    assert body["playing"] is False
    assert stats(body)["Iteration"] == "30"
    figure = json.loads(body["figure"])
    assert figure["layout"]["uirevision"] == f"{UNITS[1]}/{X_AXES[1]}"
    assert [row["iteration"] for row in body["timeline"]] == [25, 10, 1, 0]  # newest first


def test_while_playing_each_answer_brings_the_lab_up_to_date_with_its_player():
    lab = make_lab()
    token = live_feed.register(lab)
    url = live_feed.feed_url(UNITS[0], X_AXES[0], show_runs=True)
    lab.play()
    try:
        seen = []

        def moved() -> bool:
            _, body = ask(url, token)
            assert body["playing"] is True
            seen.append(int(stats(body)["Iteration"].replace(",", "")))
            return len(set(seen)) >= 3

        wait_until(moved, "the iteration to move", pause=lambda: time.sleep(0.1))
        assert seen == sorted(seen)
        # The answer is the lab's own state: the route synced the mirror, nobody else did.
        assert lab.trainer.iteration == seen[-1]
    finally:
        lab.pause()
    _, body = ask(url, token)
    assert body["playing"] is False, "after a pause the panel is told to stop asking"


def test_a_divergence_while_playing_is_answered_as_not_playing():
    lab = make_lab()
    token = live_feed.register(lab)
    url = live_feed.feed_url(UNITS[0], X_AXES[0], show_runs=True)
    lab.play()
    lab.set_learning_rate(10.0)
    wait_until(lambda: not ask(url, token)[1]["playing"], "a divergence at learning rate 10")
    assert not lab.playing
    ((kind, text),) = lab.take_messages()  # for the page to show when it runs next
    assert kind == "error" and text.startswith("Training paused.") and "diverged" in text


@pytest.mark.parametrize(
    "query",
    [
        "units=furlongs&x_axis=iterations&runs=1",
        "units=nats+per+chunk&x_axis=time&runs=1",
        "units=nats+per+chunk&x_axis=iterations&runs=yes",
        "",
    ],
)
def test_a_malformed_question_is_refused(query):
    token = live_feed.register(make_lab())
    response, body = ask(f"{live_feed.FEED_PATH}?{query}", token)
    assert response.status_code == 400
    assert body == {"error": "bad query"}


def test_a_token_that_names_no_lab_gets_nothing_and_the_feed_forgets_ended_sessions():
    response, body = ask(live_feed.feed_url(UNITS[0], X_AXES[0], True), "not-a-token")
    assert response.status_code == 404 and body == {"error": "no such session"}
    lab = make_lab()
    token = live_feed.register(lab)
    assert ask(live_feed.feed_url(UNITS[0], X_AXES[0], True), token)[0].status_code == 200
    del lab  # the session ended: its state is dropped
    gc.collect()
    assert ask(live_feed.feed_url(UNITS[0], X_AXES[0], True), token)[0].status_code == 404


def test_tokens_are_unguessable_and_one_per_registration():
    lab = make_lab()
    tokens = {live_feed.register(lab) for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(token) >= 22 for token in tokens)  # 16 random bytes, base64


# What `streamlit run app.py` does first: import app.py to find its st.App (the page itself runs
# as __main__, once for every run). Then the server answers HTTP requests, as an ASGI app.
SERVE_THROUGH_APP_PY = """
import asyncio, json, sys
from urllib.parse import urlsplit

import app
from dashboard import live_feed
from dashboard.session import Lab
from rnnlab import Config, Trainer
from rnnlab.corpora import builtin_corpus
from rnnlab.timeline import Timeline


def get(url, token=""):
    parts = urlsplit(url)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": parts.path, "raw_path": parts.path.encode(), "root_path": "",
        "query_string": parts.query.encode(),
        "headers": [(b"host", b"localhost"), (b"x-rnnlab-token", token.encode())],
        "client": ("127.0.0.1", 50000), "server": ("localhost", 8501),
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app.app(scope, receive, send))
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


lab = Lab(builtin_corpus("Songbook (bundled lyrics)"), Config(hidden_size=8, seed=0))
url = live_feed.feed_url("nats per chunk", "iterations", True)
answers = [
    get(url, live_feed.register(lab)),
    get(url, "not-a-token"),
    get(live_feed.FEED_PATH + "?units=furlongs", "not-a-token"),
]
print(json.dumps([type(app.app).__name__, answers]))
"""


def test_app_py_imported_as_a_module_is_the_server_with_the_feed_route_and_draws_nothing():
    result = subprocess.run(
        [sys.executable, "-c", SERVE_THROUGH_APP_PY],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    kind, answers = json.loads(result.stdout.splitlines()[-1])
    assert kind == "App"
    (status, body), not_a_lab, malformed = answers
    assert status == 200 and body["playing"] is False, "the server answers the feed's route"
    assert stats(body)["Iteration"] == "0"
    assert not_a_lab == [404, {"error": "no such session"}]
    assert malformed == [400, {"error": "bad query"}]
    assert "ScriptRunContext" not in result.stderr, "nothing of the page ran at import"


def test_the_panel_carries_the_guide_the_yardsticks_and_the_copy_meter():
    lab = Lab(
        builtin_corpus("Songbook (bundled lyrics)"),
        Config(
            hidden_size=100,
            seq_length=25,
            learning_rate=0.05,
            batch_size=16,
            seed=0,
            val_fraction=0.1,
        ),
        stop_at_best=False,
    )
    lab.train(iterations=2600)  # past the turn at these settings (tests/test_lab.py)
    analysed(lab)
    snap = lab.snapshot()
    content = live_feed.panel_content(snap, UNITS[1], X_AXES[0], True)
    kinds = [note["kind"] for note in content["notes"]]
    assert kinds == ["warning", "info"]
    assert "memorising" in content["notes"][0]["text"]
    assert "than a bigram model since iteration" in content["notes"][1]["text"]
    start, end = content["sample_copy"]
    assert content["sample"][start:end] in lab.trainer.train_text
    assert content["sample_meter"].startswith(
        f"longest stretch copied from the text: {end - start}"
    )
    row = content["timeline"][0]
    assert row["sample"][row["span"][0] : row["span"][1]] in lab.trainer.train_text
    assert row["known words"].endswith("%")
    assert json.loads(content["copy_figure"])["data"][0]["name"] == "longest copy"
    labels = [a["text"] for a in json.loads(content["figure"])["layout"]["annotations"]]
    assert sum("bits/char" in label for label in labels) == 4


def test_a_busy_session_is_told_to_ask_again_without_holding_a_server_thread():
    lab = make_lab()
    token = live_feed.register(lab)
    url = live_feed.feed_url(UNITS[0], X_AXES[0], True)
    held = threading.Event()
    release = threading.Event()

    def busy() -> None:  # another thread holds the session (Train N, a slow sync)
        with lab.lock:
            held.set()
            release.wait(10)

    threading.Thread(target=busy, daemon=True).start()
    held.wait(5)
    started = time.monotonic()
    response, body = ask(url, token)
    waited = time.monotonic() - started
    release.set()
    assert response.status_code == 503 and body == {"error": "busy"}
    assert response.headers["retry-after"] == "1"
    assert waited < 5, "the request gave up instead of waiting for the session"
    assert ask(url, token)[0].status_code == 200  # free again: answered


def test_one_request_at_a_time_per_session(monkeypatch):
    lab = make_lab()
    token = live_feed.register(lab)
    url = live_feed.feed_url(UNITS[0], X_AXES[0], True)
    inside = threading.Event()
    leave = threading.Event()
    slow_content = live_feed.panel_content

    def slow(*args, **kwargs):
        inside.set()
        leave.wait(10)
        return slow_content(*args, **kwargs)

    monkeypatch.setattr(live_feed, "panel_content", slow)
    first = threading.Thread(target=ask, args=(url, token), daemon=True)
    first.start()
    inside.wait(5)
    response, body = ask(url, token)  # while the first is being answered
    leave.set()
    first.join(10)
    assert response.status_code == 503 and body == {"error": "busy"}


def test_the_route_lives_under_the_servers_base_path():
    assert live_feed.feed_path("") == "/rnnlab/live"
    assert live_feed.feed_path("/course/rnn/") == "/course/rnn/rnnlab/live"
    # The tab cookie's route follows the same rule (dashboard/server_paths.py).
    assert tabs.route_path("") == tabs.COOKIE_PATH
    assert tabs.route_path("/course/rnn/") == "/course/rnn" + tabs.COOKIE_PATH
    [cookie_route] = tabs.routes("course")
    assert cookie_route.path == "/course" + tabs.COOKIE_PATH
    [route] = live_feed.routes("course")
    assert route.path == "/course/rnnlab/live"
    assert live_feed.feed_url(UNITS[0], X_AXES[0], True, "course").startswith(
        "/course/rnnlab/live?"
    )


def test_forgetting_a_lab_ends_every_token_it_had():
    lab = make_lab()
    tokens = [live_feed.register(lab), live_feed.register(lab)]
    other = live_feed.register(make_lab_kept := make_lab())
    live_feed.forget(lab)
    url = live_feed.feed_url(UNITS[0], X_AXES[0], True)
    assert [ask(url, token)[0].status_code for token in tokens] == [404, 404]
    assert ask(url, other)[0].status_code == 200 and make_lab_kept


def test_a_poll_after_a_long_run_costs_what_it_does_after_a_short_one():
    """Bounded answers: the chart's points, the timeline's rows and the work behind them do not
    grow with the run (a crafted long history stands in for a day of Play)."""
    lab = make_lab()
    lab.train(iterations=20)
    short = live_feed.panel_content(lab.snapshot(), UNITS[1], X_AXES[1], True)
    n = 3_000_000
    long_state = dataclasses.replace(
        lab.trainer.state(),
        iteration=n,
        losses=np.full(n, 50.0),
        smooth_losses=np.full(n, 50.0),
    )
    timeline = tuple(
        schedule_module.TimelineEntry(k * 5000, 2.0, "the river runs " * 13) for k in range(3000)
    )
    snap = dataclasses.replace(
        lab.snapshot(),
        state=long_state,
        timeline=Timeline(timeline).entries,
        timeline_copies=(None,) * len(Timeline(timeline)),
    )
    tracemalloc.start()
    try:
        long = live_feed.panel_content(snap, UNITS[1], X_AXES[1], True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One whole-run array of float64 would be 24 MB: none is built for a poll.
    assert peak < 12 * 2**20, f"a poll allocated {peak / 2**20:.0f} MB"
    figure = json.loads(long["figure"])
    assert max(len(trace["x"]["bdata"]) for trace in figure["data"] if "x" in trace) < 20_000
    assert len(long["timeline"]) == timeline_copies.TIMELINE_FIRST + timeline_copies.TIMELINE_LATEST
    assert len(json.dumps(long)) < 4 * len(json.dumps(short)) + 200_000


# ------------------------------------------------------------------- the timeline as changes
def timeline_of(body: dict) -> list[int]:
    return [row["iteration"] for row in body["timeline"]]


def ask_since(url: str, token: str, mark: str) -> dict:
    response, body = ask(f"{url}&timeline={mark}", token)
    assert response.status_code == 200, body
    return body


def merged(held: list[dict], body: dict) -> list[dict]:
    """What the panel holds after an answer (live_panel/index.html, mergeTimeline)."""
    rows = body["timeline"] if body["timeline_replace"] else body["timeline"] + held
    first, latest = body["timeline_keep"]
    return rows if len(rows) <= first + latest else rows[:latest] + rows[len(rows) - first :]


def test_a_poll_with_nothing_new_carries_no_timeline_entries_and_one_after_a_sample_carries_it():
    lab = make_lab()
    lab.train(iterations=30)
    analysed(lab)
    token = live_feed.register(lab)
    url = live_feed.feed_url(UNITS[0], X_AXES[0], True)
    _, first = ask(url, token)  # no mark: everything shown
    assert first["timeline_replace"] is True and timeline_of(first) == [25, 10, 1, 0]
    again = ask_since(url, token, first["timeline_mark"])
    assert again["timeline_replace"] is False and again["timeline"] == []
    assert again["timeline_mark"] == first["timeline_mark"]
    lab.train(iterations=20)  # to the milestone at 50
    news = ask_since(url, token, again["timeline_mark"])
    assert news["timeline_replace"] is False and timeline_of(news) == [50]
    assert news["timeline"][0]["sample"] == lab.timeline[-1].text
    assert timeline_of({"timeline": merged(first["timeline"], news)}) == [50, 25, 10, 1, 0]


@pytest.mark.parametrize(
    "change",
    ["reset", "rollback", "checkpoint", "pause", "too many new", "not a mark", "ahead"],
)
def test_the_timeline_is_replaced_when_the_panels_copy_is_no_longer_valid(change, monkeypatch):
    for module in (timeline_copies, live_feed):  # a short view, so that a few samples overflow it
        monkeypatch.setattr(module, "TIMELINE_FIRST", 3)
        monkeypatch.setattr(module, "TIMELINE_LATEST", 2)
    lab = Lab(builtin_corpus("Songbook (bundled lyrics)"), SMALL.replace(val_fraction=0.1))
    lab.train(iterations=60)
    analysed(lab)
    token = live_feed.register(lab)
    url = live_feed.feed_url(UNITS[0], X_AXES[0], True)
    held = ask(url, token)[1]
    mark = held["timeline_mark"]
    if change == "reset":
        lab.new_run(SMALL)
    elif change == "rollback":
        lab.set_learning_rate(10.0)
        report = lab.train(iterations=2000)
        assert report.divergence, "no divergence at learning rate 10"
    elif change == "checkpoint":
        saved = lab.checkpoint_bytes()
        lab.load_checkpoint(saved)
    elif change == "pause":
        lab.play()
        lab.pause()  # the player's timeline comes back whole
    elif change == "too many new":
        lab.train(iterations=300 - 60)  # samples at 100, 200 and 300: more than the 2 latest
    elif change == "not a mark":
        mark = "<script>"
    elif change == "ahead":
        generation, ready, count = mark.split(".")
        mark = f"{generation}.{ready}.{int(count) + 1}"
    analysed(lab)
    body = ask_since(url, token, mark)
    assert body["timeline_replace"] is True
    assert timeline_of(body) == [e.iteration for e in reversed(lab.timeline)]
    shown = [e.iteration for e in reversed(shown_by_the_panel(lab.timeline))]
    assert [row["iteration"] for row in merged(held["timeline"], body)] == shown


def shown_by_the_panel(timeline):
    """The first TIMELINE_FIRST and latest TIMELINE_LATEST of `timeline`, as the feed says them
    (a test may make them fewer than the run keeps)."""
    first, latest = live_feed.TIMELINE_FIRST, live_feed.TIMELINE_LATEST
    return timeline if len(timeline) <= first + latest else timeline[:first] + timeline[-latest:]


def test_the_panels_timeline_follows_the_players_answer_by_answer(monkeypatch):
    for module in (timeline_copies, live_feed):  # a short view: the panel thins as it adds
        monkeypatch.setattr(module, "TIMELINE_FIRST", 3)
        monkeypatch.setattr(module, "TIMELINE_LATEST", 4)
    lab = make_lab()
    token = live_feed.register(lab)
    url = live_feed.feed_url(UNITS[0], X_AXES[0], True)
    _, body = ask(url, token)
    held, mark, answers = body["timeline"], body["timeline_mark"], []
    lab.play()
    try:

        def grown() -> bool:
            nonlocal held, mark
            body = ask_since(url, token, mark)
            answers.append(body)
            held, mark = merged(held, body), body["timeline_mark"]
            with lab.lock:  # what the mirror holds now is what the answer was made from
                expected = [e.iteration for e in reversed(shown_by_the_panel(lab.timeline))]
            assert [row["iteration"] for row in held] == expected
            return len(lab.timeline) >= 12

        wait_until(grown, "the timeline to grow", pause=lambda: time.sleep(0.05))
    finally:
        lab.pause()
    # Most answers while playing added a few rows at most; the first may replace (the meter).
    assert sum(not a["timeline_replace"] for a in answers) >= len(answers) - 2
    assert any(a["timeline"] and not a["timeline_replace"] for a in answers), "rows were added"
    assert len(held) == 7


def test_a_poll_copies_neither_the_parameters_nor_the_optimizer_memory(monkeypatch):
    lab = Lab(
        builtin_corpus("Songbook (bundled lyrics)"),
        Config(hidden_size=1024, seq_length=10, batch_size=1, seed=0),
    )
    lab.train(iterations=3)
    analysed(lab)
    token = live_feed.register(lab)
    url = live_feed.feed_url(UNITS[0], X_AXES[0], True)
    first = ask(url, token)[1]  # and its marks: the timeline comes as changes from here on
    states = []
    whole_state = Trainer.state
    monkeypatch.setattr(
        Trainer,
        "state",
        lambda self, with_model=True: states.append(with_model) or whole_state(self, with_model),
    )
    tracemalloc.start()
    try:
        body = ask_since(url, token, first["timeline_mark"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert True not in states, "the poll took the trainer's whole state"
    one_copy = lab.trainer.param_count * 8  # 9 MB at H=1024
    assert peak < one_copy / 2, f"a poll allocated {peak / 2**20:.1f} MB"
    assert stats(body)["Parameters"] == f"{lab.trainer.param_count:,}"
    assert lab.snapshot().state.params.size == lab.trainer.param_count  # the page's own: whole
