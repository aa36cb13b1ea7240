"""PDS3 and PDS4 camera-model components, in and out."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from rovercam.camera import CAHV, CAHVOR, CAHVORE, from_pds3, from_pds4, to_pds4
from rovercam.errors import CameraModelError

# MSL FLB_431397159EDR_F0141262FHAZ00323M1 GEOMETRIC_CAMERA_MODEL, as its label prints it
FLB_GROUP = {
    "MODEL_TYPE": "CAHVORE",
    "MODEL_COMPONENT_ID": ("C", "A", "H", "V", "O", "R", "E", "T", "P"),
    "MODEL_COMPONENT_1": (1.03304, -0.17145, -0.707908),
    "MODEL_COMPONENT_2": (0.706662, 0.00032, 0.707551),
    "MODEL_COMPONENT_3": (356.718, 453.901, 352.1),
    "MODEL_COMPONENT_4": (43.3011, 3.70251, 685.544),
    "MODEL_COMPONENT_5": (0.704793, -0.000541, 0.709413),
    "MODEL_COMPONENT_6": (8.0e-06, -0.013391, -0.007308),
    "MODEL_COMPONENT_7": (0.001868, 0.001572, 0.001665),
    "MODEL_COMPONENT_8": 3.0,
    "MODEL_COMPONENT_9": 0.37,
}


def test_from_pds3_reads_type_and_parameter_separately() -> None:
    model = from_pds3(FLB_GROUP)
    assert isinstance(model, CAHVORE)
    assert model.mtype == 3 and model.mparm == 0.37 and model.linearity == 0.37
    np.testing.assert_allclose(model.h, FLB_GROUP["MODEL_COMPONENT_3"], rtol=0, atol=0)
    # A and O are kept exactly as printed (cmod uses them so; |A| - 1 = -1.5e-7 here)
    np.testing.assert_array_equal(model.a, FLB_GROUP["MODEL_COMPONENT_2"])
    np.testing.assert_array_equal(model.o, FLB_GROUP["MODEL_COMPONENT_5"])


def test_pds3_round_trip() -> None:
    model = from_pds3(FLB_GROUP)
    group = model.to_pds3()
    assert group["MODEL_COMPONENT_8"] == 3.0 and group["MODEL_COMPONENT_9"] == 0.37
    assert group["MODEL_COMPONENT_ID"] == FLB_GROUP["MODEL_COMPONENT_ID"]
    assert all(isinstance(x, float) for x in group["MODEL_COMPONENT_3"])
    assert from_pds3(group) == model
    for small in (
        CAHV(model.c, model.a, model.h, model.v),
        CAHVOR(model.c, model.a, model.h, model.v, model.o, model.r),
    ):
        assert from_pds3(small.to_pds3()) == small


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"MODEL_TYPE": "PSPH"}, "unsupported MODEL_TYPE"),
        ({"MODEL_COMPONENT_8": 5.0}, "model type"),
        ({"MODEL_COMPONENT_3": (1.0, 2.0)}, "3 values"),
    ],
)
def test_from_pds3_rejects_bad_groups(change: dict, message: str) -> None:
    with pytest.raises(CameraModelError, match=message):
        from_pds3({**FLB_GROUP, **change})


def test_from_pds3_missing_component() -> None:
    group = dict(FLB_GROUP)
    del group["MODEL_COMPONENT_7"]
    with pytest.raises(CameraModelError, match="MODEL_COMPONENT_7"):
        from_pds3(group)


def test_pds4_round_trip_through_xml_text() -> None:
    model = from_pds3(FLB_GROUP)
    text = ET.tostring(to_pds4(model))
    back = from_pds4(ET.fromstring(text))
    assert back == model
    cahv = CAHV(model.c, model.a, model.h, model.v)
    assert from_pds4(ET.fromstring(ET.tostring(to_pds4(cahv)))) == cahv


def test_pds4_missing_model_raises() -> None:
    with pytest.raises(CameraModelError, match="no CAHV"):
        from_pds4(ET.fromstring("<Camera_Model_Parameters><model_type>PSPH</model_type>"
                                "</Camera_Model_Parameters>"))


@pytest.mark.realdata
def test_pds4_real_label_matches_domain_excerpt(real_models) -> None:
    # truth: the NLF_0629 label's geom:CAHVORE_Model (the example of the PDS4 img dictionary's
    # user guide, pds-data-dictionaries/ldd-img)
    model = real_models["m2020_nlf_0629"].model
    assert isinstance(model, CAHVORE) and model.mtype == 2 and model.linearity == 0.0
    np.testing.assert_array_equal(model.h, (-3229.43, 141.993, 229.563))
    np.testing.assert_array_equal(model.e, (-8.0e-09, 1.0e-08, -2.9e-08))
    assert model.internal().hs == pytest.approx(2958.5, abs=0.05)  # px, docs/cameras.md (ECAM)
