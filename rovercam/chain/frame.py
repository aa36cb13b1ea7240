"""The Frame record: a product's pixels and metadata between chain stages, and what its values are."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

import rovercam
from rovercam.config import Settings
from rovercam.errors import ProductError
from rovercam.products.model import Product, ProductMeta, meta_attributes
from rovercam.provenance import CalibrationLevel, Provenance

__all__ = ["Frame", "Units", "RadiometricType", "band_space", "calibration_level", "frame_from_product"]

Units = Literal["code", "dn", "radiance_camera", "radiance_srgb", "iof_camera", "iof_srgb",
                "relative_camera", "relative_srgb"]
#: What the calibrated values are (PDS4 img:Radiometric_Correction radiometric_type, plus
#: rovercam's relative kinds, docs/calibration.md): "relative" = flat-fielded DN/s (no absolute
#: responsivity), "relative_dn" = DN (no exposure time either), "relative_radiance" = radiance
#: times an unknown exposure (responsivity known, exposure not), "raw" = companded codes.
RadiometricType = Literal[
    "none", "spectral_radiance", "scaled_spectral_radiance", "radiance_factor", "relative_radiance",
    "relative", "relative_dn", "raw"
]
ABSOLUTE_TYPES = ("spectral_radiance", "scaled_spectral_radiance", "radiance_factor")
UNIT_TEXT = {"spectral_radiance": "W m-2 sr-1 nm-1", "scaled_spectral_radiance": "W m-2 sr-1 nm-1",
             "radiance_factor": "1 (I/F)", "relative_radiance": "W m-2 sr-1 nm-1 s (exposure unknown)",
             "relative": "DN s-1", "relative_dn": "DN", "raw": "companded code"}


@meta_attributes
@dataclass(slots=True)
class Frame:
    """A product's pixels and metadata between chain stages.

    Every :class:`~rovercam.products.model.ProductMeta` field reads as an attribute
    (``frame.sol`` is ``frame.meta.sol``); ``meta.camera_model`` and ``meta.cfa`` describe the
    frame's current pixels (CAHV after ``undistort``, decoded after ``debayer``).

    Attributes
    ----------
    meta : ProductMeta
        The product's label metadata (identity, geometry, instrument state, radiometric facts).
    image : ndarray
        (lines, samples) or (lines, samples, bands). uint8/uint16 until the first arithmetic,
        float32 after; NaN marks no-data.
    units : {"code", "dn", "radiance_camera", "radiance_srgb", "iof_camera", "iof_srgb", ...}
    provenance : Provenance
        Inputs, steps and calibration files so far.
    radiometric_type : str
        What the values are now (:data:`RadiometricType`); set by ``flat``. The label's own
        type, for a MIPL radiometric product, is ``meta.radiometric_type``.
    bad_pixels_repaired : bool
        Set by ``debayer`` when it repaired the mosaic, so ``flat`` does not repeat it.
    flat_fielded : bool
        A flat field was divided out (by this chain, or by MIPL for a derived product).
    missing : tuple of str
        Calibration that was not available (recorded, not an error unless
        ``[calibration] strict``); see :attr:`level`.
    """

    meta: ProductMeta
    image: np.ndarray
    units: Units
    provenance: Provenance = field(default_factory=Provenance)
    radiometric_type: RadiometricType = "none"
    bad_pixels_repaired: bool = False
    flat_fielded: bool = False
    missing: tuple[str, ...] = ()

    @property
    def ground_flat_applied(self) -> bool:
        """The label says a flat field was already applied, and not the onboard radial one (an RDR)."""
        return bool(self.meta.flat_field_applied and self.meta.onboard_flat is None)

    @property
    def label_radiometric_type(self) -> str | None:
        """A MIPL radiometric product's own type (``meta.radiometric_type``), else None."""
        return self.meta.radiometric_type

    @property
    def level(self) -> CalibrationLevel:
        """The calibration level of the values (docs/calibration.md)."""
        return calibration_level(self)


def band_space(frame: Frame) -> str:
    """What the bands are: "linear sRGB primaries", "camera RGB" or "one band"."""
    if frame.image.ndim == 2 or frame.image.shape[2] == 1:
        return "one band"
    return "linear sRGB primaries" if frame.units.endswith("_srgb") else "camera RGB"


def calibration_level(frame: Frame) -> CalibrationLevel:
    """What ``frame``'s values are: level, units and what calibration was missing (docs/calibration.md)."""
    rtype = frame.radiometric_type
    if frame.units == "code" or rtype == "raw":
        return CalibrationLevel(0, "companded code", frame.missing)
    if frame.units == "dn":
        return CalibrationLevel(1, "DN", frame.missing)
    if rtype in ABSOLUTE_TYPES:
        return CalibrationLevel(3, UNIT_TEXT[rtype], frame.missing)
    return CalibrationLevel(2 if frame.flat_fielded else 1, UNIT_TEXT.get(rtype, "DN"), frame.missing)


def frame_from_product(product: Product, *, sha256: str = "", settings: Settings | None = None) -> Frame:
    """Start the chain from a read :class:`~rovercam.products.Product` (pixels required).

    Parameters
    ----------
    product : Product
        With pixels and a camera model.
    sha256 : str, keyword-only
        The product file's digest, recorded as the provenance input.
    settings : Settings, optional
        Its ``config_hash`` goes into the provenance.

    Raises
    ------
    rovercam.errors.ProductError
        No pixels or no camera model.
    """
    if product.image is None:
        raise ProductError(product.path or product.product_id, "product was read without pixels")
    if product.camera_model is None:
        raise ProductError(product.path or product.product_id, "label has no camera model")
    prov = Provenance(
        inputs={product.product_id: sha256},
        software_version=rovercam.__version__,
        config_hash=settings.config_hash if settings else "",
    )
    meta = product.meta
    frame = Frame(
        meta=meta,
        image=product.image,
        units="code" if meta.companding.state == "companded" else "dn",
        provenance=prov,
        flat_fielded=bool(meta.flat_field_applied and meta.onboard_flat is None),
    )
    frame.provenance.level = calibration_level(frame)
    return frame
