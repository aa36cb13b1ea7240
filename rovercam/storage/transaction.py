"""Atomic transactions: stage files under the store's ``.tmp/`` area, verify, move into place.

The rules a :class:`Transaction` keeps (the store's layout is described in
:mod:`rovercam.storage.store`):

- keys are relative POSIX paths inside the root (:func:`check_key`); anything else raises
  :class:`~rovercam.errors.StorageError` before any I/O;
- every object is written under ``.tmp/<uuid>-<pid>@<host>/`` (:func:`staging_name`), read back
  and checked against its sha256, and only then moved into place; an exception inside the
  transaction discards the staging area;
- on a local filesystem a transaction into a new (or an exclusive) prefix is committed by one
  directory ``rename``: readers see all of its files or none.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import re
import socket
import uuid
from pathlib import Path
from typing import IO, Protocol

import fsspec

from rovercam.errors import StorageError

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


class StagingRoot(Protocol):
    """What a transaction needs of its store: the filesystem, the root path, whether it is local."""

    fs: fsspec.AbstractFileSystem
    root: str
    is_local: bool


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
    """

    def __init__(self, store: StagingRoot, prefix: str, *, exclusive: bool = False, durable: bool = True):
        self._store = store
        self.durable = durable
        self.prefix = prefix
        self.exclusive = exclusive
        self.sha256: dict[str, str] = {}
        self.keys: dict[str, str] = {}
        self._staging = posixpath.join(store.root, STAGING_AREA, staging_name())
        self._closed = False

    def put(self, name: str, data: Data) -> str:
        """Stage ``data`` as ``<prefix>/<name>``; returns its sha256 (verified by read-back).

        A transaction that is not ``durable`` neither hashes nor verifies, and returns "".

        Raises
        ------
        StorageError
            Invalid or duplicate name, closed transaction, or read-back checksum mismatch.
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
        fs = self._store.fs
        staged = posixpath.join(self._staging, name)
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
            self.sha256[name] = expected
            return expected
        with fs.open(staged, "rb") as f:
            got = hash_stream(f)
        if got != expected:
            raise StorageError(f"{self.prefix}/{name}: stored sha256 {got} != written {expected}")
        self.sha256[name] = expected
        return expected

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
                if self.durable:
                    fsync_dir(posixpath.dirname(dest))
            else:
                if self.exclusive and fs.exists(dest) and fs.find(dest):
                    raise StorageError(f"{self.prefix}: written by another writer meanwhile")
                for name in self.sha256:
                    target = posixpath.join(dest, name)
                    if store.is_local:
                        os.makedirs(posixpath.dirname(target), exist_ok=True)
                        os.replace(posixpath.join(self._staging, name), target)
                    else:
                        fs.mv(posixpath.join(self._staging, name), target)
                if store.is_local and self.durable:
                    fsync_dir(dest)
        except StorageError:
            raise
        except OSError as e:
            raise StorageError(f"{self.prefix}: commit failed ({e})") from e
        self.keys = {name: f"{self.prefix}/{name}" for name in self.sha256}

    def _discard_staging(self) -> None:
        self._closed = True
        fs = self._store.fs
        with contextlib.suppress(FileNotFoundError):
            if fs.exists(self._staging):
                fs.rm(self._staging, recursive=True)


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
