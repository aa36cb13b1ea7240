"""Mosaic benchmark: accuracy against truth, speed and memory against Hugin and OpenCV.

The truth problem (:func:`rovercam.testing.make_problem`): 40 frames of 1648x1200 with a
25-degree field of view in two tiers of 20 around the horizon (pointing jittered by up to half a
degree), rendered from the synthetic world at infinity, with per-frame gain errors uniform in
+-15 % that the pipeline is not told about; output: the full-sphere equirectangular grid of
8000x4000 (16000x8000 for the large case). Truth at every output pixel is the world's radiance
along its ray; PSNR is on the display scale (:func:`rovercam.metrics.display_psnr`, white at
0.08 W m^-2 sr^-1 nm^-1) over covered pixels.

Figures:

- ``psnr_exact_db``: exact pointing and radiometry (frames without gain errors), full pipeline;
- ``psnr_gain_errors_db``, ``seam_step_p99_pct``, ``seam_step_p999_pct``: with the gain errors;
  seam step = relative jump of the mosaic/truth ratio across a seam of the index map (mean of 4
  pixels on each side, luminance);
- ``psnr_geometry_only_db``: exact frames, no gain estimation, the default resampling;
  ``psnr_geometry_only_bilinear_db``: the same with bilinear sampling of the frames themselves
  (``kernel="linear"``, ``antialias=False``: the resampling before the pyramid);
- ``psnr_geometry_only_area_db``, ``psnr_geometry_only_bilinear_area_db``: the same two renders
  against another truth, each pixel's footprint average (4 x 4 rays per pixel,
  :func:`rovercam_benchmarks.oversampling.area_truth_at`), what a camera with the grid's pixels
  records; the other figures take the radiance along each pixel's central ray;
  ``seam_step_area_p99_pct``, ``seam_step_area_p999_pct``: the gain-error render's seam steps
  against that truth;
- ``psnr_oracle_db``: the frames with gain errors, the true gains divided out (the render alone);
- ``psnr_oversampled_db``, ``psnr_oversampled_unknown_gains_db``, ``seam_step_oversampled_p99_pct``,
  ``psnr_oversampled_reference_db``, ...: a variant whose frames carry detail ~3x finer than its
  grid (:mod:`rovercam_benchmarks.oversampling`);
- ``psnr_perturbed_db``, ``residual_rms_px``: every frame's label pointing turned by up to 1 degree
  (zero mean: the panorama's overall rotation is unobservable), then refined;
- ``ours_8k_s``/``hugin_8k_s``/``opencv_8k_s`` with their ``*_psnr_db``: the same frames, poses and
  grid, in subprocesses (peak RSS each); ours = gain estimation + multiband render into a tiled
  GeoTIFF; Hugin = ``nona`` (float TIFF remaps) + ``enblend`` (Debian packages; null when not
  installed); OpenCV = ``cv2.detail`` spherical warper with the known cameras, gain compensator,
  DP seam finder, multiband blender (16-bit signed, as shipped);
  ``rss_ratio_vs_hugin``/``rss_ratio_vs_opencv``: our peak RSS at 8k over theirs;
- ``ours_16k_s``, ``ours_16k_peak_rss_mb``: the same at 16000x8000;
- ``pan30k_wall_s``, ``pan30k_peak_rss_mb``: a Mastcam-Z 48 mm pan laid out like the
  ``mastcamz-pan`` sol (3 tiers x 34 frames of 1648x1200) with label pointing errors up to
  1 degree and gain errors, refined, gain-compensated and rendered into a 30000x15000 GeoTIFF.

``quick=True`` halves frame sizes, uses 4000x2000 / 8000x4000 grids and a 15000x7500 pan.
"""
from __future__ import annotations

import json
import logging
import math
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run"]

log = logging.getLogger(__name__)

WHITE = 0.08  # display white radiance, W m^-2 sr^-1 nm^-1 (Navcam/Mastcam-Z config)


# ---------------------------------------------------------------------------------------------
# child processes (peak RSS is measured per process)
# ---------------------------------------------------------------------------------------------
def _child_ours(spec: dict[str, Any]) -> dict[str, Any]:
    from rovercam.mosaic.gains import estimate_gains
    from rovercam.mosaic.projections import EquirectangularProjection
    from rovercam.mosaic.refine import refine_pointing
    from rovercam.mosaic.render import FrameStack, RenderOptions, render_geotiff

    t0 = time.perf_counter()
    geoms = pickle.loads(Path(spec["geoms"]).read_bytes())
    paths = spec["frames"]

    def load(i: int) -> np.ndarray:
        return np.load(paths[i], mmap_mode="r")

    out: dict[str, Any] = {}
    if spec.get("refine"):
        ref = refine_pointing(geoms, load)
        geoms = ref.geoms
        out.update(residual_rms_px=ref.rms_px, refine_s=time.perf_counter() - t0)
    t1 = time.perf_counter()
    gains = estimate_gains(geoms, load)
    out["gains_s"] = time.perf_counter() - t1
    proj = EquirectangularProjection.full_sphere(spec["width"])
    stack = FrameStack(geoms, load, factors=gains.factors, cache_mb=spec.get("cache_mb"))  # None: sized from the tiles
    info = render_geotiff(stack, proj, spec["out"], index_path=spec.get("index"),
                          options=RenderOptions(**{"blend": spec.get("blend", "multiband"), "workers": 2, **spec.get("options", {})}),
                          compress=spec.get("compress"))
    out.update(wall_s=time.perf_counter() - t0, levels=info["levels"], tiles=info["tiles"])
    return out


def _child_opencv(spec: dict[str, Any]) -> dict[str, Any]:
    import cv2

    t0 = time.perf_counter()
    cams = pickle.loads(Path(spec["cams"]).read_bytes())  # [(K, R_cvworld_cam)]
    scale = spec["width"] / (2 * math.pi)
    warper = cv2.PyRotationWarper("spherical", float(scale))
    corners, warped8, warped16, masks = [], [], [], []
    for path, (k, r) in zip(spec["frames"], cams):
        img = np.load(path)
        enc = np.clip(img / WHITE * 8000.0, 0, 32000).astype(np.float32)  # 16-bit signed range
        k32, r32 = np.asarray(k, np.float32), np.asarray(r, np.float32)
        corner, w = warper.warp(enc, k32, r32, cv2.INTER_LINEAR, cv2.BORDER_REFLECT)
        _, m = warper.warp(np.full(img.shape[:2], 255, np.uint8), k32, r32, cv2.INTER_NEAREST, cv2.BORDER_CONSTANT)
        corners.append(tuple(int(v) for v in corner))
        warped16.append(w)
        warped8.append(np.clip(w / 8000.0 * 255.0, 0, 255).astype(np.uint8))
        masks.append(m)
    comp = cv2.detail.ExposureCompensator_createDefault(cv2.detail.ExposureCompensator_GAIN)
    comp.feed(corners=corners, images=[cv2.UMat(x) for x in warped8], masks=[cv2.UMat(m) for m in masks])
    seam = cv2.detail_DpSeamFinder("COLOR")
    seam_masks = seam.find([cv2.UMat(x.astype(np.float32) / 8000.0 * 255.0) for x in warped16], corners,
                           [cv2.UMat(m) for m in masks])
    sizes = [(w.shape[1], w.shape[0]) for w in warped16]
    roi = cv2.detail.resultRoi(corners=corners, sizes=sizes)
    blender = cv2.detail_MultiBandBlender(0, 5)
    blender.prepare(roi)
    for i, (corner, w) in enumerate(zip(corners, warped16)):
        w16 = w.astype(np.int16)
        w16 = comp.apply(i, corner, w16, masks[i])
        w16 = w16.get() if isinstance(w16, cv2.UMat) else w16
        sm = seam_masks[i].get() if isinstance(seam_masks[i], cv2.UMat) else seam_masks[i]
        blender.feed(np.asarray(w16).astype(np.int16), cv2.bitwise_and(sm, masks[i]), corner)
    result, result_mask = blender.blend(None, None)
    wall = time.perf_counter() - t0
    pano = result.astype(np.float32) / 8000.0 * WHITE
    pano[result_mask == 0] = np.nan
    np.save(spec["out"], pano)
    Path(spec["out"] + ".json").write_text(json.dumps({"roi": list(roi)}))
    return {"wall_s": wall}


def _child_main() -> None:
    spec = json.loads(sys.argv[2])
    fn = {"ours": _child_ours, "opencv": _child_opencv}[sys.argv[1]]
    out = fn(spec)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            out["vm_hwm_kb"] = int(line.split()[1])
    print("RESULT " + json.dumps(out), flush=True)


def _run_child(kind: str, spec: dict[str, Any], timeout: float = 1800) -> dict[str, Any]:
    code = "import sys; from rovercam_benchmarks.mosaic import _child_main; _child_main()"
    return run_cmd([sys.executable, "-c", code, kind, json.dumps(spec)], timeout, parse=True)


def run_cmd(cmd: list[str], timeout: float, *, parse: bool = False, cwd: str | None = None) -> dict[str, Any]:
    """Run a command; wall time and peak RSS (MB) of that process via wait4."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd)
        deadline = t0 + timeout
        peak_kb = 0
        while True:
            # VmHWM of the process's own memory map: ru_maxrss would carry the parent's peak
            # over fork + exec
            try:
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise RuntimeError(f"{cmd[0]} timed out after {timeout} s")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed ({proc.returncode}): {stderr[-800:]}")
    res: dict[str, Any] = {"process_wall_s": wall, "peak_rss_mb": peak_kb / 1024.0}
    if parse:
        for line in stdout.splitlines():
            if line.startswith("RESULT "):
                res.update(json.loads(line[7:]))
        if "vm_hwm_kb" in res:  # the child's own final reading, exact
            res["peak_rss_mb"] = max(res["peak_rss_mb"], res.pop("vm_hwm_kb") / 1024.0)
    return res


# ---------------------------------------------------------------------------------------------
# scoring
# ---------------------------------------------------------------------------------------------
def _psnr_grid(image: np.ndarray, problem, az: np.ndarray, el: np.ndarray) -> tuple[float, float]:
    from rovercam.metrics import display_psnr

    covered = np.all(np.isfinite(image), axis=2)
    truth = problem.truth(az, el)
    return display_psnr(image, truth, white_radiance=WHITE, mask=covered), float(covered.mean())


def _read_geotiff(path: str) -> np.ndarray:
    import rasterio

    with rasterio.open(path) as ds:
        return np.moveaxis(ds.read(), 0, -1)


def seam_steps(image: np.ndarray, index: np.ndarray, truth: np.ndarray, *, reach: int = 4) -> np.ndarray:
    """Relative jumps (fraction) of the mosaic/truth luminance ratio across index-map seams.

    For every pair of horizontally or vertically adjacent covered pixels made by different
    frames, the ratio is averaged over ``reach`` pixels on each side along the crossing line.
    """
    ratio = np.nanmean(image, axis=2) / np.maximum(np.mean(truth, axis=2), 1e-9)
    out = []
    for axis in (0, 1):
        r = np.moveaxis(ratio, axis, 1)
        idx = np.moveaxis(index, axis, 1)
        finite = np.isfinite(r)
        rz = np.where(finite, r, 0.0)
        cs = np.concatenate([np.zeros((r.shape[0], 1)), np.cumsum(rz, axis=1)], axis=1)
        cn = np.concatenate([np.zeros((r.shape[0], 1)), np.cumsum(finite, axis=1)], axis=1)
        seam = (idx[:, :-1] != idx[:, 1:]) & (idx[:, :-1] >= 0) & (idx[:, 1:] >= 0)
        rows, cols = np.nonzero(seam[:, reach - 1 : r.shape[1] - reach])
        cols = cols + reach - 1
        left = (cs[rows, cols + 1] - cs[rows, cols + 1 - reach]) / np.maximum(cn[rows, cols + 1] - cn[rows, cols + 1 - reach], 1)
        right = (cs[rows, cols + 1 + reach] - cs[rows, cols + 1]) / np.maximum(cn[rows, cols + 1 + reach] - cn[rows, cols + 1], 1)
        ok = (cn[rows, cols + 1] - cn[rows, cols + 1 - reach] == reach) & (cn[rows, cols + 1 + reach] - cn[rows, cols + 1] == reach)
        out.append(np.abs(right[ok] - left[ok]) / (0.5 * (right[ok] + left[ok])))
    return np.concatenate(out)


# ---------------------------------------------------------------------------------------------
# Hugin and OpenCV inputs
# ---------------------------------------------------------------------------------------------
def _ypr(model) -> tuple[float, float, float]:
    """Hugin yaw, pitch, roll (degrees) of an ideal CAHV camera in SITE_FRAME."""
    from rovercam.camera.coordinates import azimuth_elevation

    a = np.asarray(model.a)
    h = model.internal()
    right = (np.asarray(model.h) - h.hc * a) / h.hs
    az, el = azimuth_elevation(a[None])
    level_right = np.cross([0.0, 0.0, 1.0], a)
    level_right /= np.linalg.norm(level_right)
    level_down = np.cross(a, level_right)
    roll = math.degrees(math.atan2(float(right @ level_down), float(right @ level_right)))
    return float(az[0]), float(el[0]), roll


def _hugin(problem, frame_paths: list[Path], work: Path, width: int, timeout: float) -> dict[str, Any]:
    """nona + enblend on float TIFFs; returns seconds, peak RSS and the panorama."""
    import cv2

    nona, enblend = shutil.which("nona"), shutil.which("enblend")
    if not nona or not enblend:
        return {"status": "unavailable (nona/enblend not installed)"}
    work.mkdir(parents=True, exist_ok=True)
    hfov = math.degrees(2 * math.atan((problem.width / 2.0) / problem.models[0].internal().hs))
    lines = [f"p f2 w{width} h{width // 2} v360 E0 R0 n\"TIFF_m c:NONE r:CROP\"", "m i0"]
    tiffs = []
    for i, path in enumerate(frame_paths):
        tif = work / f"in{i:03d}.tif"
        cv2.imwrite(str(tif), np.load(path)[..., ::-1].astype(np.float32))  # BGR on disk
        tiffs.append(tif)
        y, p, r = _ypr(problem.models[i])
        lines.append(f"i w{problem.width} h{problem.height} f0 v{hfov!r} y{y!r} p{p!r} r{r!r} "
                     f"a0 b0 c0 d0 e0 g0 t0 Va1 Vb0 Vc0 Vd0 Vx0 Vy0 Vm0 n\"{tif.name}\"")
    pto = work / "pano.pto"
    pto.write_text("\n".join(lines) + "\n")
    r1 = run_cmd([nona, "-o", "remap", str(pto)], timeout, cwd=str(work))
    remaps = sorted(str(p) for p in work.glob("remap*.tif"))
    r2 = run_cmd([enblend, "-o", "out.tif", *remaps], timeout, cwd=str(work))
    img = cv2.imread(str(work / "out.tif"), cv2.IMREAD_UNCHANGED)
    return {"status": "ok", "wall_s": r1["process_wall_s"] + r2["process_wall_s"],
            "peak_rss_mb": max(r1["peak_rss_mb"], r2["peak_rss_mb"]), "image": img}


def _opencv_cams(problem) -> list[tuple[np.ndarray, np.ndarray]]:
    """(K, R_cvworld_cam) per frame; OpenCV world = (east, down, north) so its spherical
    longitude is the azimuth and its latitude runs from the zenith."""
    m_cv_site = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    out = []
    for model in problem.models:
        h = model.internal()
        a = np.asarray(model.a)
        x_cam = (np.asarray(model.h) - h.hc * a) / h.hs
        y_cam = (np.asarray(model.v) - h.vc * a) / h.vs
        r_site_cam = np.stack([x_cam, y_cam, a], axis=1)
        k = np.array([[h.hs, 0, h.hc], [0, h.vs, h.vc], [0, 0, 1.0]])
        out.append((k, m_cv_site @ r_site_cam))
    return out


def _place(image: np.ndarray, x0: int, y0: int, width: int, height: int) -> np.ndarray:
    """A cropped panorama whose top-left pixel is (x0, y0) of a periodic full grid."""
    full = np.full((height, width, image.shape[2]), np.nan, np.float32)
    h, w = image.shape[:2]
    ys = slice(max(y0, 0), min(y0 + h, height))
    src_y = slice(ys.start - y0, ys.stop - y0)
    cols = (np.arange(w) + x0) % width
    full[ys, cols] = image[src_y]
    return full


def run(*, quick: bool = False) -> dict[str, object]:
    """Measure the figures of the module docstring (see there); never asserts."""
    from rovercam.testing import make_problem, make_world
    from rovercam.mosaic.gains import estimate_gains
    from rovercam.mosaic.projections import EquirectangularProjection
    from rovercam.mosaic.refine import refine_pointing, rotate_about_centre
    from rovercam.mosaic.cylindrical import FrameGeometry
    from rovercam.metrics import display_psnr
    from rovercam.mosaic.render import FrameStack, RenderOptions, render_mosaic
    from rovercam_benchmarks.oversampling import area_truth_at, figures as oversampled_figures

    scale = 2 if quick else 1
    fw, fh = 1648 // scale, 1200 // scale
    w8, w16, w30 = 8000 // scale, 16000 // scale, 30000 // scale
    res: dict[str, object] = {"frames": 40, "frame_size": f"{fw}x{fh}", "grid_8k": f"{w8}x{w8 // 2}",
                              "grid_16k": f"{w16}x{w16 // 2}", "grid_pan30k": f"{w30}x{w30 // 2}"}
    tmp = Path(tempfile.mkdtemp(prefix="rovercam-bench-mosaic-"))
    try:
        t0 = time.perf_counter()
        world = make_world(1, 0.03 * scale)
        problem = make_problem(world, width=fw, height=fh, seed=3)
        exact_paths = problem.write_frames(tmp / "exact", with_gain=False)
        gain_paths = problem.write_frames(tmp / "gains", with_gain=True)
        res["setup_s"] = round(time.perf_counter() - t0, 2)
        proj8 = EquirectangularProjection.full_sphere(w8)
        az8, el8 = proj8.az_el_grid()
        geoms = problem.geometries()
        opts = RenderOptions(blend="multiband", workers=2)

        def pipeline(paths: list[Path], gs: list[FrameGeometry]) -> tuple[np.ndarray, np.ndarray]:
            load = lambda i: np.load(paths[i], mmap_mode="r")  # noqa: E731
            sol = estimate_gains(gs, load)
            return render_mosaic(FrameStack(gs, load, factors=sol.factors), proj8, options=opts)

        # 1. exact pointing, exact radiometry
        img, _ = pipeline(exact_paths, geoms)
        res["psnr_exact_db"], res["coverage_8k"] = (round(v, 3) for v in _psnr_grid(img, problem, az8, el8))
        # geometry alone (true gains, no estimation), for reference
        img, _ = render_mosaic(FrameStack(geoms, lambda i: np.load(exact_paths[i], mmap_mode="r")), proj8, options=opts)
        res["psnr_geometry_only_db"] = round(_psnr_grid(img, problem, az8, el8)[0], 3)
        covered = np.all(np.isfinite(img), axis=2)
        area = area_truth_at(problem.truth, az8[covered], el8[covered], 360.0 / w8)  # (n, 3), covered only
        res["psnr_geometry_only_area_db"] = round(display_psnr(img[covered], area, white_radiance=WHITE), 3)
        img, _ = render_mosaic(FrameStack(geoms, lambda i: np.load(exact_paths[i], mmap_mode="r")), proj8,
                               options=RenderOptions(blend="multiband", workers=2, kernel="linear", antialias=False))
        res["psnr_geometry_only_bilinear_db"] = round(_psnr_grid(img, problem, az8, el8)[0], 3)  # no pyramid
        res["psnr_geometry_only_bilinear_area_db"] = round(display_psnr(img[covered], area, white_radiance=WHITE), 3)
        # 2. gain errors: PSNR and seam steps
        img, index = pipeline(gain_paths, geoms)
        res["psnr_gain_errors_db"] = round(_psnr_grid(img, problem, az8, el8)[0], 3)
        steps = seam_steps(img, index, problem.truth(az8, el8))
        res["seam_step_p99_pct"] = round(float(np.percentile(steps, 99)) * 100, 4)
        res["seam_step_p999_pct"] = round(float(np.percentile(steps, 99.9)) * 100, 4)
        area_image = np.full(img.shape, np.nan, np.float32)
        area_image[covered] = area
        steps = seam_steps(img, index, area_image)
        res["seam_step_area_p99_pct"] = round(float(np.percentile(steps, 99)) * 100, 4)
        res["seam_step_area_p999_pct"] = round(float(np.percentile(steps, 99.9)) * 100, 4)
        del area, covered, area_image
        feather, _ = render_mosaic(FrameStack(geoms, lambda i: np.load(gain_paths[i], mmap_mode="r")), proj8,
                                   options=RenderOptions(blend="feather"))
        res["psnr_feather_no_gains_db"] = round(_psnr_grid(feather, problem, az8, el8)[0], 3)
        del img, index, feather
        # oracles: the true gains divided out, here and on the oversampled variant
        img, _ = render_mosaic(FrameStack(geoms, lambda i: np.load(gain_paths[i], mmap_mode="r"),
                                          factors=1.0 / np.asarray(problem.gains)), proj8, options=opts)
        res["psnr_oracle_db"] = round(_psnr_grid(img, problem, az8, el8)[0], 3)
        del img
        res.update(oversampled_figures(world, scale=scale, tmp=tmp, seam_steps=seam_steps, psnr=lambda im, t, m:
                                       display_psnr(im, t, white_radiance=WHITE, mask=m)))
        # 3. pointing perturbed by up to 1 degree, refined
        rng = np.random.default_rng(11)
        p = rng.uniform(-1, 1, (len(geoms), 3))
        p -= p.mean(axis=0)
        p *= math.radians(1.0) / np.abs(p).max()
        perturbed = [FrameGeometry(g.product_id, rotate_about_centre(g.model, p[k]), g.width, g.height)
                     for k, g in enumerate(geoms)]
        t0 = time.perf_counter()
        ref = refine_pointing(perturbed, lambda i: np.load(gain_paths[i], mmap_mode="r"))
        res["refine_s"] = round(time.perf_counter() - t0, 2)
        res["residual_rms_px"] = round(ref.rms_px, 4)
        res["residual_before_rms_px"] = round(ref.rms_before_px, 3)
        res["ties"] = ref.ties
        img, _ = pipeline(gain_paths, ref.geoms)
        res["psnr_perturbed_db"] = round(_psnr_grid(img, problem, az8, el8)[0], 3)
        img, _ = pipeline(gain_paths, perturbed)
        res["psnr_perturbed_unrefined_db"] = round(_psnr_grid(img, problem, az8, el8)[0], 3)
        del img
        # 4. speed and memory, same frames (gain errors), poses and grid
        gpath = tmp / "geoms.pkl"
        gpath.write_bytes(pickle.dumps(geoms))
        frames = [str(x) for x in gain_paths]
        r = _run_child("ours", {"geoms": str(gpath), "frames": frames, "width": w8, "out": str(tmp / "ours8k.tif"),
                                "index": str(tmp / "ours8k_index.tif")})
        res["ours_8k_s"] = round(r["wall_s"], 3)
        res["ours_8k_peak_rss_mb"] = round(r["peak_rss_mb"], 1)
        res["ours_psnr_db"] = round(_psnr_grid(_read_geotiff(str(tmp / "ours8k.tif")), problem, az8, el8)[0], 3)
        try:
            h = _hugin(problem, gain_paths, tmp / "hugin", w8, timeout=1800)
        except Exception as exc:  # a tool failing is a figure too, not a crash
            h = {"status": f"failed: {exc}"}
        res["hugin_status"] = h["status"]
        res["hugin_8k_s"] = round(h["wall_s"], 3) if "wall_s" in h else None
        res["hugin_peak_rss_mb"] = round(h["peak_rss_mb"], 1) if "peak_rss_mb" in h else None
        res["hugin_psnr_db"] = None
        if h.get("image") is not None:
            res["hugin_psnr_db"] = _score_hugin(h["image"], tmp / "hugin" / "out.tif", problem, proj8)
        try:
            cams = tmp / "cams.pkl"
            cams.write_bytes(pickle.dumps(_opencv_cams(problem)))
            r = _run_child("opencv", {"cams": str(cams), "frames": frames, "width": w8, "out": str(tmp / "cv.npy")})
            res["opencv_8k_s"] = round(r["wall_s"], 3)
            res["opencv_peak_rss_mb"] = round(r["peak_rss_mb"], 1)
            pano = np.load(tmp / "cv.npy")
            roi = json.loads(Path(str(tmp / "cv.npy") + ".json").read_text())["roi"]
            res["opencv_psnr_db"] = _score_opencv(pano, roi, problem, w8)
        except Exception as exc:
            res["opencv_status"] = f"failed: {exc}"
            res["opencv_8k_s"] = res.get("opencv_8k_s")
            res["opencv_psnr_db"] = None
        for k in ("hugin", "opencv"):
            t = res.get(f"{k}_8k_s")
            res[f"speedup_vs_{k}"] = round(float(t) / float(res["ours_8k_s"]), 2) if t else None  # type: ignore[arg-type]
            m = res.get(f"{k}_peak_rss_mb")
            res[f"rss_ratio_vs_{k}"] = round(float(res["ours_8k_peak_rss_mb"]) / float(m), 2) if m else None  # type: ignore[arg-type]
        # 5. 16000x8000
        r = _run_child("ours", {"geoms": str(gpath), "frames": frames, "width": w16, "out": str(tmp / "ours16k.tif")})
        res["ours_16k_s"] = round(r["wall_s"], 3)
        res["ours_16k_peak_rss_mb"] = round(r["peak_rss_mb"], 1)
        for f in (tmp / "exact").glob("*.npy"):
            f.unlink()
        for f in tmp.glob("*.tif"):
            f.unlink()
        # 6. the 102-frame Mastcam-Z pan at 30000x15000, refined from perturbed label pointing
        pan = _mastcamz_pan(world, scale)
        pan_paths = pan.write_frames(tmp / "pan", with_gain=True)
        rng = np.random.default_rng(12)
        p = rng.uniform(-1, 1, (len(pan.models), 3))
        p -= p.mean(axis=0)
        p *= math.radians(1.0) / np.abs(p).max()
        pan_geoms = [FrameGeometry(g.product_id, rotate_about_centre(g.model, p[k]), g.width, g.height)
                     for k, g in enumerate(pan.geometries())]
        ppath = tmp / "pan_geoms.pkl"
        ppath.write_bytes(pickle.dumps(pan_geoms))
        r = _run_child("ours", {"geoms": str(ppath), "frames": [str(x) for x in pan_paths], "width": w30,
                                "out": str(tmp / "pan30k.tif"), "refine": True, "compress": "zstd"})
        res["pan30k_frames"] = len(pan.models)
        res["pan30k_wall_s"] = round(r["wall_s"], 2)
        res["pan30k_peak_rss_mb"] = round(r["peak_rss_mb"], 1)
        res["pan30k_refine_s"] = round(r.get("refine_s", float("nan")), 2)
        res["pan30k_residual_rms_px"] = round(r.get("residual_rms_px", float("nan")), 4)
        res["pan30k_file_mb"] = round((tmp / "pan30k.tif").stat().st_size / 1e6, 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def _mastcamz_pan(world, scale: int):
    """102 frames like the ``mastcamz-pan`` sol: 3 tiers x 34 around the horizon, 48 mm
    (IFOV 7.4 um / 48 mm), 1648x1200 (halved when ``scale`` is 2)."""
    from rovercam.testing import make_problem

    hfov = math.degrees(2 * math.atan(1648 * 0.0074 / 2 / 48.0))
    return make_problem(world, columns=34, tiers=(-14.5, -6.0, 2.5), width=1648 // scale, height=1200 // scale,
                        hfov_deg=hfov, jitter_deg=0.0, seed=4)


def _score_hugin(img: np.ndarray, path: Path, problem, proj) -> float | None:
    """PSNR of enblend's output: it is the cropped canvas, offset by the TIFF position tags."""
    x0, y0 = _tiff_position(path)
    rgb = img[..., :3][..., ::-1].astype(np.float32)
    if img.shape[2] == 4:
        rgb[img[..., 3] <= 0] = np.nan
    full = _place(rgb, x0, y0, proj.width, proj.height)
    az, el = proj.az_el_grid()
    return round(_psnr_grid(full, problem, az, el)[0], 3)


def _tiff_position(path: Path) -> tuple[int, int]:
    """(x, y) pixel offset of a TIFF layer: XPOSITION/YPOSITION (inches) x X/YRESOLUTION (the
    first IFD; GDAL does not expose these tags)."""
    import struct

    data = path.read_bytes()
    end = "<" if data[:2] == b"II" else ">"
    if struct.unpack(end + "H", data[2:4])[0] == 43:  # BigTIFF
        ifd = struct.unpack(end + "Q", data[8:16])[0]
        count, size, head, fmt = struct.unpack(end + "Q", data[ifd:ifd + 8])[0], 20, 8, "HHQQ"
    else:
        ifd = struct.unpack(end + "I", data[4:8])[0]
        count, size, head, fmt = struct.unpack(end + "H", data[ifd:ifd + 2])[0], 12, 2, "HHII"
    vals: dict[int, float] = {}
    for k in range(count):
        tag, typ, _, off = struct.unpack(end + fmt, data[ifd + head + k * size: ifd + head + (k + 1) * size])
        if tag in (282, 283, 286, 287) and typ == 5:
            num, den = struct.unpack(end + "II", data[off:off + 8])
            vals[tag] = num / den if den else 0.0
    return (int(round(vals.get(286, 0.0) * vals.get(282, 1.0))), int(round(vals.get(287, 0.0) * vals.get(283, 1.0))))


def _score_opencv(pano: np.ndarray, roi: list[int], problem, width: int) -> float:
    step = 360.0 / width
    h, w = pano.shape[:2]
    u = (np.arange(w) + roi[0]) * step  # degrees from +z (north) towards +x (east): the azimuth
    v = (np.arange(h) + roi[1]) * step  # degrees from the zenith
    az = np.broadcast_to(u, (h, w))
    el = np.broadcast_to(90.0 - v[:, None], (h, w))
    return round(_psnr_grid(pano, problem, az, el)[0], 3)


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.INFO)
    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
