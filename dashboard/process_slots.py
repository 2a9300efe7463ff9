"""The server's process slots: Play and Compare cells each train in a process of their own, which
takes a core, so the server runs at most MAX_PLAYERS of them at once, across sessions. One place
counts them, so that both are refused alike and a slot is never given back twice or kept."""

from __future__ import annotations

import os
import threading
import weakref

# One core is left for the server and its pages (docs/hosting.md).
MAX_PLAYERS = max(1, int(os.environ.get("RNNLAB_MAX_PLAYERS", (os.cpu_count() or 2) - 1)))


class ProcessSlots:
    """Who holds a slot now: at most `limit` holders (one that is garbage lets go of its own)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._holders: weakref.WeakSet = weakref.WeakSet()
        self._lock = threading.Lock()

    def take(self, holder: object, doing: str = "playing") -> None:
        """Give `holder` a slot (it may hold one already); ValueError saying so when all are
        taken by others. `doing` is what the others are said to be doing."""
        with self._lock:
            if holder in self._holders:
                return
            if len(self._holders) >= self.limit:
                others = len(self._holders)
                raise ValueError(
                    f"{others:,} other {'session is' if others == 1 else 'sessions are'} "
                    f"{doing}, as many as this server runs at once ({self.limit}). Step and "
                    "Train still work; try again in a while."
                )
            self._holders.add(holder)

    def give_back(self, holder: object) -> None:
        with self._lock:
            self._holders.discard(holder)

    def holds(self, holder: object) -> bool:
        with self._lock:
            return holder in self._holders


SLOTS = ProcessSlots(MAX_PLAYERS)
