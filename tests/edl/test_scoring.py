"""The orthomosaic scores: the confirmed phase-correlation shift and the exact model shifts.

Truth: shifts built into the test images (np.roll of a known texture, exact integers) and camera
centres moved by a known number of metres over a level plane (a pure translation of the
ground: every cell moves by exactly that many metres).
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from rovercam.camera.cahv import CAHV
from rovercam.edl.ground import Plane
from rovercam.edl.ortho import OrthoGrid
from rovercam.edl.scoring import geometric_score, model_shifts

TILE = 64


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.2 + cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), 1.5)).astype(np.float32)


def test_a_real_displacement_is_measured_and_confirmed():
    # truth: the mosaic is the truth moved 3 px east and 2 px south, everywhere
    truth = _texture(4 * TILE, 4 * TILE, 0)
    mosaic = np.roll(truth, (2, 3), axis=(0, 1))
    s = geometric_score(mosaic, truth)
    assert s.tiles_covered == 16
    # the top row and left column cannot be confirmed: the window moved back by (3, 2) px leaves
    # the image; the other 9 tiles re-measure to about zero
    assert len(s.shifts_px) == 9
    # phase correlation's subpixel estimate of an exact integer shift on this high-passed,
    # Hann-windowed texture: within 0.25 px per tile (measured: up to 0.21), 0.15 px on average
    np.testing.assert_allclose(s.shifts_px, np.tile([3.0, 2.0], (9, 1)), atol=0.25)
    np.testing.assert_allclose(s.shifts_px.mean(axis=0), [3.0, 2.0], atol=0.15)
    unconfirmed = geometric_score(mosaic, truth, confirm_px=np.inf)
    assert len(unconfirmed.shifts_px) == 16


@pytest.mark.parametrize("second, counted", [
    (((0.3, -0.2), 0.6), True),     # the moved window re-measures to about zero: a real shift
    (((4.0, -7.5), 0.4), False),    # it finds another shift: the first peak was false
    (((0.3, -0.2), 0.05), False),   # it finds nothing
])
def test_a_shift_counts_only_when_the_moved_window_confirms_it(monkeypatch, second, counted):
    # the correlation itself is scripted: the tile's peak at (12, 9) px, then the confirmation's
    from rovercam.edl import scoring

    calls = []

    def scripted(b, a, win):
        calls.append(b.shape)
        return ((12.0, 9.0), 0.5) if len(calls) == 1 else second

    monkeypatch.setattr(scoring.cv2, "phaseCorrelate", scripted)
    texture = _texture(3 * TILE, 3 * TILE, 3)
    covered = np.full((3 * TILE, 3 * TILE), np.nan, np.float32)
    covered[TILE:2 * TILE, TILE:2 * TILE] = 1.0  # one covered tile, in the middle: room to move
    s = geometric_score(texture * covered, texture)
    assert s.tiles_covered == 1 and len(calls) == 2
    assert len(s.shifts_px) == (1 if counted else 0)


def _nadir(altitude_m: float, centre: tuple[float, float], focal_px: float = 500.0, side: int = 400) -> CAHV:
    """A pinhole looking straight down (image x east, y south), SITE_FRAME (+z down)."""
    a = np.array([0.0, 0.0, 1.0])
    east, south = np.array([0.0, 1.0, 0.0]), np.array([-1.0, 0.0, 0.0])
    c = (side - 1) / 2.0
    return CAHV((centre[0], centre[1], -altitude_m), a, focal_px * east + c * a, focal_px * south + c * a)


def test_model_shifts_are_zero_for_the_true_models_and_follow_a_known_offset():
    grid = OrthoGrid(cell_m=0.5, north_max=40.0, east_min=-40.0, width=160, height=160)
    covered = np.ones((160, 160), bool)
    true = {"F": _nadir(100.0, (0.0, 0.0))}
    sizes = {"F": (400, 400)}
    plane = Plane(0.0)
    zero = model_shifts(grid, covered, ["F"], true, true, sizes, plane)
    assert zero.shape == (4, 2)
    np.testing.assert_allclose(zero, 0.0, atol=1e-9)  # px
    # the model drawn with sits 1.5 m east and 1 m north of the truth: what the frame truly shows
    # at ground q is drawn at q + (1 m north, 1.5 m east), i.e. 3 cells east and 2 cells north
    moved = {"F": _nadir(100.0, (1.0, 1.5))}
    s = model_shifts(grid, covered, ["F"], moved, true, sizes, plane)
    np.testing.assert_allclose(s, np.tile([3.0, -2.0], (4, 1)), atol=1e-9)  # x east, y south, px


def test_model_shifts_take_the_frame_drawn_on_top_and_skip_uncovered_tiles():
    grid = OrthoGrid(cell_m=0.5, north_max=40.0, east_min=-40.0, width=160, height=160)
    covered = np.ones((160, 160), bool)
    covered[:TILE, :TILE] = False  # the north-west tile is not fully covered
    true = {"A": _nadir(100.0, (0.0, 0.0)), "B": _nadir(100.0, (0.0, 0.0))}
    drawn = {"A": _nadir(100.0, (0.0, 0.5)), "B": _nadir(100.0, (0.0, 0.0))}
    sizes = {"A": (400, 400), "B": (400, 400)}
    s = model_shifts(grid, covered, ["A", "B"], drawn, true, sizes, Plane(0.0))
    assert s.shape == (3, 2)
    np.testing.assert_allclose(s, 0.0, atol=1e-9)  # B (exact) is drawn over A everywhere
    s = model_shifts(grid, covered, ["B", "A"], drawn, true, sizes, Plane(0.0))
    np.testing.assert_allclose(s, np.tile([1.0, 0.0], (3, 1)), atol=1e-9)  # A on top: 0.5 m east
