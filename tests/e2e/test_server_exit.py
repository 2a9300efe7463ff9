"""The server exits on SIGTERM whatever its children do, and takes them with it: a play process
stopped with SIGSTOP (which reads nothing and answers nothing) neither holds the server up nor
outlives it. A server of its own, as this test stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import _stop, launch_server
from playwright.sync_api import expect
from process_tree import children
from test_dashboard import click

EXIT_DEADLINE_S = 10.0


def alive(pid: int) -> bool:
    """Whether `pid` is a process that has not ended (a zombie has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_ends_the_server_and_its_stopped_play_process(
    browser, tmp_path, wait_for_app_run
) -> None:
    url, server = launch_server(tmp_path / "server.log")
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"{url}/?from=random&val=0")  # no held-out text: Play goes on
        wait_for_app_run(page, initial_wait_ms=0)
        click(page, "play", wait_for_app_run)
        expect(page.locator(".st-key-play button")).to_contain_text("Pause")
        deadline = time.monotonic() + 30
        while not (players := children(server.pid, "dashboard.player")):
            assert time.monotonic() < deadline, "Play started no process"
            time.sleep(0.1)
        (player,) = players
        os.kill(player, signal.SIGSTOP)

        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=EXIT_DEADLINE_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the server did not exit within {EXIT_DEADLINE_S} s") from None
        deadline = time.monotonic() + EXIT_DEADLINE_S
        while alive(player):
            assert time.monotonic() < deadline, "the stopped play process outlived the server"
            time.sleep(0.1)
    finally:
        context.close()
        _stop(server)
