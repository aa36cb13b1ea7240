"""Registration recovers known homographies (truth: the homography the test image was warped by)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from rovercam.edl.registration import apply_homography, register_pair
from rovercam.errors import MosaicError


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    """Band-limited random ground texture at several scales (float32, > 0)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w), np.float32)
    for sigma, amp in ((1.2, 0.5), (4.0, 1.0), (12.0, 1.5)):
        img += amp * cv2.GaussianBlur(rng.normal(size=(h, w)).astype(np.float32), (0, 0), sigma)
    return (img - img.min() + 0.1).astype(np.float32)


def _homography(scale: float, angle_deg: float, shift: tuple[float, float], persp: float,
                centre: tuple[float, float]) -> np.ndarray:
    cx, cy = centre
    a = np.radians(angle_deg)
    t0 = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], float)
    rs = np.array([[scale * np.cos(a), -scale * np.sin(a), 0], [scale * np.sin(a), scale * np.cos(a), 0],
                   [persp, 0.5 * persp, 1]])
    t1 = np.array([[1, 0, cx + shift[0]], [0, 1, cy + shift[1]], [0, 0, 1]], float)
    return t1 @ rs @ t0


@pytest.mark.parametrize("scale, angle, shift, persp", [
    (1.0, 0.0, (7.3, -4.1), 0.0),          # pure shift
    (1.15, 2.5, (3.0, 5.0), 0.0),           # one RDCAM descent step (x1.14 per frame) and a wobble
    (1.3, -4.0, (-12.0, 8.0), 2e-5),        # a skipped frame, with perspective
])
def test_register_pair_recovers_a_known_homography(scale, angle, shift, persp):
    big = _texture(900, 1100, seed=4)
    h_true = _homography(scale, angle, shift, persp, (550.0, 450.0))  # big -> frame a pixels
    # frame b is the big texture cropped; frame a is the big texture warped by h_true then cropped
    crop = np.array([[1, 0, -230], [0, 1, -190], [0, 0, 1]], float)
    a = cv2.warpPerspective(big, crop @ h_true, (640, 512), flags=cv2.INTER_CUBIC)
    b = cv2.warpPerspective(big, crop, (640, 512), flags=cv2.INTER_CUBIC)
    reg = register_pair(a, b)
    h_ab_true = (crop @ h_true) @ np.linalg.inv(crop)
    xs, ys = np.meshgrid(np.linspace(100, 540, 9), np.linspace(100, 410, 7))
    pts = np.column_stack([xs.ravel(), ys.ravel()])
    err = np.linalg.norm(apply_homography(reg.h_a_b, pts) - apply_homography(h_ab_true, pts), axis=1)
    # truth: the warp itself; 0.3 px = SIFT localization on a cubic-resampled texture
    assert err.max() < 0.3, err.max()
    assert reg.inliers >= 50 and reg.rms_px < 1.0


def test_unrelated_frames_do_not_register():
    a, b = _texture(512, 640, seed=1), _texture(512, 640, seed=2)
    with pytest.raises(MosaicError):
        register_pair(a, b)


def test_featureless_frame_is_refused():
    a = _texture(512, 640, seed=1)
    with pytest.raises(MosaicError, match="feature"):
        register_pair(a, np.full_like(a, 0.5))
