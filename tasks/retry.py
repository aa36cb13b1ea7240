"""Retry policy of the Prefect tasks: only transient failures are retried, with exponential backoff.

A permanent error (a missing folder, an HTTP 404, a refused product, a bad setting) fails the task
at once: retrying it costs minutes and says the same thing. A transient one (a timeout, a reset
connection, HTTP 5xx, throttling; :func:`rovercam.errors.is_transient`) is retried after
``first_delay_s``, then twice that, and so on, each delay jittered so that many failing tasks do not
retry in step (docs/operations.md, "Retry policy").
"""
from __future__ import annotations

from typing import Any

from prefect.tasks import exponential_backoff

from rovercam.errors import is_transient

__all__ = ["retry_transient", "retry_policy", "JITTER"]

#: Each retry delay is drawn up to this fraction above its nominal value (Prefect's
#: ``retry_jitter_factor``).
JITTER = 0.5


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only when the task failed with a transient error.

    Parameters
    ----------
    task, task_run
        The Prefect task and its run (unused).
    state : prefect.State
        The failed state; its data is the exception the task raised.

    Returns
    -------
    bool
        :func:`rovercam.errors.is_transient` of the exception (False when the state holds none).
    """
    exc = state.data
    if not isinstance(exc, BaseException):
        try:
            exc = state.result(raise_on_failure=False)
        except Exception:  # an unreadable result is no reason to retry
            return False
    return isinstance(exc, BaseException) and is_transient(exc)


def retry_policy(retries: int, first_delay_s: float) -> dict[str, Any]:
    """Keywords for ``@task(...)``: ``retries`` attempts after the first, for transient errors
    only, ``first_delay_s`` (s) before the first and doubling, with :data:`JITTER`.

    Examples
    --------
    >>> retry_policy(2, 5)["retry_delay_seconds"]
    [5, 10]
    """
    return {"retries": retries, "retry_delay_seconds": exponential_backoff(first_delay_s)(retries),
            "retry_jitter_factor": JITTER, "retry_condition_fn": retry_transient}
