"""The Source interface, and fetching products into a staging folder.

A :class:`Source` lists the sols it holds and the products of a sol, and fetches products into a
local staging folder. :meth:`Source.fetch` is the same for every kind of source:

- every file is written to a hidden temporary name in its final folder, its length checked
  against the listing and the transfer's declared length, then renamed into place; a product's
  files are renamed only when all of them arrived (data files first, the label last);
- a hidden manifest (``.rovercam-fetch.json``) in the staging folder records what was fetched
  (size, sha256, ETag / Last-Modified), so a re-run transfers only new or changed products;
- transient errors (HTTP 408/425/429/5xx, connection resets, timeouts, truncated transfers) are
  retried with exponential backoff; the last error is reported with the URL;
- nothing is written outside the staging folder: a remote name with ``..``, an absolute path,
  a backslash, a control character, a hidden component or an overlong name is refused and
  reported, and so is any path that a symlink in the staging folder would lead outside it;
- a source that breaks a limit is refused, not retried (:class:`SourceRefusedError`): a product
  larger than ``max_bytes`` or a label file larger than ``max_label_bytes`` (refused on its
  declared length, or cut off when it gets there), a transfer still running after
  ``deadline_s`` (an endless or dripping body), and what :mod:`rovercam.sources.transfer`
  refuses over HTTP (a redirect to another host or scheme, an encoded body, a body longer than
  its ``Content-Length``). Bodies are streamed in chunks of at most 1 MiB: memory stays bounded
  whatever the source sends (docs/operations.md, "Hostile sources").
"""
from __future__ import annotations

import abc
import contextlib
import datetime as _dt
import hashlib
import http.client
import logging
import os
import posixpath
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, ClassVar

from rovercam.errors import ProductError, SourceError, TransientError
from rovercam.sources.layout import Entry, group_files, sol_of_folder
from rovercam.sources.model import (
    FetchedProduct,
    FetchProblem,
    FetchResult,
    RemoteFile,
    RemoteProduct,
    display_name,
    unsafe_reason,
)
from rovercam.sources.staging import (
    MANIFEST_NAME,
    load_manifest,
    part_name,
    refusal,
    save_manifest,
)

__all__ = ["Source", "TreeSource", "MANIFEST_NAME", "TransientSourceError", "SourceUnavailableError",
           "SourceRefusedError", "is_label_file"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_MAX_BACKOFF_S = 30.0
_MAX_DEPTH = 16  # folders below a sol folder
_LABEL_SUFFIXES = (".lbl", ".xml", "-metadata.json")


class TransientSourceError(SourceError, TransientError):
    """A failure worth retrying (HTTP 5xx/429/408, reset connection, timeout, short transfer).

    ``retry_after`` (seconds) is the server's ``Retry-After`` when it sent one. A source retries
    it itself (``retries``, ``backoff_s``); when those run out it raises
    :class:`SourceUnavailableError`.
    """

    def __init__(self, url: str, problem: str, retry_after: float | None = None):
        SourceError.__init__(self, url, problem)
        self.args = (str(url), problem, retry_after)
        self.retry_after = retry_after


class SourceUnavailableError(SourceError, TransientError):
    """A transient failure that outlasted the source's own retries: still transient, so the
    Prefect task that called the source may retry it later (docs/operations.md, "Retry policy")."""


class SourceRefusedError(SourceError):
    """The source broke a rule of fetching: a size limit, the transfer deadline, a redirect to
    another host or scheme, an encoded body, a body longer than declared. Permanent: the product
    is refused (``FetchResult.refused``) with this reason, not retried."""


def is_label_file(path: str) -> bool:
    """Whether a product file is a label, capped by ``max_label_bytes``: a detached PDS3 label
    (``.LBL``, MER ``.img.lbl``), a PDS4 ``.xml`` label or a raw-image-site ``-metadata.json``."""
    return path.lower().endswith(_LABEL_SUFFIXES)


def iso_time(value: Any) -> str | None:
    """A modification time as an ISO 8601 UTC string (from epoch seconds or a datetime)."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        value = _dt.datetime.fromtimestamp(float(value), tz=_dt.timezone.utc)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.astimezone(_dt.timezone.utc).isoformat()
    return str(value)


class Source(abc.ABC):
    """Where a sol's raw products come from. Build one with :func:`rovercam.sources.open_source`.

    Parameters
    ----------
    location : str
        The source's URL or path, as given.
    timeout_s : float, keyword-only
        Socket timeout of each request (s).
    retries : int, keyword-only
        Extra attempts after a transient failure.
    backoff_s : float, keyword-only
        First retry delay (s); doubled at each attempt, at most 30 s.
    max_bytes : int, keyword-only
        Largest product accepted (bytes, all its files together); a longer transfer is cut and
        the product refused.
    max_label_bytes : int, keyword-only
        Largest label file accepted (bytes; :func:`is_label_file`), the readers' own limit.
    deadline_s : float, keyword-only
        Longest one file's transfer may take (s, wall clock); then it is cut and the product
        refused (an endless or dripping body never times out a socket).
    max_listing_bytes : int, keyword-only
        Largest directory listing or feed page read (bytes).
    redirect_hosts : iterable of str, keyword-only
        Hosts besides the requested one that an HTTP redirect may lead to.
    """

    kind: ClassVar[str] = "source"

    def __init__(self, location: str, *, timeout_s: float = 30.0, retries: int = 3,
                 backoff_s: float = 0.5, max_bytes: int = 4 << 30, max_label_bytes: int = 4 << 20,
                 deadline_s: float = 300.0, max_listing_bytes: int = 16 << 20,
                 redirect_hosts: Iterable[str] = ()):
        if timeout_s <= 0 or retries < 0 or backoff_s < 0 or min(
                max_bytes, max_label_bytes, deadline_s, max_listing_bytes) <= 0:
            raise ValueError(f"timeout_s={timeout_s!r}, retries={retries!r}, "
                             f"backoff_s={backoff_s!r}, max_bytes={max_bytes!r}, "
                             f"max_label_bytes={max_label_bytes!r}, deadline_s={deadline_s!r}, "
                             f"max_listing_bytes={max_listing_bytes!r}: need retries >= 0, "
                             f"backoff_s >= 0, the others > 0")
        self.location = location
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.backoff_s = float(backoff_s)
        self.max_bytes = int(max_bytes)
        self.max_label_bytes = int(max_label_bytes)
        self.deadline_s = float(deadline_s)
        self.max_listing_bytes = int(max_listing_bytes)
        self.redirect_hosts = tuple(h.lower() for h in redirect_hosts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    # -- listing ---------------------------------------------------------------------------
    @abc.abstractmethod
    def sols(self) -> list[int]:
        """The sols this source holds, ascending.

        Raises
        ------
        rovercam.errors.SourceError
            The source cannot be listed.
        """

    def latest_sols(self, n: int = 1) -> list[int]:
        """The ``n`` highest sols this source holds, ascending."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n!r}")
        return self.sols()[-n:]

    @abc.abstractmethod
    def list(self, sol: int) -> list[RemoteProduct]:
        """The products of one sol, sorted by entry path; empty when the source lacks the sol.

        Raises
        ------
        rovercam.errors.SourceError
            The source cannot be listed.
        """

    # -- backend hooks ---------------------------------------------------------------------
    @abc.abstractmethod
    def _open(self, file: RemoteFile) -> contextlib.AbstractContextManager[
            tuple[IO[bytes], RemoteFile]]:
        """Open ``file`` for reading: (stream, the file with the validators the transfer
        declares: exact ``size`` when known, ``etag``, ``mtime``). Raises SourceError, or
        TransientSourceError for failures worth retrying."""

    def _stat(self, file: RemoteFile) -> RemoteFile:
        """``file`` with its current validators (size, etag, mtime); default: as listed."""
        return file

    # -- fetching --------------------------------------------------------------------------
    def fetch(self, products: Iterable[RemoteProduct], dest_dir: str | os.PathLike[str], *,
              already: Callable[[RemoteProduct], bool] | None = None,
              deadline_s: float | None = None) -> FetchResult:
        """Copy products into ``dest_dir``, skipping those already there and unchanged.

        Parameters
        ----------
        products : iterable of RemoteProduct
            From :meth:`list` (of this source).
        dest_dir : path-like
            The staging folder (created if needed), e.g. ``<storage root>/incoming/sol00100``.
            Each file goes to ``dest_dir / file.path``; nothing is written elsewhere.
        already : callable, optional, keyword-only
            ``already(product) -> bool``: True skips the product without looking at it (e.g.
            it is in the catalog already); it is listed in ``FetchResult.skipped``.
        deadline_s : float, optional, keyword-only
            Wall-clock budget of the whole call (s): a transfer still running then is cut, and
            the products not started are reported failed, so that the call returns a complete
            result before an outer timeout (the Prefect task's) strikes.

        Returns
        -------
        FetchResult
            ``products`` (fetched, updated or unchanged, with local paths), ``refused`` (unsafe
            names, broken limits: :class:`SourceRefusedError`) and ``failed`` (transfer errors
            after retries), each with the reason (names shown by ``display_name``).

        Raises
        ------
        rovercam.errors.SourceError
            The staging folder cannot be created or its manifest is unreadable.
        """
        dest = Path(dest_dir)
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SourceError(str(dest), f"cannot create the staging folder: {exc}") from exc
        real_dest = os.path.realpath(dest)
        manifest = load_manifest(dest)
        done: list[FetchedProduct] = []
        refused: list[FetchProblem] = []
        failed: list[FetchProblem] = []
        skipped: list[str] = []
        stop = None if deadline_s is None else time.monotonic() + deadline_s
        for product in products:
            if already is not None and already(product):
                skipped.append(product.name)
                continue
            name = display_name(product.name, 200)
            if stop is not None and time.monotonic() >= stop:
                failed.append(FetchProblem(name, product.sol, display_name(product.source),
                                           f"not fetched: the fetch's {deadline_s:g} s passed"))
                continue
            reason = refusal(product, dest, real_dest)
            if reason is not None:
                log.warning("%s: refused: %s", name, reason)
                refused.append(FetchProblem(name, product.sol, display_name(product.source),
                                            reason))
                continue
            try:
                done.append(self._fetch_one(product, dest, manifest, stop))
            except SourceRefusedError as exc:
                log.warning("%s: refused: %s", name, exc)
                refused.append(FetchProblem(name, product.sol, exc.url, str(exc)))
            except SourceError as exc:
                log.warning("%s: fetch failed: %s", name, exc)
                failed.append(FetchProblem(name, product.sol, exc.url, str(exc)))
        return FetchResult(dest_dir=str(dest), products=tuple(done), refused=tuple(refused),
                           failed=tuple(failed), skipped=tuple(skipped))

    def _fetch_one(self, product: RemoteProduct, dest: Path, manifest: dict[str, dict[str, Any]],
                   stop: float | None = None) -> FetchedProduct:
        local = tuple(str(dest / f.path) for f in product.files)
        primary = str(dest / product.primary)
        if self._unchanged(product, dest, manifest):
            log.debug("%s: unchanged at the source, not fetched", product.name)
            return FetchedProduct(product.name, product.sol, "unchanged", primary, local)
        state = "updated" if any(f.path in manifest for f in product.files) else "fetched"
        staged: list[tuple[Path, Path, dict[str, Any]]] = []
        temporaries: list[Path] = []
        budget = self.max_bytes  # what is left of the product limit
        try:
            for f in product.files:
                target = dest / f.path
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(part_name(target.name))
                temporaries.append(tmp)
                staged.append((tmp, target, self._download(f, tmp, budget, stop)))
                budget -= staged[-1][2]["size"]
            same = all(manifest.get(f.path, {}).get("sha256") == rec["sha256"]
                       and t.is_file() and t.stat().st_size == rec["size"]
                       for f, (_, t, rec) in zip(product.files, staged))
            for tmp, target, _ in staged:  # data files first, the label last
                os.replace(tmp, target)
        finally:
            for tmp in temporaries:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
        for f, (_, _, rec) in zip(product.files, staged):
            manifest[f.path] = rec
        save_manifest(dest, manifest)
        moved = sum(rec["size"] for _, _, rec in staged)
        if same:  # no validators to compare, so it came again: same bytes
            return FetchedProduct(product.name, product.sol, "unchanged", primary, local, moved)
        log.info("%s: %s (%d bytes)", product.name, state, moved)
        return FetchedProduct(product.name, product.sol, state, primary, local, moved)  # type: ignore[arg-type]

    def _unchanged(self, product: RemoteProduct, dest: Path,
                   manifest: dict[str, dict[str, Any]]) -> bool:
        """True when every file is in the staging folder as recorded and the source's
        validators (sha256 of inline content, else ETag or Last-Modified, and size) match."""
        for f in product.files:
            rec = manifest.get(f.path)
            target = dest / f.path
            if rec is None or not target.is_file() or target.stat().st_size != rec.get("size"):
                return False
            if f.content is not None:
                if hashlib.sha256(f.content).hexdigest() != rec.get("sha256"):
                    return False
                continue
            if f.etag is None and f.mtime is None:
                try:
                    f = self._retrying(lambda f=f: self._stat(f), f.url)
                except SourceError:
                    return False
            if f.size is not None and f.size != rec.get("size"):
                return False
            checks = [(f.etag, rec.get("etag")), (f.mtime, rec.get("mtime"))]
            known = [(a, b) for a, b in checks if a is not None and b is not None]
            if not known or any(a != b for a, b in known):
                return False
        return True

    def _limit(self, file: RemoteFile, budget: int) -> tuple[int, str]:
        """(largest size ``file`` may have, the limit's name) with ``budget`` bytes of the
        product limit left."""
        if is_label_file(file.path) and self.max_label_bytes < budget:
            return self.max_label_bytes, f"label limit (max_label_bytes = {self.max_label_bytes})"
        return budget, f"product limit (max_bytes = {self.max_bytes})"

    def _download(self, file: RemoteFile, tmp: Path, budget: int,
                  stop: float | None = None) -> dict[str, Any]:
        """Write ``file`` to ``tmp``, verified, within ``budget`` bytes; its manifest record."""
        if file.content is not None:
            limit, what = self._limit(file, budget)
            if len(file.content) > limit:
                raise SourceRefusedError(file.url, f"{len(file.content)} bytes: over the {what}")
            with open(tmp, "wb") as out:
                out.write(file.content)
            return {"url": file.url, "size": len(file.content), "etag": None, "mtime": None,
                    "sha256": hashlib.sha256(file.content).hexdigest()}
        return self._retrying(lambda: self._transfer(file, tmp, budget, stop), file.url)

    def _transfer(self, file: RemoteFile, tmp: Path, budget: int,
                  stop: float | None) -> dict[str, Any]:
        h = hashlib.sha256()
        got = 0
        limit, what = self._limit(file, budget)
        deadline = time.monotonic() + self.deadline_s
        with self._open(file) as (stream, declared), open(tmp, "wb") as out:
            expected = declared.size if declared.size is not None else file.size
            if expected is not None and expected > limit:
                raise SourceRefusedError(file.url, f"{expected} bytes declared: over the {what}; "
                                                   f"not read")
            read = getattr(stream, "read1", stream.read)  # one system call: the deadline holds
            try:
                while block := read(_CHUNK):
                    got += len(block)
                    if got > limit:
                        raise SourceRefusedError(file.url, f"more than {limit} bytes: over the "
                                                           f"{what}; cut off")
                    now = time.monotonic()
                    if now > deadline:
                        raise SourceRefusedError(file.url, f"still sending after the "
                                                           f"{self.deadline_s:g} s transfer "
                                                           f"deadline ({got} bytes); cut off")
                    if stop is not None and now > stop:
                        raise SourceError(file.url, f"cut off after {got} bytes: the fetch's "
                                                    f"deadline passed")
                    h.update(block)
                    out.write(block)
            except http.client.IncompleteRead as exc:
                raise TransientSourceError(file.url, f"truncated transfer: got "
                                                     f"{got + len(exc.partial)} bytes, "
                                                     f"{exc.expected} more expected") from None
            except (OSError, http.client.HTTPException) as exc:
                raise TransientSourceError(file.url, f"transfer interrupted after {got} "
                                                     f"bytes: {exc}") from None
        for what, size in (("the transfer declared", declared.size), ("listed", file.size)):
            if size is not None and got != size:
                raise TransientSourceError(file.url, f"truncated transfer: got {got} bytes, "
                                                     f"{what} {size}")
        return {"url": file.url, "size": got, "sha256": h.hexdigest(),
                "etag": declared.etag or file.etag, "mtime": declared.mtime or file.mtime}

    def _retrying(self, call: Callable[[], Any], url: str) -> Any:
        """``call()``, retried on TransientSourceError with exponential backoff."""
        for attempt in range(self.retries + 1):
            try:
                return call()
            except TransientSourceError as exc:
                if attempt == self.retries:
                    raise SourceUnavailableError(exc.url, f"{exc.problem} (after {attempt + 1} "
                                                          f"attempts)") from exc
                delay = min(self.backoff_s * 2**attempt, _MAX_BACKOFF_S)
                if exc.retry_after is not None:
                    delay = min(max(delay, exc.retry_after), _MAX_BACKOFF_S)
                log.info("%s: %s; retrying in %.2f s", exc.url, exc.problem, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


class TreeSource(Source):
    """A source laid out as folders (local folder, object-store prefix, HTTP PDS volume).

    Subclasses provide ``_root()`` (the root's handle and name) and ``_listdir(handle)``.
    The sol layouts are those of :mod:`rovercam.sources.layout`.
    """

    @abc.abstractmethod
    def _root(self) -> tuple[Any, str]:
        """(handle of the root folder, its name)."""

    @abc.abstractmethod
    def _listdir(self, handle: Any) -> list[Entry]:
        """Entries of one folder. Raises SourceError when it cannot be listed."""

    def _sol_folders(self) -> dict[int, list[Entry]] | None:
        """{sol: [folder entries]} of the tree, or None when it is flat."""
        handle, name = self._root()
        sol = sol_of_folder(name)
        root = Entry(name=name, is_dir=True, handle=handle)
        if sol is not None:
            return {sol: [root]}
        found: dict[int, list[Entry]] = {}

        def scan(folder: Entry, depth: int) -> None:
            for e in self._listdir(folder.handle):
                if not e.is_dir or unsafe_reason(e.name) is not None:
                    continue
                s = sol_of_folder(e.name, parent=folder.name)
                if s is not None:
                    found.setdefault(s, []).append(e)
                elif depth == 0 and e.name.lower() in ("data", "sol") or \
                        depth == 1 and e.name.lower() == "sol" and folder.name.lower() == "data":
                    scan(e, depth + 1)

        scan(root, 0)
        return found or None

    def _walk(self, folder: Entry, prefix: str) -> Iterator[tuple[str, list[Entry]]]:
        """(relative folder path, file entries) for ``folder`` and every sub-folder, at most
        ``_MAX_DEPTH`` deep (a symlink loop ends there)."""
        entries = self._listdir(folder.handle)
        yield prefix, [e for e in entries if not e.is_dir and not _hidden(e.name)]
        for e in entries:
            if not e.is_dir or _hidden(e.name):
                continue
            if unsafe_reason(e.name) is not None:
                log.warning("%s: sub-folder %r not searched: unsafe name", self.location, e.name)
                continue
            rel = posixpath.join(prefix, e.name) if prefix else e.name
            if rel.count("/") >= _MAX_DEPTH:
                log.warning("%s: %s is deeper than %d folders; not searched", self.location, rel,
                            _MAX_DEPTH)
                continue
            yield from self._walk(e, rel)

    def _products(self, folder: Entry, sol: int | None) -> list[RemoteProduct]:
        """Products under ``folder``, all of ``sol``, or (None) each of its product id's sol."""
        out: list[RemoteProduct] = []
        for prefix, files in self._walk(folder, ""):
            by_name = {e.name: e for e in files}
            for entry, members in group_files(list(by_name)):
                product_sol = sol if sol is not None else _sol_from_name(entry)
                if product_sol is None:  # MSL and MER ids carry no sol: the label does
                    product_sol = self._label_sol(by_name[entry])
                if product_sol is None:
                    log.warning("%s: %s has no sol in its name and no readable label sol; "
                                "put it in a sol<N> folder", self.location, entry)
                    continue
                remote = tuple(self._remote_file(prefix, by_name[m]) for m in members)
                out.append(RemoteProduct(name=entry, sol=product_sol, files=remote,
                                         primary=_join(prefix, entry), source=self.location))
        return out

    def _label_sol(self, entry: Entry) -> int | None:
        """The sol a product's label gives (None: not read here; only local files are read)."""
        return None

    def _remote_file(self, prefix: str, entry: Entry) -> RemoteFile:
        return RemoteFile(path=_join(prefix, entry.name), url=self._url(entry), size=entry.size,
                          mtime=entry.mtime, etag=entry.etag)

    def _url(self, entry: Entry) -> str:
        return str(entry.handle)

    def sols(self) -> list[int]:
        folders = self._sol_folders()
        if folders is not None:
            return sorted(folders)
        handle, name = self._root()
        root = Entry(name=name, is_dir=True, handle=handle)
        return sorted({p.sol for p in self._products(root, None)})

    def list(self, sol: int) -> list[RemoteProduct]:
        folders = self._sol_folders()
        if folders is None:
            handle, name = self._root()
            root = Entry(name=name, is_dir=True, handle=handle)
            products = [p for p in self._products(root, None) if p.sol == sol]
        else:
            products = [p for folder in folders.get(sol, []) for p in self._products(folder, sol)]
        seen: dict[str, RemoteProduct] = {}
        for p in products:
            if p.primary in seen:
                log.warning("%s: %s listed twice for sol %d; the first is kept", self.location,
                            p.primary, sol)
                continue
            seen[p.primary] = p
        return sorted(seen.values(), key=lambda p: p.primary)


def _join(prefix: str, name: str) -> str:
    return posixpath.join(prefix, name) if prefix else name


def _hidden(name: str) -> bool:
    """A hidden file (``.x``); a name with a separator (``../x``) is kept, to be refused."""
    return name.startswith(".") and "/" not in name and "\\" not in name


def _sol_from_name(name: str) -> int | None:
    from rovercam.products.naming import parse_product_id

    try:
        return parse_product_id(name.removesuffix("-metadata.json")).sol
    except ProductError:
        return None
