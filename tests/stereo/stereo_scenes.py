"""Analytic stereo scenes for the stereo tests: textured planes and spheres, ray-cast per pixel.

Two CAHVOR cameras 0.42 m apart (a Navcam-like baseline) look forward along +x in
ROVER_NAV_FRAME (+x forward, +y right, +z down), almost level (0.26 deg down). Each pixel's ray (the
model's own ``unproject``, distortion included) is intersected with the scene; the pixel value
is a sum of random plane waves of the 3-D hit point (wavelengths 3-12 cm: a texture with no
period, band-limited so it does not alias), averaged over 2 x 2 sub-pixel rays. Truth (range,
XYZ, normal, visibility from the other eye) comes from the same intersections.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rovercam.camera import CAHVOR, rotation_from_yaw_pitch_roll

BASELINE_M = 0.42
FOCAL_PX = 500.0
SIZE = (640, 480)


@dataclass(frozen=True)
class Plane:
    point: tuple[float, float, float]
    normal: tuple[float, float, float]  # any orientation; unit-normalised on use

    def hit(self, origins, dirs):
        n = np.asarray(self.normal, float) / np.linalg.norm(self.normal)
        denom = dirs @ n
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((np.asarray(self.point) - origins) @ n) / denom
        t = np.where(t > 0, t, np.inf)
        return t, np.broadcast_to(n, dirs.shape)


@dataclass(frozen=True)
class Sphere:
    centre: tuple[float, float, float]
    radius: float

    def hit(self, origins, dirs):
        oc = origins - np.asarray(self.centre)
        b = np.einsum("ij,ij->i", oc, dirs)
        c = np.einsum("ij,ij->i", oc, oc) - self.radius ** 2
        disc = b * b - c
        with np.errstate(invalid="ignore"):
            t = -b - np.sqrt(disc)
        t = np.where((disc > 0) & (t > 0), t, np.inf)
        p = origins + np.where(np.isfinite(t), t, 0)[:, None] * dirs
        return t, (p - np.asarray(self.centre)) / self.radius


@dataclass(frozen=True)
class Scene:
    surfaces: tuple
    seed: int = 0
    waves: dict = field(default_factory=dict, compare=False)

    def intersect(self, origins, dirs):
        """Nearest hit: distance t along unit ``dirs``, surface normal, (N,) and (N, 3)."""
        best = np.full(len(dirs), np.inf)
        normal = np.full(dirs.shape, np.nan)
        for s in self.surfaces:
            t, n = s.hit(origins, dirs)
            closer = t < best
            best = np.where(closer, t, best)
            normal[closer] = n[closer]
        return best, normal

    def texture(self, points):
        rng = np.random.default_rng(self.seed)
        k_dirs = rng.normal(size=(48, 3))
        k_dirs /= np.linalg.norm(k_dirs, axis=1, keepdims=True)
        wavelengths = rng.uniform(0.04, 0.15, 48)
        phases = rng.uniform(0, 2 * np.pi, 48)
        k = k_dirs * (2 * np.pi / wavelengths)[:, None]
        value = np.zeros(len(points))
        for i in range(48):
            value += np.cos(points @ k[i] + phases[i])
        return 1.0 + 0.1 * value  # radiance-like, positive


def camera_pair(*, distorted: bool = True) -> tuple[CAHVOR, CAHVOR]:
    """Left and right CAHVOR models, ROVER_NAV_FRAME, 0.26 deg down, baseline along +y."""
    r_nav_cam = rotation_from_yaw_pitch_roll(0.0, -0.2618, 0.0)
    cams = []
    for dy in (0.0, BASELINE_M):
        c = np.array([0.0, dy, -1.5])
        a = r_nav_cam @ np.array([1.0, 0.0, 0.0])
        right = r_nav_cam @ np.array([0.0, 1.0, 0.0])
        down = r_nav_cam @ np.array([0.0, 0.0, 1.0])
        hc, vc = (SIZE[0] - 1) / 2 + 3.0, (SIZE[1] - 1) / 2 - 2.0
        h = FOCAL_PX * right + hc * a
        v = FOCAL_PX * down + vc * a
        o = a + (np.array([0.002, -0.001, 0.001]) if distorted else 0.0)
        r = (0.0, -0.02, 0.005) if distorted else (0.0, 0.0, 0.0)
        cams.append(CAHVOR(c, a, h, v, o / np.linalg.norm(o), r))
    return cams[0], cams[1]


def hazcam_pair(*, baseline_m: float = 0.9, height_m: float = 0.8, pitch_deg: float = 45.0,
                focal_px: float = 300.0) -> tuple[CAHVOR, CAHVOR]:
    """A wide pair low over level ground (z = 0), looking down: steep ground like a Hazcam's.

    With the defaults the ground's disparity grows by ~1 px per row (baseline / height), from
    ~15 px at the top of the frame to ~430 px at the bottom (ranges 0.8-7 m).
    """
    r_nav_cam = rotation_from_yaw_pitch_roll(0.0, -pitch_deg, 0.0)
    cams = []
    for dy in (0.0, baseline_m):
        c = np.array([0.0, dy, -height_m])
        a = r_nav_cam @ np.array([1.0, 0.0, 0.0])
        h = focal_px * (r_nav_cam @ np.array([0.0, 1.0, 0.0])) + (SIZE[0] - 1) / 2 * a
        v = focal_px * (r_nav_cam @ np.array([0.0, 0.0, 1.0])) + (SIZE[1] - 1) / 2 * a
        cams.append(CAHVOR(c, a, h, v, a, (0.0, -0.01, 0.0)))
    return cams[0], cams[1]


def pixel_grid(width: int, height: int) -> np.ndarray:
    gx, gy = np.meshgrid(np.arange(width, dtype=float), np.arange(height, dtype=float))
    return np.column_stack([gx.ravel(), gy.ravel()])


def render(scene: Scene, model, size=SIZE, *, noise: float = 0.002, seed: int = 1,
           supersample: bool = True) -> np.ndarray:
    """(H, W) float32 image of ``scene`` through ``model``, 2 x 2 supersampled, with noise."""
    w, h = size
    acc = np.zeros(w * h)
    offsets = [(ox, oy) for ox in (-0.25, 0.25) for oy in (-0.25, 0.25)] if supersample else [(0, 0)]
    for ox, oy in offsets:
        origins, dirs = model.unproject(pixel_grid(w, h) + (ox, oy))
        t, _ = scene.intersect(origins, dirs)
        hit = np.isfinite(t)
        value = np.zeros(w * h)
        value[hit] = scene.texture(origins[hit] + t[hit, None] * dirs[hit])
        acc += value / len(offsets)
    rng = np.random.default_rng(seed)
    image = acc.reshape(h, w) + rng.normal(0, noise, (h, w))
    return image.astype(np.float32)


@dataclass(frozen=True)
class Truth:
    xyz: np.ndarray       # (H, W, 3) true points on the rectified left grid (NaN: no hit)
    range: np.ndarray     # (H, W)
    normal: np.ndarray    # (H, W, 3) toward the camera
    disparity: np.ndarray  # (H, W) x_left - x_right in the rectified pair
    visible: np.ndarray   # (H, W) bool: seen by both original eyes, not occluded


def truth(scene: Scene, products, left, right, size=SIZE) -> Truth:
    """Truth on the products' rectified left grid, from the original models ``left``, ``right``."""
    rl, rr = products.left_model, products.right_model
    w, h = size
    px = pixel_grid(w, h)
    origins, dirs = rl.unproject(px)
    t, normal = scene.intersect(origins, dirs)
    p = origins + np.where(np.isfinite(t), t, np.nan)[:, None] * dirs
    normal = np.where((np.einsum("ij,ij->i", normal, dirs) > 0)[:, None], -normal, normal)
    d_true = px[:, 0] - rr.project(p)[:, 0]
    # visible from the right eye: inside its original image and the first hit along its ray
    right_px = right.project(p)
    inside = ((right_px[:, 0] >= 0) & (right_px[:, 0] <= w - 1)
              & (right_px[:, 1] >= 0) & (right_px[:, 1] <= h - 1))
    to_p = p - right.c
    dist = np.linalg.norm(to_p, axis=1)
    with np.errstate(invalid="ignore"):
        t_r, _ = scene.intersect(np.broadcast_to(right.c, p.shape), to_p / dist[:, None])
    unoccluded = np.abs(t_r - dist) < 1e-6 * np.maximum(dist, 1)
    left_px = left.project(p)
    inside_left = ((left_px[:, 0] >= 0) & (left_px[:, 0] <= w - 1)
                   & (left_px[:, 1] >= 0) & (left_px[:, 1] <= h - 1))
    visible = np.isfinite(t) & inside & unoccluded & inside_left
    return Truth(p.reshape(h, w, 3), t.reshape(h, w), normal.reshape(h, w, 3),
                 d_true.reshape(h, w), visible.reshape(h, w))


def slanted_plane() -> Scene:
    """A plane 5 m ahead, turned 40 deg toward the right and tilted 30 deg up (ranges 3-9 m)."""
    n = (-np.cos(np.radians(40)), np.sin(np.radians(40)), -0.6)
    return Scene((Plane((5.0, 0.0, -1.0), n),), seed=3)


def level_ground() -> Scene:
    """Level ground at z = 0 (ROVER_NAV_FRAME, +z down) with two rocks on it (occlusions)."""
    return Scene((Plane((0.0, 0.0, 0.0), (0.0, 0.0, -1.0)), Sphere((1.6, 0.1, -0.05), 0.12),
                  Sphere((2.6, 0.9, -0.1), 0.2)), seed=7)


def sphere_before_wall() -> Scene:
    """A 0.45 m sphere 3 m ahead in front of a wall 6.5 m ahead (occlusions at its sides)."""
    return Scene((Sphere((3.2, 0.2, -0.9), 0.45), Plane((6.5, 0.0, 0.0), (-1.0, 0.15, 0.05))), seed=5)
