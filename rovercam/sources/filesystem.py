"""A local folder or an fsspec URL prefix (``s3://bucket/prefix``) as a product source.

Both go through fsspec (the local file system or s3fs with the given storage options, e.g.
``{"endpoint_url": ..., "key": ..., "secret": ...}``). Listings are re-read on every call (the
fsspec listing cache is invalidated first), so a product that arrives between two calls is seen.
Change validators: size and modification time (and the ETag on object stores).
"""
from __future__ import annotations

import contextlib
import logging
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from rovercam.errors import SourceError
from rovercam.sources.layout import Entry
from rovercam.sources.model import RemoteFile
from rovercam.sources.source import TransientSourceError, TreeSource, iso_time

__all__ = ["FilesystemSource", "source_calibration"]

log = logging.getLogger(__name__)


def source_calibration(location: str) -> list[str]:
    """Calibration folders that travel with a local source folder, in search order.

    A folder named ``calibration`` inside the source folder or beside it (a generated sol keeps
    its LUTs, flats and camera tables in ``<sol>/calibration`` next to ``<sol>/raw``) is searched
    before the configured folders; none for object stores and HTTP sources.
    """
    if "://" in location and not location.startswith("file://"):
        return []
    root = Path(location.removeprefix("file://")).expanduser().resolve()
    found = [p / "calibration" for p in (root, root.parent)]
    return [str(p) for p in found if p.is_dir()]


def _validators(info: dict[str, Any]) -> tuple[int | None, str | None, str | None]:
    size = info.get("size")
    mtime = info.get("LastModified", info.get("mtime", info.get("last_modified")))
    etag = info.get("ETag", info.get("etag"))
    return (int(size) if isinstance(size, (int, float)) else None, iso_time(mtime),
            None if etag is None else str(etag))


class FilesystemSource(TreeSource):
    """Products under a local folder or an fsspec URL prefix.

    Parameters
    ----------
    location : str
        A local path (``file://`` accepted) or a URL such as ``s3://bucket/prefix``.
    storage_options : dict, optional, keyword-only
        fsspec options for a URL (s3fs names: ``endpoint_url``, ``key``, ``secret``,
        ``client_kwargs``).
    **options
        Retry and limit options of :class:`~rovercam.sources.Source`.
    """

    kind = "filesystem"

    def __init__(self, location: str, *, storage_options: dict[str, Any] | None = None,
                 **options: Any):
        super().__init__(location, **options)
        import fsspec

        try:
            self._fs, root = fsspec.core.url_to_fs(location, **(storage_options or {}))
        except (ImportError, ValueError) as exc:
            raise SourceError(location, f"cannot open: {exc}") from exc
        self._root_path = root.rstrip("/") or root
        self._local = "file" in (self._fs.protocol if isinstance(self._fs.protocol, tuple)
                                 else (self._fs.protocol,))

    def _root(self) -> tuple[Any, str]:
        return self._root_path, posixpath.basename(self._root_path.rstrip("/"))

    def _listdir(self, handle: Any) -> list[Entry]:
        def listing() -> list[dict[str, Any]]:
            try:
                self._fs.invalidate_cache(handle)
                return self._fs.ls(handle, detail=True)
            except FileNotFoundError:
                raise SourceError(self._url_of(handle), "no such folder") from None
            except PermissionError as exc:
                raise SourceError(self._url_of(handle), f"permission denied: {exc}") from None
            except OSError as exc:
                raise TransientSourceError(self._url_of(handle), f"cannot list: {exc}") from None

        out = []
        for info in self._retrying(listing, self._url_of(handle)):
            name = str(info["name"]).rstrip("/")
            if name == handle.rstrip("/"):
                continue  # some file systems list a folder's own marker
            size, mtime, etag = _validators(info)
            is_dir = info.get("type") == "directory"
            out.append(Entry(name=posixpath.basename(name), is_dir=is_dir, handle=name,
                             size=None if is_dir else size, mtime=mtime, etag=etag))
        return out

    def _label_sol(self, entry: Entry) -> int | None:
        """A local product's sol from its label (PLANET_DAY_NUMBER), for ids without one."""
        if not self._local:
            return None
        from rovercam.errors import ProductError
        from rovercam.products import read_product

        try:
            return read_product(str(entry.handle), pixels=False).sol
        except (ProductError, OSError):
            return None

    def _url_of(self, handle: str) -> str:
        return handle if self._local else self._fs.unstrip_protocol(handle)

    def _url(self, entry: Entry) -> str:
        return self._url_of(entry.handle)

    def _key(self, file: RemoteFile) -> str:
        return file.url if self._local else self._fs._strip_protocol(file.url)

    def _stat(self, file: RemoteFile) -> RemoteFile:
        try:
            self._fs.invalidate_cache(posixpath.dirname(self._key(file)))
            info = self._fs.info(self._key(file))
        except FileNotFoundError:
            raise SourceError(file.url, "no such file") from None
        except OSError as exc:
            raise TransientSourceError(file.url, f"cannot stat: {exc}") from None
        size, mtime, etag = _validators(info)
        return RemoteFile(path=file.path, url=file.url, size=size, mtime=mtime, etag=etag)

    def _open(self, file: RemoteFile) -> contextlib.AbstractContextManager[
            tuple[IO[bytes], RemoteFile]]:
        @contextlib.contextmanager
        def opened() -> Iterator[tuple[IO[bytes], RemoteFile]]:
            declared = self._stat(file)
            try:
                stream = self._fs.open(self._key(file), "rb")
            except FileNotFoundError:
                raise SourceError(file.url, "no such file") from None
            except OSError as exc:
                raise TransientSourceError(file.url, f"cannot open: {exc}") from None
            with stream:
                yield stream, declared

        return opened()
