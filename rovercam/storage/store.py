"""One fsspec-backed store with atomic transactions and versioned, idempotent publishing.

Layout under the store root::

    <prefix>/v1/<name>        a published version (kept forever; reprocessing adds v2, v3, ...)
    <prefix>/v2/<name>
    <prefix>/LATEST           JSON pointer {"version": N, "files": {name: sha256}}, written last
    .tmp/<uuid>-<pid>@<host>/ staging area of open transactions (never listed, never read)
    .versions/<prefix>/v<N>.json
                              the version record: created exclusively before v<N> is written
                              (the claim), rewritten with the file checksums once it is complete

Safety rules (docs/architecture.md#data-safety):

- Keys are relative POSIX paths inside the root; anything else raises
  :class:`~rovercam.errors.StorageError` before any I/O (symlinks on local disk included).
- Every object is written under ``.tmp/``, read back and checked against its sha256, and only
  then moved into place. An exception inside a transaction discards the staging area
  (:mod:`rovercam.storage.transaction`).
- On a local filesystem a transaction into a new prefix is committed by one directory
  ``rename``: readers see all of its files or none. Object stores have no rename, so a version
  becomes *visible* only when ``LATEST`` names it; ``LATEST`` is one object written in one PUT
  (locally: temp file + ``os.replace``), after every file of the version is in place.
- Two publishers never write the same version: each first *claims* ``v<N>`` by creating its
  version record exclusively (local: ``O_CREAT | O_EXCL``; S3: ``PUT`` with ``If-None-Match:
  *``, AWS since 2024, moto). The loser takes N + 1; a failed publisher removes only its own claim.
- ``LATEST`` only moves up, to the highest committed version: rewritten under a ``flock`` of
  ``.versions/<prefix>/LATEST.lock`` locally, by a conditional PUT (``If-Match``) on S3. Other
  fsspec drivers emulate create-only by check-then-write: one publisher per prefix there.
- A version committed by a publisher killed before moving ``LATEST`` is not lost: the next
  publish of the same files moves ``LATEST`` to it instead of writing it again.
- Staging folders are named after their owner (pid and host). :meth:`Store.publish` first
  removes staging left by dead processes on this host, and any staging older than an hour.
- Operations are retried on transient failures (:mod:`rovercam.storage.retry`). A publish that
  fails anyway removes what it placed of its version, gives its claim back and raises a
  :class:`~rovercam.errors.StorageError` naming the key (docs/reliability.md, "Storage faults").
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import posixpath
import re
import socket
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Callable, Literal

import fsspec

from rovercam.errors import StorageError
from rovercam.storage.retry import RetryPolicy, call_with_retry
from rovercam.storage.transaction import (
    RESERVED_AREAS,
    STAGING_AREA,
    Data,
    Transaction,
    check_key,
    fsync_dir,
    hash_data,
    staging_name,
)
from rovercam.storage.versions import (
    CLAIM_ATTEMPTS,
    LATEST,
    PublishedVersion,
    VersionRecords,
    fs_protocols,
)

__all__ = ["Store", "Transaction", "PublishedVersion", "Data"]

log = logging.getLogger(__name__)

_STAGING_NAME = re.compile(r"^[0-9a-f]{32}-(?P<pid>[0-9]+)@(?P<host>.+?)(?:\.part)?$")


def _owner_is_dead(name: str) -> bool:
    """True when ``name`` is a staging name of a process on this host that no longer exists."""
    m = _STAGING_NAME.match(name)
    if m is None or m.group("host") != socket.gethostname():
        return False
    pid = int(m.group("pid"))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return False


class Store(VersionRecords):
    """A storage root (local directory or fsspec URL) with guarded keys and atomic writes.

    Parameters
    ----------
    root : str
        Local path (created if missing) or fsspec URL, e.g. ``"s3://bucket/prefix"``.
    storage_options : dict, optional
        Passed to the fsspec filesystem (``{"endpoint_url": ..., "key": ...}`` for s3fs).
    retry : RetryPolicy, optional, keyword-only
        How operations failing transiently are retried (default: 3 retries from 0.5 s).

    Examples
    --------
    >>> import tempfile
    >>> store = Store(tempfile.mkdtemp())
    >>> with store.transaction("sol00001/frames") as txn:
    ...     sha = txn.put("a.txt", b"hello")
    >>> store.read_bytes("sol00001/frames/a.txt")
    b'hello'
    """

    @classmethod
    def from_settings(cls, settings: Any) -> "Store":
        """The store a :class:`rovercam.config.Settings` configures (root and fsspec options)."""
        return cls(settings.storage_root, storage_options=dict(settings.storage.options),
                   retry=RetryPolicy(settings.storage.retries, settings.storage.retry_delay_s))

    def __init__(self, root: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None,
                 retry: RetryPolicy | None = None):
        if not isinstance(root, (str, os.PathLike)) or not str(root):
            raise StorageError(f"store root must be a path or URL, got {root!r}")
        fs, path = fsspec.core.url_to_fs(str(root), **(storage_options or {}))
        self.fs: fsspec.AbstractFileSystem = fs
        self.is_local: bool = "file" in fs_protocols(fs)
        if self.is_local:
            path = os.path.realpath(path)
            os.makedirs(path, exist_ok=True)
        self.root: str = path.rstrip("/") or "/"
        self.storage_options = dict(storage_options or {})
        self.retry: RetryPolicy = retry if retry is not None else RetryPolicy()

    def __repr__(self) -> str:
        return f"Store({self.fs.unstrip_protocol(self.root)!r})"

    # ------------------------------------------------------------------ keys and reading

    def _path(self, key: str, *, what: str = "key") -> str:
        """Full filesystem path of a validated key; refuses symlink escapes on local disk."""
        key = check_key(key, what=what)
        path = posixpath.join(self.root, key)
        if self.is_local:
            real = os.path.realpath(path)
            if os.path.commonpath([real, self.root]) != self.root:
                raise StorageError(f"{what} {key!r} resolves outside the store root ({real})")
        return path

    def _io(self, call: Callable[[], Any], what: str) -> Any:
        """``call()`` with this store's retries (:func:`rovercam.storage.retry.call_with_retry`)."""
        return call_with_retry(call, what, self.retry)

    def exists(self, key: str) -> bool:
        """True when ``key`` names an existing object (file); StorageError when the store cannot
        tell (``fs.isfile`` would answer False to any error)."""
        path = self._path(key)

        def is_file() -> bool:
            try:
                return self.fs.info(path)["type"] == "file"
            except FileNotFoundError:
                return False

        return bool(self._io(is_file, key))

    def read_bytes(self, key: str) -> bytes:
        """The whole object at ``key``.

        Raises
        ------
        StorageError
            The key is invalid or no object exists there.
        """
        path = self._path(key)
        try:
            return self._io(lambda: self.fs.cat_file(path), key)
        except FileNotFoundError as e:
            raise StorageError(f"no object at {key!r} in {self!r}") from e

    def open(self, key: str, mode: Literal["rb"] = "rb") -> IO[bytes]:
        """Open an object for reading (writes go through :meth:`transaction`)."""
        if mode != "rb":
            raise StorageError(f"Store.open is read-only (mode 'rb'), got mode={mode!r}; "
                               "write through Store.transaction or Store.publish")
        path = self._path(key)
        try:
            return self.fs.open(path, "rb")
        except FileNotFoundError as e:
            raise StorageError(f"no object at {key!r} in {self!r}") from e

    def list(self, prefix: str = "") -> list[str]:
        """Sorted keys of every object under ``prefix`` (recursive; reserved areas excluded)."""
        base = self.root if not prefix.strip("/") else self._path(prefix, what="prefix")
        try:
            found = self._io(lambda: self.fs.find(base), prefix or "/")
        except FileNotFoundError:
            return []
        keys = []
        for p in found:
            p = self.fs._strip_protocol(p)
            rel = posixpath.relpath(p, self.root)
            if rel.split("/", 1)[0] not in RESERVED_AREAS and not rel.startswith(".."):
                keys.append(rel)
        return sorted(keys)

    def local_path(self, key: str) -> Path | None:
        """The local file path of ``key`` for a local store, None for remote stores."""
        path = self._path(key)
        return Path(path) if self.is_local else None

    def url(self, key: str) -> str:
        """Full URL of ``key`` (``file:///...`` locally, ``s3://bucket/...`` on S3)."""
        return self.fs.unstrip_protocol(self._path(key))

    # ------------------------------------------------------------------ writing

    @contextlib.contextmanager
    def transaction(self, prefix: str, *, exclusive: bool = False, durable: bool = True) -> Iterator[Transaction]:
        """Stage files under ``.tmp/<uuid>/`` and move them to ``prefix`` on clean exit.

        Each :meth:`Transaction.put` is verified by reading the staged object back. On an
        exception inside the block everything staged is removed and the exception propagates;
        nothing appears under ``prefix``.

        Parameters
        ----------
        prefix : str
            Destination; files already there with other names are kept, same names replaced.
        exclusive : bool
            Refuse to commit into a prefix that already holds objects (versioned publishing:
            a version folder is written once). On local disk the check is the ``rename``
            itself, so two concurrent writers cannot both win.
        durable : bool
            False skips the read-back verification and the fsyncs (the commit stays atomic):
            for intermediate results that can be recomputed, such as the work area's frames.

        Raises
        ------
        StorageError
            Invalid prefix or names, checksum mismatch, or a failed commit.
        """
        prefix = check_key(prefix, what="prefix")
        self._path(prefix, what="prefix")
        txn = Transaction(self, prefix, exclusive=exclusive, durable=durable)
        if exclusive and self.list(prefix):
            raise StorageError(f"{prefix}: already holds objects; refusing to overwrite")
        try:
            yield txn
            txn._commit()
        finally:
            txn._discard_staging()

    def _write_atomic(self, key: str, data: bytes) -> None:
        """Replace one object atomically (local: staged file + os.replace; remote: one PUT)."""
        self._write_path_atomic(self._path(key), data)

    def _write_path_atomic(self, path: str, data: bytes) -> None:
        if not self.is_local:
            self._io(lambda: self.fs.pipe_file(path, data), posixpath.relpath(path, self.root))
            return
        tmp_dir = posixpath.join(self.root, STAGING_AREA)
        os.makedirs(tmp_dir, exist_ok=True)
        tmp = posixpath.join(tmp_dir, f"{staging_name()}.part")

        def write() -> None:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.makedirs(posixpath.dirname(path), exist_ok=True)
            os.replace(tmp, path)
            fsync_dir(posixpath.dirname(path))

        try:
            self._io(write, posixpath.relpath(path, self.root))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)

    def discard_stale_staging(self, *, older_than_s: float = 3600.0) -> list[str]:
        """Remove staging folders left by killed writers; returns the removed ``.tmp/`` names.

        An entry is removed when its owner (recorded in its name, ``<uuid>-<pid>@<host>``) is a
        process on this host that no longer exists, or when its modification time is more than
        ``older_than_s`` seconds old. Transactions still running are left alone. Entries of
        other hosts without a modification time (object stores report none for prefixes) are
        kept until a process on their host cleans them.
        """
        base = posixpath.join(self.root, STAGING_AREA)
        try:
            entries = self._io(lambda: self.fs.ls(base, detail=True), STAGING_AREA)
        except FileNotFoundError:
            return []
        removed = []
        now = time.time()
        for entry in entries:
            mtime = next(
                (entry[k] for k in ("mtime", "LastModified") if entry.get(k) is not None), None
            )
            if hasattr(mtime, "timestamp"):
                mtime = mtime.timestamp()
            name = self.fs._strip_protocol(entry["name"])
            dead = _owner_is_dead(posixpath.basename(name.rstrip("/")))
            if not dead and (mtime is None or now - float(mtime) < older_than_s):
                continue
            with contextlib.suppress(FileNotFoundError):
                self._io(lambda n=name: self.fs.rm(n, recursive=True), STAGING_AREA)
            removed.append(posixpath.basename(name.rstrip("/")))
        if removed:
            log.info("%r: removed %d stale staging folders", self, len(removed))
        return sorted(removed)

    # ------------------------------------------------------------------ versions

    def publish(
        self,
        prefix: str,
        files: Mapping[str, Data],
        *,
        render: Callable[[int], Mapping[str, bytes]] | None = None,
    ) -> PublishedVersion:
        """Publish ``files`` as the next version of ``prefix``, or reuse an identical latest one.

        Parameters
        ----------
        prefix : str
            Product prefix; files go to ``<prefix>/v<N>/<name>``.
        files : mapping of str -> bytes or Path
            File name (relative key, may contain ``/``) -> content.
        render : callable, optional
            ``render(version) -> {name: bytes}``: files whose content names the version (a STAC
            item whose id ends in ``-v3``). Called with the latest version to test for reuse and
            with the new version number to publish.

        Returns
        -------
        PublishedVersion
            ``reused=True`` when the latest version already holds the same names and sha256s
            and all its files are in place (nothing written). Otherwise a new version N = max(existing) + 1, older kept.

        Notes
        -----
        A version folder left by a killed publisher (files present, ``LATEST`` not updated) is
        never reused and never overwritten: the next publish takes a higher number. Only a
        version whose commit record was written (every file in place) and whose files are these
        is taken over: ``LATEST`` is pointed at it, as its dead publisher was about to. Each version
        number is claimed (create-only write of its record) before anything is written, so two
        concurrent publishers take different numbers; ``LATEST`` then names the higher one.
        Staging left by dead processes is removed first (:meth:`discard_stale_staging`).
        """
        prefix = check_key(prefix, what="prefix")
        if not files:
            raise StorageError(f"{prefix}: nothing to publish")
        names = [check_key(n, what="file name") for n in files]
        if LATEST in names:
            raise StorageError(f"{prefix}: file name {LATEST!r} is reserved for the version pointer")
        base_sha = {name: hash_data(data) for name, data in zip(names, files.values())}

        def full_set(version: int) -> tuple[dict[str, Data], dict[str, str]]:
            extra = dict(render(version)) if render is not None else {}
            contents: dict[str, Data] = dict(zip(names, files.values()))
            sha = dict(base_sha)
            for name, data in extra.items():
                name = check_key(name, what="file name")
                if name in contents or name == LATEST:
                    raise StorageError(f"{prefix}: rendered file {name!r} clashes with another")
                contents[name] = data
                sha[name] = hash_data(data)
            return contents, sha

        try:
            self.discard_stale_staging()
        except StorageError as exc:  # name the output, not the staging area
            raise type(exc)(f"{prefix}: publish failed: {exc}") from exc
        latest = self.latest(prefix)
        if latest is not None:
            _, sha = full_set(latest.version)
            if sha == latest.sha256:
                missing = sorted(set(latest.keys.values()) - set(self.list(f"{prefix}/v{latest.version}")))
                if not missing:
                    log.info("%s: identical to v%d, nothing written", prefix, latest.version)
                    return PublishedVersion(prefix, latest.version, latest.keys, latest.sha256, reused=True)
                # a file of the latest version was deleted behind the store's back: reusing it
                # would hand out keys with no object; a new version restores every file
                log.warning("%s: v%d is identical but lacks %s; publishing a new version",
                            prefix, latest.version, ", ".join(missing))
        in_use = self.versions(prefix)
        if any(v > (latest.version if latest else 0) for v in in_use):
            finished = self._finish_identical(prefix, latest, full_set)
            if finished is not None:
                return finished
        version = max([latest.version if latest else 0, *in_use]) + 1
        for _ in range(CLAIM_ATTEMPTS):
            token = self._claim(prefix, version)
            if token is not None:
                break
            version += 1  # another publisher took it between our listing and our claim
        else:
            raise StorageError(f"{prefix}: could not claim a version after {CLAIM_ATTEMPTS} tries")
        record_path = posixpath.join(self._meta_dir(prefix), f"v{version}.json")
        vprefix = f"{prefix}/v{version}"
        txn: Transaction | None = None
        try:
            contents, sha = full_set(version)
            with self.transaction(vprefix, exclusive=True) as txn:
                for name, data in contents.items():
                    txn.put(name, data)
        except BaseException:
            # v<N> is not committed (the transaction discarded its staging; on an object store
            # some files may have been copied into v<N>/): remove them and give the number back
            # while the record is still our claim. A killed process cannot, and its claim keeps
            # the number retired.
            self._give_back(prefix, version, txn.placed if txn is not None else [], token)
            raise
        record = {"state": "committed", "files": sha}
        try:
            self._write_path_atomic(record_path, json.dumps(record, sort_keys=True, indent=1).encode())
        except BaseException:
            self._give_back(prefix, version, list(sha), token)
            raise
        self._advance_latest(prefix, version, sha)
        log.info("%s: published v%d (%d files)", prefix, version, len(sha))
        keys = {name: f"{vprefix}/{name}" for name in sha}
        return PublishedVersion(prefix, version, keys, sha, reused=False)
