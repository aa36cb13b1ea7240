"""Version bookkeeping of a store: claims, commit records and the ``LATEST`` pointer.

A published prefix holds ``v1/``, ``v2/``, ... and a ``LATEST`` pointer; each version has a
record under ``.versions/<prefix>/v<N>.json`` (the layout and the safety rules are in
:mod:`rovercam.storage.store`). :class:`VersionRecords` is the part of
:class:`~rovercam.storage.store.Store` that reads and writes them:

- a version number is *claimed* by creating its record exclusively (:meth:`VersionRecords._claim`);
  a failed publisher gives back only its own claim (the record carries a random token);
- a record is rewritten as ``committed`` (with the files' sha256) once every file is in place;
- ``LATEST`` only moves up, to the highest committed version (:meth:`VersionRecords._advance_latest`).
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import fsspec

from rovercam.errors import StorageError
from rovercam.storage.transaction import VERSIONS_AREA, Data, check_key, fsync_dir

__all__ = ["PublishedVersion", "VersionRecords", "LATEST", "CLAIM_ATTEMPTS", "fs_protocols"]

log = logging.getLogger("rovercam.storage.store")

#: Name of the version pointer of a published prefix.
LATEST = "LATEST"
#: Version numbers a publisher tries before it gives up claiming one.
CLAIM_ATTEMPTS = 1000
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


class VersionRecords:
    """Claims, commit records and the ``LATEST`` pointer of a store's published prefixes.

    A base of :class:`~rovercam.storage.store.Store`, which provides ``fs``, ``root``,
    ``is_local``, ``list``, ``_path`` (key -> guarded path), ``_io`` (a call with the store's
    retries) and ``_write_path_atomic``.
    """

    fs: fsspec.AbstractFileSystem
    root: str
    is_local: bool
    _path: Callable[..., str]
    _io: Callable[[Callable[[], Any], str], Any]
    _write_path_atomic: Callable[[str, bytes], None]
    list: Callable[..., list[str]]

    def latest(self, prefix: str) -> PublishedVersion | None:
        """The version ``<prefix>/LATEST`` points at, or None before the first publish."""
        prefix = check_key(prefix, what="prefix")
        key = f"{prefix}/{LATEST}"
        path = self._path(key)
        try:
            raw = self._io(lambda: self.fs.cat_file(path), key)
        except FileNotFoundError:
            return None
        try:
            doc = json.loads(raw)
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
                entries = self._io(lambda f=folder: self.fs.ls(f, detail=False), prefix)
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
            entries = self._io(lambda: self.fs.ls(folder, detail=False), prefix)
        except FileNotFoundError:
            return {}
        out = {}
        for entry in entries:
            m = _VERSION_RECORD.match(posixpath.basename(entry.rstrip("/")))
            if not m:
                continue
            path = self.fs._strip_protocol(entry)
            try:
                doc = json.loads(self._io(lambda p=path: self.fs.cat_file(p), prefix))
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
            for _ in range(CLAIM_ATTEMPTS):
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
        raise StorageError(f"{prefix}: LATEST kept changing under {CLAIM_ATTEMPTS} updates")

    @contextlib.contextmanager
    def _latest_lock(self, prefix: str) -> Iterator[None]:
        """``flock`` of ``.versions/<prefix>/LATEST.lock`` on local disk (object stores: no-op)."""
        if not self.is_local:
            yield
            return
        folder = self._meta_dir(prefix)
        os.makedirs(folder, exist_ok=True)
        fd = os.open(posixpath.join(folder, f"{LATEST}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _latest_etag(self, prefix: str) -> str | None:
        """The ETag of ``<prefix>/LATEST`` on S3 (read before its content); None elsewhere or when absent."""
        with contextlib.suppress(FileNotFoundError):
            if not self.is_local and {"s3", "s3a"} & set(fs_protocols(self.fs)):
                return self.fs.info(self._path(f"{prefix}/{LATEST}"), refresh=True).get("ETag")
        return None

    def _swap_latest(self, prefix: str, data: bytes, etag: str | None, *, exists: bool) -> bool:
        """Write ``LATEST`` unless it changed since it was read; False when it did (S3: the
        conditional PUT failed). Local writes happen under :meth:`_latest_lock`."""
        path = self._path(f"{prefix}/{LATEST}")
        if self.is_local or not {"s3", "s3a"} & set(fs_protocols(self.fs)):
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
        found = {k.rsplit("/", 1)[0] for k in self.list() if k.endswith(f"/{LATEST}")}
        meta = posixpath.join(self.root, VERSIONS_AREA)
        try:
            records = self._io(lambda: self.fs.find(meta), VERSIONS_AREA)
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
        when another publisher's record is there.

        Locally ``O_CREAT | O_EXCL`` (fsspec's local ``mode="create"`` checks, then writes: two
        processes could both pass the check); on S3 a PUT with ``If-None-Match: *``, retried. The
        token tells our own claim (a retried create-only write whose first answer was lost) from
        another publisher's.
        """
        path = posixpath.join(self._meta_dir(prefix), f"v{version}.json")
        token = uuid.uuid4().hex
        doc = {"state": "claimed", "owner": f"{os.getpid()}@{socket.gethostname()}",
               "claimed_at": time.time(), "token": token}
        data = json.dumps(doc, sort_keys=True).encode()
        what = f"{VERSIONS_AREA}/{prefix}/v{version}.json"
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
            self._io(lambda: self.fs.pipe_file(path, data, mode="create"), what)
        except FileExistsError:
            try:
                found = json.loads(self._io(lambda: self.fs.cat_file(path), what))
            except (FileNotFoundError, ValueError):
                return None
            return token if isinstance(found, dict) and found.get("token") == token else None
        return token

    def _give_back(self, prefix: str, version: int, names: list[str], token: str) -> None:
        """Undo a failed publish of ``v<version>``, best effort: if its record is still our claim
        ``token`` (not committed, not another publisher's), remove the files ``names`` it placed
        in ``v<version>/`` and the claim."""
        record = posixpath.join(self._meta_dir(prefix), f"v{version}.json")
        what = f"{prefix}/v{version}"
        try:
            doc = json.loads(self._io(lambda: self.fs.cat_file(record), what))
        except (OSError, ValueError):
            return
        if not (isinstance(doc, dict) and doc.get("token") == token and doc.get("state") == "claimed"):
            return
        folder = posixpath.join(self.root, prefix, f"v{version}")
        # on local disk our v<N>/ appeared by one rename: all of it is ours
        paths = [folder] if self.is_local and names else [posixpath.join(folder, n) for n in names]
        try:
            with contextlib.suppress(FileNotFoundError):
                if paths:
                    self._io(lambda: self.fs.rm(paths, recursive=self.is_local), what)
            with contextlib.suppress(FileNotFoundError):
                self._io(lambda: self.fs.rm(record), what)
        except OSError as exc:
            log.warning("%s: not removed after the failed publish: %s", what, exc)


def fs_protocols(fs: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    """The protocol names of an fsspec filesystem (``("file", "local")``, ``("s3", "s3a")``)."""
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)
