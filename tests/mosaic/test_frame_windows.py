"""Frames read per tile through windows, and the frame cache sized from the tiles.

The render reads the frame itself (pyramid level 0, unfiltered) per tile and frame, only the
window its samples reach (``FrameStack.window``, ``resample.read_box``): the pixels must be those
of the whole corrected frame, and the mosaic the same as when every frame is held whole. Samples
agree to float32 rounding (OpenCV's remap takes another code path, another summation order, for
pixels whose taps reach an array's border: a window's border lies where the whole frame has
none), so sampled values are compared to 1e-6 relative.
"""
from __future__ import annotations

import numpy as np
import pytest

import rovercam.mosaic.render as render_module
from rovercam.mosaic.cylindrical import FrameGeometry
from rovercam.mosaic.projections import CylindricalProjection, EquirectangularProjection
from rovercam.mosaic.render import FrameStack, RenderOptions, render_mosaic
from rovercam.mosaic.resample import footprints, make_level, read_box, supersample

ROW = [(az, -5.0, 0.0) for az in (20.0, 40.0, 60.0)]
RING = [(az, el, 0.0) for az in range(0, 360, 30) for el in (-8.0, 8.0)]  # 24 frames, all around


def _holed(images: list[np.ndarray]) -> list[np.ndarray]:
    """The frames, the second with a no-data hole and a clipped patch."""
    out = [im.copy() for im in images]
    out[1][40:70, 100:160] = np.nan
    out[1][150:160, 30:60] = 0.2
    return out


def test_a_window_holds_the_corrected_frame_pixel_for_pixel():
    rng = np.random.default_rng(5)
    frames = _holed([rng.random((240, 320, 3)).astype(np.float32) * 0.05 for _ in range(2)])
    geoms = [FrameGeometry(f"F{i}", None, 320, 240) for i in range(2)]
    stack = FrameStack(geoms, lambda i: frames[i], factors=[1.2, 0.9], offsets=[0.0, 0.003], saturation=0.1)
    for i in range(2):
        whole = stack.level(i, 0)
        for x0, x1, y0, y1 in [(0, 320, 0, 240), (90, 170, 30, 80), (0, 40, 200, 240), (25, 60, 140, 165)]:
            win = stack.window(i, (x0, x1, y0, y1))
            assert win.origin == (x0, y0) and win.image.shape == (y1 - y0, x1 - x0, 3)
            np.testing.assert_array_equal(win.image, whole.image[y0:y1, x0:x1])
            for part, full in ((win.valid, whole.valid), (win.safe, whole.safe)):
                if full is None:
                    assert part is None
                else:
                    np.testing.assert_array_equal(part, full[y0:y1, x0:x1])
    assert stack.validity(0) is None
    np.testing.assert_array_equal(stack.validity(1), stack.level(1, 0).valid)


@pytest.mark.parametrize("kernel", ["cubic", "lanczos"])
def test_sampling_a_window_reads_what_sampling_the_whole_level_reads(kernel):
    # a rotated, reducing map with sub-samples and a map reaching past the frame's edges
    rng = np.random.default_rng(2)
    image = rng.random((200, 300, 3)).astype(np.float32)
    valid = np.ones((200, 300), np.float32)
    valid[90:100, 150:170] = 0.0
    image[valid == 0] = 0.0
    lvl = make_level(image, valid)
    yy, xx = np.mgrid[0:60, 0:80].astype(np.float32)
    a = np.radians(12.0)
    for (ox, oy) in [(120.0, 60.0), (-20.0, 150.0), (250.0, -10.0)]:
        mx = (ox + 2.6 * (xx * np.cos(a) - yy * np.sin(a))).astype(np.float32)
        my = (oy + 2.6 * (xx * np.sin(a) + yy * np.cos(a))).astype(np.float32)
        where = rng.random(mx.shape) < 0.5
        feet = footprints(mx, my, 4, where=where)
        x0, x1, y0, y1 = read_box(mx, my, 300, 200, kernel, feet=feet)
        assert (x1 - x0) * (y1 - y0) < 300 * 200
        win = make_level(np.ascontiguousarray(image[y0:y1, x0:x1]), np.ascontiguousarray(valid[y0:y1, x0:x1]))
        win.origin = (x0, y0)
        full, vf = supersample(lvl, mx, my, 4, kernel=kernel, where=where, feet=feet)
        part, vp = supersample(win, mx, my, 4, kernel=kernel, where=where, feet=feet)
        np.testing.assert_allclose(part, full, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(vp, vf, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("prefilter", ["supersample", "footprint"])
def test_memory_mapped_frames_render_as_frames_held_whole(scene_factory, tmp_path, monkeypatch, prefilter):
    sc = scene_factory(ROW)
    frames = _holed(sc.images)
    paths = []
    for i, im in enumerate(frames):
        paths.append(tmp_path / f"F{i}.npy")
        np.save(paths[-1], im)
    proj = CylindricalProjection(0.0, 8.0, 0.12, 666, 216)  # frames reduced 1.6x: level 0, 3 x 3 sub-samples
    opts = RenderOptions(tile=128, prefilter=prefilter, kernel="cubic" if prefilter == "supersample" else "lanczos")
    factors = [1.1, 0.95, 1.0]

    def mapped(i: int) -> np.ndarray:
        return np.load(paths[i], mmap_mode="r")

    img, idx = render_mosaic(FrameStack(sc.geoms(), mapped, factors=factors), proj, options=opts)
    ref, ref_idx = render_mosaic(FrameStack(sc.geoms(), lambda i: frames[i], factors=factors), proj, options=opts)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(img, ref)
    # the same with every window the whole frame
    boxes = []

    def whole_frame(mx, my, w, h, kernel, feet=None):
        boxes.append(read_box(mx, my, w, h, kernel, feet=feet))
        return 0, w, 0, h

    monkeypatch.setattr(render_module, "read_box", whole_frame)
    whole, whole_idx = render_mosaic(FrameStack(sc.geoms(), mapped, factors=factors), proj, options=opts)
    np.testing.assert_array_equal(whole_idx, idx)
    np.testing.assert_allclose(whole, img, rtol=1e-6, atol=1e-8, equal_nan=True)
    if prefilter == "supersample":  # (the footprint prefilter reads level 0 only where it does not reduce)
        assert any((x1 - x0) * (y1 - y0) < 0.5 * 320 * 240 for x0, x1, y0, y1 in boxes)
    assert (idx >= 0).mean() > 0.5


@pytest.mark.parametrize("mapped", [True, False])
def test_the_frame_cache_stays_within_the_bound_the_tiles_give(scene_factory, tmp_path, monkeypatch, mapped):
    sc = scene_factory(RING)
    if mapped:
        for i, im in enumerate(sc.images):
            np.save(tmp_path / f"F{i}.npy", im)
    load = (lambda i: np.load(tmp_path / f"F{i}.npy", mmap_mode="r")) if mapped else sc.load
    proj = EquirectangularProjection.full_sphere(3600)  # 0.1 deg: the frames' 0.075 deg pixels, level 0
    stack = FrameStack(sc.geoms(), load)
    peak, bound = [0], []
    for name in ("level", "validity", "window"):  # every way pixels enter the cache
        def tracked(*args, _fn=getattr(FrameStack, name), **kw):
            out = _fn(*args, **kw)
            peak[0] = max(peak[0], stack.cache_bytes)
            return out
        monkeypatch.setattr(FrameStack, name, tracked)
    sized = render_module.frame_cache_bytes
    monkeypatch.setattr(render_module, "frame_cache_bytes", lambda *a: bound.append(sized(*a)) or bound[-1])
    img, idx = render_mosaic(stack, proj, options=RenderOptions(tile=128))
    every_frame = sum(im.nbytes for im in sc.images)
    assert bound and bound[0] < every_frame / 2  # the tiles in flight meet a few frames of the ring
    assert peak[0] <= bound[0]
    if mapped:
        assert peak[0] == 0  # memory maps are read per window, never cached; no masks to keep
    else:
        assert peak[0] > 0  # frames held in memory by the caller are kept as loaded, not copied
    assert (idx >= 0).any() and np.isfinite(img[idx >= 0]).all()
