"""Per-frame radiometry as plain functions over arrays.

The frame chain (orchestrated in :mod:`rovercam.chain`) is built from these steps,
each a pure function that records nothing global:

- inverse companding tables and their files (:mod:`.lut`), decompanding (:mod:`.decompand`);
- bias subtraction (:mod:`.bias`), flat fields (:mod:`.flat`);
- Bayer phase and demosaicking, Malvar-He-Cutler and bilinear (:mod:`.debayer`);
- radiance, zenith scaling, I/F (:mod:`.radiance`); colour matrices and sRGB (:mod:`.color`).

Pixels become float32 at the first arithmetic through :func:`as_working`, by value (DN are
never scaled by the dtype maximum).
"""
from rovercam.radiometry.bias import subtract_bias
from rovercam.radiometry.color import (
    SRGB_FROM_XYZ,
    XYZ_FROM_SRGB,
    apply_color_matrix,
    srgb_decode,
    srgb_encode,
    to_display,
)
from rovercam.radiometry.debayer import BayerPattern, DemosaicMethod, cfa_phase, debayer, mosaic
from rovercam.radiometry.decompand import compand, decompand, needs_decompanding
from rovercam.radiometry.dtypes import WORKING_DTYPE, as_working
from rovercam.radiometry.flat import apply_flat, load_flat, radial_flat, write_flat
from rovercam.radiometry.lut import (
    LUT_SIZE,
    InverseLUT,
    design_sqrt_lut,
    find_lut,
    load_lut,
    write_lut,
)
from rovercam.radiometry.radiance import to_iof, to_radiance, zenith_scaling

__all__ = [
    "as_working",
    "WORKING_DTYPE",
    "InverseLUT",
    "LUT_SIZE",
    "load_lut",
    "write_lut",
    "find_lut",
    "design_sqrt_lut",
    "compand",
    "decompand",
    "needs_decompanding",
    "subtract_bias",
    "load_flat",
    "write_flat",
    "apply_flat",
    "radial_flat",
    "BayerPattern",
    "DemosaicMethod",
    "cfa_phase",
    "debayer",
    "mosaic",
    "to_radiance",
    "zenith_scaling",
    "to_iof",
    "SRGB_FROM_XYZ",
    "XYZ_FROM_SRGB",
    "apply_color_matrix",
    "srgb_encode",
    "srgb_decode",
    "to_display",
]
