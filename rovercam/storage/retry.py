"""Bounded retries with exponential backoff for store operations, and their errors.

Object-store clients already retry a single request (botocore: 5 attempts on HTTP 500/502/503/504,
throttling and connection errors; s3fs: its own ``retries`` on timeouts and broken transfers).
The store adds one more layer around each *operation* (stage a file and read it back, copy a
version into place, write a pointer), so that a fault that outlasts the client's retries, or a
fault between two requests of one operation, costs a retry of that operation and not the run
(docs/operations.md, "Storage faults").

Only transient failures are retried (:func:`rovercam.errors.is_transient`). When the attempts run
out, or the failure is permanent, the error becomes a :class:`~rovercam.errors.StorageError`
naming the key: :class:`~rovercam.errors.StorageUnavailableError` (still transient) for the
former, a plain ``StorageError`` for the latter, e.g. ``"sol00100/mosaics/NCAM/v1/x.tif: no space
left on device"``. ``FileNotFoundError`` and ``FileExistsError`` pass through unchanged: callers
use them to learn that an object is missing or a create-only write lost.
"""
from __future__ import annotations

import errno
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from rovercam.errors import StorageError, StorageUnavailableError, is_transient

__all__ = ["RetryPolicy", "call_with_retry", "storage_error"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_WORDS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EFBIG: "file too large for the file system",
}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a store retries an operation that failed transiently.

    Attributes
    ----------
    retries : int
        Attempts after the first (0: no retry). ``[storage] retries``.
    first_delay_s : float
        Seconds before the first retry; each further delay doubles, up to ``max_delay_s``, and
        is drawn up to 50 % longer (jitter) so that many writers do not retry in step.
        ``[storage] retry_delay_s``.
    max_delay_s : float
        Upper bound of one delay, seconds.
    """

    retries: int = 3
    first_delay_s: float = 0.5
    max_delay_s: float = 10.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.first_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError(f"retries={self.retries!r}, first_delay_s={self.first_delay_s!r}, "
                             f"max_delay_s={self.max_delay_s!r}: none may be negative")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (0-based), jitter included."""
        nominal = min(self.first_delay_s * 2**attempt, self.max_delay_s)
        return nominal * (1.0 + 0.5 * random.random())


def storage_error(exc: BaseException, what: str, *, attempts: int = 1) -> BaseException:
    """The error to raise for ``exc``, raised by an operation on ``what`` (a key or prefix).

    Returns ``exc`` itself when it is already a :class:`StorageError`, a ``FileNotFoundError``
    or ``FileExistsError``, or neither transient nor an ``OSError`` (a bug stays a bug); a
    :class:`StorageUnavailableError` for a transient error; a :class:`StorageError` otherwise.
    """
    if isinstance(exc, (StorageError, FileNotFoundError, FileExistsError)):
        return exc
    number = getattr(exc, "errno", None) if isinstance(exc, OSError) else None
    reason = _WORDS.get(number or 0) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if is_transient(exc):
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        return StorageUnavailableError(f"{what}: {reason}{tries}")
    return StorageError(f"{what}: {reason}") if isinstance(exc, OSError) else exc


def call_with_retry(call: Callable[[], T], what: str, policy: RetryPolicy) -> T:
    """``call()``, retried on transient errors with exponential backoff.

    Parameters
    ----------
    call : callable
        The operation; it must be safe to repeat (idempotent).
    what : str
        The key or prefix it works on, for log lines and error messages.
    policy : RetryPolicy

    Returns
    -------
    Whatever ``call`` returns.

    Raises
    ------
    StorageUnavailableError
        Every attempt failed transiently.
    StorageError
        A permanent ``OSError`` (no space left on device, permission denied, ...).
    FileNotFoundError, FileExistsError
        Unchanged, at once.
    """
    for attempt in range(policy.retries + 1):
        try:
            return call()
        except Exception as exc:
            if attempt == policy.retries or not is_transient(exc) or isinstance(exc, StorageError):
                error = storage_error(exc, what, attempts=attempt + 1)
                if error is exc:
                    raise
                raise error from exc
            delay = policy.delay(attempt)
            log.info("%s: %s; retry %d of %d in %.2f s", what, exc, attempt + 1, policy.retries, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
