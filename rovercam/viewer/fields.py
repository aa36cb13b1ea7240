"""Float products shown in false colour: range, XYZ, normals, range sigma, heights (docs/viewer.md).

The stereo and terrain outputs (kinds ``"stereo"`` and ``"terrain"``, docs/stereo.md) hold
float32 COGs of physical quantities, not radiance. The server does not colour them: it sends
each band as an 8-bit *scalar tile*, a PNG whose red channel is the value quantised linearly
over the band's stored range ``[lo, hi]``, ``R = round(255 (v - lo) / (hi - lo))``, and whose
green channel is 255 where the value exists and 0 where it is NaN (red is 0 there too). The
browser's shader divides red by green after its texture filtering (so averaging across the
edge of the data does not pull values towards ``lo``), maps the value into the legend's
window, and looks the colour up in its colour map; the legend's window can change without
new tiles. Three-band products also come as one *vector tile* (``band = "rgb"``): each band
over its own range, or over ``[-1, 1]`` for unitless bands (normals: ``(n + 1) / 2``), no
data black.

The band range ``[lo, hi]`` is the minimum and maximum of the pyramid's coarsest level (one
read of at most one tile from the COG's smallest overview); values beyond it (extremes that
the overview's averaging smoothed away) are clipped to 0 and 255. The readout never uses the
tiles: it reads the stored float32 value (:meth:`rovercam.viewer.Library.value_at`).
"""
from __future__ import annotations

import threading
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rovercam.viewer.pyramid import TileSource, encode_tile

__all__ = ["FIELD_KINDS", "MESH_SUFFIXES", "FieldSource", "scalar_tile", "vector_tile"]

#: Output kinds whose rasters are shown as false-colour fields and whose meshes in 3-D.
FIELD_KINDS = ("stereo", "terrain")
#: Mesh files the 3-D view opens (glTF binary).
MESH_SUFFIXES = (".glb",)
#: The raster a field output opens on, first found first.
PREFERRED = ("range.tif", "dem.tif", "xyz.tif")


def scalar_tile(values: NDArray[np.floating], lo: float, hi: float) -> NDArray[np.uint8]:
    """Encode one band as a scalar tile (module notes).

    Parameters
    ----------
    values : (h, w) float array
        Stored values; NaN = no data.
    lo, hi : float
        The quantisation range (``hi > lo``; equal values use a range of width 1).

    Returns
    -------
    (h, w, 3) uint8
        R the quantised value (0 where no data), G 255 where the value exists, B 0.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"a scalar tile is made of (h, w) values, got shape {v.shape}")
    span = hi - lo if hi > lo else 1.0
    ok = np.isfinite(v)
    q = np.where(ok, np.clip(np.round(255 * (v - lo) / span), 0, 255), 0)
    out = np.zeros((*v.shape, 3), np.uint8)
    out[..., 0] = q
    out[..., 1] = np.where(ok, 255, 0)
    return out


def vector_tile(values: NDArray[np.floating], lo: list[float], hi: list[float]) -> NDArray[np.uint8]:
    """Encode three bands as one RGB tile, band ``k`` linear over ``[lo[k], hi[k]]``, no data black.

    Parameters
    ----------
    values : (h, w, 3) float array
    lo, hi : three floats each

    Returns
    -------
    (h, w, 3) uint8
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 3 or v.shape[2] != 3 or len(lo) != 3 or len(hi) != 3:
        raise ValueError(f"a vector tile is made of (h, w, 3) values and 3 ranges, got {v.shape}")
    lo_a, hi_a = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    span = np.where(hi_a > lo_a, hi_a - lo_a, 1.0)
    ok = np.isfinite(v).all(axis=2, keepdims=True)
    q = np.where(ok, np.clip(np.round(255 * (v - lo_a) / span), 0, 255), 0)
    return q.astype(np.uint8)


class FieldSource:
    """Scalar and vector tiles of one float raster, and the description the browser needs.

    Parameters
    ----------
    name : str
        The raster's file name in its output (``"range.tif"``).
    source : TileSource
        The raster's pyramid (its band names and units come from the band tags).
    """

    def __init__(self, name: str, source: TileSource):
        self.name = name
        self.source = source
        self._lock = threading.Lock()
        self._ranges: list[tuple[float, float]] | None = None

    def ranges(self) -> list[tuple[float, float]]:
        """``(lo, hi)`` of every data band (module notes); ``(0, 1)`` for a band with no value."""
        with self._lock:
            if self._ranges is None:
                data = self.source.read_float(0, 0, 0)
                out = []
                for k in range(data.shape[2]):
                    band = data[..., k]
                    band = band[np.isfinite(band)]
                    out.append((float(band.min()), float(band.max())) if band.size else (0.0, 1.0))
                self._ranges = out
            return self._ranges

    def _vector_ranges(self) -> tuple[list[float], list[float]]:
        ranges = self.ranges()[:3]
        lo = [-1.0 if u in ("1", None) and n.upper().startswith("N") else r[0]
              for (r, u, n) in zip(ranges, self.source.band_units, self.source.band_names)]
        hi = [1.0 if lo_k == -1.0 else r[1] for r, lo_k in zip(ranges, lo)]
        return lo, hi

    def describe(self) -> dict[str, Any]:
        """JSON-ready: ``{"name", "grid", "bands": [{"band", "name", "units", "lo", "hi"}],
        "rgb": None or {"lo": [...], "hi": [...]}}`` (``rgb`` for three-band rasters)."""
        src = self.source
        bands = [{"band": i + 1, "name": n, "units": u, "lo": lo, "hi": hi}
                 for i, (n, u, (lo, hi)) in enumerate(zip(src.band_names, src.band_units, self.ranges()))]
        rgb = None
        if len(bands) == 3:
            lo, hi = self._vector_ranges()
            rgb = {"lo": lo, "hi": hi}
        return {"name": self.name, "grid": src.grid.to_dict(), "bands": bands, "rgb": rgb,
                "tags": {k: v for k, v in src.tags.items() if k != "ROVERCAM_PROVENANCE"}}

    def bands(self) -> list[str]:
        """The band keys tiles exist for: ``"1"``..``"B"``, and ``"rgb"`` for three bands."""
        keys = [str(i) for i in range(1, len(self.source.band_names) + 1)]
        return keys + ["rgb"] if len(keys) == 3 else keys

    def tile(self, band: str, z: int, x: int, y: int) -> bytes:
        """PNG scalar tile of band ``band`` (``"1"``...), or the vector tile (``"rgb"``).

        Raises
        ------
        ValueError
            No such band or tile.
        """
        if band not in self.bands():
            raise ValueError(f"{self.name} has no band {band!r}")

        def make() -> bytes:
            if band == "rgb":
                lo, hi = self._vector_ranges()
                return encode_tile(vector_tile(self.source.read_float(z, x, y, [1, 2, 3]), lo, hi), "png")
            lo, hi = self.ranges()[int(band) - 1]
            data = self.source.read_float(z, x, y, [self.source.data_bands[int(band) - 1]])
            return encode_tile(scalar_tile(data[..., 0], lo, hi), "png")

        return self.source.cached(("field", band, z, x, y), make)
