"""Quality flags (truth: frames made black, saturated or blurred on purpose) and time order."""
from __future__ import annotations

import cv2
import numpy as np

from rovercam.edl.sequence import EdlFrame, assess_quality, group_sequences


def _frames(n: int = 8) -> list[EdlFrame]:
    rng = np.random.default_rng(0)
    out = []
    for k in range(n):
        base = cv2.GaussianBlur(rng.normal(size=(240, 320)).astype(np.float32), (0, 0), 1.5)
        img = (0.05 + 0.01 * base)[..., None] * np.array([1.0, 0.8, 0.6], np.float32)
        out.append(EdlFrame(f"P{k:02d}", "EDL_RDCAM", 100.0 + k, img.astype(np.float32)))
    return out


def test_black_saturated_and_blurred_frames_are_flagged():
    frames = _frames()
    black = EdlFrame("P02", "EDL_RDCAM", 102.0, frames[2].image * 1e-4)
    sat = frames[4].image.copy()
    sat[:, :200] = sat.max()  # 62 % of the frame clipped flat at the top
    blurred = cv2.GaussianBlur(frames[6].image, (0, 0), 4.0)
    frames[2] = black
    frames[4] = EdlFrame("P04", "EDL_RDCAM", 104.0, sat)
    frames[6] = EdlFrame("P06", "EDL_RDCAM", 106.0, blurred)
    flags = {q.product_id: q.flag for q in assess_quality(frames)}
    assert flags == {"P00": "ok", "P01": "ok", "P02": "black", "P03": "ok", "P04": "saturated",
                     "P05": "ok", "P06": "blurred", "P07": "ok"}


def test_all_nan_frame_is_black_not_an_error():
    frames = _frames(4)
    frames[1] = EdlFrame("P01", "EDL_RDCAM", 101.0, np.full_like(frames[1].image, np.nan))
    assert [q.flag for q in assess_quality(frames)] == ["ok", "black", "ok", "ok"]


def test_group_sequences_orders_by_time_per_camera():
    f = _frames(3)
    mixed = [f[2], EdlFrame("U1", "EDL_PUCAM1", 50.0, f[0].image), f[0], f[1]]
    groups = group_sequences(mixed)
    assert list(groups) == ["EDL_PUCAM1", "EDL_RDCAM"]
    assert [x.product_id for x in groups["EDL_RDCAM"]] == ["P00", "P01", "P02"]
