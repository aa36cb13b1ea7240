"""The EDL flow's plan: one product per camera sequence, decided without Prefect."""
from __future__ import annotations

from rovercam.pipeline import FrameRef
from rovercam.pipeline.edl import plan_edl


def _refs(*ids: str) -> list[FrameRef]:
    return [FrameRef(i, f"work/sol00100/calibrated/{i}/k/frame.blob", "undistort") for i in ids]


def test_down_look_cameras_make_descents_the_others_sequences_and_singletons_nothing():
    frames = _refs("r1", "p1", "r2", "l1", "p2", "u1")
    instrument_of = {"r1": "EDL_RDCAM", "r2": "EDL_RDCAM", "l1": "LCAM", "p1": "EDL_PUCAM1",
                     "p2": "EDL_PUCAM1", "u1": "EDL_RUCAM"}
    plan = {q.instrument: q for q in plan_edl(frames, instrument_of)}
    assert list(plan) == sorted(plan)  # instrument order
    assert plan["EDL_RDCAM"].product == "descent"
    assert [r.product_id for r in plan["EDL_RDCAM"].frames] == ["r1", "r2"]  # calibration order kept
    assert plan["EDL_PUCAM1"].product == "sequence"
    assert plan["LCAM"].product == "none" and "1 frame" in plan["LCAM"].reason
    assert plan["EDL_RUCAM"].product == "none"
    assert sum(len(q.frames) for q in plan.values()) == len(frames)  # nothing dropped


def test_no_frames_no_plan():
    assert plan_edl([], {}) == []
