"""What the EDL flow makes of a sol's calibrated frames: one product per camera sequence.

Down-look cameras (:data:`rovercam.edl.sequence.DOWN_LOOKING`: RDCAM, LCAM) give the landing-site
orthomosaic and the descent track; up-look and rover-view cameras give a stabilized video, a
contact sheet and events. A camera with a single frame gives nothing, and the plan says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, Mapping

from rovercam.edl.sequence import DOWN_LOOKING
from rovercam.pipeline.results import FrameRef

__all__ = ["EdlSequence", "plan_edl", "MIN_SEQUENCE_FRAMES"]

#: Frames a camera needs for any EDL product (registration needs a pair).
MIN_SEQUENCE_FRAMES = 2


@dataclass(frozen=True, slots=True)
class EdlSequence:
    """One camera's calibrated frames and the product they make.

    Attributes
    ----------
    instrument : str
    frames : tuple of FrameRef
        In the order they were calibrated (the flow's order of products).
    product : {"descent", "sequence", "none"}
        ``"descent"``: orthomosaic levels and track; ``"sequence"``: video, contact sheet and
        events; ``"none"``: too few frames (``reason`` says so).
    reason : str
    """

    instrument: str
    frames: tuple[FrameRef, ...]
    product: Literal["descent", "sequence", "none"]
    reason: str = ""


def plan_edl(frames: Iterable[FrameRef], instrument_of: Mapping[str, str]) -> list[EdlSequence]:
    """Group calibrated ``frames`` by camera (``instrument_of``: product id -> instrument) and say
    what each sequence becomes, in instrument order."""
    by_camera: dict[str, list[FrameRef]] = {}
    for ref in frames:
        by_camera.setdefault(instrument_of.get(ref.product_id, ""), []).append(ref)
    plan = []
    for instrument, refs in sorted(by_camera.items()):
        if len(refs) < MIN_SEQUENCE_FRAMES:
            plan.append(EdlSequence(instrument, tuple(refs), "none",
                                    f"{len(refs)} frame, fewer than {MIN_SEQUENCE_FRAMES}: no EDL product"))
        else:
            plan.append(EdlSequence(instrument, tuple(refs),
                                    "descent" if instrument in DOWN_LOOKING else "sequence"))
    return plan
