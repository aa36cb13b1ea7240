"""Scenes for the mosaic tests: a textured world at infinity and ideal cameras looking at it.

Truth: the world's radiance is known for every direction (``sample_panorama`` of a fixed random
texture), and frames are rendered by sampling it along every pixel centre's ray, so any mosaic
pixel's truth is the world along its own ray.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from rovercam.mosaic.cylindrical import FrameGeometry
from rovercam.synth.world import Panorama, sample_panorama
from rovercam.testing import pointing_camera

STEP_DEG = 0.05  # world texture step; features are blurred to ~3 steps (0.15 deg), 2 frame pixels


@pytest.fixture(scope="session")
def world() -> Panorama:
    rng = np.random.default_rng(42)
    width, height = int(360 / STEP_DEG), int(70 / STEP_DEG) + 1
    noise = rng.random((height, width, 3), dtype=np.float32)
    tex = cv2.GaussianBlur(noise, (0, 0), 3.0, borderType=cv2.BORDER_REFLECT)
    coarse = cv2.GaussianBlur(rng.random((height // 20, width // 20, 3), dtype=np.float32), (0, 0), 1.5)
    coarse = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    data = (0.02 + 0.02 * coarse + 0.03 * (tex - tex.mean()) / tex.std() * 0.25).astype(np.float32)
    return Panorama(data=np.clip(data, 0.002, None), step_deg=STEP_DEG, elevation_max_deg=35.0)


class Scene:
    """Frames of ``world`` through ideal CAHV cameras (SITE_FRAME, centres at the origin)."""

    def __init__(self, world: Panorama, pointings, *, width=320, height=240, hfov_deg=24.0, gains=None):
        # gains: frame gains, frame = gain x truth (what calibration left; docs/mosaics.md#gains)
        self.world = world
        self.width, self.height = width, height
        focal = (width / 2) / math.tan(math.radians(hfov_deg / 2))
        self.models = [pointing_camera(az, el, focal, width, height, roll_deg=roll) for az, el, roll in pointings]
        self.gains = np.ones(len(pointings)) if gains is None else np.asarray(gains, float)
        self.images = [self.render(m) * np.float32(g) for m, g in zip(self.models, self.gains)]

    def render(self, model) -> np.ndarray:
        ys, xs = np.mgrid[0 : self.height, 0 : self.width].astype(float)
        _, d = model.unproject(np.stack([xs.ravel(), ys.ravel()], 1))
        az = np.degrees(np.arctan2(d[:, 1], d[:, 0])).reshape(self.height, self.width)
        el = -np.degrees(np.arcsin(np.clip(d[:, 2], -1, 1))).reshape(self.height, self.width)
        return sample_panorama(self.world, az, el)

    def geoms(self, models=None) -> list[FrameGeometry]:
        return [FrameGeometry(f"F{i}", m, self.width, self.height) for i, m in enumerate(models or self.models)]

    def load(self, i: int) -> np.ndarray:
        return self.images[i]

    def truth(self, az, el) -> np.ndarray:
        return sample_panorama(self.world, np.asarray(az, float), np.asarray(el, float))


@pytest.fixture(scope="session")
def scene_factory(world):
    return lambda pointings, **kw: Scene(world, pointings, **kw)
