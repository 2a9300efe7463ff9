"""How fast the dashboard trains while playing, next to the engine alone, and how live it stays.

    python bench/dashboard_speed.py [--seconds 20] [--chromium /usr/bin/chromium]

Starts `streamlit run app.py` on a loopback port, opens it in headless Chromium, presses Play for
--seconds and reads the iteration counter off the page; the engine alone trains the same text at
the same settings (the dashboard defaults) for as long, before and after the browser run, in this
process. Prints characters per second of both and their ratio (target: at least 0.8), the longest
gap between two refreshes of the page while playing (target: at most 0.5 s), and how long a click
on Pause takes to show.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rnnlab import Trainer  # noqa: E402
from rnnlab.corpora import DEFAULT_CORPUS, builtin_corpus  # noqa: E402
from rnnlab.presets import DASHBOARD_DEFAULTS  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Records, in the page, when the iteration counter changes: the refresh cadence a person sees.
WATCH_ITERATION = """() => {
  window.__updates = [];
  const read = () => {
    const metric = [...document.querySelectorAll('[data-testid=stMetric]')]
      .find(m => m.innerText.startsWith('Iteration'));
    return metric ? metric.querySelector('[data-testid=stMetricValue]').innerText : null;
  };
  let last = read();
  new MutationObserver(() => {
    const now = read();
    if (now !== last) { last = now; window.__updates.push([performance.now(), now]); }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def headless_chars_per_second(seconds: float) -> float:
    trainer = Trainer(builtin_corpus(DEFAULT_CORPUS).text, DASHBOARD_DEFAULTS)
    trainer.step(20)  # warm-up
    chars, started = trainer.chars_seen, time.perf_counter()
    while time.perf_counter() - started < seconds:
        trainer.step(20)
    return (trainer.chars_seen - chars) / (time.perf_counter() - started)


def headless_one_blas_thread(seconds: float) -> float:
    """The engine alone with one BLAS thread, as the app runs it (in a fresh interpreter: the
    thread count is fixed when NumPy loads)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, __file__, "--engine-only", str(seconds)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return float(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if (
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read()
                == b"ok"
            ):
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("The app did not start within 60 s.")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def browser_pids() -> list[int]:
    out = subprocess.run(["pgrep", "-f", "chromium"], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def child_pids(pid: int) -> list[int]:
    """The app's player process (training) while playing."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(child) for child in out.split()]


def iteration_on_page(page) -> int:
    metric = page.locator("[data-testid=stMetric]", has_text="Iteration").first
    return int(metric.locator("[data-testid=stMetricValue]").inner_text().replace(",", ""))


def play_in_browser(port: int, seconds: float, chromium: str, app_pid: int) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}")
        page.wait_for_selector("text=Characters / s", timeout=90_000)
        page.evaluate(WATCH_ITERATION)
        start_iteration = iteration_on_page(page)
        page.get_by_role("button", name="▶ Play").click()
        page.wait_for_function("() => window.__updates.length > 0", timeout=30_000)
        first_time, first_text = page.evaluate("() => window.__updates[0]")
        browsers = browser_pids()
        players = child_pids(app_pid)

        def cpu_now() -> tuple[float, float, float, float]:
            return (
                cpu_seconds(browsers), cpu_seconds([app_pid]), cpu_seconds(players),
                time.perf_counter(),
            )  # fmt: skip

        cpu_before = cpu_now()
        time.sleep(seconds)
        cpu_after = cpu_now()
        clicked = page.evaluate("() => performance.now()")
        page.get_by_role("button", name="⏸ Pause").click()
        page.get_by_role("button", name="▶ Play").wait_for(timeout=30_000)
        paused = page.evaluate("() => performance.now()")
        updates = page.evaluate("() => window.__updates")
        browser.close()
    playing = [u for u in updates if u[0] <= clicked]
    last_time, last_text = playing[-1]
    iterations = int(last_text.replace(",", "")) - int(first_text.replace(",", ""))
    gaps = [b[0] - a[0] for a, b in zip(playing, playing[1:], strict=False)]
    return {
        "iterations": iterations,
        "seconds": (last_time - first_time) / 1000,
        "refreshes": len(playing),
        "max_gap": max(gaps) / 1000 if gaps else float("nan"),
        "median_gap": sorted(gaps)[len(gaps) // 2] / 1000 if gaps else float("nan"),
        "pause_latency": (paused - clicked) / 1000,
        "start_iteration": start_iteration,
        **{
            name: (cpu_after[k] - cpu_before[k]) / (cpu_after[3] - cpu_before[3])
            for k, name in enumerate(("browser_cores", "app_cores", "player_cores"))
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to play (default 20)")
    parser.add_argument(
        "--chromium", default=os.environ.get("RNNLAB_CHROMIUM", "/usr/bin/chromium")
    )
    parser.add_argument("--engine-only", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine_only:
        print(headless_chars_per_second(args.engine_only))
        return
    config = DASHBOARD_DEFAULTS
    chars_per_iteration = config.seq_length * config.batch_size
    print(
        f"settings: dashboard defaults H={config.hidden_size} T={config.seq_length} "
        f"lr={config.learning_rate:g} B={config.batch_size}, text: {DEFAULT_CORPUS}"
    )

    before = headless_chars_per_second(args.seconds / 2)
    port = free_port()
    app = start_app(port)
    try:
        played = play_in_browser(port, args.seconds, args.chromium, app.pid)
    finally:
        app.terminate()
        app.wait(timeout=30)
    after = headless_chars_per_second(args.seconds / 2)
    one_thread = headless_one_blas_thread(args.seconds / 2)
    headless = (before + after) / 2
    in_app = played["iterations"] * chars_per_iteration / played["seconds"]

    W = 34  # label column width
    print(f"{'engine alone (headless)':<{W}}{headless:>12,.0f} chars/s  "
          f"(before {before:,.0f}, after {after:,.0f})")  # fmt: skip
    print(f"{'dashboard while playing':<{W}}{in_app:>12,.0f} chars/s  "
          f"({played['iterations']:,} iterations in {played['seconds']:.1f} s)")  # fmt: skip
    print(f"{'engine alone, 1 BLAS thread':<{W}}{one_thread:>12,.0f} chars/s  (as the app runs it)")
    ratio = in_app / headless
    verdict = "PASS" if ratio >= 0.8 else "MISS"
    print(f"{'ratio dashboard / engine':<{W}}{ratio:>12.2f}   target >= 0.80: {verdict}")
    print(f"{'ratio dashboard / 1-thread engine':<{W}}{in_app / one_thread:>12.2f}")
    print(f"{'page refreshes while playing':<{W}}{played['refreshes']:>12}   "
          f"median gap {played['median_gap']:.2f} s")  # fmt: skip
    print(
        f"{'longest gap between refreshes':<34}{played['max_gap']:>12.2f} s target <= 0.50: "
        f"{'PASS' if played['max_gap'] <= 0.5 else 'MISS'}"
    )
    print(f"{'click on Pause until it shows':<34}{played['pause_latency']:>12.2f} s")
    print(f"{'CPU while playing (cores)':<34}{'':>12}   browser {played['browser_cores']:.2f}, "
          f"app server {played['app_cores']:.2f}, player (training) {played['player_cores']:.2f}, "
          f"of {os.cpu_count()}")  # fmt: skip


if __name__ == "__main__":
    main()
