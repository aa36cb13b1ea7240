"""Mastcam-Z multispectral cubes: frames of one pointing across filters, co-registered.

One eye of Mastcam-Z images a target through its filter wheel (L0-L7 left, R0-R7 right); the
frames share a pointing but shift by a few pixels between filters (wheel wobble, mast settling,
and for L0/R0 the Bayer colour planes). :func:`build_cube` stacks calibrated frames into an
``xarray.Dataset`` with a ``band`` dimension carrying wavelength coordinates, after aligning
every band to a reference band by phase correlation (translation only: the frames share the
camera model). :func:`write_cube` saves it as NetCDF or Zarr.

Filter wavelengths: Hayes et al. (2021), Table 2, as listed in docs/cameras.md#mastcam-z.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Protocol, Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.errors import RovercamError

__all__ = ["MASTCAMZ_FILTERS", "band_names", "build_cube", "write_cube", "CubeFrame"]

log = logging.getLogger(__name__)

#: band name -> (effective wavelength nm, half width at half maximum nm). L0/R0 are the Bayer
#: R, G, B bands behind the IR-cut filter; L7/R7 are the solar filters (ND).
MASTCAMZ_FILTERS: dict[str, tuple[float, float]] = {
    "L0R": (630.0, 43.0), "L0G": (544.0, 41.0), "L0B": (480.0, 46.0),
    "L1": (800.0, 9.0), "L2": (754.0, 10.0), "L3": (677.0, 11.0), "L4": (605.0, 9.0),
    "L5": (528.0, 11.0), "L6": (442.0, 12.0), "L7": (590.0, 88.0),
    "R0R": (631.0, 43.0), "R0G": (544.0, 42.0), "R0B": (480.0, 46.0),
    "R1": (800.0, 9.0), "R2": (866.0, 10.0), "R3": (910.0, 12.0), "R4": (939.0, 12.0),
    "R5": (978.0, 10.0), "R6": (1022.0, 19.0), "R7": (880.0, 10.0),
}


class CubeFrame(Protocol):
    """What :func:`build_cube` reads from a frame (a :class:`rovercam.chain.Frame` fits)."""

    product_id: str
    image: np.ndarray
    filter: str | None
    units: str


def band_names(filter_name: str, bands: int) -> list[str]:
    """Cube band names of a frame: ``"L0"`` with 3 bands -> L0R, L0G, L0B; ``"L4"`` -> L4.

    Raises
    ------
    RovercamError
        An unknown filter, or a band count that does not fit it.
    """
    name = filter_name.strip().upper()
    if bands == 3 and name in ("L0", "R0"):
        return [name + c for c in "RGB"]
    if bands == 1 and name in MASTCAMZ_FILTERS:
        return [name]
    raise RovercamError(f"no Mastcam-Z cube band for filter {filter_name!r} with {bands} band(s)")


def _planes(frame: CubeFrame) -> list[tuple[str, NDArray[np.float32]]]:
    if not frame.filter:
        raise RovercamError(f"{frame.product_id}: frame has no filter name; cannot place it in a cube")
    img = np.asarray(frame.image, dtype=np.float32)
    stack = img[..., None] if img.ndim == 2 else img
    names = band_names(frame.filter, stack.shape[2])
    return [(n, np.ascontiguousarray(stack[..., i])) for i, n in enumerate(names)]


def _shift(reference: NDArray[np.float32], moving: NDArray[np.float32]) -> tuple[float, float]:
    """(dx, dy) of ``moving``'s content relative to ``reference``, pixels.

    Phase correlation gives the shift to about a quarter pixel (its peak centroid is biased);
    an ECC translation fit (Evangelidis & Psarakis 2008, ``cv2.findTransformECC``) started there
    refines it to a few hundredths. Where ECC does not converge the phase-correlation value
    stands.
    """
    def prepared(a: NDArray[np.float32]) -> NDArray[np.float32]:
        finite = np.isfinite(a)
        fill = float(np.mean(a[finite])) if finite.any() else 0.0
        b = np.where(finite, a, fill).astype(np.float32)
        return b - np.float32(fill)

    ref, mov = prepared(reference), prepared(moving)
    window = cv2.createHanningWindow(ref.shape[::-1], cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(ref, mov, window)
    warp = np.float32([[1, 0, dx], [0, 1, dy]])
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5)
    try:
        _, warp = cv2.findTransformECC(ref, mov, warp, cv2.MOTION_TRANSLATION, criteria, None, 5)
    except cv2.error:
        log.info("cube: ECC did not converge; phase-correlation shift kept")
    return float(warp[0, 2]), float(warp[1, 2])


def build_cube(
    frames: Sequence[CubeFrame],
    *,
    register: bool = True,
    reference_band: str | None = None,
    attrs: dict[str, Any] | None = None,
) -> "Any":
    """Stack calibrated frames of one pointing into a multispectral cube.

    Parameters
    ----------
    frames : sequence of frames
        Calibrated frames (``units`` radiance or I/F in camera bands, *before* undistortion or all
        undistorted alike), same size, each with its ``filter`` (``"L0"``... ``"R7"``); 3-band
        frames are L0/R0 colour frames. One eye per cube.
    register : bool, keyword-only
        Align every band to the reference band by phase correlation (translation, sub-pixel,
        bilinear resampling; pixels shifted in from outside are NaN).
    reference_band : str, keyword-only
        Band to align to; default the band nearest 700 nm (good signal on Mars).
    attrs : dict, keyword-only
        Extra dataset attributes (pointing, sol, ...).

    Returns
    -------
    xarray.Dataset
        Variable ``data`` (band, y, x) float32 with the frames' units; coordinates
        ``band`` (names), ``wavelength_nm``, ``hwhm_nm``, ``product_id``, ``shift_x``, ``shift_y``
        (pixels applied to align, reference 0), ``x`` and ``y`` (pixel centres, 0-based); bands
        sorted by wavelength.

    Raises
    ------
    RovercamError
        No frames, mixed sizes, units or eyes, duplicated bands, an unknown filter.
    """
    import xarray as xr

    if not frames:
        raise RovercamError("a cube needs at least one frame")
    units = {f.units for f in frames}
    if len(units) != 1:
        raise RovercamError(f"frames mix units {sorted(units)}")
    planes: list[tuple[str, str, NDArray[np.float32]]] = []
    for f in frames:
        planes.extend((name, f.product_id, plane) for name, plane in _planes(f))
    names = [p[0] for p in planes]
    if len(set(names)) != len(names):
        raise RovercamError(f"duplicated bands in {names}")
    if len({n[0] for n in names}) != 1:
        raise RovercamError(f"one eye per cube, got bands {names}")
    shapes = {p[2].shape for p in planes}
    if len(shapes) != 1:
        raise RovercamError(f"frames differ in size: {sorted(shapes)}")
    planes.sort(key=lambda p: MASTCAMZ_FILTERS[p[0]][0])
    wl = np.array([MASTCAMZ_FILTERS[p[0]][0] for p in planes])
    ref_name = reference_band or planes[int(np.argmin(np.abs(wl - 700.0)))][0]
    if ref_name not in names:
        raise RovercamError(f"reference band {ref_name!r} is not in the cube ({names})")
    reference = next(p[2] for p in planes if p[0] == ref_name)
    h, w = reference.shape
    data = np.empty((len(planes), h, w), dtype=np.float32)
    shifts = np.zeros((len(planes), 2))
    for i, (name, _, plane) in enumerate(planes):
        if register and name != ref_name:
            dx, dy = _shift(reference, plane)
            shifts[i] = (-dx, -dy)
            m = np.float32([[1, 0, -dx], [0, 1, -dy]])
            data[i] = cv2.warpAffine(plane, m, (w, h), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan"))
            log.info("cube: %s shifted by (%.2f, %.2f) px onto %s", name, -dx, -dy, ref_name)
        else:
            data[i] = plane
    band = [p[0] for p in planes]
    ds = xr.Dataset(
        {"data": (("band", "y", "x"), data, {"units": next(iter(units))})},
        coords={
            "band": band,
            "wavelength_nm": ("band", wl),
            "hwhm_nm": ("band", np.array([MASTCAMZ_FILTERS[b][1] for b in band])),
            "product_id": ("band", [p[1] for p in planes]),
            "shift_x": ("band", shifts[:, 0]),
            "shift_y": ("band", shifts[:, 1]),
            "x": np.arange(w, dtype=np.float64),
            "y": np.arange(h, dtype=np.float64),
        },
        attrs={"reference_band": ref_name, "registered": int(register),
               "wavelength_source": "Hayes et al. 2021 Table 2", **(attrs or {})},
    )
    return ds


def write_cube(ds: Any, path: str | os.PathLike[str]) -> Path:
    """Save a cube: ``.nc`` as NetCDF, ``.zarr`` as a Zarr store.

    NetCDF goes through the first installed engine of netCDF4, h5netcdf and scipy (scipy writes
    NetCDF-3, always available here); Zarr needs the ``zarr`` package.

    Raises
    ------
    RovercamError
        Another suffix, or Zarr without the package.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".zarr":
        try:
            import zarr  # noqa: F401
        except ImportError:
            raise RovercamError(f"{p}: writing Zarr needs the 'zarr' package; use .nc") from None
        ds.to_zarr(p, mode="w")
        return p
    if suffix != ".nc":
        raise RovercamError(f"{p}: a cube is written as .nc (NetCDF) or .zarr")
    engine = "scipy"
    for candidate, module in (("netcdf4", "netCDF4"), ("h5netcdf", "h5netcdf")):
        try:
            __import__(module)
        except ImportError:
            continue
        engine = candidate
        break
    tmp = p.with_name(f".{p.name}.tmp")
    ds.to_netcdf(tmp, engine=engine)
    os.replace(tmp, p)
    return p
