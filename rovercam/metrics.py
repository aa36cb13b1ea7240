"""Image quality metrics used by tests, benchmarks and run summaries."""
from __future__ import annotations

import numpy as np

__all__ = ["psnr", "display_psnr"]


def psnr(image: np.ndarray, truth: np.ndarray, *, data_range: float, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)``.

    Parameters
    ----------
    image, truth : ndarray, same shape
    data_range : float
        Peak value (255 for 8-bit display images, 1.0 for [0, 1] floats).
    mask : (H, W) bool ndarray, optional
        Pixels to compare (all bands of those pixels). Pixels where either input is NaN are
        always excluded.
    """
    a = np.asarray(image, dtype=np.float64)
    b = np.asarray(truth, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b)
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        ok &= m[..., None] if a.ndim == m.ndim + 1 else m
    if not ok.any():
        raise ValueError("no pixels to compare")
    mse = float(np.mean((a[ok] - b[ok]) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(data_range**2 / mse)


def display_psnr(
    image: np.ndarray, truth: np.ndarray, *, white_radiance: float, mask: np.ndarray | None = None
) -> float:
    """PSNR (dB) of two radiance images after the same display encoding (sRGB, 8-bit scale).

    Both are divided by ``white_radiance``, clipped to [0, 1], sRGB-encoded and compared on a
    0..255 scale; NaN pixels (not covered) are excluded. This is how a person sees the mosaic.
    """
    from rovercam.radiometry import srgb_encode

    def enc(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64) / white_radiance
        out = srgb_encode(np.clip(np.nan_to_num(x, nan=0.0), 0.0, 1.0)) * 255.0
        return np.where(np.isfinite(x), out, np.nan)

    return psnr(enc(image), enc(truth), data_range=255.0, mask=mask)
