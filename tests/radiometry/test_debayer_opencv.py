"""OpenCV's edge-aware and VNG demosaickers behind ``debayer(method=...)``."""
from __future__ import annotations

import numpy as np
import pytest

from rovercam.radiometry import debayer, mosaic

PATTERNS = ["RGGB", "GRBG", "GBRG", "BGGR"]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("method, dtype", [("edge_aware", np.uint8), ("edge_aware", np.uint16), ("vng", np.uint8)])
def test_flat_colours_come_back_in_rgb_order(pattern, method, dtype):
    # truth: a scene of one colour per band is reproduced away from the border by any demosaicker;
    # a wrong OpenCV code mapping swaps R and B
    rgb = np.zeros((24, 32, 3), np.float32)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 210, 130, 40
    out = debayer(mosaic(rgb, pattern).astype(dtype), pattern, method=method)
    assert out.dtype == np.float32 and out.shape == (24, 32, 3)
    np.testing.assert_allclose(out[3:-3, 3:-3], rgb[3:-3, 3:-3], atol=1.0)  # DN, OpenCV rounds


def test_dtype_limits():
    with pytest.raises(ValueError, match="uint8"):
        debayer(np.zeros((8, 8), np.uint16), "RGGB", method="vng")
    with pytest.raises(ValueError, match="uint8 or uint16"):
        debayer(np.zeros((8, 8), np.float32), "RGGB", method="edge_aware")
    with pytest.raises(ValueError, match="method"):
        debayer(np.zeros((8, 8), np.uint8), "RGGB", method="nearest")  # type: ignore[arg-type]
