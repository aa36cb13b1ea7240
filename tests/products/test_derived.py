"""MIPL derived products recognized by type and label (docs/calibration.md, "Derived products").

Truth: the label keywords themselves (DERIVED_IMAGE_PARMS RADIANCE_SCALING_FACTOR/OFFSET,
RADIOMETRIC_CORRECTION_TYPE, SAMPLE_BIT_METHOD) and MIPL's product-type table: an inverse-LUT
product (ILF/ILT) or an MMM RDR is expanded even where its label still says HARDWARE.
"""
from __future__ import annotations

import pytest

from rovercam.products.fields import product_from_label
from rovercam.products.odl import Quantity


def _label(pid: str, **derived) -> dict:
    return {
        "PRODUCT_ID": pid,
        "INSTRUMENT_HOST_ID": "MSL",
        "INSTRUMENT_STATE_PARMS": {"SAMPLE_BIT_METHOD": "HARDWARE", "SAMPLE_BIT_MODE_ID": "MMM_LUT0",
                                   "EXPOSURE_DURATION": Quantity(10.0, "ms")},
        "DERIVED_IMAGE_PARMS": derived,
        "IMAGE": {"LINES": 4, "LINE_SAMPLES": 4, "BANDS": 1},
    }


@pytest.mark.parametrize("pid, state", [
    ("3423MR1016960081600825C00_DRCX", "expanded"),   # MMM RDR: says MMM_LUT0/HARDWARE, is processed
    ("3423MR1016960081600825C00_XXXX", "companded"),  # the EDR: companded indeed
    ("NLB_701384494ILT_F0933408NCAM00200M1", "expanded"),
    ("NLB_701384494EDR_F0933408NCAM00200M1", "companded"),
])
def test_decompanded_types_are_never_decompanded_again(pid, state):
    product = product_from_label(_label(pid), path=pid + ".IMG", image=None)
    assert product.companding.state == state


def test_radiance_scaling_is_read_with_its_namespace_and_type():
    product = product_from_label(
        _label("NRB_701384494RAD_F0933408NCAM00200M1", **{
            "MSL:RADIANCE_SCALING_FACTOR": Quantity(1.0e-5, "W.m**-2.sr**-1.nm**-1"),
            "MSL:RADIANCE_OFFSET": Quantity(0.0, "W.m**-2.sr**-1.nm**-1"),
            "RADIOMETRIC_CORRECTION_TYPE": "MIPLRAD"}),
        path="NRB.IMG", image=None)
    assert product.radiance_scaling == (1e-5, 0.0) and product.radiometric_type == "spectral_radiance"


def test_a_scaling_without_a_known_meaning_is_not_used():
    # an EDR with a scaling keyword but no radiometric type: nothing says what the values are
    product = product_from_label(
        _label("NRB_701384494EDR_F0933408NCAM00200M1", RADIANCE_SCALING_FACTOR=2.0),
        path="NRB.IMG", image=None)
    assert product.radiance_scaling is None and product.radiometric_type is None
    ras = product_from_label(
        _label("NRB_701384494RAS_F0933408NCAM00200M1", RADIANCE_SCALING_FACTOR=2.0, RADIANCE_OFFSET=0.5),
        path="NRB.IMG", image=None)
    assert ras.radiance_scaling == (2.0, 0.5) and ras.radiometric_type == "scaled_spectral_radiance"
