"""White balance: per-band (von Kries) gains on camera-RGB radiance (docs/calibration.md#colour).

A white-balanced frame is no longer radiance of the scene: it shows the scene as if lit by a
white illuminant (MIPL's wRGB). The chain leaves frames unbalanced unless asked
(``[chain] white_balance``), and records the gains it used.

Choices (:data:`WhiteBalanceChoice`):

- ``"none"``: gains (1, 1, 1);
- ``"fixed"``: the camera's configured gains (e.g. from a calibration-target observation);
- ``"grey_world"``: the gains that make the frame's mean colour grey: ``mean(G) / mean(band)``.

Gains are normalised so that green keeps gain 1 (luminance scale roughly kept).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.errors import CalibrationError

__all__ = ["WhiteBalanceChoice", "grey_world_gains", "normalised_gains"]

WhiteBalanceChoice = Literal["none", "fixed", "grey_world"]


def normalised_gains(gains: ArrayLike) -> NDArray[np.float64]:
    """Three positive gains scaled so that the green gain is 1.

    Raises
    ------
    CalibrationError
        Not three positive finite numbers.
    """
    g = np.asarray(gains, dtype=np.float64)
    if g.shape != (3,) or not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise CalibrationError("white balance", f"expected three positive gains, got {g.tolist()}")
    return g / g[1]


def grey_world_gains(image: ArrayLike, *, step: int = 4) -> NDArray[np.float64]:
    """Grey-world gains of a three-band image.

    Parameters
    ----------
    image : (H, W, 3) array_like
        Linear camera-RGB radiance (NaN = no data, ignored).
    step : int, keyword-only
        Use every ``step``-th line and sample (the mean of a smooth statistic needs no more).

    Returns
    -------
    (3,) ndarray of float64
        ``mean(G) / mean(band)``, green = 1.

    Raises
    ------
    CalibrationError
        Not three bands, or a band whose mean is not positive (nothing to balance).
    """
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3:
        raise CalibrationError("white balance", f"grey world needs (H, W, 3), got {a.shape}")
    sample = a[::step, ::step].reshape(-1, 3).astype(np.float64)
    sample = sample[np.isfinite(sample).all(axis=1)]
    means = sample.mean(axis=0) if sample.size else np.full(3, np.nan)
    if not np.all(means > 0):
        raise CalibrationError("white balance", f"band means {means.tolist()} are not positive")
    return normalised_gains(means[1] / means)
