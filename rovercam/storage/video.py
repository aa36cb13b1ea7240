"""MP4 encoding (and decoding, to check it) of image sequences (OpenCV ``VideoWriter``, MPEG-4 Part 2, fourcc ``mp4v``).

The ``mp4v`` codec ships with opencv-python-headless (its bundled FFmpeg); H.264 does not, so
it is not offered. The encoder is deterministic: the same frames and frame rate give the same
bytes (no creation time is written), which keeps re-publishing idempotent.

MPEG-4 Part 2 stores 4:2:0 chroma, so frame width and height must be even: an odd size would be
cropped silently by the encoder and is refused here instead. Encoding is lossy.
"""
from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.errors import RovercamError, StorageError

__all__ = ["write_mp4", "mp4_frames", "MP4_FOURCC"]

log = logging.getLogger(__name__)

#: FourCC of the encoder used (MPEG-4 Part 2, available in opencv-python-headless).
MP4_FOURCC = "mp4v"


def _check_frame(frame: NDArray[np.uint8], index: int, size: tuple[int, int] | None) -> NDArray[np.uint8]:
    """``frame`` as a contiguous (H, W, 3) uint8 array, or RovercamError naming what is wrong."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        got = getattr(frame, "shape", type(frame).__name__), getattr(frame, "dtype", None)
        raise RovercamError(f"frame {index}: must be (H, W, 3) uint8 RGB, got {got}")
    h, w = frame.shape[:2]
    if size is None and (h % 2 or w % 2 or h < 2 or w < 2):
        raise RovercamError(f"frame {index}: MP4 (4:2:0) needs even width and height, got W={w}, H={h}")
    if size is not None and (h, w) != size:
        raise RovercamError(f"frame {index}: size (H, W) {(h, w)} differs from the first frame's {size}")
    return np.ascontiguousarray(frame)


def write_mp4(frames: Iterable[NDArray[np.uint8]], path: str | os.PathLike[str], *, fps: float) -> Path:
    """Encode RGB frames as an MP4 file.

    Parameters
    ----------
    frames : iterable of (H, W, 3) uint8
        RGB frames (sRGB display values), all the same size, H and W even. Consumed once.
    path : path-like
        Output file; written under a temporary name and moved into place when complete.
    fps : float, keyword-only
        Frame rate, frames per second (> 0).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    RovercamError
        No frames, a frame that is not (H, W, 3) uint8, odd or mismatched sizes, fps <= 0.
        Nothing is left at ``path`` (nor a temporary file).
    StorageError
        OpenCV could not open the encoder or write the file.
    """
    fps = float(fps)
    if not np.isfinite(fps) or fps <= 0:
        raise RovercamError(f"fps must be a positive number, got {fps}")
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp.mp4")  # the suffix picks the MP4 container
    writer: cv2.VideoWriter | None = None
    size: tuple[int, int] | None = None
    count = 0
    try:
        for index, frame in enumerate(frames):
            frame = _check_frame(frame, index, size)
            if writer is None:
                size = frame.shape[:2]
                writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*MP4_FOURCC), fps,
                                         (size[1], size[0]))
                if not writer.isOpened():
                    raise StorageError(f"{p}: OpenCV could not open an {MP4_FOURCC!r} MP4 writer")
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            count += 1
        if writer is None:
            raise RovercamError(f"{p}: no frames to encode")
        writer.release()
        writer = None
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise StorageError(f"{p}: OpenCV wrote no MP4 data")
        os.replace(tmp, p)
    except BaseException:
        if writer is not None:
            writer.release()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    log.info("%s: %d frames %dx%d at %.3g fps", p.name, count, size[1], size[0], fps)
    return p


def mp4_frames(path: str | os.PathLike[str]) -> Iterator[NDArray[np.uint8]]:
    """Decode an MP4 file frame by frame (OpenCV ``VideoCapture``), as :func:`write_mp4` takes
    them: (H, W, 3) uint8 RGB. One frame is in memory at a time; an unreadable file yields none."""
    cap = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            yield bgr[..., ::-1]
    finally:
        cap.release()
