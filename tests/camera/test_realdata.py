"""Conformance on every real flight model in ../shared/realdata (skipped when it is absent)."""
from __future__ import annotations

import numpy as np
import pytest

from camera_realdata import RealModel, image_grid
from rovercam.camera import frames
from rovercam.products.model import FrameDefinition

pytestmark = pytest.mark.realdata

NAMES = [
    "mer_navcam_cahvor", "mer_fhaz_cahvore", "msl_flb", "msl_nrb", "mer_frh",
    "m2020_nlf_0629", "m2020_nlf_0670",
]
RANGES_M = (0.5, 1.0, 10.0, 100.0, 1000.0)


@pytest.mark.parametrize("name", NAMES)
def test_unproject_then_project_round_trip(real_models: dict[str, RealModel], name: str) -> None:
    # issue 3: <= 1e-9 px over the full image, at ranges 0.5 m to 1 km, fisheye corners included
    rm = real_models[name]
    px = image_grid(rm.size, 16)
    origins, dirs = rm.model.unproject(px)
    assert np.isfinite(dirs).all(), "every pixel of a flight model has a ray"
    for range_m in RANGES_M:
        back = rm.model.project(origins + range_m * dirs)
        np.testing.assert_allclose(back, px, rtol=0, atol=1e-9)  # px
    np.testing.assert_allclose(rm.model.project_directions(dirs), px, rtol=0, atol=1e-9)  # px


@pytest.mark.parametrize("name", NAMES)
def test_project_then_unproject_round_trip(real_models: dict[str, RealModel], name: str) -> None:
    # issue 3: <= 1e-9 rad between the point's direction (from the ray origin) and the ray
    rm = real_models[name]
    origins, dirs = rm.model.unproject(image_grid(rm.size, 16))
    for range_m in RANGES_M:
        pts = origins + range_m * dirs
        o2, d2 = rm.model.unproject(rm.model.project(pts))
        to_pt = pts - o2
        angle = np.arctan2(
            np.linalg.norm(np.cross(d2, to_pt), axis=1), np.einsum("ij,ij->i", d2, to_pt)
        )
        assert angle.max() < 1e-9  # rad


def test_fisheye_corners_reach_about_90_degrees(real_models: dict[str, RealModel]) -> None:
    # The hazcam corners are ~90+ deg off-axis: the round trips above really cover them
    rm = real_models["msl_flb"]
    _, dirs = rm.model.unproject(np.array([(0.0, 0.0), (1023.0, 1023.0)]))
    off_axis = np.degrees(np.arccos(dirs @ rm.model.a))
    assert off_axis.min() > 85.0


def _quantity(value) -> float:
    return float(getattr(value, "value", value))


def _pds3_frame(group) -> FrameDefinition:
    return FrameDefinition(
        name=str(group["COORDINATE_SYSTEM_NAME"]),
        quaternion=tuple(float(x) for x in group["ORIGIN_ROTATION_QUATERNION"]),
        offset=tuple(float(x) for x in group["ORIGIN_OFFSET_VECTOR"]),
        reference=str(group["REFERENCE_COORD_SYSTEM_NAME"]),
    )


def _assert_pointing(model, centre, t_site_rover, rover_azel, site_azel) -> None:
    # truth: the label's INSTRUMENT_AZIMUTH/ELEVATION = az/el of the model's ray through the
    # detector centre (MANIFEST.md); SITE = that ray rotated by the rover quaternion.
    _, direction = model.unproject(np.array([centre]))
    az, el = frames.azimuth_elevation(direction)
    assert (az[0] - rover_azel[0] + 180) % 360 - 180 == pytest.approx(0, abs=1e-3)  # deg
    assert el[0] == pytest.approx(rover_azel[1], abs=1e-3)  # deg
    az, el = frames.azimuth_elevation(t_site_rover.rotate(direction))
    assert (az[0] - site_azel[0] + 180) % 360 - 180 == pytest.approx(0, abs=1e-3)  # deg
    assert el[0] == pytest.approx(site_azel[1], abs=1e-3)  # deg


@pytest.mark.parametrize(
    ("name", "rover_group", "geometry"),
    [
        ("msl_flb", "ROVER_COORDINATE_SYSTEM", ""),
        ("msl_nrb", "ROVER_COORD_SYSTEM_PARMS", ""),
    ],
)
def test_pds3_label_pointing(real_models: dict[str, RealModel], name: str, rover_group: str,
                             geometry: str) -> None:
    rm = real_models[name]
    label = rm.label
    t_site_rover = frames.transform_from_frame(_pds3_frame(label[rover_group]))
    rover = label["ROVER_DERIVED_GEOMETRY_PARMS"]
    site = label["SITE_DERIVED_GEOMETRY_PARMS"]
    centre = ((rm.size[0] - 1) / 2, (rm.size[1] - 1) / 2)  # full frames
    _assert_pointing(
        rm.model, centre, t_site_rover,
        (_quantity(rover["INSTRUMENT_AZIMUTH"]), _quantity(rover["INSTRUMENT_ELEVATION"])),
        (_quantity(site["INSTRUMENT_AZIMUTH"]), _quantity(site["INSTRUMENT_ELEVATION"])),
    )


def _pds4_text(root, path: list[str]) -> str:
    elem = root
    for name in path:
        elem = next(e for e in elem if e.tag.rsplit("}", 1)[-1] == name)
    return elem.text or ""


def test_pds4_label_pointing(real_models: dict[str, RealModel]) -> None:
    rm = real_models["m2020_nlf_0629"]
    root = rm.label
    rover = next(
        e for e in root.iter() if e.tag.endswith("}Coordinate_Space_Definition")
        and any((c.text or "").startswith("ROVER_NAV_FRAME") for c in e if c.tag.endswith("local_identifier"))
    )
    q = [float(_pds4_text(rover, ["Quaternion_Plus_Direction", n])) for n in ("qcos", "qsin1", "qsin2", "qsin3")]
    off = [float(_pds4_text(rover, ["Vector_Origin_Offset", f"{a}_position"])) for a in "xyz"]
    t_site_rover = frames.RigidTransform(frames.quaternion_to_matrix(q), off)
    derived = [e for e in root.iter() if e.tag.endswith("}Derived_Geometry")]
    values = [
        (float(_pds4_text(d, ["instrument_azimuth"])), float(_pds4_text(d, ["instrument_elevation"])))
        for d in derived
    ]
    assert values == [(110.554, -10.0659), (-50.247, -7.87312)]  # rover, then SITE_FRAME_30
    # detector centre in product pixels: (2559.5 - (first_sample - 1), 1919.5 - (first_line - 1))
    centre = (2559.5 - (1273 - 1), 1919.5 - (953 - 1))
    _assert_pointing(rm.model, centre, t_site_rover, values[0], values[1])
