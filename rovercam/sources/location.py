"""Which source locations a run may read: refused before anything is listed or fetched.

A source is walked for products and copied into the storage root, so some locations are refused
outright (docs/reliability.md, "Hostile parameters"):

- a system folder, or anything inside one (``/etc``, ``file:///``, ``/proc``, ``/usr/lib``):
  walking them reads files that are no products, some of them endless (``/proc``, ``/dev``);
- a URL carrying credentials (``https://user:secret@host/``): the source string is stored with
  the run's parameters and printed in its reports and logs, so a secret there leaks; object-store
  credentials belong in ``[storage] options`` or the environment;
- a ``file://`` URL naming another host;
- a source that is the storage root, holds it, or lies inside a part of it the pipeline writes
  (``incoming/``, ``work/``, ``sol00100/``, ...: :func:`rovercam.layout.is_pipeline_area`): the
  run would fetch its own staging folder or outputs back as products. A folder of the root the
  pipeline does not write (``synthetic/``, where ``rovercam demo`` generates its sol) is fine.
"""
from __future__ import annotations

import posixpath
import urllib.parse
from pathlib import Path

from rovercam.errors import SourceError
from rovercam.layout import is_pipeline_area

__all__ = ["check_source", "MAX_LATEST_SOLS", "SYSTEM_FOLDERS", "BROAD_FOLDERS"]

#: The most of a source's latest sols one run processes (``latest`` of ``ingest-sol``).
MAX_LATEST_SOLS = 100

#: Folders whose whole tree is refused as a source (the operating system's own files).
SYSTEM_FOLDERS = ("/etc", "/proc", "/sys", "/dev", "/boot", "/run", "/bin", "/sbin", "/lib", "/lib32",
                  "/lib64", "/libx32", "/usr", "/var/run", "/var/lib", "/var/log", "/var/cache", "/var/spool",
                  "/root", "/snap")
#: Folders refused as a source themselves (a walk of everything below them), though a data folder
#: inside them is fine (a drop folder in a user's home, a sol folder in the temporary folder).
BROAD_FOLDERS = ("/", "/home", "/var", "/tmp", "/mnt", "/media", "/opt", "/srv")

_MAX_LENGTH = 4096


def _local_path(spec: str) -> str | None:
    """The absolute local path ``spec`` names (a path or a ``file://`` URL), or None for a URL."""
    parts = urllib.parse.urlsplit(spec)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise SourceError(spec, f"a file:// URL names another host ({parts.netloc!r}); give a local folder")
        path = urllib.parse.unquote(parts.path) or "/"
    elif "://" in spec:
        return None
    else:
        path = spec
    return str(Path(path).expanduser().resolve())


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _url_key(url: str) -> str:
    """``scheme://netloc/path`` without a trailing slash, for comparing object-store prefixes."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{posixpath.normpath('/' + parts.path.lstrip('/')).rstrip('/')}"


def _check_overlap(shown: str, source: str, root: str, storage_root: str) -> None:
    """Refuse ``source`` (a resolved path or a URL key) that is, holds or is written by ``root``."""
    if source == root:
        raise SourceError(shown, "the source is the storage root itself")
    if _inside(root, source):
        raise SourceError(shown, f"the storage root {storage_root} lies inside the source: a run would fetch "
                          "its own outputs back as products")
    if _inside(source, root) and is_pipeline_area(source[len(root.rstrip("/")) + 1:]):
        area = source[len(root.rstrip("/")) + 1:].split("/")[0]
        raise SourceError(shown, f"the source lies inside {area}/ of the storage root, which the pipeline writes")


def check_source(spec: str, storage_root: str | None = None) -> str:
    """Refuse a source location a run must not read (see the module notes for the rules).

    Parameters
    ----------
    spec : str
        The source: a local folder, a ``file://`` URL, or an fsspec / HTTP URL.
    storage_root : str, optional
        The run's storage root (a local folder or an object-store URL); when given, the source
        must not be it, hold it, or lie inside a part of it the pipeline writes.

    Returns
    -------
    str
        ``spec``, unchanged.

    Raises
    ------
    rovercam.errors.SourceError
        The location is refused; the message says why.

    Examples
    --------
    >>> check_source("file:///etc")
    Traceback (most recent call last):
    ...
    rovercam.errors.SourceError: file:///etc: /etc is a system folder, not a source of products
    """
    if not isinstance(spec, str) or not spec.strip():
        raise SourceError(repr(spec), "a source is a folder or a URL; got nothing")
    shown = spec if len(spec) <= 200 else spec[:200] + "..."
    if len(spec) > _MAX_LENGTH:
        raise SourceError(shown, f"{len(spec)} characters; a source location has at most {_MAX_LENGTH}")
    if any(ord(c) < 32 or ord(c) == 127 for c in spec):
        raise SourceError(repr(shown), "control characters (NUL, newline, ...) in a source location")
    parts = urllib.parse.urlsplit(spec)
    if "://" in spec and (parts.username is not None or parts.password is not None):
        redacted = parts._replace(netloc=f"***@{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}")
        raise SourceError(urllib.parse.urlunsplit(redacted),
                          "credentials in a source URL would be stored with the run and printed in its logs; "
                          "give them in [storage] options or the environment")
    path = _local_path(spec)
    if path is not None:
        broad = next((f for f in BROAD_FOLDERS if path == f), None)
        system = next((f for f in SYSTEM_FOLDERS if _inside(path, f)), None)
        if broad or system:
            what = f"{path} is a system folder" if system else f"{path} is the top of a whole tree"
            raise SourceError(shown, f"{what}, not a source of products")
    if storage_root:
        root = _local_path(storage_root)
        if path is not None and root is not None:
            _check_overlap(shown, path, root, storage_root)
        elif path is None and root is None:
            _check_overlap(shown, _url_key(spec), _url_key(storage_root), storage_root)
    return spec
