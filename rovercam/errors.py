"""The rovercam error tree.

Every error rovercam raises on purpose derives from :class:`RovercamError`. Errors that carry
context (a product path, a calibration file) keep it in ``args`` so they survive pickling to
worker processes, and their ``str()`` names the thing and the problem::

    >>> str(ProductError("NLF_0100.IMG", "file is 100 bytes, label declares 4096"))
    'NLF_0100.IMG: file is 100 bytes, label declares 4096'

Errors are *permanent* (the same call fails the same way again: a missing folder, an HTTP 404, a
refused product, a bad setting) unless they derive from :class:`TransientError` (a timeout, a
reset connection, HTTP 5xx, throttling: worth retrying later). :func:`is_transient` sorts any
exception, rovercam's or not; the Prefect tasks retry only what it calls transient
(docs/operations.md, "Retry policy").
"""
from __future__ import annotations

import errno
import urllib.error

__all__ = [
    "RovercamError",
    "SourcedError",
    "ParameterError",
    "TransientError",
    "is_transient",
    "ConfigError",
    "ProductError",
    "LabelSyntaxError",
    "LabelContentError",
    "ProductTooLargeError",
    "DataSizeError",
    "UnsupportedProductError",
    "CameraModelError",
    "CalibrationError",
    "MosaicError",
    "MeshError",
    "StorageError",
    "StorageUnavailableError",
    "FrameCodecError",
    "CatalogError",
    "SolBusyError",
    "SourceError",
    "OrchestratorError",
    "StereoError",
]


class RovercamError(Exception):
    """Root of every rovercam error (permanent unless it is also a :class:`TransientError`)."""


class TransientError(RovercamError):
    """A failure that may not happen again: a timeout, a reset or refused connection, HTTP 5xx,
    429 or 408, object-store throttling, a truncated transfer. Worth retrying after a delay."""


class ConfigError(RovercamError, ValueError):
    """A configuration file or environment variable is invalid."""


class ProductError(RovercamError, ValueError):
    """A product (label or data) is unreadable or inconsistent.

    Parameters
    ----------
    path : str
        The product file, or its product id when no file is involved.
    problem : str
        What is wrong, in words a user can act on.
    """

    def __init__(self, path: str, problem: str):
        super().__init__(str(path), problem)
        self.path = str(path)
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


class LabelSyntaxError(ProductError):
    """The label text does not parse (ODL, VICAR or XML), with the line and column."""

    def __init__(self, path: str, problem: str, line: int = 0, column: int = 0):
        ProductError.__init__(self, path, problem)
        self.args = (str(path), problem, line, column)
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = f" (line {self.line}, column {self.column})" if self.line else ""
        return f"{self.path}: {self.problem}{where}"


class LabelContentError(ProductError):
    """The label parses but a required keyword is missing or has an impossible value."""


class ProductTooLargeError(ProductError):
    """The label declares an image larger than the configured limits (refused before allocation)."""


class DataSizeError(ProductError):
    """The data file is shorter than the label says, or a pointer lies outside it."""


class UnsupportedProductError(ProductError):
    """The file is a kind of product rovercam does not read (yet)."""


class CameraModelError(RovercamError, ValueError):
    """A camera model has invalid components or cannot be built from a label."""


class SourcedError(RovercamError):
    """An error about one thing, named first: ``str(e)`` is ``"<source>: <problem>"``.

    Parameters
    ----------
    source : str
        What the error is about (a file, a store key, a product id).
    problem : str
        What is wrong, in words a user can act on.
    """

    def __init__(self, source: str, problem: str):
        super().__init__(str(source), problem)
        self.source = str(source)
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.source}: {self.problem}"


class CalibrationError(SourcedError):
    """A calibration file (LUT, flat, color matrix) is missing or invalid."""


class MosaicError(RovercamError):
    """A mosaic cannot be built (no frames, no overlap with the output grid, ...)."""


class MeshError(RovercamError, ValueError):
    """A terrain mesh cannot be built, merged, written or read: arrays of the wrong shape or
    dtype, an invalid error bound, meshes in different frames, a file that holds no mesh."""


class StorageError(RovercamError, OSError):
    """A storage operation failed or would leave the storage root."""


class StorageUnavailableError(StorageError, TransientError):
    """A store operation failed transiently (HTTP 5xx, timeout, reset connection) and kept failing
    through the store's own retries (``[storage] retries``): still transient, so a task may try
    again later. Whatever the failed operation staged was discarded."""


class FrameCodecError(SourcedError, ValueError):
    """A stored frame blob cannot be decoded: unknown codec version, missing or unknown field."""


class CatalogError(RovercamError):
    """The catalog database is unreachable or inconsistent."""


class SolBusyError(CatalogError):
    """Another run kept holding the sol for longer than this run would wait
    (``[prefect] sol_lock_timeout_s``; :mod:`rovercam.catalog.lease`)."""


class SourceError(RovercamError):
    """A product source (folder, object-store prefix, HTTP archive or feed) cannot be listed or
    fetched from: unreachable, malformed listing, failed or truncated download, unsafe name.

    Parameters
    ----------
    url : str
        The URL or path involved.
    problem : str
        What went wrong, in words a user can act on.
    """

    def __init__(self, url: str, problem: str):
        super().__init__(str(url), problem)
        self.url = str(url)
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.url}: {self.problem}"


#: HTTP statuses worth a retry (timeouts, throttling, server errors).
TRANSIENT_HTTP_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Object-store (S3 API) error codes worth a retry.
TRANSIENT_S3_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
                                "RequestTimeout", "RequestTimeTooSkewed", "InternalError", "ServiceUnavailable"})
# OSErrors that say the same thing on every attempt
_PERMANENT_OS = (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError, NotADirectoryError)
#: Transport errors of the S3 client stack that are not OSErrors (botocore, aiohttp), by class
#: name, so that this module imports neither.
TRANSIENT_CLIENT_ERRORS = frozenset({"HTTPClientError", "EndpointConnectionError", "ConnectionClosedError",
                                     "IncompleteReadError", "ResponseStreamingError", "ClientConnectionError",
                                     "ClientPayloadError"})
#: errno values of a full or read-only device: waiting a few seconds does not free space.
PERMANENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.ENAMETOOLONG})


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is worth retrying (the same call may succeed later).

    Parameters
    ----------
    exc : BaseException

    Returns
    -------
    bool
        True for a :class:`TransientError`, a timeout or connection error, an HTTP error with a
        status in :data:`TRANSIENT_HTTP_STATUS`, an object-store error whose code is in
        :data:`TRANSIENT_S3_CODES`, an S3 client's transport error
        (:data:`TRANSIENT_CLIENT_ERRORS`), and any other ``OSError`` that is not about a missing
        or forbidden path or a full or read-only device (:data:`PERMANENT_ERRNOS`). False for
        every other :class:`RovercamError` (permanent by default) and for anything else (a bug
        does not fix itself on a retry).

    Examples
    --------
    >>> is_transient(SourceError("/data/sol1", "no such folder"))
    False
    >>> is_transient(TimeoutError("read timed out"))
    True
    """
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, RovercamError):
        return False
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code in TRANSIENT_HTTP_STATUS
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    if any(cls.__name__ in TRANSIENT_CLIENT_ERRORS for cls in type(exc).__mro__):
        return True
    response = getattr(exc, "response", None)  # botocore's ClientError, without importing it
    if isinstance(response, dict):
        error = response.get("Error") or {}
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return error.get("Code") in TRANSIENT_S3_CODES or status in TRANSIENT_HTTP_STATUS
    return (isinstance(exc, OSError) and not isinstance(exc, _PERMANENT_OS)
            and exc.errno not in PERMANENT_ERRNOS)


class ParameterError(RovercamError, ValueError):
    """A command-line or flow parameter names something that does not exist (the message lists
    what does)."""


class OrchestratorError(TransientError):
    """The Prefect server stopped answering while a run needed it (killed, restarting,
    unreachable): the run stopped. Rerunning once the server is back reuses the finished work
    (docs/reliability.md, "Orchestrator faults")."""


class StereoError(RovercamError, ValueError):
    """A stereo pair cannot be matched or triangulated: images and models that do not fit
    together, models that cannot be rectified, or invalid stereo settings."""
