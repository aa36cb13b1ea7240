"""Detectable EDL events: an object coming into view of an up-look or rover-view camera, and
touchdown.

Up-look cameras see sky (smooth: a gradient and glow) until something with structure enters:
the parachute (PUCAM, gores and stripes), the descent stage (RUCAM), the rover on the bridle
(DDCAM looks down at it against the ground, so there the score is the share of the frame the
object's edges take against a textured background and a fixed threshold is less telling).
:func:`structure_fraction` measures the share of a frame's pixels whose luminance gradient is
strong relative to the frame's median luminance; :func:`detect_events` reports the first
usable frame of a sequence above ``threshold`` as ``"<object>_in_view"`` and, when the score
later drops below it again, ``"<object>_out_of_view"``. :func:`touchdown_event` marks the frame
of the lowest camera altitude of a descent track.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.edl.sequence import EdlFrame, Quality, luminance

__all__ = ["Event", "EVENT_OBJECTS", "structure_fraction", "detect_events", "touchdown_event"]

#: What each up-look / rover-view camera sees come into view.
EVENT_OBJECTS = {"EDL_PUCAM1": "parachute", "EDL_PUCAM2": "parachute", "EDL_RUCAM": "descent_stage",
                 "EDL_DDCAM": "rover"}


@dataclass(frozen=True, slots=True)
class Event:
    """One detected event (``kind`` like ``"parachute_in_view"``), at one frame."""

    kind: str
    instrument: str
    product_id: str
    time_s: float
    score: float
    description: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def structure_fraction(image: NDArray[Any], *, rel_gradient: float = 0.08) -> float:
    """Fraction of pixels whose gradient magnitude exceeds ``rel_gradient`` x median luminance.

    A 3x3 Sobel on a 2x-downsampled luminance (noise-robust); NaN pixels count as flat.
    """
    y = luminance(image)
    finite = np.isfinite(y)
    if not finite.any():
        return 0.0
    med = float(np.median(y[finite]))
    z = np.where(finite, y, med).astype(np.float32)
    z = cv2.pyrDown(z)
    gx = cv2.Sobel(z, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(z, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    mag = np.hypot(gx, gy)
    return float(np.mean(mag > rel_gradient * max(abs(med), 1e-30)))


def detect_events(frames: Sequence[EdlFrame], quality: Sequence[Quality] | None = None, *,
                  threshold: float = 0.02) -> list[Event]:
    """Object-in-view events of one up-look / rover-view sequence (module docstring).

    Parameters
    ----------
    frames : sequence of EdlFrame
        One camera's frames in time order.
    quality : sequence of Quality, optional
        Flags of the same frames; flagged frames are not looked at.
    threshold : float, keyword-only
        Structure fraction above which the object counts as in view.
    """
    if not frames:
        return []
    instrument = frames[0].instrument
    obj = EVENT_OBJECTS.get(instrument, "object")
    flags = [q.ok for q in quality] if quality is not None else [True] * len(frames)
    events: list[Event] = []
    visible = False
    for f, ok in zip(frames, flags):
        if not ok:
            continue
        s = structure_fraction(f.image)
        if not visible and s > threshold:
            visible = True
            events.append(Event(f"{obj}_in_view", instrument, f.product_id, f.time_s, round(s, 4),
                                f"{obj.replace('_', ' ')} comes into view of {instrument}"))
        elif visible and s <= threshold:
            visible = False
            events.append(Event(f"{obj}_out_of_view", instrument, f.product_id, f.time_s, round(s, 4),
                                f"{obj.replace('_', ' ')} leaves the view of {instrument}"))
    return events


def touchdown_event(track: Sequence[dict[str, Any]], instrument: str) -> Event | None:
    """The frame of the lowest altitude of a descent track (``altitude_m`` per point)."""
    if not track:
        return None
    low = min(track, key=lambda p: p["altitude_m"])
    return Event("touchdown", instrument, low["product_id"], float(low["time_s"]),
                 round(float(low["altitude_m"]), 3),
                 f"lowest {instrument} altitude, {low['altitude_m']:.2f} m above the ground")
