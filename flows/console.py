"""What the flows' console log shows for an expected error: one line, no traceback.

Prefect logs a failed task or flow run with the exception's traceback. For a
:class:`rovercam.errors.RovercamError` (a missing folder, a refused product, a bad setting, a
source that stayed unreachable) the traceback is noise: the message names the thing and the
problem (so it is for a Prefect server that stopped answering mid-run).
:func:`quiet_expected_tracebacks` makes Prefect's console handlers print those records without it,
unless the ``rovercam`` logger is at DEBUG (``rovercam -v``). The Prefect UI (API
log handler) still gets the full record.
"""
from __future__ import annotations

import copy
import logging

from rovercam.errors import RovercamError

__all__ = ["quiet_expected_tracebacks", "ExpectedErrorFormatter"]


def _expected() -> tuple[type[BaseException], ...]:
    """Errors whose message says it all: rovercam's own, and a Prefect server that stopped
    answering (its HTTP client's transport errors; docs/operations.md, "Orchestrator faults")."""
    import httpx

    return (RovercamError, httpx.TransportError)


class ExpectedErrorFormatter(logging.Formatter):
    """Formats like ``inner``, leaving out the traceback of a RovercamError unless debugging."""

    def __init__(self, inner: logging.Formatter | None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, _expected()) and not logging.getLogger("rovercam").isEnabledFor(logging.DEBUG):
            record = copy.copy(record)  # other handlers (the UI's) keep the traceback
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return self.inner.format(record)


def quiet_expected_tracebacks() -> None:
    """Give Prefect's console handlers an :class:`ExpectedErrorFormatter` (once; idempotent)."""
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()
    loggers = [logging.getLogger(), logging.getLogger("prefect"), logging.getLogger("prefect.flow_runs"),
               logging.getLogger("prefect.task_runs")]
    for handler in {h for lg in loggers for h in lg.handlers}:
        if type(handler).__name__ == "PrefectConsoleHandler" and not isinstance(handler.formatter,
                                                                                ExpectedErrorFormatter):
            handler.setFormatter(ExpectedErrorFormatter(handler.formatter))
