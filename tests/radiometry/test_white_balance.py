"""White-balance gains."""
from __future__ import annotations

import numpy as np
import pytest

from rovercam.errors import CalibrationError
from rovercam.radiometry import grey_world_gains, normalised_gains


def test_grey_world_makes_the_mean_grey():
    rng = np.random.default_rng(1)
    img = rng.uniform(0.5, 1.5, (40, 60, 3)).astype(np.float32) * np.float32([0.03, 0.02, 0.01])
    img[3, 4] = np.nan  # no data is ignored
    gains = grey_world_gains(img, step=1)
    means = np.nanmean(img.reshape(-1, 3), axis=0)
    np.testing.assert_allclose(gains * means, means[1], rtol=1e-5)  # truth: equal band means (float32 sums)
    assert gains[1] == 1.0


def test_normalised_gains_and_refusals():
    np.testing.assert_allclose(normalised_gains([2.0, 4.0, 8.0]), [0.5, 1.0, 2.0])
    with pytest.raises(CalibrationError):
        normalised_gains([1.0, 0.0, 1.0])
    with pytest.raises(CalibrationError):
        grey_world_gains(np.zeros((4, 4, 3)))
