"""The Product model: one raw or derived camera product, as every stage sees it.

:class:`ProductMeta` is what a label says (identity, geometry, instrument state, radiometric
facts); :class:`Product` holds it with the pixels and the parsed label, and the frame chain's
``Frame`` holds the same record. Conventions (docs/conventions.md):

- ``image`` is shaped ``(lines, samples)`` or ``(lines, samples, bands)``, native byte order,
  values as stored (companded codes stay codes; nothing is scaled).
- ``subframe`` is in full-resolution detector pixels, **1-based** as labels give them; it is the
  only 1-based quantity in rovercam (docs/conventions.md).
- Frames (coordinate systems) carry a scalar-first Hamilton quaternion that rotates the described
  frame into its reference frame: ``p_ref = R(q) @ p + offset``.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, Literal, Mapping, TypeVar

import numpy as np

from rovercam.camera import CameraModel
from rovercam.camera.coordinates import CoordinateSystem

__all__ = [
    "Product",
    "ProductMeta",
    "meta_attributes",
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


@dataclass(frozen=True, slots=True)
class ProductMeta:
    """What a product's label says about it: the metadata the reader and the frame chain share.

    Filled once, when the product is read (:mod:`rovercam.products.fields` for PDS3/ODL and
    VICAR labels, :mod:`rovercam.products.pds4`, :mod:`rovercam.products.rawsite`, the synthetic
    writers); :class:`Product` and :class:`rovercam.chain.Frame` both hold one as ``.meta`` and
    show its fields as read-only attributes (``product.sol`` is ``product.meta.sol``). A new
    field is one line here (plus the readers that fill it); the frame codec
    (:mod:`rovercam.chain.codec`) writes and reads it by name.

    In a Frame, ``camera_model`` and ``cfa`` describe the frame's *current* pixels: ``debayer``
    marks the CFA decoded, ``undistort`` replaces the model by its CAHV linearization.

    Attributes
    ----------
    product_id, mission, instrument : str
        Identity; ``(instrument, mission)`` is the camera's registry key.
    sol, sclk, site, drive, sequence_id, product_type, start_time
        When and where: sol number, spacecraft clock (s), rover motion counter, sequence,
        product type (``"ECM"``, ``"RAD"``...), UTC start time.
    camera_model : CameraModel or None
        The label's camera model, in ``camera_frame``.
    camera_frame : str or None
        The coordinate system the model is expressed in (``"ROVER_NAV_FRAME"``).
    coordinate_systems : dict of str -> CoordinateSystem
        The label's frames (to reach SITE_FRAME); read-only by convention.
    exposure_s, filter, temperature_c, focal_length_mm, zoom_position
        Instrument state: exposure (s), filter name, detector temperature (degrees C), focal
        length (mm), zoom motor count.
    companding, cfa, subframe, downsample
        How the pixels are stored: onboard companding, colour filter array, the 1-based
        detector subframe, ``(lines, samples)`` pixel-averaging factors.
    flat_field_applied : bool
        The label says a flat field was applied (onboard, or on the ground for an RDR).
    onboard_flat : (x0, y0, a, b, c) or None
        FLAT_FIELD_CORRECTION_PARM when the label says an onboard radial flat was applied.
    solar_elevation_deg : float or None
        Sun elevation above the local horizon (SITE/ROVER_DERIVED_GEOMETRY_PARMS), degrees.
    radiance_scaling : (factor, offset) or None
        MIPL radiometric products (RAD, RAS, IOF): ``value = stored * factor + offset``
        (DERIVED_IMAGE_PARMS RADIANCE_SCALING_FACTOR/OFFSET).
    radiometric_type : str or None
        What such a product's physical values are: ``"spectral_radiance"``,
        ``"scaled_spectral_radiance"`` (RAS) or ``"radiance_factor"`` (IOF); None otherwise.
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
    camera_model: CameraModel | None = None
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
    downsample: tuple[int, int] = (1, 1)
    flat_field_applied: bool = False
    onboard_flat: tuple[float, float, float, float, float] | None = None
    solar_elevation_deg: float | None = None
    radiance_scaling: tuple[float, float] | None = None
    radiometric_type: str | None = None


T = TypeVar("T")


def meta_attributes(cls: type[T]) -> type[T]:
    """Class decorator: every :class:`ProductMeta` field as a read-only attribute of ``cls``.

    ``obj.sol`` reads ``obj.meta.sol``. Names ``cls`` defines itself are left alone (a Frame's
    own ``radiometric_type`` is what its values are now; the label's is ``meta.radiometric_type``).
    """
    for f in fields(ProductMeta):
        if not hasattr(cls, f.name):
            setattr(cls, f.name, property(attrgetter("meta." + f.name), doc=f"``meta.{f.name}``."))
    return cls


@meta_attributes
@dataclass(slots=True)
class Product:
    """One camera product: its metadata, pixels and label.

    Built by :func:`rovercam.products.read_product`; written by the product writers. Every
    :class:`ProductMeta` field reads as an attribute (``product.sol``).

    Attributes
    ----------
    meta : ProductMeta
    path : str or None
        The file it was read from.
    image : ndarray or None
        ``(lines, samples[, bands])``, values as stored; None when read without pixels.
    label : mapping or None
        The parsed label (for summaries and writers; the chain reads ``meta`` only).
    label_stats : ImageStats or None
    warnings : list of str
        What the reader noticed but accepted.
    """

    meta: ProductMeta
    path: str | None = None
    image: np.ndarray | None = None
    label: Mapping[str, Any] | None = None
    label_stats: ImageStats | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def frames(self) -> dict[str, CoordinateSystem]:
        """The label's coordinate systems by name (``meta.coordinate_systems``).

        Named ``frames`` as the label groups name them (``ROVER_NAV_FRAME``...); rovercam calls
        the record a coordinate system so it is never confused with an image frame.
        """
        return self.meta.coordinate_systems

    @property
    def shape(self) -> tuple[int, ...] | None:
        """Image shape ``(lines, samples[, bands])`` or None when pixels were not read."""
        return None if self.image is None else tuple(self.image.shape)
