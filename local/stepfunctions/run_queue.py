"""The workers' queue of runs to step: first come, first served, except that a run a timer
woke (already due, so already late) may go to the front."""

from __future__ import annotations

import threading
from collections import deque


class RunQueue:
    def __init__(self) -> None:
        self._items: deque[int | None] = deque()
        self._ready = threading.Condition()

    def put(self, run_id: int | None, first: bool = False) -> None:
        with self._ready:
            if first:
                self._items.appendleft(run_id)
            else:
                self._items.append(run_id)
            self._ready.notify()

    def get(self) -> int | None:
        """The next run id (None tells a worker to stop), waiting for one if need be."""
        with self._ready:
            while not self._items:
                self._ready.wait()
            return self._items.popleft()

    def take_ready(self, most: int) -> list[int]:
        """Up to `most` queued run ids, without waiting: the group a worker commits at once. A
        stop (None) ends the group and stays queued, for this worker or another."""
        taken: list[int] = []
        with self._ready:
            while len(taken) < most and self._items:
                run_id = self._items[0]
                if run_id is None:
                    break
                self._items.popleft()
                taken.append(run_id)
        return taken

    def __len__(self) -> int:
        with self._ready:
            return len(self._items)
