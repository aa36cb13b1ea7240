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
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import posixpath
import re
import socket
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Literal

import fsspec

from rovercam.errors import StorageError
from rovercam.storage.transaction import (
    RESERVED_AREAS,
    STAGING_AREA,
    VERSIONS_AREA,
    Data,
    Transaction,
    check_key,
    fsync_dir,
    hash_data,
    staging_name,
)

__all__ = ["Store", "Transaction", "PublishedVersion", "Data"]

log = logging.getLogger(__name__)

_LATEST = "LATEST"
_STAGING_NAME = re.compile(r"^[0-9a-f]{32}-(?P<pid>[0-9]+)@(?P<host>.+?)(?:\.part)?$")
_CLAIM_ATTEMPTS = 1000
_VERSION_DIR = re.compile(r"^v([1-9][0-9]*)$")
_VERSION_RECORD = re.compile(r"^v([1-9][0-9]*)\.json$")


@dataclass(frozen=True, slots=True)
class PublishedVersion:
    """One published version of a prefix.

    Attributes
    ----------
    prefix : str
        The product prefix, e.g. ``"sol00100/mosaics/NCAM_CYL"``.
    version : int
        1-based version number; files live under ``<prefix>/v<version>/``.
    keys : dict of str -> str
        File name -> store key.
    sha256 : dict of str -> str
        File name -> hex sha256 of the stored bytes (verified by reading back).
    reused : bool
        True when nothing was written because the latest version already had identical files.
    """

    prefix: str
    version: int
    keys: dict[str, str] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    reused: bool = False


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


class Store:
    """A storage root (local directory or fsspec URL) with guarded keys and atomic writes.

    Parameters
    ----------
    root : str
        Local path (created if missing) or fsspec URL, e.g. ``"s3://bucket/prefix"``.
    storage_options : dict, optional
        Passed to the fsspec filesystem (``{"endpoint_url": ..., "key": ...}`` for s3fs).

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
        return cls(settings.storage_root, storage_options=dict(settings.storage.options))

    def __init__(self, root: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None):
        if not isinstance(root, (str, os.PathLike)) or not str(root):
            raise StorageError(f"store root must be a path or URL, got {root!r}")
        fs, path = fsspec.core.url_to_fs(str(root), **(storage_options or {}))
        self.fs: fsspec.AbstractFileSystem = fs
        self.is_local: bool = "file" in _protocols(fs)
        if self.is_local:
            path = os.path.realpath(path)
            os.makedirs(path, exist_ok=True)
        self.root: str = path.rstrip("/") or "/"
        self.storage_options = dict(storage_options or {})

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

    def exists(self, key: str) -> bool:
        """True when ``key`` names an existing object (file)."""
        return bool(self.fs.isfile(self._path(key)))

    def read_bytes(self, key: str) -> bytes:
        """The whole object at ``key``.

        Raises
        ------
        StorageError
            The key is invalid or no object exists there.
        """
        path = self._path(key)
        try:
            return self.fs.cat_file(path)
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
            found = self.fs.find(base)
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
            self.fs.pipe_file(path, data)
            return
        tmp_dir = posixpath.join(self.root, STAGING_AREA)
        os.makedirs(tmp_dir, exist_ok=True)
        tmp = posixpath.join(tmp_dir, f"{staging_name()}.part")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.makedirs(posixpath.dirname(path), exist_ok=True)
            os.replace(tmp, path)
            fsync_dir(posixpath.dirname(path))
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
            entries = self.fs.ls(base, detail=True)
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
                self.fs.rm(name, recursive=True)
            removed.append(posixpath.basename(name.rstrip("/")))
        if removed:
            log.info("%r: removed %d stale staging folders", self, len(removed))
        return sorted(removed)

    # ------------------------------------------------------------------ versions

    def latest(self, prefix: str) -> PublishedVersion | None:
        """The version ``<prefix>/LATEST`` points at, or None before the first publish."""
        prefix = check_key(prefix, what="prefix")
        key = f"{prefix}/{_LATEST}"
        if not self.exists(key):
            return None
        try:
            doc = json.loads(self.read_bytes(key))
            version, files = int(doc["version"]), dict(doc["files"])
        except (ValueError, KeyError, TypeError) as e:
            raise StorageError(f"{key}: unreadable version pointer ({e})") from e
        keys = {name: f"{prefix}/v{version}/{name}" for name in files}
        return PublishedVersion(prefix, version, keys, files, reused=False)

    def versions(self, prefix: str) -> list[int]:
        """Version numbers in use under ``prefix``: a ``v<N>/`` folder or a claim (committed or not)."""
        base = self._path(prefix, what="prefix")
        found = set()
        for folder, pattern in ((base, _VERSION_DIR), (self._meta_dir(prefix), _VERSION_RECORD)):
            try:
                entries = self.fs.ls(folder, detail=False)
            except FileNotFoundError:
                continue
            for entry in entries:
                m = pattern.match(posixpath.basename(entry.rstrip("/")))
                if m:
                    found.add(int(m.group(1)))
        return sorted(found)

    def committed_versions(self, prefix: str) -> dict[int, dict[str, str]]:
        """Completely written versions of ``prefix``: version -> {file name: sha256}.

        A version counts once its record says ``committed`` (written after every file of the
        version is in place); folders of publishers killed mid-way never do.
        """
        folder = self._meta_dir(prefix)
        try:
            entries = self.fs.ls(folder, detail=False)
        except FileNotFoundError:
            return {}
        out = {}
        for entry in entries:
            m = _VERSION_RECORD.match(posixpath.basename(entry.rstrip("/")))
            if not m:
                continue
            try:
                doc = json.loads(self.fs.cat_file(self.fs._strip_protocol(entry)))
            except (ValueError, FileNotFoundError):
                continue  # a claim being written, or removed meanwhile
            if isinstance(doc, dict) and doc.get("state") == "committed":
                out[int(m.group(1))] = dict(doc["files"])
        return dict(sorted(out.items()))

    def _finish_identical(self, prefix: str, latest: PublishedVersion | None,
                          full_set: Callable[[int], tuple[dict[str, Data], dict[str, str]]]
                          ) -> PublishedVersion | None:
        """Reuse the newest committed version when it is newer than ``LATEST`` and holds exactly
        these files: its publisher died between the commit record and ``LATEST`` (left alone,
        it would stay a complete version no reader and no catalog row ever names)."""
        committed = self.committed_versions(prefix)
        top = max(committed, default=0)
        if top <= (latest.version if latest else 0):
            return None
        _, sha = full_set(top)
        if sha != committed[top]:
            return None
        self._advance_latest(prefix, top, sha)
        log.info("%s: identical to v%d, committed by a publisher that did not finish; LATEST now names it",
                 prefix, top)
        return PublishedVersion(prefix, top, {name: f"{prefix}/v{top}/{name}" for name in sha}, sha, reused=True)

    def _advance_latest(self, prefix: str, version: int, sha: dict[str, str]) -> None:
        """Point ``LATEST`` at the highest committed version (ours, unless a newer one committed).

        Each round reads the commit records and the pointer, and writes the pointer only if it
        is behind and unchanged since it was read: locally under an exclusive ``flock``, on S3
        by a conditional PUT (:meth:`_swap_latest`). A pointer that changed meanwhile is read
        again. So ``LATEST`` never moves back, and ends at the highest committed version.
        """
        with self._latest_lock(prefix):
            for _ in range(_CLAIM_ATTEMPTS):
                committed = self.committed_versions(prefix)
                committed.setdefault(version, sha)
                top = max(committed)
                etag = self._latest_etag(prefix)
                current = self.latest(prefix)
                if current is not None and current.version >= top:
                    if current.version > version:
                        log.info("%s: v%d committed, LATEST is at newer v%d", prefix, version, current.version)
                    return
                pointer = json.dumps({"version": top, "files": committed[top]}, sort_keys=True, indent=1)
                if self._swap_latest(prefix, pointer.encode(), etag, exists=current is not None):
                    version = top  # re-check: a higher version may have committed meanwhile
        raise StorageError(f"{prefix}: LATEST kept changing under {_CLAIM_ATTEMPTS} updates")

    @contextlib.contextmanager
    def _latest_lock(self, prefix: str) -> Iterator[None]:
        """``flock`` of ``.versions/<prefix>/LATEST.lock`` on local disk (object stores: no-op)."""
        if not self.is_local:
            yield
            return
        folder = self._meta_dir(prefix)
        os.makedirs(folder, exist_ok=True)
        fd = os.open(posixpath.join(folder, f"{_LATEST}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _latest_etag(self, prefix: str) -> str | None:
        """The ETag of ``<prefix>/LATEST`` on S3 (read before its content); None elsewhere or when absent."""
        with contextlib.suppress(FileNotFoundError):
            if not self.is_local and {"s3", "s3a"} & set(_protocols(self.fs)):
                return self.fs.info(self._path(f"{prefix}/{_LATEST}"), refresh=True).get("ETag")
        return None

    def _swap_latest(self, prefix: str, data: bytes, etag: str | None, *, exists: bool) -> bool:
        """Write ``LATEST`` unless it changed since it was read; False when it did (S3: the
        conditional PUT failed). Local writes happen under :meth:`_latest_lock`."""
        path = self._path(f"{prefix}/{_LATEST}")
        if self.is_local or not {"s3", "s3a"} & set(_protocols(self.fs)):
            self._write_path_atomic(path, data)
            return True
        try:
            self.fs.pipe_file(path, data, **({"IfMatch": etag} if exists and etag else {} if exists else
                                             {"mode": "create"}))
        except FileExistsError:
            return False
        except OSError as e:
            if getattr(e.__cause__, "response", {}).get("Error", {}).get("Code") in (
                    "PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
        finally:
            self.fs.invalidate_cache(path)
        return True

    def published_prefixes(self) -> list[str]:
        """Every prefix that has a ``LATEST`` pointer or a version record, sorted."""
        found = {k.rsplit("/", 1)[0] for k in self.list() if k.endswith(f"/{_LATEST}")}
        meta = posixpath.join(self.root, VERSIONS_AREA)
        try:
            records = self.fs.find(meta)
        except FileNotFoundError:
            records = []
        for path in records:
            rel = posixpath.relpath(self.fs._strip_protocol(path), meta)
            if "/" in rel and _VERSION_RECORD.match(rel.rsplit("/", 1)[1]):
                found.add(rel.rsplit("/", 1)[0])
        return sorted(found)

    def _meta_dir(self, prefix: str) -> str:
        return posixpath.join(self.root, VERSIONS_AREA, check_key(prefix, what="prefix"))

    def _claim(self, prefix: str, version: int) -> str | None:
        """Create the record of ``v<version>`` exclusively; returns the claim's token, or None
        when the record already exists.

        Locally ``O_CREAT | O_EXCL`` (fsspec's local ``mode="create"`` checks, then writes: two
        processes could both pass the check); on S3 a PUT with ``If-None-Match: *``.
        """
        path = posixpath.join(self._meta_dir(prefix), f"v{version}.json")
        token = uuid.uuid4().hex
        doc = {"state": "claimed", "owner": f"{os.getpid()}@{socket.gethostname()}",
               "claimed_at": time.time(), "token": token}
        data = json.dumps(doc, sort_keys=True).encode()
        if self.is_local:
            os.makedirs(posixpath.dirname(path), exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return None
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            fsync_dir(posixpath.dirname(path))
            return token
        try:
            self.fs.pipe_file(path, data, mode="create")
        except FileExistsError:
            return None
        return token

    def _unclaim(self, record_path: str, token: str) -> None:
        """Remove a version record if it is still our uncommitted claim ``token`` (best effort)."""
        try:
            doc = json.loads(self.fs.cat_file(record_path))
        except (OSError, ValueError):
            return
        if isinstance(doc, dict) and doc.get("token") == token and doc.get("state") == "claimed":
            with contextlib.suppress(OSError):
                self.fs.rm(record_path)

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
            (nothing written). Otherwise a new version N = max(existing) + 1, older kept.

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
        if _LATEST in names:
            raise StorageError(f"{prefix}: file name {_LATEST!r} is reserved for the version pointer")
        base_sha = {name: hash_data(data) for name, data in zip(names, files.values())}

        def full_set(version: int) -> tuple[dict[str, Data], dict[str, str]]:
            extra = dict(render(version)) if render is not None else {}
            contents: dict[str, Data] = dict(zip(names, files.values()))
            sha = dict(base_sha)
            for name, data in extra.items():
                name = check_key(name, what="file name")
                if name in contents or name == _LATEST:
                    raise StorageError(f"{prefix}: rendered file {name!r} clashes with another")
                contents[name] = data
                sha[name] = hash_data(data)
            return contents, sha

        self.discard_stale_staging()
        latest = self.latest(prefix)
        if latest is not None:
            _, sha = full_set(latest.version)
            if sha == latest.sha256:
                log.info("%s: identical to v%d, nothing written", prefix, latest.version)
                return PublishedVersion(prefix, latest.version, latest.keys, latest.sha256, reused=True)

        in_use = self.versions(prefix)
        if any(v > (latest.version if latest else 0) for v in in_use):
            finished = self._finish_identical(prefix, latest, full_set)
            if finished is not None:
                return finished
        version = max([latest.version if latest else 0, *in_use]) + 1
        for _ in range(_CLAIM_ATTEMPTS):
            token = self._claim(prefix, version)
            if token is not None:
                break
            version += 1  # another publisher took it between our listing and our claim
        else:
            raise StorageError(f"{prefix}: could not claim a version after {_CLAIM_ATTEMPTS} tries")
        record_path = posixpath.join(self._meta_dir(prefix), f"v{version}.json")
        vprefix = f"{prefix}/v{version}"
        try:
            contents, sha = full_set(version)
            with self.transaction(vprefix, exclusive=True) as txn:
                for name, data in contents.items():
                    txn.put(name, data)
        except BaseException:
            # Nothing of v<N> was committed (the transaction discarded its staging): give the
            # number back, if the record is still our claim. A killed process cannot, and its
            # claim keeps the number retired.
            self._unclaim(record_path, token)
            raise
        record = {"state": "committed", "files": sha}
        self._write_path_atomic(record_path, json.dumps(record, sort_keys=True, indent=1).encode())
        self._advance_latest(prefix, version, sha)
        log.info("%s: published v%d (%d files)", prefix, version, len(sha))
        keys = {name: f"{vprefix}/{name}" for name in sha}
        return PublishedVersion(prefix, version, keys, sha, reused=False)


def _protocols(fs: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)
