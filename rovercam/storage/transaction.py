"""Atomic transactions: stage files under the store's ``.tmp/`` area, verify, move into place.

The rules a :class:`Transaction` keeps (the store's layout is described in
:mod:`rovercam.storage.store`):

- keys are relative POSIX paths inside the root (:func:`check_key`); anything else raises
  :class:`~rovercam.errors.StorageError` before any I/O;
- every object is written under ``.tmp/<uuid>-<pid>@<host>/`` (:func:`staging_name`), read back
  and checked against its sha256, and only then moved into place; an exception inside the
  transaction discards the staging area;
- on a local filesystem a transaction into a new (or an exclusive) prefix is committed by one
  directory ``rename``: readers see all of its files or none;
- each step (stage and verify one file, copy one file into place) is retried on transient
  failures (:mod:`rovercam.storage.retry`); a step that keeps failing, or fails permanently (no
  space left on device), raises :class:`~rovercam.errors.StorageError` naming the key, and the
  staging area is discarded.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import posixpath
import re
import socket
import uuid
from pathlib import Path
from typing import IO, Protocol

import fsspec

from rovercam.errors import StorageError
from rovercam.storage.retry import RetryPolicy, call_with_retry

__all__ = ["Transaction", "Data", "StagingRoot", "check_key", "staging_name", "hash_data",
           "hash_stream", "fsync_dir", "fsync_tree", "STAGING_AREA", "VERSIONS_AREA",
           "RESERVED_AREAS"]

#: Bytes in memory; a tuple of bytes-like pieces, stored one after another (a large array goes
#: out without first being joined into one copy); or a local file to copy (streamed, never read
#: whole).
Data = bytes | tuple | Path

#: Staging area of open transactions under the store root (never listed, never read).
STAGING_AREA = ".tmp"
#: Version records of published prefixes under the store root.
VERSIONS_AREA = ".versions"
#: Top-level names no key may start with.
RESERVED_AREAS = (STAGING_AREA, VERSIONS_AREA)
_CHUNK = 1 << 20

log = logging.getLogger(__name__)


class StagingRoot(Protocol):
    """What a transaction needs of its store: the filesystem, the root path, whether it is local,
    and how to retry a step that failed transiently."""

    fs: fsspec.AbstractFileSystem
    root: str
    is_local: bool
    retry: RetryPolicy


def check_key(key: str, *, what: str = "key") -> str:
    """Validate a relative POSIX key and return it normalised (no trailing slash).

    Raises StorageError for absolute keys, backslashes, ``..`` or ``.`` components, empty
    components, and keys inside the reserved staging area.
    """
    if not isinstance(key, str) or not key.strip("/"):
        raise StorageError(f"{what} must be a non-empty relative path, got {key!r}")
    if "\\" in key or "\x00" in key:
        raise StorageError(f"{what} {key!r} contains a backslash or NUL")
    if key.startswith("/") or "://" in key or re.match(r"^[A-Za-z]:", key):
        raise StorageError(f"{what} {key!r} is absolute; keys are relative to the store root")
    parts = key.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise StorageError(f"{what} {key!r} has an empty, '.' or '..' component")
    if parts[0] in RESERVED_AREAS:
        raise StorageError(f"{what} {key!r} is inside the reserved area {parts[0]}/")
    return "/".join(parts)


def staging_name() -> str:
    """A fresh staging name that records its owner: ``<uuid hex>-<pid>@<host>``."""
    return f"{uuid.uuid4().hex}-{os.getpid()}@{socket.gethostname()}"


def hash_data(data: Data) -> str:
    """Hex sha256 of ``data``: bytes, the concatenated pieces of a tuple, or a file's content."""
    h = hashlib.sha256()
    if isinstance(data, bytes):
        h.update(data)
    elif isinstance(data, tuple):
        for piece in data:
            h.update(piece)
    else:
        with open(data, "rb") as f:
            while block := f.read(_CHUNK):
                h.update(block)
    return h.hexdigest()


def hash_stream(f: IO[bytes]) -> str:
    """Hex sha256 of what remains to be read from ``f``."""
    h = hashlib.sha256()
    while block := f.read(_CHUNK):
        h.update(block)
    return h.hexdigest()


class Transaction:
    """Files staged for one atomic commit under a prefix (made by :meth:`Store.transaction`).

    Attributes
    ----------
    prefix : str
        Destination prefix.
    sha256 : dict of str -> str
        Name -> sha256 of each staged (and verified) object.
    keys : dict of str -> str
        Name -> final key (valid once the ``with`` block has exited cleanly).
    placed : list of str
        Names already in place under ``prefix`` (on an object store a failed commit may have
        copied some: what to remove).
    """

    def __init__(self, store: StagingRoot, prefix: str, *, exclusive: bool = False, durable: bool = True):
        self._store = store
        self.durable = durable
        self.prefix = prefix
        self.exclusive = exclusive
        self.sha256: dict[str, str] = {}
        self.keys: dict[str, str] = {}
        self.placed: list[str] = []
        self._staging = posixpath.join(store.root, STAGING_AREA, staging_name())
        self._closed = False

    def put(self, name: str, data: Data) -> str:
        """Stage ``data`` as ``<prefix>/<name>``; returns its sha256 (verified by read-back).

        A transaction that is not ``durable`` neither hashes nor verifies, and returns "".

        Raises
        ------
        StorageError
            Invalid or duplicate name, closed transaction, read-back checksum mismatch, or a write
        that failed (no space left on device; a transient fault that outlasted the retries:
        :class:`~rovercam.errors.StorageUnavailableError`).
        """
        if self._closed:
            raise StorageError(f"transaction on {self.prefix!r} is already closed")
        name = check_key(name, what="file name")
        if name in self.sha256:
            raise StorageError(f"{self.prefix}/{name}: put twice in one transaction")
        if not isinstance(data, (bytes, tuple, Path)):
            raise StorageError(f"{self.prefix}/{name}: data must be bytes, a tuple of bytes-like pieces "
                               f"or a Path, got {type(data).__name__}")
        expected = hash_data(data) if self.durable else ""  # not durable: no checksum at all
        staged = posixpath.join(self._staging, name)
        got = call_with_retry(lambda: self._stage(staged, data), f"{self.prefix}/{name}", self._store.retry)
        if got != expected:
            raise StorageError(f"{self.prefix}/{name}: stored sha256 {got} != written {expected}")
        self.sha256[name] = expected
        return expected

    def _stage(self, staged: str, data: Data) -> str:
        """Write ``data`` to ``staged`` (whole, so that a retry starts afresh) and return the
        sha256 read back ("" when not durable)."""
        fs = self._store.fs
        fs.makedirs(posixpath.dirname(staged), exist_ok=True)
        if not isinstance(data, Path):
            with fs.open(staged, "wb") as f:
                for piece in (data,) if isinstance(data, bytes) else data:
                    f.write(piece)
                if self._store.is_local and self.durable:
                    f.flush()
                    os.fsync(f.fileno())
        else:
            fs.put_file(str(data), staged)
        if not self.durable:
            return ""
        with fs.open(staged, "rb") as f:
            return hash_stream(f)

    def _commit(self) -> None:
        store, fs = self._store, self._store.fs
        self._closed = True
        if not self.sha256:
            return
        dest = posixpath.join(store.root, self.prefix)
        try:
            if store.is_local and (self.exclusive or not os.path.lexists(dest)):
                # One rename publishes the whole set: readers see all files or none. rename()
                # fails onto a non-empty directory, so a concurrent writer cannot be overwritten.
                os.makedirs(posixpath.dirname(dest), exist_ok=True)
                if self.durable:
                    fsync_tree(self._staging)
                os.rename(self._staging, dest)
                self.placed = list(self.sha256)
                if self.durable:
                    fsync_dir(posixpath.dirname(dest))
            elif store.is_local:
                for name in self.sha256:
                    target = posixpath.join(dest, name)
                    os.makedirs(posixpath.dirname(target), exist_ok=True)
                    os.replace(posixpath.join(self._staging, name), target)
                    self.placed.append(name)
                if self.durable:
                    fsync_dir(dest)
            else:
                taken = call_with_retry(lambda: bool(fs.find(dest)), self.prefix, store.retry)
                if self.exclusive and taken:
                    raise StorageError(f"{self.prefix}: written by another writer meanwhile")
                for name in self.sha256:
                    # A copy (repeatable, unlike a move); the staged originals go with the staging
                    # area. Object stores have no rename: readers are kept away by LATEST.
                    source, target = posixpath.join(self._staging, name), posixpath.join(dest, name)
                    call_with_retry(lambda s=source, t=target: fs.copy(s, t), f"{self.prefix}/{name}",
                                    store.retry)
                    self.placed.append(name)
        except StorageError:
            raise
        except OSError as e:
            raise StorageError(f"{self.prefix}: commit failed ({e})") from e
        self.keys = {name: f"{self.prefix}/{name}" for name in self.sha256}

    def _discard_staging(self) -> None:
        """Remove the staging area; a failure is logged, not raised (it would hide the error
        that ended the transaction, and staging is never read: the next publish after this
        process ends removes it, :meth:`Store.discard_stale_staging`)."""
        self._closed = True
        fs = self._store.fs

        def remove() -> None:
            with contextlib.suppress(FileNotFoundError):
                fs.rm(self._staging, recursive=True)

        if self._store.is_local and not os.path.lexists(self._staging):
            return
        try:
            call_with_retry(remove, self._staging, self._store.retry)
        except OSError as exc:
            log.warning("%s: staging area not removed: %s", self._staging, exc)


def fsync_dir(path: str) -> None:
    """Make a rename/replace in ``path`` durable (POSIX; a no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(path: str) -> None:
    """:func:`fsync_dir` every folder under ``path`` (before it is renamed into place)."""
    for dirpath, _dirs, _files in os.walk(path):
        fsync_dir(dirpath)
