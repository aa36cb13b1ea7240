"""Triangle meshes of the terrain.

Frames and units as :mod:`rovercam.terrain.dem`: metres in the mesh's frame (+z down).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Mesh"]


@dataclass(frozen=True, eq=False)
class Mesh:
    """An indexed triangle mesh.

    Attributes
    ----------
    vertices : (N, 3) float32 array
        Metres in ``frame``.
    faces : (M, 3) int32 array
        Vertex indices, counter-clockwise seen from above (from -z) or from the camera.
    frame : str
        Reference frame of the vertices.
    colors : (N, 3) or (N, 4) uint8 array, optional
        Per-vertex colours (sRGB).
    """

    vertices: NDArray[np.float32]
    faces: NDArray[np.int32]
    frame: str
    colors: NDArray[np.uint8] | None = None
