"""EDL frame sequences: frames of one camera in time order, and per-frame quality flags.

An EDL camera's frames (RDCAM down-look, LCAM, DDCAM, RUCAM, PUCAM) reach the EDL products as
calibrated, linearized frames (:func:`rovercam.chain.run_chain`: float32 radiance, CAHV model of
the output pixels in SITE_FRAME). :func:`group_sequences` sorts them by camera and spacecraft
clock; :func:`assess_quality` flags frames that would spoil a mosaic or a video:

- ``"black"``: the 99th percentile of the luminance is below ``black_fraction`` of the
  sequence's median 99th percentile (lens cap, night, a dropped exposure);
- ``"saturated"``: more than ``saturated_fraction`` of the pixels with a band at or above the
  saturation level (``saturation``, in the frame's units, or, when not given, within 0.5 % of
  the frame's brightest band value: a clipped frame is flat at its maximum);
- ``"blurred"``: the high-frequency energy (variance of the Laplacian of the luminance,
  normalized by the squared mean) below ``blur_ratio`` times the median of its neighbours in
  the sequence (motion blur, defocus). Relative, because texture varies with altitude.

Flagged frames are skipped by registration, orthorectification and videos, and reported; they
never stop a run.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["EdlFrame", "Quality", "QualityFlag", "group_sequences", "assess_quality",
           "luminance", "DOWN_LOOKING", "UP_LOOKING"]

log = logging.getLogger(__name__)

QualityFlag = Literal["ok", "black", "saturated", "blurred"]
#: Cameras looking at the ground during the descent (orthomosaic inputs).
DOWN_LOOKING = ("EDL_RDCAM", "LCAM")
#: Cameras looking up or at the other vehicle (video inputs).
UP_LOOKING = ("EDL_PUCAM1", "EDL_PUCAM2", "EDL_RUCAM", "EDL_DDCAM")


@dataclass(frozen=True, slots=True)
class EdlFrame:
    """One calibrated EDL frame.

    Attributes
    ----------
    product_id, instrument : str
    time_s : float
        Spacecraft clock, seconds (orders the sequence).
    image : (H, W) or (H, W, 3) ndarray of float32
        Radiance (any linear unit); NaN is no data.
    model : camera model or None
        Model of these pixels (a CAHV after undistortion) in SITE_FRAME (+x north, +y east,
        +z down, metres), or None when the label has no pose.
    """

    product_id: str
    instrument: str
    time_s: float
    image: NDArray[np.float32]
    model: Any = None

    @classmethod
    def from_chain(cls, frame: Any) -> "EdlFrame":
        """From a :class:`rovercam.chain.Frame` (pose only when its model is in SITE_FRAME)."""
        t = frame.start_time.timestamp() if frame.start_time is not None else 0.0
        model = frame.camera_model if frame.camera_frame == "SITE_FRAME" else None
        return cls(product_id=frame.product_id, instrument=frame.instrument, time_s=float(t),
                   image=np.asarray(frame.image, dtype=np.float32), model=model)


@dataclass(frozen=True, slots=True)
class Quality:
    """Quality of one frame: the flag and the statistics behind it."""

    product_id: str
    flag: QualityFlag
    saturated_fraction: float
    p99: float
    sharpness: float

    @property
    def ok(self) -> bool:
        """True when the frame is usable."""
        return self.flag == "ok"


def luminance(image: NDArray[Any]) -> NDArray[np.float32]:
    """Rec. 709 luminance of an (H, W, 3) image, or the band of an (H, W) one, float32."""
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 2:
        return img
    if img.ndim == 3 and img.shape[2] == 3:
        return img @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    if img.ndim == 3 and img.shape[2] == 1:
        return img[..., 0]
    raise ValueError(f"image must be (H, W) or (H, W, 3), got {img.shape}")


def group_sequences(frames: Iterable[EdlFrame]) -> dict[str, list[EdlFrame]]:
    """Frames by instrument, each list in time order (ties broken by product id)."""
    out: dict[str, list[EdlFrame]] = {}
    for f in frames:
        out.setdefault(f.instrument, []).append(f)
    return {k: sorted(v, key=lambda f: (f.time_s, f.product_id)) for k, v in sorted(out.items())}


def _stats(image: NDArray[Any], saturation: float | None) -> tuple[float, float, float]:
    y = luminance(image)
    finite = np.isfinite(y)
    if not finite.any():
        return 1.0, 0.0, 0.0
    v = y[finite]
    p99 = float(np.percentile(v, 99))
    img = np.asarray(image, np.float32)
    brightest = (img.max(axis=2) if img.ndim == 3 else img)[finite]  # a band clips on its own
    top = float(brightest.max())
    level = saturation if saturation is not None else top * 0.995
    sat = float(np.mean(brightest >= level)) if top > 0 else 0.0
    z = np.where(finite, y, float(np.median(v)))
    mean = float(v.mean())
    lap = cv2.Laplacian(z, cv2.CV_32F, ksize=3)
    sharp = float(lap[1:-1, 1:-1].var() / max(mean * mean, 1e-30))
    return sat, p99, sharp


def assess_quality(frames: Sequence[EdlFrame], *, saturation: float | None = None,
                   saturated_fraction: float = 0.25, black_fraction: float = 0.05,
                   blur_ratio: float = 0.2) -> list[Quality]:
    """Flag black, saturated and blurred frames of one sequence (see the module docstring).

    Parameters
    ----------
    frames : sequence of EdlFrame
        One camera's frames in time order.
    saturation : float, optional
        Saturation level in the frames' units; default: 99.5 % of each frame's maximum (a
        saturated frame is clipped flat at its maximum).
    saturated_fraction, black_fraction, blur_ratio : float, keyword-only
        Thresholds (fractions; see the module docstring).

    Returns
    -------
    list of Quality
        One per frame, same order.
    """
    if not 0 < saturated_fraction <= 1 or not 0 <= black_fraction < 1 or not 0 < blur_ratio < 1:
        raise ValueError("thresholds must be fractions in (0, 1]")
    stats = [_stats(f.image, saturation) for f in frames]
    p99s = np.array([s[1] for s in stats])
    ref = float(np.median(p99s)) if len(stats) else 0.0
    sharp = np.array([s[2] for s in stats])
    out: list[Quality] = []
    for i, (f, (sat, p99, sh)) in enumerate(zip(frames, stats)):
        flag: QualityFlag = "ok"
        if p99 <= black_fraction * ref or p99 <= 0:
            flag = "black"
        elif sat > saturated_fraction:
            flag = "saturated"
        else:
            lo, hi = max(0, i - 3), min(len(frames), i + 4)
            neighbours = np.delete(sharp[lo:hi], i - lo)
            if neighbours.size and sh < blur_ratio * float(np.median(neighbours)):
                flag = "blurred"
        if flag != "ok":
            log.warning("%s: flagged %s (saturated %.2f, p99 %.3g, sharpness %.3g); skipped",
                        f.product_id, flag, sat, p99, sh)
        out.append(Quality(f.product_id, flag, sat, p99, sh))
    return out
