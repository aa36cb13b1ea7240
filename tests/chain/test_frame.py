"""The Frame starts from the metadata the product reader filled (rovercam.chain.frame).

Truth: the label keywords (INSTRUMENT_STATE_PARMS FLAT_FIELD_CORRECTION_FLAG/_PARM,
SITE/ROVER_DERIVED_GEOMETRY_PARMS SOLAR_ELEVATION), read once by rovercam.products.fields.
"""
from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from rovercam import chain
from rovercam.camera import CAHV
from rovercam.errors import LabelContentError, ProductError
from rovercam.products.fields import product_from_label
from rovercam.products.model import Product, ProductMeta
from rovercam.products.odl import Quantity

_CAHV = {"MODEL_TYPE": "CAHV", "MODEL_COMPONENT_1": (0.0, 0.0, 0.0), "MODEL_COMPONENT_2": (1.0, 0.0, 0.0),
         "MODEL_COMPONENT_3": (32.0, 100.0, 0.0), "MODEL_COMPONENT_4": (24.0, 0.0, 100.0),
         "REFERENCE_COORD_SYSTEM_NAME": "ROVER_NAV_FRAME"}


def _label(**state) -> dict:
    return {
        "PRODUCT_ID": "NLF_0100_0675828717_276ECM_N0040218NCAM00503_01_295J01",
        "INSTRUMENT_HOST_ID": "M2020",
        "INSTRUMENT_STATE_PARMS": {"EXPOSURE_DURATION": Quantity(10.0, "ms"), **state},
        "GEOMETRIC_CAMERA_MODEL": _CAHV,
        "ROVER_DERIVED_GEOMETRY_PARMS": {"SOLAR_ELEVATION": Quantity(12.5, "deg")},
        "SITE_DERIVED_GEOMETRY_PARMS": {"SOLAR_ELEVATION": (Quantity(40.25, "deg"),)},
        "IMAGE": {"LINES": 48, "LINE_SAMPLES": 64, "BANDS": 1},
    }


def test_onboard_flat_and_solar_elevation_are_read_with_the_product():
    parm = (32.0, 24.0, 1e-4, Quantity(1e-8, ""), 0)
    p = product_from_label(_label(FLAT_FIELD_CORRECTION_FLAG="TRUE", FLAT_FIELD_CORRECTION_PARM=parm),
                           path="x.IMG", image=np.zeros((48, 64), np.uint16))
    assert p.meta.onboard_flat == (32.0, 24.0, 1e-4, 1e-8, 0.0)
    assert p.meta.solar_elevation_deg == 40.25  # the site group wins over the rover group
    assert p.flat_field_applied
    f = chain.frame_from_product(p)
    assert f.meta is p.meta  # one record, shared
    assert f.onboard_flat == p.meta.onboard_flat and not f.ground_flat_applied and not f.flat_fielded
    assert f.units == "dn" and f.exposure_s == 0.01 and isinstance(f.camera_model, CAHV)


def test_onboard_flat_needs_the_flag_and_five_numbers():
    p = product_from_label(_label(FLAT_FIELD_CORRECTION_FLAG="FALSE", FLAT_FIELD_CORRECTION_PARM=(1.0,) * 5),
                           path="x.IMG", image=None)
    assert p.meta.onboard_flat is None
    with pytest.raises(LabelContentError, match="FLAT_FIELD_CORRECTION_PARM has 4 values, expected 5"):
        product_from_label(_label(FLAT_FIELD_CORRECTION_FLAG="TRUE", FLAT_FIELD_CORRECTION_PARM=(1.0,) * 4),
                           path="x.IMG", image=None)


def test_a_flat_named_by_the_label_is_a_ground_flat():
    label = _label()
    label["DERIVED_IMAGE_PARMS"] = {"FLAT_FIELD_FILE_NAME": "FLAT_NL.IMG"}
    f = chain.frame_from_product(product_from_label(label, path="x.IMG", image=np.zeros((48, 64), np.uint16)))
    assert f.ground_flat_applied and f.flat_fielded and f.meta.onboard_flat is None


def test_every_meta_field_reads_as_an_attribute_of_product_and_frame():
    meta = ProductMeta(product_id="P", mission="M2020", instrument="NAVCAM_LEFT", sol=7,
                       camera_model=CAHV(**{k: v for k, v in zip("cahv", (_CAHV[f"MODEL_COMPONENT_{i}"]
                                                                           for i in range(1, 5)))}),
                       radiometric_type="spectral_radiance")
    p = Product(meta, image=np.zeros((2, 2), np.uint16))
    f = chain.frame_from_product(p)
    for name in (fld.name for fld in fields(ProductMeta)):
        assert getattr(p, name) is getattr(meta, name), name
        if name != "radiometric_type":
            assert getattr(f, name) is getattr(meta, name), name
    # the Frame's own radiometric_type is what its values are now; the label's stays in meta
    assert f.radiometric_type == "none" and f.label_radiometric_type == "spectral_radiance"
    with pytest.raises(AttributeError):
        p.sol = 8  # type: ignore[misc]  # metadata is read-only; replace(p.meta, ...) makes a new record


def test_frame_from_product_needs_pixels_and_a_model():
    meta = ProductMeta(product_id="P", mission="M2020", instrument="NAVCAM_LEFT")
    with pytest.raises(ProductError, match="without pixels"):
        chain.frame_from_product(Product(meta))
    with pytest.raises(ProductError, match="no camera model"):
        chain.frame_from_product(Product(meta, image=np.zeros((2, 2), np.uint16)))
