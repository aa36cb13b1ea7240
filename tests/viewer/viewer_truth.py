"""The viewer tests' synthetic panorama, defined analytically over azimuth and elevation.

Kept out of conftest.py so test modules can import it by a name no other folder's module shares.
"""
from __future__ import annotations

import numpy as np

WHITE = 0.08  # W m-2 sr-1 nm-1: the library's default display white (the instruments are not configured)
UNITS = "W m-2 sr-1 nm-1"  # the published radiance's unit (rovercam.publish.RADIANCE_UNIT)
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


def radiance_at_pixel(x: int, y: int, *, shift_deg: float = 0.0) -> np.ndarray:
    """The published radiance (3,) float32 of panorama pixel (x, y), W m-2 sr-1 nm-1: the
    display value at the pixel centre (EquirectangularProjection.full_sphere: az = -180 +
    (x + 1/2) s, el = 90 - (y + 1/2) s, s = 360 / PANO_WIDTH), rounded and decoded as conftest
    publishes it."""
    from rovercam.radiometry import srgb_decode

    s = 360.0 / PANO_WIDTH
    display = np.round(display_of(-180 + (x + 0.5) * s, 90 - (y + 0.5) * s, shift_deg=shift_deg)).astype(np.float32)
    return (np.float32(WHITE) * srgb_decode(display / np.float32(255))).astype(np.float32)
