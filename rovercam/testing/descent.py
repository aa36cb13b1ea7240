"""EDL test data: a generated descent sol, its calibrated frames, and the orthomosaic score.

:func:`make_edl_sol` generates a subset of the synthetic ``edl`` profile (:mod:`rovercam.synth`:
RDCAM frames from 10 km to touchdown, LCAM, and the up-look cameras), every kept shot exactly as
in the whole profile, with exact label poses. :func:`edl_frames` reads and calibrates it,
optionally giving the down-look labels a seeded pose knowledge error. :func:`score_levels`
scores orthomosaic levels against the generator's truth orthoimages
(:mod:`rovercam.edl.scoring`): RMS tile shift over every measured 64 x 64 tile of every level a
truth orthoimage can score (truth cell <= 1.5 x the level's cell), in output pixels; given the
models the levels were drawn with and :func:`true_models`, also the exact shifts those models
cause (:func:`rovercam.edl.scoring.model_shifts`), which the image measure estimates.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["make_edl_sol", "edl_frames", "true_models", "score_levels"]


def make_edl_sol(out: str | Path, *, seed: int = 5, sol: int = 100, rdcam_step: int = 1,
                 rdcam_min_alt_m: float = 0.0, rdcam_max_alt_m: float = 1e9, lcam: bool = True, uplook: int | None = None,
                 pointing_error_deg: float = 0.0, workers: int = 2) -> Any:
    """Generate an EDL sol (a subset of the ``edl`` profile; every kept shot as in the whole).

    Parameters
    ----------
    rdcam_step : int
        Keep every n-th RDCAM frame (by index from 10 km).
    rdcam_min_alt_m, rdcam_max_alt_m : float
        Keep RDCAM frames between these altitudes (m).
    lcam : bool
        Keep the 16 LCAM frames.
    uplook : int, optional
        Frames kept per up-look / rover-view camera (default all 6).

    Returns
    -------
    SolManifest
    """
    from rovercam.synth.mission import generate_terrain_sol
    from rovercam.synth.sol import sclk_to_utc

    def keep(shot: Any) -> bool:
        iid = shot.instrument_id
        if iid == "EDL_RDCAM":
            return round(shot.seconds / 3.0) % rdcam_step == 0 and \
                rdcam_min_alt_m <= shot.altitude_m <= rdcam_max_alt_m
        if iid == "LCAM":
            return lcam
        if uplook is None:
            return True
        k = (shot.seconds + 200) / 20 if iid == "EDL_PUCAM1" else (shot.seconds - 300) / 2
        return round(k) < uplook

    return generate_terrain_sol(Path(out), sol=sol, profile="edl", seed=seed, settings=None,
                                progress=None, pointing_error_deg=pointing_error_deg, utc=sclk_to_utc,
                                workers=workers, select=keep)


def _settings(sol_dir: Path) -> Any:
    from rovercam import config
    # the sol's own camera tables (calibration/cameras/*.toml) come with its search path
    return config.load(environ={}, overrides={"calibration": {"search_path": [str(sol_dir / "calibration")]}})


def edl_frames(sol_dir: str | Path, *, position_error_pct: float = 0.0, pointing_error_deg: float = 0.0,
               seed: int = 0, instruments: tuple[str, ...] | None = None) -> dict[str, list]:
    """Read and calibrate a generated EDL sol's good products; chain Frames by instrument.

    Down-look frames' label models are turned about their centre by a random rotation
    (``pointing_error_deg`` sigma per axis) and their centres moved by ``position_error_pct`` %
    of their altitude (sigma, per axis), seeded: label pose knowledge errors.
    """
    from scipy.spatial.transform import Rotation

    from dataclasses import replace

    from rovercam.chain import process_product
    from rovercam.edl.sequence import DOWN_LOOKING
    from rovercam.products import read_product
    from rovercam.synth.truth import SolManifest

    sol_dir = Path(sol_dir)
    settings = _settings(sol_dir)
    manifest = SolManifest.from_json((sol_dir / "truth" / "manifest.json").read_text())
    rng = np.random.default_rng(seed)
    out: dict[str, list] = {}
    for ft in manifest.frames:
        if instruments is not None and ft.instrument_id not in instruments:
            continue
        frame = process_product(read_product(sol_dir / ft.path), settings)
        if (position_error_pct or pointing_error_deg) and ft.instrument_id in DOWN_LOOKING:
            m = frame.camera_model
            alt = float(ft.extra.get("altitude_m", 0.0))
            shift = rng.normal(0.0, position_error_pct / 100.0 * alt, 3)
            r = Rotation.from_rotvec(np.radians(rng.normal(0.0, pointing_error_deg, 3))).as_matrix()
            moved = replace(m, c=np.asarray(m.c) + shift, a=r @ m.a, h=r @ m.h, v=r @ m.v)
            frame = replace(frame, meta=replace(frame.meta, camera_model=moved))
        out.setdefault(ft.instrument_id, []).append(frame)
    return out


def true_models(sol_dir: str | Path, instrument: str = "EDL_RDCAM") -> dict[str, tuple[Any, tuple[int, int]]]:
    """The true camera model (SITE_FRAME, of the calibrated frame's pixels) and (W, H) of every
    ``instrument`` frame of a generated EDL sol: its label models, which the generator writes exact."""
    from rovercam.edl.sequence import EdlFrame

    frames = edl_frames(sol_dir, instruments=(instrument,)).get(instrument, [])
    return {f.product_id: (EdlFrame.from_chain(f).model, (f.image.shape[1], f.image.shape[0])) for f in frames}


def score_levels(levels: list, sol_dir: str | Path, *, models: dict[str, Any] | None = None,
                 truth_models: dict[str, tuple[Any, tuple[int, int]]] | None = None) -> dict[str, Any]:
    """Score orthomosaic levels against the truth orthoimages (see the module docstring).

    Parameters
    ----------
    levels : list of OrthoLevel
    sol_dir : path
        The generated sol (its ``truth/dem``).
    models : dict of product id -> camera model, keyword-only
        The models the levels were drawn with (``DescentResult.models``).
    truth_models : dict
        :func:`true_models`. With ``models``, adds ``ortho_model_rms_px`` and
        ``ortho_model_within_1px_pct`` (the tiles the image measure covers) and
        ``model_rms_px`` per level.

    Returns
    -------
    dict
        ``ortho_rms_px`` (output pixels; None when nothing was measured), ``ortho_coverage_pct``
        (largest share of covered tiles over which the RMS is <= 1 px), ``ortho_within_1px_pct``,
        ``ortho_measured_pct``, ``ortho_psnr_db`` (display luminance vs albedo after the best
        gain, mean over levels), ``ortho_levels_scored``, ``ortho_levels``, ``ortho_per_level``.
    """
    import cv2

    from rovercam.edl.ground import load_dem
    from rovercam.edl.scoring import area_within_rms, geometric_score, model_shifts, resample_truth

    sol_dir = Path(sol_dir)
    dem = json.loads((sol_dir / "truth" / "dem" / "dem.json").read_text())
    surface = load_dem(sol_dir / "truth" / "dem" / "dem.json") if models is not None and truth_models is not None else None
    shifts, covered, psnrs, scored = [], 0, [], 0
    exact = []
    per_level = []
    for lev in levels:
        best = None
        for d in dem.values():
            if d["cell_m"] > 1.5 * lev.grid.cell_m:
                continue
            ortho = cv2.imread(str(sol_dir / d["ortho"]), cv2.IMREAD_COLOR)[..., ::-1]
            truth = resample_truth(lev.grid, ortho, cell_m=d["cell_m"], north_of_row0_m=d["north_of_row0_m"],
                                   east_of_col0_m=d["east_of_col0_m"])
            s = geometric_score(lev.image, truth)
            if best is None or s.tiles_covered > best.tiles_covered:
                best, seen = s, np.isfinite(truth)
        if best is None or best.tiles_covered == 0:
            continue
        scored += 1
        shifts.append(best.shifts_px)
        covered += best.tiles_covered
        psnrs.append(best.psnr_db)
        per_level.append({"level": lev.level, "cell_m": round(lev.grid.cell_m, 5),
                          "rms_px": round(best.rms_px, 3), "tiles": best.tiles_covered,
                          "within_1px_pct": round(100 * best.within(1.0), 1),
                          "area_rms_le_1px_pct": round(100 * best.area_within_rms(1.0), 1)})
        if surface is not None:
            ex = model_shifts(lev.grid, np.isfinite(lev.image).all(axis=2) & seen, lev.product_ids, models,
                              {p: t[0] for p, t in truth_models.items()},
                              {p: t[1] for p, t in truth_models.items()}, surface)
            exact.append(ex)
            per_level[-1]["model_rms_px"] = round(_rms(ex), 3)
    all_shifts = np.concatenate(shifts) if shifts else np.zeros((0, 2))
    within = float(np.sum(np.hypot(*all_shifts.T) <= 1.0)) if len(all_shifts) else 0.0
    out = {
        "ortho_rms_px": float(np.sqrt(np.mean(np.sum(all_shifts ** 2, axis=1)))) if len(all_shifts) else None,
        "ortho_coverage_pct": 100.0 * area_within_rms(all_shifts, covered, 1.0),
        "ortho_within_1px_pct": 100.0 * within / covered if covered else 0.0,
        "ortho_measured_pct": 100.0 * len(all_shifts) / covered if covered else 0.0,
        "ortho_psnr_db": float(np.nanmean(psnrs)) if psnrs else None,
        "ortho_levels_scored": scored, "ortho_levels": len(levels), "ortho_per_level": per_level,
    }
    if surface is not None:
        ex = np.concatenate(exact) if exact else np.zeros((0, 2))
        out["ortho_model_rms_px"] = _rms(ex) if len(ex) else None
        out["ortho_model_within_1px_pct"] = 100.0 * float(np.mean(np.hypot(*ex.T) <= 1.0)) if len(ex) else 0.0
    return out


def _rms(shifts: np.ndarray) -> float:
    """RMS length of (K, 2) shifts (NaN when none)."""
    return float(np.sqrt(np.mean(np.sum(shifts ** 2, axis=1)))) if len(shifts) else float("nan")
