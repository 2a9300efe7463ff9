"""How fast the dashboard trains while playing, next to the engine alone, and how live it stays.

    python bench/dashboard_speed.py [--seconds 10] [--rounds 3] [--chromium /usr/bin/chromium]

Starts `streamlit run app.py` on a loopback port, opens it in headless Chromium, and plays
--rounds times for --seconds, reading the iteration counter off the page. Before the first round
and after each, with the page paused, the engine alone trains the same text at the same settings
(the dashboard defaults) in this process for half as long. Prints characters per second of both
and, per round, their ratio against the engine just before and after it (target: median at least
0.8); the CPU that browser, app server and player used; the longest gap between two refreshes of
the page while playing (target: at most 0.5 s); and how long a click on Pause takes to show.
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
# Records, in the page, when the iteration counter changes (the refresh cadence a person sees) and
# every task that held the page's main thread over 50 ms (while one runs, the page cannot answer
# a click or a scroll: the page "blocks").
WATCH_ITERATION = """() => {
  window.__updates = [];
  window.__longTasks = [];
  if (window.__watching) return;  // one observer each; each round starts new lists
  window.__watching = true;
  new PerformanceObserver((list) => {
    for (const task of list.getEntries()) window.__longTasks.push(task.duration);
  }).observe({type: 'longtask'});
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


def engine_alone(seconds: float, blas_threads: int | None) -> float:
    """The engine alone in a fresh interpreter (nothing else loaded; the BLAS thread count is
    fixed when NumPy loads): None keeps NumPy's default, as a notebook user runs it."""
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        env.pop(name, None)
        if blas_threads is not None:
            env[name] = str(blas_threads)
    out = subprocess.run(
        [sys.executable, __file__, "--engine-only", str(seconds)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return float(out)


def best_engine_alone(seconds: float) -> tuple[float, float]:
    """chars/s of the engine alone with NumPy's default BLAS threads and with one (as the app's
    player runs it), each for half of `seconds`."""
    return engine_alone(seconds / 2, None), engine_alone(seconds / 2, 1)


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


def play_round(page, seconds: float, app_pid: int) -> dict:
    """Press Play, let it train for `seconds`, press Pause; what the page showed meanwhile."""
    page.evaluate(WATCH_ITERATION)
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
    long_tasks = page.evaluate("() => window.__longTasks")
    playing = [u for u in updates if u[0] <= clicked]
    last_time, last_text = playing[-1]
    gaps = [b[0] - a[0] for a, b in zip(playing, playing[1:], strict=False)]
    return {
        "iterations": int(last_text.replace(",", "")) - int(first_text.replace(",", "")),
        "seconds": (last_time - first_time) / 1000,
        "gaps": [gap / 1000 for gap in gaps],
        "long_tasks": [task / 1000 for task in long_tasks],
        "pause_latency": (paused - clicked) / 1000,
        **{
            name: (cpu_after[k] - cpu_before[k]) / (cpu_after[3] - cpu_before[3])
            for k, name in enumerate(("browser_cores", "app_cores", "player_cores"))
        },
    }


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="each round of play (10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of play (default 3)")
    parser.add_argument(
        "--chromium", default=os.environ.get("RNNLAB_CHROMIUM", "/usr/bin/chromium")
    )
    parser.add_argument("--engine-only", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine_only:
        print(headless_chars_per_second(args.engine_only))
        return
    from playwright.sync_api import sync_playwright

    config = DASHBOARD_DEFAULTS
    chars_per_iteration = config.seq_length * config.batch_size
    print(
        f"settings: dashboard defaults H={config.hidden_size} T={config.seq_length} "
        f"lr={config.learning_rate:g} B={config.batch_size}, text: {DEFAULT_CORPUS}; "
        f"{args.rounds} rounds of {args.seconds:g} s of play, each between two runs of the "
        f"engine alone ({args.seconds / 2:g} s)"
    )
    port = free_port()
    app = start_app(port)
    engine, rounds = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}")
            page.wait_for_selector("text=Characters / s", timeout=90_000)
            time.sleep(3)  # the page settles (plotly.js loads) before the engine is timed
            # The machine's speed drifts by 10-20% within a minute: each round of play is
            # compared with the engine alone just before and just after it (page paused).
            engine.append(best_engine_alone(args.seconds))
            for _ in range(args.rounds):
                rounds.append(play_round(page, args.seconds, app.pid))
                engine.append(best_engine_alone(args.seconds))
            browser.close()
    finally:
        app.terminate()
        app.wait(timeout=30)

    W = 34  # label column width
    # The baseline of each round: the engine alone just before and just after it, each time with
    # whichever BLAS setting was faster then (the stricter comparison).
    best = [max(pair) for pair in engine]
    ratios, default_ratios, speeds = [], [], []
    for k, r in enumerate(rounds):
        alone = (best[k] + best[k + 1]) / 2
        speeds.append(r["iterations"] * chars_per_iteration / r["seconds"])
        ratios.append(speeds[-1] / alone)
        default_ratios.append(speeds[-1] / ((engine[k][0] + engine[k + 1][0]) / 2))
        print(f"round {k + 1}: dashboard {speeds[-1]:>9,.0f} chars/s, engine alone {alone:>9,.0f} "
              f"(before {best[k]:,.0f}, after {best[k + 1]:,.0f}): ratio {ratios[-1]:.2f}; "
              f"CPU browser {r['browser_cores']:.2f}, app server {r['app_cores']:.2f}, "
              f"player {r['player_cores']:.2f} of {os.cpu_count()} cores")  # fmt: skip
    gaps = [gap for r in rounds for gap in r["gaps"]]
    print(f"{'engine alone, NumPy default BLAS':<{W}}{median([e[0] for e in engine]):>12,.0f} "
          "chars/s  (median; as a notebook user runs it)")  # fmt: skip
    print(f"{'engine alone, 1 BLAS thread':<{W}}{median([e[1] for e in engine]):>12,.0f} "
          "chars/s  (median; as the app's player runs it)")  # fmt: skip
    print(f"{'dashboard while playing':<{W}}{median(speeds):>12,.0f} chars/s  (median)")
    ratio = median(ratios)
    verdict = "PASS" if ratio >= 0.8 else "MISS"
    print(f"{'ratio dashboard / engine':<{W}}{ratio:>12.2f}   median of the rounds' "
          f"({', '.join(f'{x:.2f}' for x in ratios)}), against the faster engine setting; "
          f"target >= 0.80: {verdict}")  # fmt: skip
    print(f"{'  against NumPy default BLAS':<{W}}{median(default_ratios):>12.2f}")
    print(f"{'page refreshes while playing':<{W}}{len(gaps) + len(rounds):>12}   "
          f"median gap {median(gaps):.2f} s")  # fmt: skip
    print(
        f"{'longest gap between refreshes':<{W}}{max(gaps):>12.2f} s target <= 0.50: "
        f"{'PASS' if max(gaps) <= 0.5 else 'MISS'}"
    )
    tasks = [task for r in rounds for task in r["long_tasks"]] or [0.0]
    print(
        f"{'longest the page was blocked':<{W}}{max(tasks):>12.2f} s target <= 0.50: "
        f"{'PASS' if max(tasks) <= 0.5 else 'MISS'} (main-thread tasks over 50 ms: "
        f"{len(tasks)}, median {median(tasks):.2f} s)"
    )
    latencies = ", ".join(f"{r['pause_latency']:.2f}" for r in rounds)
    print(f"{'click on Pause until it shows':<{W}}{max(r['pause_latency'] for r in rounds):>12.2f}"
          f" s (longest of {latencies})")  # fmt: skip


if __name__ == "__main__":
    main()
