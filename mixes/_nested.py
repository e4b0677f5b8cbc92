"""A process-wide setting held while any of several (possibly concurrent, possibly nested)
blocks runs: the first block to enter applies it, the last to leave restores it.

Shared by :mod:`mixes._blas` (OpenBLAS on one thread) and :mod:`mixes._heap` (freed memory
kept in the heap): both change something global to the process while analyses run, and two
analyses may run at once in threads (an album analysed in one process, the web app).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Callable, Iterator


class HeldWhileAny:
    """``with held():`` runs ``enter()`` when the first holder enters and ``leave()`` when the
    last one leaves (a depth counter under a lock; re-entrant and thread-safe).

    Parameters
    ----------
    enter, leave : callable
        Called with no arguments, under the lock.
    """

    def __init__(self, enter: Callable[[], None], leave: Callable[[], None]) -> None:
        self._enter, self._leave = enter, leave
        self._lock = threading.Lock()
        self._depth = 0

    @property
    def depth(self) -> int:
        """Blocks inside the setting now."""
        return self._depth

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._enter()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    self._leave()
