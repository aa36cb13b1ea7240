"""Digital elevation models: heights on a regular grid in the site frame.

Frames and units: SITE_FRAME-like, +x north, +y east, +z down, metres (docs/conventions.md);
heights are *up* (``z = -height``). Row ``i`` runs along +x and column ``j`` along +y: the centre
of cell ``[i, j]`` is at ``x = origin[0] + i * cell_m``, ``y = origin[1] + j * cell_m``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["DEM"]


@dataclass(frozen=True, eq=False)
class DEM:
    """A height grid.

    Attributes
    ----------
    heights : (rows, cols) float32 array
        Height up, metres (``z = -height``); NaN where unknown.
    origin : (float, float)
        ``(x, y)`` of the centre of cell ``[0, 0]``, metres in ``frame``.
    cell_m : float
        Cell size, metres (the same along x and y).
    frame : str
        Reference frame, ``"SITE_FRAME"`` by default.
    """

    heights: NDArray[np.float32]
    origin: tuple[float, float]
    cell_m: float
    frame: str = "SITE_FRAME"
