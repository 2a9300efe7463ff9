"""How many bytes Play moves between the web server and the play process.

    python bench/play_traffic.py [--polls 40] [--quick]

1. At Play, the session sends the play process its TrainerState and the text. Measured at
   H=512, B=64, T=200 on the bundled songbook, against the parameters + Adagrad memory + text
   (the least that can be sent): the work buffers and gradients are never sent.
2. While playing, the live feed asks for what is new every 0.4 s; each answer is a TrainerDelta
   (new losses, validation points, health rows, timeline entries) and, about once a second, the
   latest sample. Measured at the dashboard's defaults, as the median over --polls answers, the
   same questions the session asks (no parameters: the Training view does not draw them).
3. What one poll of the live feed costs the server while playing a large model (H=1024, B=16,
   T=25): the median time to answer over --polls polls, and the median of each poll's peak of
   memory allocated (tracemalloc, in a second round of polls, as tracing slows them).

--quick: 5 polls (seconds, for the test suite).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the app runs it
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard import live_feed  # noqa: E402
from dashboard.figures import UNITS, X_AXES  # noqa: E402
from dashboard.player import Player, Sync  # noqa: E402
from dashboard.session import PLAY_SAMPLE_EVERY, Lab  # noqa: E402
from rnnlab import Config, Trainer  # noqa: E402
from rnnlab.corpora import DEFAULT_CORPUS, builtin_corpus  # noqa: E402
from rnnlab.presets import DASHBOARD_DEFAULTS  # noqa: E402
from rnnlab.sampling import SampleSettings  # noqa: E402
from rnnlab.schedule import Schedule  # noqa: E402

POLL_SECONDS = 0.4


def start_bytes(text: str) -> None:
    config = Config(
        hidden_size=512, batch_size=64, seq_length=200, learning_rate=0.05, seed=0, val_fraction=0.1
    )
    trainer = Trainer(text, config)
    run = Schedule(trainer).state()
    state = run.trainer
    player = Player(text, run, idle_timeout=60)
    try:
        sent = player.bytes_sent[0]
    finally:
        player.stop()
    least = state.params.nbytes + state.optimizer_memory.nbytes + len(text.encode("utf-8"))
    print(
        f"At Play, H=512 B=64 T=200 ({trainer.param_count:,} parameters): {sent:,} bytes sent; "
        f"parameters + Adagrad memory + text = {least:,} bytes; ratio {sent / least:.3f} "
        "(target <= 1.2)"
    )


def sync_bytes(text: str, polls: int) -> None:
    trainer = Trainer(text, DASHBOARD_DEFAULTS.replace(seed=0))
    mirror = Schedule(trainer)
    player = Player(text, mirror.state(), idle_timeout=60)
    sampled_at = 0.0
    try:
        for _ in range(polls):
            time.sleep(POLL_SECONDS)
            now = time.monotonic()
            sample = SampleSettings() if now - sampled_at >= PLAY_SAMPLE_EVERY else None
            sampled_at = now if sample else sampled_at
            answer = player.sync(Sync(mirror.marks(), False, sample, False))
            mirror.apply_delta(answer.progress.delta)
        answers = player.bytes_received[:]
    finally:
        player.stop()
    c = trainer.config
    print(
        f"While playing at the defaults (H={c.hidden_size} T={c.seq_length} B={c.batch_size}), "
        f"{polls} answers {POLL_SECONDS} s apart: median "
        f"{statistics.median(answers):,.0f} bytes, largest {max(answers):,} (target: median <= "
        f"50,000); the mirror reached iteration {mirror.trainer.iteration:,}"
    )


def poll_cost(polls: int) -> None:
    config = Config(hidden_size=1024, batch_size=16, seq_length=25, seed=0, val_fraction=0.1)
    lab = Lab(builtin_corpus(DEFAULT_CORPUS), config, stop_at_best=False)
    token = live_feed.register(lab)
    mark = ""
    lab.play()
    try:
        seconds, peaks = [], []
        for traced in (False, True):
            for _ in range(polls):
                time.sleep(POLL_SECONDS)
                if traced:
                    tracemalloc.start()
                started = time.perf_counter()
                content = live_feed.poll(token, UNITS[0], X_AXES[0], True, mark)
                if traced:
                    peaks.append(tracemalloc.get_traced_memory()[1])
                    tracemalloc.stop()
                else:
                    seconds.append(time.perf_counter() - started)
                mark = content["timeline_mark"]
    finally:
        lab.pause()
    parameters, ms = lab.trainer.param_count, statistics.median(seconds) * 1000
    print(
        f"A poll of the live feed while playing H=1024 B=16 T=25 ({parameters:,} parameters, "
        f"{parameters * 8 / 2**20:.1f} MB each copy): median {ms:.1f} ms, peak allocated "
        f"{statistics.median(peaks) / 2**20:.1f} MB (median of {polls})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=40)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.polls = 5
    text = builtin_corpus(DEFAULT_CORPUS).text
    print(time.strftime("%Y-%m-%d"), "bench/play_traffic.py")
    start_bytes(text)
    sync_bytes(text, args.polls)
    poll_cost(args.polls)


if __name__ == "__main__":
    main()
