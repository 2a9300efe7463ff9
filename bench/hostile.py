"""Hostile and careless visitors beside K players: does the server stay bounded?

    python bench/hostile.py [--players 8] [--seconds 20] [--quick] [--chromium /usr/bin/chromium]

Starts `streamlit run app.py` as shipped, opens K sessions that press Play (with no held-out
text, so that no Play stops by itself at its best point; the server plays cores - 1 at once and
tells the others so), stops one play process with SIGSTOP and leaves it so, and beside them, one
after another, in sessions of their own:

* a zip-bomb checkpoint: a 1.9 MB file whose `params` declares 237.5 million float64 zeros (it
  took 3.7 GB before 2026-12-04);
* the same real checkpoint uploaded six times (each load archives the run before it);
* a 49 MB text uploaded and applied with four validation shares (each a new split to analyse).

Meanwhile the resident memory of the server and all its children is sampled every 0.1 s. Then a
new visitor opens the page. Reports the peak memory, the new visitor's time until the page is
interactive, what each hostile visitor was told, and the play processes left after every tab
closed (the stopped one included, which its session gives up after RNNLAB_ANSWER_TIMEOUT).
Targets: peak <= 1.5 GB, new visitor <= 3 s, 0 left.
--quick: 2 players, a 240 MB bomb, a 5 MB text, two uploads and two Applies (seconds, for the
test suite).
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
import threading
import time
import zipfile
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dashboard_speed import CHROMIUM_ARGS, free_port, start_app  # noqa: E402
from load import READY, descendants, open_session, players, rss_bytes  # noqa: E402

from dashboard.player import ANSWER_TIMEOUT  # noqa: E402
from rnnlab import Config, Trainer  # noqa: E402
from rnnlab.corpora import DEFAULT_CORPUS, builtin_corpus  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
GIVE_UP = ANSWER_TIMEOUT  # a session gives a play process that does not answer up after this
MB = 10**6


def real_checkpoint() -> bytes:
    """A checkpoint of the default text, as a visitor would have saved one."""
    trainer = Trainer(builtin_corpus(DEFAULT_CORPUS).text, Config(hidden_size=128, seed=0))
    trainer.step(20)
    buffer = io.BytesIO()
    trainer.save(buffer)
    return buffer.getvalue()


def zip_bomb(valid: bytes, zeros: int) -> bytes:
    """`valid` with its params replaced by `zeros` float64 zeros, streamed into the archive
    (deflated, the file is a few MB; nothing here holds the zeros)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(valid)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb,
    ):
        for member in source.namelist():
            if member != "params.npy":
                bomb.writestr(member, source.read(member))
        with bomb.open("params.npy", "w", force_zip64=True) as params:
            header = {"descr": "<f8", "fortran_order": False, "shape": (zeros,)}
            np.lib.format.write_array_header_2_0(params, header)
            chunk = bytes(8 * 2**20)
            left = zeros * 8
            while left:
                params.write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))
    return out.getvalue()


def big_text(size: int) -> bytes:
    """`size` bytes of English: the shared corpora (or the bundled texts) over and over."""
    sources = sorted(SHARED.glob("*.txt")) or sorted((ROOT / "data").glob("*.txt"))
    text = b"\n".join(path.read_bytes() for path in sources)
    return (text * (size // len(text) + 1))[:size]


class PeakMemory:
    """The server's and its children's resident memory, sampled every 0.1 s on a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, rss_bytes(descendants(self.pid)))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def told(page) -> str:
    """The page's notices, in one line."""
    alerts = page.locator("[data-testid='stAlert']").all_inner_texts()
    return " | ".join(" ".join(a.split())[:100] for a in alerts) or "(nothing)"


def upload(page, key: str, name: str, data: bytes, mime: str) -> None:
    page.locator(f".st-key-{key} input[type='file']").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )
    # Every upload is answered with a notice naming the file (loaded, or why not).
    page.locator("[data-testid='stAlert']", has_text=name).first.wait_for(timeout=300_000)
    page.locator(READY).wait_for(timeout=300_000)


def hostile_visitors(browser, url: str, quick: bool) -> list[tuple[str, str]]:
    """Each hostile visitor's doings, and what its page said at the end."""
    said = []
    valid = real_checkpoint()
    zeros = 30_000_000 if quick else 237_500_000
    bomb = zip_bomb(valid, zeros)
    context, page, _ = open_session(browser, url + "?from=random")
    upload(page, "checkpoint_upload", "bomb.npz", bomb, "application/octet-stream")
    what = f"zip bomb ({len(bomb) / MB:.1f} MB, {zeros * 8 / MB:,.0f} MB inflated)"
    said.append((what, told(page)))
    context.close()

    uploads = 2 if quick else 6
    context, page, _ = open_session(browser, url + "?from=random")
    for i in range(uploads):
        upload(page, "checkpoint_upload", f"mine-{i}.npz", valid, "application/octet-stream")
    said.append((f"same checkpoint ({len(valid) / MB:.2f} MB) x {uploads}", told(page)))
    context.close()

    size, applies = (5 * MB, 2) if quick else (49 * MB, 4)
    context, page, _ = open_session(browser, url + "?from=random")
    upload(page, "upload", "big.txt", big_text(size), "text/plain")
    thumb = page.locator(".st-key-val_fraction input[type='range']")
    for i in range(applies):
        if i:
            thumb.focus()
            thumb.press("ArrowRight")  # another validation share: another split to analyse
            page.locator(READY).wait_for(timeout=60_000)
        page.locator(".st-key-apply button").click()
        page.wait_for_timeout(500)
        page.locator(READY).wait_for(timeout=300_000)
    said.append((f"{size / MB:.0f} MB text applied x {applies}", told(page)))
    time.sleep(10)  # its analyses run on meanwhile
    context.close()
    return said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--players", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    k = 2 if args.quick else args.players
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = start_app(port)
    url = f"http://127.0.0.1:{port}/"
    memory = PeakMemory(server.pid)
    print(f"hostile {date.today()}: {k} players, one play process stopped, hostile visitors")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS
            )
            try:
                sessions = [open_session(browser, url + "?from=random&val=0") for _ in range(k)]
                for _, page, _ in sessions:
                    page.locator(".st-key-play button").click()
                    page.wait_for_timeout(500)
                    page.locator(READY).wait_for(timeout=60_000)
                playing = players(server.pid)
                if playing:
                    os.kill(playing[0], signal.SIGSTOP)
                said = hostile_visitors(browser, url, args.quick)
                time.sleep(0 if args.quick else max(0.0, args.seconds - 10))
                visitor, _, waited = open_session(browser, url)
                visitor.close()
                for context, _, _ in sessions:
                    context.close()
                closed = time.monotonic()
                while players(server.pid) and time.monotonic() - closed < GIVE_UP + 20:
                    time.sleep(0.5)
                left, gone_after = len(players(server.pid)), time.monotonic() - closed
            finally:
                browser.close()
    finally:
        peak = memory.stop()
        server.terminate()
        server.wait(30)
    print(f"  players {k}, playing {len(playing)}, stopped 1" if playing else "  none playing")
    for what, answer in said:
        print(f"  {what:<44} told: {answer}")
    print(f"  peak RSS of the server and its children  {peak / 2**20:7,.0f} MB   (target <= 1,536)")
    print(f"  a new visitor's page interactive after   {waited:7.2f} s    (target <= 3)")
    print(
        f"  play processes left after the tabs closed {left:6d}      (target 0; the last went "
        f"{gone_after:.0f} s after, the stopped one given up after {GIVE_UP:g} s)"
    )


if __name__ == "__main__":
    main()
