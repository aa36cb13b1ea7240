"""Publish an image sequence as MP4 plus a PNG thumbnail (kind ``"sequence"``):
``sol<sol:05d>/sequences/<name>/v<N>/`` holds ``<name>.mp4``, ``<name>_thumb.png`` and
``<name>.stac.json`` (:mod:`rovercam.publish.core`).
"""
from __future__ import annotations

import datetime as _dt
import itertools
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pystac

from rovercam.catalog.db import Catalog
from rovercam.errors import RovercamError
from rovercam.provenance import Provenance
from rovercam.publish.core import PublishedProduct, check_name, publish_files
from rovercam.storage.raster import thumbnail, write_png
from rovercam.storage.store import Store

__all__ = ["publish_sequence", "MP4_MEDIA_TYPE"]

#: Media type of MP4 video.
MP4_MEDIA_TYPE = "video/mp4"


def publish_sequence(
    frames: Iterable[np.ndarray],
    *,
    name: str,
    sol: int,
    instrument: str,
    fps: float,
    store: Store,
    catalog: Catalog,
    provenance: Provenance,
    start_time: _dt.datetime,
    stop_time: _dt.datetime | None = None,
    run_id: str | None = None,
    mission: str = "M2020",
    thumbnail_side: int = 512,
) -> PublishedProduct:
    """Publish an image sequence as MP4 plus a PNG thumbnail of its first frame, then its row.

    Parameters
    ----------
    frames : iterable of (H, W, 3) uint8
        RGB display frames, same size, H and W even (see :func:`rovercam.storage.video.write_mp4`).
    name : str
        Plain file name; files go to ``sol<sol:05d>/sequences/<name>/v<N>/``: ``<name>.mp4``
        (asset ``data``, ``video/mp4``), ``<name>_thumb.png`` (``thumbnail``), ``<name>.stac.json``.
    sol, instrument, store, catalog, provenance, start_time, stop_time, run_id, mission
        As :func:`rovercam.publish.cube.publish_cube`; the catalog row has kind ``"sequence"``.
    fps : float
        Frame rate, frames per second.
    thumbnail_side : int
        Longest side of the thumbnail, pixels.

    Returns
    -------
    PublishedProduct

    Raises
    ------
    RovercamError
        No frames, a frame not (H, W, 3) uint8, odd or mismatched sizes, fps <= 0. Nothing is
        published (every frame is encoded before the store is touched).
    StorageError, CatalogError
        Encoding or writing failed; nothing partial is visible.
    """
    from rovercam.storage.video import MP4_FOURCC, write_mp4

    check_name(name)
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise RovercamError(f"{name}: a sequence needs at least one frame")
    count = 0

    def counted() -> Iterator[np.ndarray]:
        nonlocal count
        for frame in itertools.chain([first], it):
            count += 1
            yield frame

    with tempfile.TemporaryDirectory(prefix="rovercam-video-") as tmp:
        path = write_mp4(counted(), Path(tmp) / f"{name}.mp4", fps=fps)
        thumb = write_png(thumbnail(first, max_side=thumbnail_side))
        h, w = first.shape[:2]
        properties = {"rovercam:frames": count, "rovercam:fps": float(fps), "rovercam:size": [int(w), int(h)],
                      "rovercam:codec": MP4_FOURCC}
        files = {
            "data": (path.name, path, ["data"], MP4_MEDIA_TYPE, f"Image sequence (MP4, {MP4_FOURCC})"),
            "thumbnail": (f"{name}_thumb.png", thumb, ["thumbnail"], pystac.MediaType.PNG,
                          "Thumbnail (first frame)"),
        }
        return publish_files(
            files, kind="sequence", name=name, sol=sol, instrument=instrument, properties=properties,
            store=store, catalog=catalog, provenance=provenance, start_time=start_time,
            stop_time=stop_time, run_id=run_id, mission=mission,
        )
