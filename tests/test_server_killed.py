"""Play processes never outlive the server: killed outright (SIGKILL, no clean-up at all), the
server's play processes read the end of their input and end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVER = """
import sys, time
from dashboard.session import Lab
from rnnlab import Config
from rnnlab.corpora import builtin_corpus

lab = Lab(builtin_corpus("Songbook (bundled lyrics)"), Config(hidden_size=16, seed=0))
lab.play()
while lab.snapshot().state.iteration < 5:
    time.sleep(0.05)
print(lab.player_pid, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1].split()[0] != "Z"  # a zombie is not alive
    except FileNotFoundError:
        return False


def test_play_processes_end_when_the_server_is_killed():
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    player = None
    try:
        player = int(server.stdout.readline())
        assert alive(player)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        deadline = time.monotonic() + 10
        while alive(player):
            assert time.monotonic() < deadline, "the play process outlived the killed server"
            time.sleep(0.05)
    finally:
        server.kill()
        if player is not None and alive(player):
            os.kill(player, signal.SIGKILL)
