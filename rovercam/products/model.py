"""The Product model: one raw or derived camera product, as every stage sees it.

Field names follow ../shared/ARCHITECTURE.md ("Contracts"). Conventions:

- ``image`` is shaped ``(lines, samples)`` or ``(lines, samples, bands)``, native byte order,
  values as stored (companded codes stay codes; nothing is scaled).
- ``subframe`` is in full-resolution detector pixels, **1-based** as labels give them; it is the
  only 1-based quantity in rovercam (docs/conventions.md).
- Frames (coordinate systems) carry a scalar-first Hamilton quaternion that rotates the described
  frame into its reference frame: ``p_ref = R(q) @ p + offset``.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

import numpy as np

from rovercam.camera import CameraModel
from rovercam.camera.coordinates import CoordinateSystem

__all__ = [
    "Product",
    "CoordinateSystem",
    "Companding",
    "CFA",
    "Subframe",
    "ImageStats",
    "CFAState",
    "BayerPattern",
]

BayerPattern = Literal["RGGB", "GRBG", "GBRG", "BGGR"]
CFAState = Literal["encoded", "decoded", "none"]


@dataclass(frozen=True, slots=True)
class Companding:
    """How pixel values were companded onboard.

    ``method`` is the label's SAMPLE_BIT_METHOD (``"NONE"``, ``"HARDWARE"``, ``"SOFTWARE"``,
    ``"SOFTWARE_INVERTED"``...) and ``lut`` its SAMPLE_BIT_MODE_ID (``"LUT2"``, ``"MMM_LUT0"``...).
    ``state`` says what the stored values are: ``"companded"`` (codes that need the inverse LUT),
    ``"expanded"`` (already inverted) or ``"none"``.
    """

    method: str = "NONE"
    lut: str = "NONE"
    state: Literal["companded", "expanded", "none"] = "none"
    original_bits: int | None = None


@dataclass(frozen=True, slots=True)
class CFA:
    """Colour filter array: pattern at the detector origin, where/how it was decoded."""

    pattern: BayerPattern | None = None
    state: CFAState = "none"
    venue: str | None = None  # "ONBOARD" / "GROUND"
    method: str | None = None  # "MALVAR", "BILINEAR", ...


@dataclass(frozen=True, slots=True)
class Subframe:
    """Subframe of the full-resolution detector, 1-based as labels give it."""

    first_line: int = 1
    first_sample: int = 1
    lines: int | None = None
    samples: int | None = None


@dataclass(frozen=True, slots=True)
class ImageStats:
    """Image statistics a label may carry (MER IMAGE object, for instance)."""

    mean: float | None = None
    median: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    standard_deviation: float | None = None
    checksum: float | None = None


@dataclass(slots=True)
class Product:
    """One camera product: identity, pixels, geometry and instrument state.

    Built by :func:`rovercam.products.read_product`; written by the product writers.
    """

    product_id: str
    mission: str
    instrument: str
    sol: int | None = None
    sclk: float | None = None
    site: int | None = None
    drive: int | None = None
    sequence_id: str | None = None
    product_type: str | None = None
    start_time: _dt.datetime | None = None
    path: str | None = None
    image: np.ndarray | None = None
    label: Mapping[str, Any] | None = None
    camera_model: "CameraModel | None" = None
    camera_frame: str | None = None
    coordinate_systems: dict[str, CoordinateSystem] = field(default_factory=dict)
    exposure_s: float | None = None
    filter: str | None = None
    temperature_c: float | None = None
    focal_length_mm: float | None = None
    zoom_position: int | None = None
    companding: Companding = field(default_factory=Companding)
    cfa: CFA = field(default_factory=CFA)
    subframe: Subframe = field(default_factory=Subframe)
    downsample: tuple[int, int] = (1, 1)  # (lines, samples) averaging factors
    flat_field_applied: bool = False
    # MIPL radiometric products (RAD, RAS, IOF): stored value -> physical value,
    # ``value = stored * factor + offset`` (DERIVED_IMAGE_PARMS RADIANCE_SCALING_FACTOR/OFFSET).
    radiance_scaling: tuple[float, float] | None = None
    # What the physical values are: "spectral_radiance", "scaled_spectral_radiance" (RAS) or
    # "radiance_factor" (IOF); None for products that are not radiometric.
    radiometric_type: str | None = None
    label_stats: ImageStats | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, ...] | None:
        """Image shape ``(lines, samples[, bands])`` or None when pixels were not read."""
        return None if self.image is None else tuple(self.image.shape)
