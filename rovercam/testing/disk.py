"""A disk that fills up: an injected ``ENOSPC`` and a real size-limited tmpfs, plus what to check.

Two ways to make a publish run out of space (docs/operations.md, "Storage faults"):

- :func:`disk_budget` (any machine, in-process): every file written under a folder counts against
  a byte budget; the write that exceeds it writes what fits and raises
  ``OSError(ENOSPC, "No space left on device")``, as the kernel does. It wraps the two ways
  rovercam writes local files, Python's ``open`` and ``os.sendfile`` (``shutil.copyfile``);
  C libraries writing on their own (SQLite, GDAL) are not counted.
- :func:`tmpfs_command` (root, or unprivileged user namespaces): a command line that runs a
  program with a real tmpfs of a given size mounted at a folder, in a private mount namespace
  (the mount disappears with the program, even when it is killed).

:func:`leftovers` lists what a failed publish must not leave behind, and
:func:`publish_until_full` publishes sample mosaics until the disk is full and reports what was
left: the trial the storage benchmark runs on the tmpfs (:data:`CHILD` runs it in a child).
"""
from __future__ import annotations

import builtins
import contextlib
import errno
import os
import posixpath
import shutil
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["disk_budget", "DiskBudget", "tmpfs_command", "tmpfs_available", "leftovers",
           "publish_until_full", "CHILD"]

#: ``[sys.executable, "-c", CHILD, ROOT, CATALOG_URL]`` prints the JSON report of
#: :func:`publish_until_full` (for a child process on a tmpfs, :func:`tmpfs_command`).
CHILD = ("import json, sys; from rovercam.testing.disk import publish_until_full; "
         "print(json.dumps(publish_until_full(sys.argv[1], sys.argv[2])))")


class DiskBudget:
    """Bytes still free under a folder (shared by every write there; see :func:`disk_budget`).

    Attributes
    ----------
    root : str
        The folder (absolute, symlinks resolved).
    free : int
        Bytes that may still be written.
    refused : int
        Writes refused with ENOSPC so far.
    """

    def __init__(self, root: str, nbytes: int):
        self.root = os.path.realpath(root)
        self.free = int(nbytes)
        self.refused = 0
        self._lock = threading.Lock()

    def covers(self, path: Any) -> bool:
        try:
            real = os.path.realpath(os.fspath(path))
        except TypeError:  # a file descriptor
            return False
        return real == self.root or real.startswith(self.root + os.sep)

    def take(self, wanted: int, path: str) -> int:
        """Reserve up to ``wanted`` bytes; raises ENOSPC when none are left."""
        with self._lock:
            if wanted > 0 and self.free <= 0:
                self.refused += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
            granted = min(wanted, self.free)
            self.free -= granted
            return granted


class _LimitedFile:
    """A writable file whose writes draw on a :class:`DiskBudget`."""

    def __init__(self, f: Any, budget: DiskBudget, path: str):
        self._f, self._budget, self._path = f, budget, path

    def write(self, data: Any) -> int:
        view = data if isinstance(data, str) else memoryview(data).cast("B")
        granted = self._budget.take(len(view), self._path)
        if granted < len(view):  # what fits is written, then the device is full
            self._f.write(view[:granted])
            self._budget.take(len(view) - granted, self._path)
        return self._f.write(data)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __enter__(self) -> "_LimitedFile":
        self._f.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._f.__exit__(*exc)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._f)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


@contextlib.contextmanager
def disk_budget(root: str | os.PathLike[str], nbytes: int) -> Iterator[DiskBudget]:
    """Within the block, files written under ``root`` may hold ``nbytes`` bytes in all.

    Parameters
    ----------
    root : path-like
        The folder whose "device" fills up (created if missing).
    nbytes : int
        Bytes that may be written before writes fail with ``ENOSPC``. Deleting files does not
        give bytes back (a conservative disk).

    Yields
    ------
    DiskBudget
        ``free`` and ``refused`` (ENOSPC raised so far).

    Notes
    -----
    Patches ``builtins.open`` and ``os.sendfile`` for the whole process while the block runs:
    use it in a test or a child process, not in a server with other threads writing elsewhere
    (their writes pass unchanged, but they do go through the wrapper).
    """
    os.makedirs(root, exist_ok=True)
    budget = DiskBudget(os.fspath(root), nbytes)
    real_open, real_sendfile = builtins.open, os.sendfile

    def limited_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        f = real_open(file, mode, *args, **kwargs)
        if any(c in mode for c in "wax+") and budget.covers(file):
            return _LimitedFile(f, budget, os.fspath(file))
        return f

    def limited_sendfile(out_fd: int, in_fd: int, offset: Any, count: int) -> int:
        try:
            target = os.readlink(f"/proc/self/fd/{out_fd}")
        except OSError:
            target = ""
        if target and budget.covers(target):
            count = budget.take(count, target)
        return real_sendfile(out_fd, in_fd, offset, count)

    builtins.open, os.sendfile = limited_open, limited_sendfile
    try:
        yield budget
    finally:
        builtins.open, os.sendfile = real_open, real_sendfile


def tmpfs_command(mountpoint: str | os.PathLike[str], size_bytes: int, argv: list[str]) -> list[str] | None:
    """A command running ``argv`` with a tmpfs of ``size_bytes`` mounted at ``mountpoint``.

    The mount lives in a private mount namespace (``unshare --mount``; for a user other than
    root also ``--user --map-root-user``) and disappears when ``argv`` exits. None when
    ``unshare`` is not installed. Check that it works here with :func:`tmpfs_available`.
    """
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    script = 'mount -t tmpfs -o size="$1" rovercam-full "$2" && shift 2 && exec "$@"'
    return [unshare, *user, "--mount", "--propagation", "private", "sh", "-c", script, "sh",
            str(int(size_bytes)), os.fspath(mountpoint), *argv]


def tmpfs_available(folder: str | os.PathLike[str]) -> bool:
    """Whether :func:`tmpfs_command` can mount a tmpfs on ``folder`` on this machine."""
    os.makedirs(folder, exist_ok=True)
    cmd = tmpfs_command(folder, 1 << 20, ["sh", "-c", f'test "$(stat -f -c %T "{os.fspath(folder)}")" = tmpfs'])
    if cmd is None:
        return False
    try:
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def leftovers(store: Any) -> list[str]:
    """What a failed publish left in ``store``: staging entries, version folders without a
    committed record, and claims never committed (one line each; empty when clean).

    Parameters
    ----------
    store : rovercam.storage.Store
    """
    from rovercam.storage.transaction import STAGING_AREA

    found = []
    fs = store.fs
    with contextlib.suppress(FileNotFoundError):
        found += [f"staging {posixpath.basename(p.rstrip('/'))}"
                  for p in fs.ls(posixpath.join(store.root, STAGING_AREA), detail=False)]
    for prefix in store.published_prefixes():
        committed = store.committed_versions(prefix)
        for version in store.versions(prefix):
            if version in committed:
                continue
            files = store.list(f"{prefix}/v{version}")
            found.append(f"{prefix}/v{version}: uncommitted" + (f", {len(files)} files" if files else " claim"))
    return found


def publish_until_full(root: str, catalog_url: str, *, limit: int = 50) -> dict[str, Any]:
    """Publish sample mosaics into the store at ``root`` until one fails; report what is left.

    Returns
    -------
    dict
        ``published`` (versions written), ``error`` (``"<type>: <message>"`` of the failure, or
        None when ``limit`` mosaics fit), ``error_type``, ``no_space`` (the message says "no
        space left on device"), ``names_key`` (it names the store key being written),
        ``leftovers`` (:func:`leftovers`), ``audit`` (:func:`rovercam.publish.audit_published`
        problems), ``catalog_rows`` (rows recorded).
    """
    from rovercam.catalog import Catalog
    from rovercam.errors import RovercamError
    from rovercam.publish import audit_published, publish_mosaic
    from rovercam.storage import Store
    from rovercam.testing.mosaic import sample_mosaic

    store = Store(root)
    published, error, error_type, message = 0, None, None, ""
    with Catalog(catalog_url) as catalog:
        for seed in range(limit):
            try:
                publish_mosaic(sample_mosaic(seed, name=f"FULL_{seed:03d}"), store=store, catalog=catalog)
            except (RovercamError, OSError) as exc:
                error_type, message = type(exc).__name__, str(exc)
                error = f"{error_type}: {message}"
                break
            published += 1
        rows = len(catalog.outputs())
        audit = audit_published(store, catalog, uncommitted="check")
    return {"published": published, "error": error, "error_type": error_type,
            "no_space": "no space left on device" in message.lower(),
            "names_key": f"FULL_{published:03d}" in message, "leftovers": leftovers(store),
            "audit": audit, "catalog_rows": rows}

