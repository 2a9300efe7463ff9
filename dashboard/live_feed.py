"""The live feed: while playing, the Training view's panel asks the server what is new, a few
times a second, instead of Streamlit running and redrawing the page that often.

Why: every run of a Streamlit fragment, however little it changes, costs the browser a large
share of its main thread in Streamlit's own redrawing, on a machine whose other core trains; a
request to this route and the panel's own update in place cost a fraction of that (docs/live.md
and bench/dashboard_speed.py).

Each session's lab is registered under a token of its own (unguessable, 128 bits), which the page
hands to its panel and the panel sends in a header (never in the address, where logs keep it);
the route answers only for a registered lab, a new token at each Play, and forgets a session's
tokens when it ends (the registry holds its labs weakly, too). What the route answers is what the
page itself gives the panel when it draws it: `panel_content`, one code path for both.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rnnlab.copying import CopyReport
from rnnlab.schedule import validation_cadence

from .figures import UNITS, X_AXES, copy_figure, loss_figure
from .guide import meter_caption, overfitting_note, yardstick_note
from .server_paths import under_base
from .session import Busy, Lab, LiveSnapshot
from .timeline_copies import TIMELINE_FIRST, TIMELINE_LATEST

FEED_PATH = "/rnnlab/live"
TOKEN_HEADER = "X-Rnnlab-Token"

_labs: weakref.WeakValueDictionary[str, Lab] = weakref.WeakValueDictionary()
_registry_lock = threading.Lock()
_in_flight: set[str] = set()  # tokens being answered now: one request at a time per session
# How long a request waits for a busy session before it is told to ask again: short, as it holds
# one of the server's few worker threads meanwhile.
BUSY_WAIT = 0.05


def register(lab: Lab) -> str:
    """A new token under which the route answers for this lab (for as long as it exists)."""
    token = secrets.token_urlsafe(16)
    with _registry_lock:
        _labs[token] = lab
    return token


def lab_of(token: str) -> Lab | None:
    """The lab a token names, if it names one."""
    with _registry_lock:
        return _labs.get(token)


def forget(lab: Lab) -> None:
    """The lab's session has ended (or it plays anew): the route no longer answers for any of
    its tokens."""
    with _registry_lock:
        for token in [token for token, known in _labs.items() if known is lab]:
            del _labs[token]


def feed_path(base_url_path: str = "") -> str:
    """The route's path on the app's server, under Streamlit's server.baseUrlPath if set."""
    return under_base(FEED_PATH, base_url_path)


def feed_url(units: str, x_axis: str, show_runs: bool, base_url_path: str = "") -> str:
    """What the panel asks while playing (with the session's token in TOKEN_HEADER, and
    `timeline=<mark>` added: the timeline_mark of the content it holds)."""
    query = urlencode({"units": units, "x_axis": x_axis, "runs": int(show_runs)})
    return f"{feed_path(base_url_path)}?{query}"


def stat_rows(live: LiveSnapshot) -> list[list[str]]:
    """The numbers above the chart: [label, value, explanation] each, two rows of four."""
    stats = live.stats
    val = stats["val_bits_per_char"]
    return [
        ["Iteration", f"{stats['iteration']:,}", ""],
        ["Epochs", f"{stats['epochs']:.2f}", "Passes through the training text."],
        ["Characters seen", f"{stats['chars_seen']:,}", ""],
        ["Characters / s", f"{stats['chars_per_second']:,.0f}", "Training speed, lately."],
        ["Parameters", f"{stats['parameters']:,}", ""],
        [
            "Smoothed loss",
            f"{stats['smooth_loss']:.2f}",
            f"Nats per chunk of {live.state.config.seq_length} characters, as the classic "
            "prints it.",
        ],
        [
            "Smoothed bits/char",
            f"{stats['bits_per_char']:.3f}",
            "The smoothed loss per character, in bits (nats / ln 2).",
        ],
        [
            "Validation bits/char",
            "—" if val is None else f"{val:.3f}",
            "Mean loss per character on the held-out end of the text (bits = nats / ln 2), "
            f"read after every {validation_cadence(live.state):,} characters trained.",
        ],
    ]


def panel_content(live: LiveSnapshot, units: str, x_axis: str, show_runs: bool) -> dict:
    """What the panel draws: stats, the loss figure (plotly JSON), the latest sample and the
    timeline (newest first). The chart keeps a person's zoom while units and x axis stay.

    The timeline comes as changes: "timeline" holds the rows to put in place of the panel's
    when "timeline_replace", else the rows to add on top of them; either way the panel then
    keeps the oldest and newest of them as "timeline_keep" says ([first, latest], as the run
    keeps them: rnnlab.timeline), and asks for the next changes with "timeline_mark"."""
    figure = loss_figure(live.state, live.runs, units, x_axis, show_runs, live.yardsticks)
    figure.update_layout(uirevision=f"{units}/{x_axis}")
    copies = None
    if len(live.copy_series) >= 2:
        copies = copy_figure(live.copy_series)
        copies.update_layout(uirevision="copies")
    s = live.sample_settings
    return {
        "playing": live.playing,
        "stats": stat_rows(live),
        "notes": notes(live),
        "figure": figure.to_json(),
        "copy_figure": None if copies is None else copies.to_json(),
        "sample": s.prime + live.latest_sample,
        "sample_caption": f"{s.length} characters at temperature {s.temperature:g}"
        + (", primed" if s.prime else ""),
        "sample_copy": _span(live.latest_copy),
        "sample_meter": meter_caption(live.latest_copy, live.analysis_failure is not None),
        "timeline": [
            {
                "iteration": e.iteration,
                "smoothed loss": round(e.smooth_loss, 2),
                "copied": "…" if reading is None else reading.length,
                "known words": "…" if reading is None else f"{reading.word_share:.0%}",
                "sample": e.text,
                "span": _span(reading),
                "new words": "" if reading is None else ", ".join(reading.novel_words),
            }
            for e, reading in reversed(list(zip(live.timeline, live.timeline_copies, strict=True)))
        ],
        "timeline_replace": live.timeline_replaces,
        "timeline_mark": live.timeline_mark,
        "timeline_keep": [TIMELINE_FIRST, TIMELINE_LATEST],
    }


def notes(live: LiveSnapshot) -> list[dict[str, str]]:
    """Lines above the chart: the overfitting guide (a warning), the yardsticks passed, or why
    the text has none."""
    lines = []
    if live.overfitting is not None:
        lines.append({"kind": "warning", "text": overfitting_note(live.overfitting, live.state)})
    if live.yardsticks is not None:
        lines.append(
            {
                "kind": "info",
                "text": yardstick_note(live.state, live.yardsticks, live.yardsticks_in_sample),
            }
        )
    elif live.analysis_failure is not None:
        text = f"No yardsticks or copy meter for this text. {live.analysis_failure}"
        lines.append({"kind": "info", "text": text})
    return lines


def _span(reading: CopyReport | None) -> list[int] | None:
    """The copied stretch to mark, [start, end), or None when nothing is."""
    return None if reading is None or reading.length == 0 else list(reading.span)


def poll(
    token: str, units: str, x_axis: str, show_runs: bool, timeline_since: str = ""
) -> dict | None:
    """Bring the token's lab up to date with its player and say what the panel shows now, the
    timeline as the changes since the panel's `timeline_since` mark; None for a token that names
    no lab (never registered, or its session has ended). Busy when the lab is busy or already
    answering this token: the server's threads never wait on a session (the panel asks again on
    its next beat)."""
    lab = _labs.get(token)
    if lab is None:
        return None
    with _registry_lock:
        if token in _in_flight:
            raise Busy("A request for this session is already being answered.")
        _in_flight.add(token)
    try:
        live = lab.snapshot(wait=BUSY_WAIT, timeline_since=timeline_since, copy_model=False)
        return panel_content(live, units, x_axis, show_runs)
    finally:
        with _registry_lock:
            _in_flight.discard(token)


def _answer(request: Request) -> JSONResponse:
    # A plain function: Starlette runs it on a worker thread, so a sync never holds up the server.
    query = request.query_params
    units, x_axis, runs = query.get("units"), query.get("x_axis"), query.get("runs")
    since = query.get("timeline", "")
    if units not in UNITS or x_axis not in X_AXES or runs not in ("0", "1") or len(since) > 64:
        return JSONResponse({"error": "bad query"}, status_code=400)
    try:
        token = request.headers.get(TOKEN_HEADER, "")
        content = poll(token, units, x_axis, runs == "1", since)
    except Busy:
        return JSONResponse(
            {"error": "busy"},
            status_code=503,
            headers={"Retry-After": "1", "Cache-Control": "no-store"},
        )
    if content is None:
        return JSONResponse({"error": "no such session"}, status_code=404)
    return JSONResponse(content, headers={"Cache-Control": "no-store"})


def routes(base_url_path: str = "") -> list[Route]:
    """The feed's route, for st.App (app.py): Streamlit mounts an app's own routes as they are,
    so the route carries the server's base path itself."""
    return [Route(feed_path(base_url_path), _answer, methods=["GET"])]
