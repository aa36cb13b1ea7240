"""Per-frame radiometry as plain functions over arrays.

The frame chain (orchestrated in :mod:`rovercam.chain`) is built from these steps,
each a pure function that records nothing global:

- inverse companding tables and their files (:mod:`.lut`), decompanding (:mod:`.decompand`);
- bias subtraction (:mod:`.bias`), flat fields (:mod:`.flat`);
- Bayer phase and demosaicking, Malvar-He-Cutler and bilinear (:mod:`.debayer`);
- radiance, zenith scaling, I/F (:mod:`.radiance`); colour matrices and sRGB (:mod:`.color`);
- bad pixels (:mod:`.badpixel`), responsivity at temperature and f-number and the Sun-Mars
  distance (:mod:`.responsivity`), white balance (:mod:`.white_balance`), CIE L*a*b* and
  CIEDE2000 (:mod:`.color_difference`), Mastcam-Z multispectral cubes (:mod:`.cube`, imports
  xarray when used).

Pixels become float32 at the first arithmetic through :func:`as_working`, by value (DN are
never scaled by the dtype maximum).
"""
from rovercam.radiometry.badpixel import load_bad_pixels, map_to_product, repair_bad_pixels
from rovercam.radiometry.bias import subtract_bias
from rovercam.radiometry.color import (
    SRGB_FROM_XYZ,
    WHITE_PERCENTILE,
    XYZ_FROM_SRGB,
    apply_color_matrix,
    percentile_white,
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
from rovercam.radiometry.color_difference import delta_e_2000, lab_from_linear_srgb, lab_from_xyz
from rovercam.radiometry.cube import MASTCAMZ_FILTERS, build_cube, write_cube
from rovercam.radiometry.radiance import to_iof, to_radiance, zenith_scaling
from rovercam.radiometry.responsivity import f_number_at, mars_sun_distance_au, responsivity_at
from rovercam.radiometry.white_balance import WhiteBalanceChoice, grey_world_gains, normalised_gains

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
    "percentile_white",
    "WHITE_PERCENTILE",
    "load_bad_pixels",
    "map_to_product",
    "repair_bad_pixels",
    "responsivity_at",
    "f_number_at",
    "mars_sun_distance_au",
    "WhiteBalanceChoice",
    "grey_world_gains",
    "normalised_gains",
    "lab_from_xyz",
    "lab_from_linear_srgb",
    "delta_e_2000",
    "MASTCAMZ_FILTERS",
    "build_cube",
    "write_cube",
]
