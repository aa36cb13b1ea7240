"""The frame chain: one product from stored codes to calibrated, linearized radiance.

Stages, in pipeline order (each a plain function ``Frame -> Frame``; tasks/ wraps one per task)::

    frame_from_product -> decompand -> debayer -> flat -> color -> undistort

- ``decompand``: 8-bit codes -> DN through the inverse LUT the label names (never twice); the
  camera's ``luts`` table maps label ids to dated files (``LUT2 -> M20_LUT2_v2a``).
- ``debayer``: bad photosites repaired on the mosaic, then Bayer single band -> RGB (Malvar, He &
  Cutler 2004, "High-quality linear interpolation for demosaicing of Bayer-patterned color
  images", ICASSP, by default; bilinear, OpenCV edge-aware or VNG), phase from the subframe origin.
  Products decoded onboard, without a CFA, or binned (the 2x2 cell averaged into one band) pass
  through.
- ``flat``: bias, bad pixels (when not repaired on the mosaic), undoing an onboard radial flat
  (FLAT_FIELD_CORRECTION_PARM), the ground flat, exposure (plus overhead), responsivity at the
  detector temperature and zoom f-number -> spectral radiance in W m^-2 sr^-1 nm^-1 per camera
  band; optionally divided by MIPL's zenith factor, or converted to I/F (``[chain] quantity``).
- ``color``: optional white balance (none / fixed / grey world), camera RGB -> CIE XYZ
  (per-camera ``xyz_from_camera``) -> linear sRGB (D65 matrix).
- ``undistort``: one resampling through the CAHV linearization of the model; the Frame then
  carries the CAHV model of its new pixels.

:func:`run_chain` (what :func:`process_product` and ``rovercam process`` use) runs all five at
once: every stage is first *planned* from the frame's metadata (calibration files found and
checked, provenance written), then the pixel work of all stages runs fused, strip by strip of
output lines (input lines are read through the remap grid's footprint, with a halo for the
5x5 filters), so the working set is a few hundred lines and the only full-size allocation is the
output. The result equals running the stages one by one (float32 rounding aside; tested).

Every stage appends to ``frame.provenance.steps`` and records the calibration files it read.
docs/calibration.md describes each step and the calibration levels.

Modules, each depending only on those above it:

- :mod:`~rovercam.chain.frame`: the :class:`Frame` record (pixels + the product's
  :class:`~rovercam.products.model.ProductMeta` + chain state), :func:`frame_from_product`,
  :func:`calibration_level`, :func:`band_space`;
- :mod:`~rovercam.chain.codec`: frames as versioned blobs between tasks (:func:`dumps_frame`,
  :func:`frame_pieces`, :func:`loads_frame`);
- :mod:`~rovercam.chain.plan`: per-stage planners (what a stage will do, which calibration files);
- :mod:`~rovercam.chain.pixels`: pixel operations, on whole frames or strips;
- :mod:`~rovercam.chain.run`: the stages, :func:`run_stage`, :func:`run_chain`,
  :func:`process_product`, :func:`expected_level`.
"""
from rovercam.chain.codec import dumps_frame, frame_pieces, loads_frame
from rovercam.chain.frame import Frame, RadiometricType, Units, band_space, calibration_level, frame_from_product
from rovercam.chain.run import (
    STAGES,
    color,
    debayer,
    decompand,
    expected_level,
    flat,
    process_product,
    run_chain,
    run_stage,
    undistort,
)

__all__ = [
    "Frame",
    "Units",
    "RadiometricType",
    "frame_from_product",
    "decompand",
    "debayer",
    "flat",
    "color",
    "undistort",
    "run_stage",
    "run_chain",
    "process_product",
    "dumps_frame",
    "frame_pieces",
    "loads_frame",
    "STAGES",
    "calibration_level",
    "band_space",
    "expected_level",
]
