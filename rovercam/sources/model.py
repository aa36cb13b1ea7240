"""Records that travel between listing and fetching: remote files, products, fetch outcomes.

All are small frozen dataclasses with ``to_dict()``, so they cross Prefect task boundaries.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["RemoteFile", "RemoteProduct", "FetchedProduct", "FetchProblem", "FetchResult",
           "unsafe_reason", "display_name", "FetchState", "MAX_NAME_BYTES", "MAX_PATH_BYTES"]

FetchState = Literal["fetched", "updated", "unchanged"]

_DRIVE = re.compile(r"^[A-Za-z]:")
#: Longest file or folder name written to a staging folder, in UTF-8 bytes (NAME_MAX of ext4,
#: XFS, APFS and most others).
MAX_NAME_BYTES = 255
#: Longest relative path written under a staging folder, in UTF-8 bytes (a quarter of Linux's
#: PATH_MAX, which the staging folder's own path shares).
MAX_PATH_BYTES = 1024


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """One file of a remote product.

    Attributes
    ----------
    path : str
        Where the file goes, relative to the sol's staging folder (POSIX, as the source names it;
        unsafe names are kept here verbatim so that :meth:`Source.fetch` can refuse and report
        them).
    url : str
        Where it comes from: an ``http(s)://`` or fsspec URL, or a local path.
    size : int or None
        Bytes, when the listing knows it exactly.
    mtime, etag : str or None
        Change validators from the listing (``Last-Modified`` / ``ETag`` / object store), when known.
    sha256 : str or None
        Content hash, when known before the transfer (inline content).
    content : bytes or None
        Inline content, for files the source builds itself (a feed item's JSON sidecar).
    """

    path: str
    url: str
    size: int | None = None
    mtime: str | None = None
    etag: str | None = None
    sha256: str | None = None
    content: bytes | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The file name (last path component)."""
        return posixpath.basename(self.path)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["content"] = None if self.content is None else len(self.content)
        return d


@dataclass(frozen=True, slots=True)
class RemoteProduct:
    """One product as a source lists it: the files that travel together.

    Attributes
    ----------
    name : str
        The product's entry file name, as :func:`rovercam.ingest.discover` would return it
        (the detached label, the PDS4 label, the image of a raw-site product, or the lone file).
    sol : int
    files : tuple of RemoteFile
        In write order: data files first, the label (or sidecar) last, so that a folder watcher
        never sees a label whose data file is still missing.
    primary : str
        ``path`` of the entry file among ``files`` (relative to the sol's staging folder).
    source : str
        The source it was listed from (URL or path), for messages and provenance.
    """

    name: str
    sol: int
    files: tuple[RemoteFile, ...]
    primary: str
    source: str = ""

    @property
    def size(self) -> int | None:
        """Total bytes, when every file's size is known."""
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(sizes)  # type: ignore[misc]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sol": self.sol, "primary": self.primary,
                "source": self.source, "files": [f.to_dict() for f in self.files]}


@dataclass(frozen=True, slots=True)
class FetchedProduct:
    """A product present in the staging folder after :meth:`Source.fetch`.

    ``state`` is ``"fetched"`` (new), ``"updated"`` (the remote changed since the last fetch)
    or ``"unchanged"`` (already there, nothing transferred). ``path`` is the local entry file to
    hand to ingest; ``files`` are all its local files; ``bytes`` were transferred by this call.
    """

    name: str
    sol: int
    state: FetchState
    path: str
    files: tuple[str, ...]
    bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FetchProblem:
    """A product that was refused (unsafe name) or failed (transfer error), with the reason."""

    name: str
    sol: int
    url: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one :meth:`Source.fetch` call did, product by product.

    ``products``: present in ``dest_dir`` afterwards (fetched, updated or unchanged);
    ``refused``: unsafe remote names, nothing written; ``failed``: transfer errors after the
    retries, nothing of the product renamed into place; ``skipped``: names the ``already``
    predicate skipped.
    """

    dest_dir: str
    products: tuple[FetchedProduct, ...] = ()
    refused: tuple[FetchProblem, ...] = ()
    failed: tuple[FetchProblem, ...] = ()
    skipped: tuple[str, ...] = ()

    @property
    def new(self) -> tuple[FetchedProduct, ...]:
        """Products transferred by this call (``fetched`` or ``updated``)."""
        return tuple(p for p in self.products if p.state != "unchanged")

    @property
    def new_paths(self) -> list[str]:
        """Local entry files of the products transferred by this call: what ingest needs."""
        return [p.path for p in self.new]

    @property
    def unchanged(self) -> tuple[FetchedProduct, ...]:
        """Products already in the staging folder, unchanged at the source."""
        return tuple(p for p in self.products if p.state == "unchanged")

    @property
    def ok(self) -> bool:
        """True when nothing was refused and nothing failed."""
        return not self.refused and not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {"dest_dir": self.dest_dir, "products": [p.to_dict() for p in self.products],
                "refused": [p.to_dict() for p in self.refused],
                "failed": [p.to_dict() for p in self.failed], "skipped": list(self.skipped)}


def display_name(text: str, limit: int = 120) -> str:
    """``text`` fit for a message, a log line or a catalog row: control characters escaped
    (``\\x00``), cut to ``limit`` characters with the full length said.

    Examples
    --------
    >>> display_name("a\\x00b.IMG")
    'a\\\\x00b.IMG'
    >>> display_name("N" * 300, limit=8)
    'NNNNNNNN... (300 characters)'
    """
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    return shown if len(text) <= limit else f"{shown}... ({len(text)} characters)"


def unsafe_reason(path: str) -> str | None:
    """Why a remote relative path may not be written under a staging folder, or None if safe.

    Refused: empty names, absolute paths (``/x``, ``C:x``), backslashes, NUL and other control
    characters, ``.`` / ``..`` components and empty components (``a//b``), hidden components
    (``.x``: the staging folder's own temporary and manifest files are hidden), a component
    longer than :data:`MAX_NAME_BYTES` and a path longer than :data:`MAX_PATH_BYTES` (UTF-8).
    Names in the reasons are shown by :func:`display_name`.
    """
    if not path:
        return "empty name"
    shown = display_name(path)
    if path.startswith("/") or _DRIVE.match(path):
        return f"absolute path '{shown}'"
    if "\\" in path:
        return f"backslash in '{shown}'"
    if any(ord(c) < 32 or c == "\x7f" for c in path):
        return f"control character in '{shown}'"
    size = len(path.encode("utf-8", "surrogatepass"))
    if size > MAX_PATH_BYTES:
        return f"path of {size} bytes (more than {MAX_PATH_BYTES}): '{shown}'"
    for part in path.split("/"):
        if part in ("", ".", ".."):
            return f"path component {part!r} in '{shown}'"
        if part.startswith("."):
            return f"hidden name '{display_name(part)}' in '{shown}'"
        size = len(part.encode("utf-8", "surrogatepass"))
        if size > MAX_NAME_BYTES:
            return f"name of {size} bytes (more than {MAX_NAME_BYTES}): '{shown}'"
    return None
