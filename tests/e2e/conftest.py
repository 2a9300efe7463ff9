"""Browser end-to-end harness: a real `streamlit run` server driven by Playwright + Chromium.

Fixtures
--------
streamlit_server (session)  base URL ("http://127.0.0.1:<port>") of a running Streamlit server
                            for the app named by env RNNLAB_APP (default "app.py"; relative
                            paths are taken from the repository root, which is also the cwd).
play_processes (session)    the callable `play_processes()`: the pids of the play processes
                            (`python -m dashboard.player`, one per playing session) that the
                            server runs now. No play process: nothing trains (Linux: /proc).
browser (session)           a headless Chromium launched by Playwright. The executable is
                            /usr/bin/chromium (Debian's package) unless env RNNLAB_CHROMIUM
                            names another. A missing browser FAILS the tests; it never skips.
page (function)             a fresh browser context + page, already loaded at the app (from
                            random weights: /?from=random, the start these tests drive; the
                            default start has tests of its own) and waited on until the first
                            script run has finished.
wait_for_app_run (function) the callable `wait_for_app_run(page)`: blocks until Streamlit has
                            finished the rerun triggered by the last interaction.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from process_tree import children  # tests/process_tree.py

from dashboard.tabs import COOKIE_PATH

REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_APP = "app.py"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

SERVER_START_TIMEOUT_S = 60.0
SERVER_STOP_TIMEOUT_S = 10.0
#: Playwright default timeout for actions and `expect` assertions (ms).
PAGE_TIMEOUT_MS = 30_000

_APP_ROOT = "[data-testid='stApp']"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200 and resp.read().decode("utf-8", "replace").strip() == "ok"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _log_tail(path: Path, limit: int = 4000) -> str:
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return "<no server log>"
    return text[-limit:] or "<empty server log>"


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=SERVER_STOP_TIMEOUT_S)


def launch_server(log_path: Path) -> tuple[str, subprocess.Popen]:
    """Start `streamlit run` on the app (RNNLAB_APP) on a free port, logging to `log_path`, and
    wait until it is healthy: (base URL, process). The caller stops it (_stop)."""
    app = Path(os.environ.get("RNNLAB_APP", DEFAULT_APP))
    app_path = app if app.is_absolute() else REPO_ROOT / app
    if not app_path.is_file():
        pytest.fail(f"Streamlit app not found: {app_path} (set RNNLAB_APP)", pytrace=False)

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.headless", "true",
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _health_ok(f"{base_url}/_stcore/health"):
            if proc.poll() is not None:
                pytest.fail(
                    f"streamlit exited with code {proc.returncode} before becoming healthy.\n"
                    f"command: {' '.join(cmd)}\n--- server log ---\n{_log_tail(log_path)}",
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"streamlit did not answer 'ok' on {base_url}/_stcore/health within "
                    f"{SERVER_START_TIMEOUT_S:.0f} s.\n--- server log ---\n{_log_tail(log_path)}",
                    pytrace=False,
                )
            time.sleep(0.25)
    except BaseException:
        _stop(proc)
        raise
    return base_url, proc


@pytest.fixture(scope="session")
def streamlit_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """(base URL, pid) of the running server; see streamlit_server."""
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    base_url, proc = launch_server(log_path)
    try:
        yield base_url, proc.pid
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def streamlit_server(streamlit_process: tuple[str, int]) -> str:
    return streamlit_process[0]


@pytest.fixture(scope="session")
def play_processes(streamlit_process: tuple[str, int]) -> Callable[[], set[int]]:
    server_pid = streamlit_process[1]
    return lambda: children(server_pid, "dashboard.player")


@pytest.fixture(scope="session")
def browser():
    executable = os.environ.get("RNNLAB_CHROMIUM", DEFAULT_CHROMIUM)
    if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {executable!r}: browser tests need it and are never skipped. "
            "Install Debian's package (apt-get install -y chromium) or set RNNLAB_CHROMIUM to "
            "a Chromium executable.",
            pytrace=False,
        )
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=PAGE_TIMEOUT_MS)

    with sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
        except PlaywrightError as exc:
            pytest.fail(f"Could not launch Chromium at {executable!r}: {exc}", pytrace=False)
        try:
            yield chromium
        finally:
            chromium.close()


def _wait_for_app_run(page, initial_wait_ms: int = 250, timeout_ms: int = PAGE_TIMEOUT_MS) -> None:
    """Block until Streamlit has finished running the script.

    The root element carries the frontend's state:
    `<div data-testid="stApp" data-test-connection-state="CONNECTED"
    data-test-script-state="notRunning">`; script-state goes running -> notRunning on each
    rerun. The short initial wait lets the rerun request reach the server first (some widgets
    debounce, ~200 ms), so we don't read the stale "notRunning" of the previous run.
    """
    page.wait_for_timeout(initial_wait_ms)
    page.locator(f"{_APP_ROOT}[data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=timeout_ms
    )
    page.locator(f"{_APP_ROOT}[data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=timeout_ms
    )


@pytest.fixture
def wait_for_app_run() -> Callable[..., None]:
    return _wait_for_app_run


def open_settled(page, url: str) -> None:
    """Open `url` and wait until the page has settled: its first runs over, the tab's id told to
    the session and the tab's cookie set (dashboard/tabs.py), the last thing a page does by
    itself once loaded. A click or an upload before that could land on a widget the next run
    draws anew, and be lost (seen on CI, about once in five runs of a test acting at once)."""
    with page.expect_response(
        lambda response: COOKIE_PATH in response.url, timeout=PAGE_TIMEOUT_MS
    ) as cookie:
        page.goto(url, wait_until="domcontentloaded")
    assert cookie.value.status == 204, f"the tab's cookie was not set: {cookie.value.status}"
    _wait_for_app_run(page)


@pytest.fixture
def page(browser, streamlit_server: str):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    pg = context.new_page()
    try:
        open_settled(pg, f"{streamlit_server}/?from=random")
        yield pg
    finally:
        context.close()
