"""Pointing refinement: a known perturbation of the label pointing is undone.

Truth: the frames were rendered through the true models; the labels' models are the true ones
turned by known rotations of up to 1 degree (zero mean: the panorama's overall rotation is not
observable from the images, so the refinement keeps the labels' mean).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from rovercam.errors import MosaicError
from rovercam.mosaic.cylindrical import FrameGeometry
from rovercam.mosaic.refine import refine_pointing, rotate_about_centre, rotation_matrices

POINTINGS = [(az, el, 0.0) for el in (-12.0, 4.0) for az in (0.0, 20.0, 40.0, 60.0)]


@pytest.fixture(scope="module")
def perturbed(scene_factory):
    sc = scene_factory(POINTINGS, width=400, height=300, hfov_deg=25.0, gains=[1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 1.12, 0.88])
    rng = np.random.default_rng(7)
    p = rng.uniform(-1, 1, (len(POINTINGS), 3))
    p -= p.mean(axis=0)
    p *= math.radians(1.0) / np.abs(p).max()
    geoms = [FrameGeometry(g.product_id, rotate_about_centre(g.model, p[k]), g.width, g.height)
             for k, g in enumerate(sc.geoms())]
    return sc, p, geoms


def test_refinement_recovers_a_known_perturbation(perturbed):
    sc, p, geoms = perturbed
    ref = refine_pointing(geoms, sc.load)
    # the residual of ties between frames: well under the 0.3 px the issue asks for
    assert ref.rms_px < 0.3 and ref.rms_before_px > 5.0
    assert ref.pairs >= 8 and ref.ties > 100
    # every frame's pointing back to truth: composing the correction with the perturbation
    # leaves < 0.02 deg (~0.3 px at this 0.06 deg/px scale)
    err = [math.degrees(np.linalg.norm(_log(rotation_matrices(ref.rotations[k])[0] @ rotation_matrices(p[k])[0])))
           for k in range(len(p))]
    assert max(err) < 0.02, err
    # the refined models project like the true ones: 0.3 px at the frame centres
    centre = np.array([[199.5, 149.5]])
    for g, m in zip(ref.geoms, sc.models):
        d = m.unproject(centre)[1]
        np.testing.assert_allclose(g.model.project_directions(d), centre, atol=0.3)  # px


def _log(r: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.Rodrigues(r)[0].ravel()


def test_frames_that_do_not_overlap_cannot_be_refined(scene_factory):
    sc = scene_factory([(0.0, 0.0, 0.0), (120.0, 0.0, 0.0)])
    with pytest.raises(MosaicError, match="feature matches"):
        refine_pointing(sc.geoms(), sc.load)


def test_refinement_is_repeatable_whatever_opencvs_rng_state(perturbed):
    # RANSAC uses OpenCV's thread-local RNG; a re-run of a sol must publish the same mosaic
    import cv2

    sc, _, geoms = perturbed
    cv2.setRNGSeed(1)
    a = refine_pointing(geoms, sc.load)
    cv2.setRNGSeed(12345)
    b = refine_pointing(geoms, sc.load)
    np.testing.assert_array_equal(np.asarray(a.rotations), np.asarray(b.rotations))
