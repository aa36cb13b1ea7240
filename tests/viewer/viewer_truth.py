"""The viewer tests' synthetic panorama, defined analytically over azimuth and elevation.

Kept out of conftest.py so test modules can import it by a name no other folder's module shares.
"""
from __future__ import annotations

import numpy as np

WHITE = 0.08  # W m-2 sr-1 nm-1: the library's default display white (the instruments are not configured)
PANO_WIDTH = 2048
SOL = 42


def display_of(az_deg: np.ndarray, el_deg: np.ndarray, *, shift_deg: float = 0.0) -> np.ndarray:
    """The synthetic panorama's display sRGB (float, 0..255) at (az, el), degrees.

    Red ramps with azimuth, green with elevation, blue is a soft 15-degree checker: every view
    direction has a distinct colour, so a wrong yaw, pitch or scale shows.
    """
    az = np.radians(np.asarray(az_deg, dtype=np.float64) - shift_deg)
    el = np.radians(np.asarray(el_deg, dtype=np.float64))
    r = 128 + 110 * np.sin(az) * np.cos(el)
    g = 128 + 110 * np.sin(el)
    b = 128 + 100 * np.tanh(3 * np.sin(12 * az) * np.sin(12 * el))
    return np.stack([r, g, b], axis=-1)
