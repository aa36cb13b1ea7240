"""EDL benchmark: descent orthomosaic and track accuracy against truth, videos, speed, memory.

Data: the generator's ``edl`` descent (:func:`rovercam.testing.make_edl_sol`,
:mod:`rovercam.synth.shots`: 74 RDCAM frames from 10 km to touchdown, 16 LCAM, 6 PUCAM with the
parachute, 6 DDCAM and 6 RUCAM on the sky crane), with exact label poses; the benchmark then gives every down-look label a pose knowledge error before
the pipeline sees it: a random rotation about the camera centre (``label_errors[0]`` deg, sigma
per axis) and a centre shift (``label_errors[1]`` % of the altitude, sigma per axis). The
pipeline (in a child process, so its peak RSS is its own): read + frame chain for every
product, then per down-look camera :func:`rovercam.edl.solve_descent` over the truth DEM (the
"pre-landing orbital DEM"), per up-look camera stabilized display frames, an MP4 and a contact
sheet, and events.

Figures (RDCAM; ``*_coarse_labels``: the same with 0.5 deg / 3 % label errors, not timed):

- ``ortho_rms_px``: RMS tile shift (64 x 64 output pixels, phase correlation,
  :mod:`rovercam.edl.scoring`) over every measured tile of every orthomosaic level that a truth
  orthoimage level (``truth/dem/*_ortho.png``) can score (truth cell <= 1.5 x the level's cell),
  in output pixels of the level (a tile counts only when its shift is confirmed by a second
  correlation at the displaced window: a false peak does not re-measure to zero);
- ``ortho_model_rms_px``, ``ortho_model_within_1px_pct``: the same tiles' shifts computed from the
  camera models the levels were drawn with against the generator's true ones
  (:func:`rovercam.edl.scoring.model_shifts`): exact over the truth DEM and independent of pixels,
  so resampling cannot change them; the image figure above estimates them;
- ``ortho_coverage_pct``: the largest share of the covered tiles (inside data and truth) over
  which the shift RMS is <= 1 px (best tiles first; unmeasured tiles count against it): the
  issue's "<= 1 px RMS over >= 90 % of the covered area"; ``ortho_within_1px_pct``: share of
  covered tiles each within 1 px; ``ortho_measured_pct``; ``ortho_psnr_db``: display-luminance
  PSNR against the albedo truth after the best gain, mean over levels; ``ortho_per_level``;
- ``altitude_err_pct``: max over RDCAM frames of |recovered camera height - true| / true
  altitude, % (true camera centres from the manifest); ``altitude_err_pct_label``: the same
  for the perturbed labels; ``lcam_altitude_err_pct`` for LCAM;
- ``video_frames_ok``: every MP4 decoded (``mp4_frames``, OpenCV) has the frame count and
  size written;
- ``frames_per_s``: products through read + chain + EDL products per second of wall time (whole
  sequence, 2 cores shared); ``peak_rss_mb``: the child's peak RSS; ``frames``, ``wall_s``,
  ``synth_s``.

``quick=True`` uses every 3rd RDCAM frame, no LCAM and 3 frames per up-look camera.
"""
from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from rovercam.testing import edl_frames, make_edl_sol, score_levels, true_models

__all__ = ["run"]

log = logging.getLogger(__name__)

_UP = ("EDL_PUCAM1", "EDL_DDCAM", "EDL_RUCAM")


def _altitude_errors(track_or_models: dict[str, Any], manifest: Any) -> float:
    errs = []
    for pid, c in track_or_models.items():
        ft = manifest.frame(pid)
        true_c = np.asarray(ft.camera_centre_site)
        alt = float(ft.extra["altitude_m"])
        errs.append(abs(float(c[2]) - float(true_c[2])) / alt)
    return 100.0 * max(errs) if errs else float("nan")


def _descent_figures(rd: Any, frames: list, sol_dir: Path, manifest: Any, suffix: str,
                     truth: dict[str, Any]) -> dict[str, Any]:
    scores = score_levels(rd.levels, sol_dir, models=rd.models, truth_models=truth)
    out = {f"{k}{suffix}": v for k, v in scores.items()}
    out[f"altitude_err_pct{suffix}"] = _altitude_errors(
        {t["product_id"]: (t["north_m"], t["east_m"], t["z_m"]) for t in rd.track}, manifest)
    out[f"altitude_err_pct_label{suffix}"] = _altitude_errors(
        {f.product_id: np.asarray(f.camera_model.c) for f in frames}, manifest)
    out[f"pose_rms_px{suffix}"] = ([round(rd.poses.rms_before_px, 3), round(rd.poses.rms_after_px, 3)]
                                   if rd.poses else None)
    return out


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    """The measured pipeline (in a child process), then the scoring (not timed)."""
    from rovercam.edl.descent import solve_descent
    from rovercam.edl.events import detect_events
    from rovercam.edl.ground import load_dem
    from rovercam.edl.sequence import DOWN_LOOKING, EdlFrame, assess_quality
    from rovercam.edl.video import contact_sheet, display_frames
    from rovercam.storage.video import mp4_frames, write_mp4
    from rovercam.synth.truth import SolManifest

    sol_dir = Path(spec["sol"])
    manifest = SolManifest.from_json((sol_dir / "truth" / "manifest.json").read_text())
    dem = load_dem(sol_dir / "truth" / "dem" / "dem.json")
    fine, coarse = spec["label_errors"], spec["label_errors_coarse"]
    t0 = time.perf_counter()
    frames = edl_frames(sol_dir, pointing_error_deg=fine[0], position_error_pct=fine[1], seed=1)
    t_chain = time.perf_counter() - t0
    results, videos = {}, {}
    events = []
    for iid, fl in frames.items():
        edl = sorted((EdlFrame.from_chain(f) for f in fl), key=lambda f: f.time_s)
        if iid in DOWN_LOOKING:
            results[iid] = solve_descent(edl, dem)
        else:
            quality = assess_quality(edl)
            good = [f for f, q in zip(edl, quality) if q.ok]
            shown = display_frames([f.image for f in good])
            path = Path(spec["tmp"]) / f"{iid}.mp4"
            write_mp4(shown, path, fps=4.0)
            contact_sheet(shown)
            videos[iid] = (path, len(shown), shown[0].shape[:2])
            events += [e.to_dict() for e in detect_events(edl, quality)]
    wall = time.perf_counter() - t0
    n = sum(len(v) for v in frames.values())
    out: dict[str, Any] = {"frames": n, "wall_s": wall, "chain_s": t_chain, "frames_per_s": n / wall,
                           "events": [f"{e['instrument']}:{e['kind']}" for e in events],
                           "label_errors": f"{fine[0]} deg, {fine[1]} % of altitude (sigma per axis)"}
    truth = true_models(sol_dir, "EDL_RDCAM")
    out.update(_descent_figures(results["EDL_RDCAM"], frames["EDL_RDCAM"], sol_dir, manifest, "", truth))
    out["rdcam_skipped"] = len(results["EDL_RDCAM"].skipped)
    if "LCAM" in results:
        lc = results["LCAM"]
        out["lcam_altitude_err_pct"] = _altitude_errors(
            {t["product_id"]: (t["north_m"], t["east_m"], t["z_m"]) for t in lc.track}, manifest)
        out["lcam_levels"] = len(lc.levels)
    ok = True
    for iid, (path, count, (h, w)) in videos.items():
        sizes = [img.shape[:2] for img in mp4_frames(path)]
        ok &= len(sizes) == count and set(sizes) == {(h, w)}
    out["video_frames_ok"] = bool(ok)
    # coarse labels (RDCAM only, not timed): what the refinement alone achieves
    rd_frames = edl_frames(sol_dir, pointing_error_deg=coarse[0], position_error_pct=coarse[1], seed=1,
                           instruments=("EDL_RDCAM",))["EDL_RDCAM"]
    edl = sorted((EdlFrame.from_chain(f) for f in rd_frames), key=lambda f: f.time_s)
    out.update(_descent_figures(solve_descent(edl, dem), rd_frames, sol_dir, manifest, "_coarse_labels", truth))
    out["label_errors_coarse"] = f"{coarse[0]} deg, {coarse[1]} % of altitude (sigma per axis)"
    return out


def _child_main() -> None:
    spec = json.loads(sys.argv[1])
    out = _child(spec)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            out["vm_hwm_kb"] = int(line.split()[1])
    print("RESULT " + json.dumps(out), flush=True)


def run(*, quick: bool = False) -> dict[str, object]:
    """Generate the EDL data, run the pipeline in a child process, score it (module docstring)."""
    from rovercam_benchmarks.mosaic import run_cmd

    with tempfile.TemporaryDirectory(prefix="rovercam-bench-edl-") as tmp:
        sol_dir = Path(tmp) / "sol"
        t0 = time.perf_counter()
        if quick:
            make_edl_sol(sol_dir, rdcam_step=3, lcam=False, uplook=3)
        else:
            make_edl_sol(sol_dir)
        synth_s = time.perf_counter() - t0
        spec = {"sol": str(sol_dir), "tmp": tmp, "label_errors": [0.1, 0.5],
                "label_errors_coarse": [0.5, 3.0]}
        code = "import sys; from rovercam_benchmarks.edl import _child_main; _child_main()"
        res = run_cmd([sys.executable, "-c", code, json.dumps(spec)], 3600, parse=True)
    out: dict[str, object] = {k: res[k] for k in (
        "ortho_rms_px", "ortho_coverage_pct", "altitude_err_pct", "frames_per_s", "peak_rss_mb")}
    for k, v in res.items():
        if k not in out and k != "process_wall_s":
            out[k] = v
    out["synth_s"] = synth_s
    out["quick"] = quick
    return out
