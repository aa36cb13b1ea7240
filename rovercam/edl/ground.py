"""The ground under a descent: a level plane, or nested DEMs (finest covering grid wins).

Frames and units: SITE_FRAME, +x north, +y east, +z down, metres; heights ``h`` are *up*
(``z = -h``). A DEM grid's row ``i`` is at ``north_of_row0 - i * cell`` and column ``j`` at
``east_of_col0 + j * cell`` (cell centres), the layout of the generator's ``truth/dem/dem.json``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["Surface", "Plane", "DemGrid", "NestedDem", "load_dem", "intersect", "touchdown_plane"]


class Surface(Protocol):
    """Anything that gives the ground height (m, up) at (north, east) in SITE_FRAME."""

    def height(self, north: NDArray[np.float64], east: NDArray[np.float64]) -> NDArray[np.float64]: ...


@dataclass(frozen=True, slots=True)
class Plane:
    """A level ground plane at ``height_m`` (m, up; SITE_FRAME ``z = -height_m``)."""

    height_m: float

    def height(self, north: NDArray[np.float64], east: NDArray[np.float64]) -> NDArray[np.float64]:
        """``height_m`` everywhere, shaped like ``north``."""
        return np.full(np.shape(north), float(self.height_m))


@dataclass(frozen=True, slots=True)
class DemGrid:
    """One height grid (see the module docstring for the layout)."""

    heights: NDArray[np.float32]
    cell_m: float
    north_of_row0_m: float
    east_of_col0_m: float

    def __post_init__(self) -> None:
        if self.heights.ndim != 2 or min(self.heights.shape) < 2 or not self.cell_m > 0:
            raise ValueError(f"a DEM needs a 2-D grid of at least 2x2 and cell > 0, got "
                             f"{self.heights.shape}, {self.cell_m}")

    def contains(self, north: NDArray[np.float64], east: NDArray[np.float64]) -> NDArray[np.bool_]:
        """True where (north, east) is inside the grid (between cell centres)."""
        row = (self.north_of_row0_m - north) / self.cell_m
        col = (east - self.east_of_col0_m) / self.cell_m
        h, w = self.heights.shape
        return (row >= 0) & (row <= h - 1) & (col >= 0) & (col <= w - 1)

    def height(self, north: NDArray[np.float64], east: NDArray[np.float64]) -> NDArray[np.float64]:
        """Bilinear height (m, up); the border value is repeated outside the grid."""
        north = np.asarray(north, np.float64)
        row = ((self.north_of_row0_m - north) / self.cell_m).astype(np.float32)
        col = ((np.asarray(east, np.float64) - self.east_of_col0_m) / self.cell_m).astype(np.float32)
        flat_r, flat_c = row.reshape(1, -1), col.reshape(1, -1)
        out = np.empty(flat_r.shape, np.float32)
        step = 32000  # cv2.remap maps must be narrower than SHRT_MAX columns
        for s in range(0, flat_r.shape[1], step):
            out[:, s:s + step] = cv2.remap(self.heights, flat_c[:, s:s + step], flat_r[:, s:s + step],
                                           cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return out.reshape(north.shape).astype(np.float64)


@dataclass(frozen=True, slots=True)
class NestedDem:
    """Several grids; at each point the finest grid that covers it gives the height."""

    grids: tuple[DemGrid, ...]

    def height(self, north: NDArray[np.float64], east: NDArray[np.float64]) -> NDArray[np.float64]:
        """Height (m, up) from the finest covering grid (the coarsest one outside all)."""
        north, east = np.asarray(north, np.float64), np.asarray(east, np.float64)
        order = sorted(self.grids, key=lambda g: -g.cell_m)  # coarse first, finer overwrite
        out = order[0].height(north, east)
        for g in order[1:]:
            inside = g.contains(north, east)
            if inside.any():
                out[inside] = g.height(north[inside], east[inside])
        return out


def load_dem(path: str | Path) -> NestedDem:
    """Read a ``dem.json`` (the generator's layout: name -> height file, cell, origin).

    Height file paths are resolved relative to the JSON's folder, or, when they start with the
    folder's own parents (``truth/dem/...``), relative to the sol folder.
    """
    path = Path(path)
    info = json.loads(path.read_text())
    grids = []
    for entry in info.values():
        rel = Path(entry["height"])
        candidates = [path.parent / rel.name, path.parent / rel, path.parent.parent.parent / rel]
        src = next((c for c in candidates if c.is_file()), None)
        if src is None:
            raise FileNotFoundError(f"{path}: height file {rel} not found")
        grids.append(DemGrid(np.load(src).astype(np.float32), float(entry["cell_m"]),
                             float(entry["north_of_row0_m"]), float(entry["east_of_col0_m"])))
    if not grids:
        raise ValueError(f"{path}: no grid")
    return NestedDem(tuple(grids))


def intersect(origins: NDArray[np.float64], directions: NDArray[np.float64], surface: Surface, *,
              iterations: int = 6) -> NDArray[np.float64]:
    """Ground points of rays (N, 3) -> (N, 3) SITE_FRAME, by fixed-point iteration on height.

    Each step intersects the ray with the level plane at the height found under the previous
    point; it converges for rays steeper than the terrain slope (a down-looking camera). NaN
    for rays that do not point down.
    """
    o = np.asarray(origins, np.float64)
    d = np.asarray(directions, np.float64)
    h = surface.height(o[:, 0], o[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(iterations):
            t = (-h - o[:, 2]) / d[:, 2]
            p = o + t[:, None] * d
            h = surface.height(p[:, 0], p[:, 1])
        t = (-h - o[:, 2]) / d[:, 2]
        p = o + t[:, None] * d
    p[~(t > 0)] = np.nan
    return p


def touchdown_plane(models, *, camera_height_m: float = 0.7) -> Plane:
    """A level plane through the touchdown point, when no DEM is given.

    The lowest camera of a down-look descent (RDCAM on the rover's belly) ends ``camera_height_m``
    above the ground; the plane is put there. A fallback: relief away from the touchdown point
    displaces the orthomosaic by ``relief * tan(off-nadir angle)``.
    """
    zs = [float(np.asarray(m.c)[2]) for m in models if m is not None]
    if not zs:
        raise ValueError("no camera model to place the ground plane from")
    return Plane(height_m=-max(zs) - camera_height_m)
