"""Many visitors at once: K browser sessions open the app and press Play, on this machine.

    python bench/load.py [--sessions 1 2 4 8] [--seconds 15] [--quick] [--chromium PATH]

Starts `streamlit run app.py` (its shipped settings: the Play cap is cores - 1) and, for each K,
opens K tabs of headless Chromium (each its own browser context: its own session), presses Play
in each, lets them run for --seconds, then reports:

* each session's training speed, as its page shows it (characters a second), and how many were
  told that the server plays as many sessions as it runs at once (the cap);
* how long a new visitor waits, with the K sessions busy, until the page is interactive (its
  Play button can be clicked), and the resident memory of the server and all its children (the
  play processes), both 5 s after the Plays (with the defaults, a Play may stop by itself at the
  best validation point later);
* the play processes left 15 s after every tab was closed (target: 0).

Targets at K = 8: a new visitor's page interactive within 3 s; the server and its children
within 1.5 GB; no play process left; every session over the cap told so.

--quick: K = 2 for 5 s (seconds, for the browser tests).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from dashboard_speed import CHROMIUM_ARGS, free_port, start_app  # noqa: E402

from dashboard.tabs import COOKIE_PATH  # noqa: E402

APP_ROOT = "[data-testid='stApp']"
READY = f"{APP_ROOT}[data-test-connection-state='CONNECTED'][data-test-script-state='notRunning']"
CAP_MESSAGE = "as many as this server runs at once"


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def players(server_pid: int) -> list[int]:
    found = []
    for pid in descendants(server_pid)[1:]:
        try:
            if b"dashboard.player" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def open_session(browser, url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    started = time.monotonic()
    # Then wait until the page has settled (its tab's cookie set, the last thing it does by
    # itself): an upload or a click before that can be lost (tests/e2e/conftest.open_settled).
    with page.expect_response(lambda response: COOKIE_PATH in response.url, timeout=60_000):
        page.goto(url)
        page.locator(READY).wait_for(timeout=60_000)
        page.locator(".st-key-play button").wait_for(state="visible", timeout=60_000)
        interactive = time.monotonic() - started
    page.locator(READY).wait_for(timeout=60_000)
    return context, page, interactive


def speed(page) -> float:
    value = (
        page.frame_locator(".st-key-live_panel iframe")
        .locator("[data-stat='Characters / s'] .value")
        .inner_text(timeout=10_000)
    )
    return float(value.replace(",", "") or 0)


def one_round(browser, url: str, server_pid: int, k: int, seconds: float) -> dict:
    sessions = [open_session(browser, url) for _ in range(k)]
    told = 0
    for _, page, _ in sessions:
        page.locator(".st-key-play button").click()
        page.wait_for_timeout(500)
        page.locator(READY).wait_for(timeout=60_000)
        if page.get_by_text(CAP_MESSAGE).count():
            told += 1
    # Measured early: with the defaults, Play may stop by itself at the best validation point.
    time.sleep(min(5.0, seconds))
    rss = rss_bytes(descendants(server_pid))
    playing = len(players(server_pid))
    visitor, _, waited = open_session(browser, url)
    time.sleep(max(0.0, seconds - 5.0))
    speeds = [speed(page) for _, page, _ in sessions]
    visitor.close()
    for context, _, _ in sessions:
        context.close()
    time.sleep(15)
    return {
        "k": k,
        "playing": playing,
        "told": told,
        "speeds": speeds,
        "new_visitor_s": waited,
        "rss": rss,
        "left": len(players(server_pid)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.seconds = [2], 5.0
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = start_app(port)
    url = f"http://127.0.0.1:{port}/"
    print(f"load {date.today()}: K sessions press Play, {args.seconds:g} s; app as shipped")
    print(
        "   K  playing  told cap  chars/s per session (min / median / max)"
        "   new visitor  RSS    left"
    )
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS
            )
            try:
                for k in args.sessions:
                    r = one_round(browser, url, server.pid, k, args.seconds)
                    s = sorted(r["speeds"])
                    print(
                        f"  {k:2d}  {r['playing']:7d}  {r['told']:8d}  "
                        f"{s[0]:>10,.0f} / {s[len(s) // 2]:>10,.0f} / {s[-1]:>10,.0f}        "
                        f"{r['new_visitor_s']:5.2f} s  {r['rss'] / 2**20:5,.0f} MB  {r['left']}"
                    )
            finally:
                browser.close()
    finally:
        server.terminate()
        server.wait(30)
    print("targets at K = 8: new visitor <= 3 s, RSS <= 1,536 MB, 0 left, told = K - playing")


if __name__ == "__main__":
    main()
