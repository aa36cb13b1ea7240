"""Progress reporting of a sol generation: a log line and the caller's callback per step."""
from __future__ import annotations

import logging
from typing import Callable

__all__ = ["Steps"]

log = logging.getLogger("rovercam.synth")


class Steps:
    """Counts the steps of one generation; ``steps("message")`` reports the next one.

    Calls ``progress(done, total, message)`` when a callback is given (the CLI's progress bar).
    """

    def __init__(self, total: int, progress: Callable[[int, int, str], None] | None, *, label: str):
        self.total, self.done, self._progress, self._label = total, 0, progress, label

    def __call__(self, message: str) -> None:
        self.done += 1
        log.info("%s: %s (%d/%d)", self._label, message, self.done, self.total)
        if self._progress is not None:
            self._progress(self.done, self.total, message)
