"""Conformance on every real flight model in ../shared/realdata (skipped when it is absent)."""
from __future__ import annotations

import numpy as np
import pytest

from camera_realdata import RealModel, image_grid
from rovercam.camera import CAHVORE, coordinates
from rovercam.camera.cahvore import REFINE_RANGE_M
from rovercam.products.model import CoordinateSystem

pytestmark = pytest.mark.realdata

NAMES = [
    "mer_navcam_cahvor", "mer_fhaz_cahvore", "msl_flb", "msl_nrb", "mer_frh",
    "m2020_nlf_0629", "m2020_nlf_0670",
]
RANGES_M = (0.5, 1.0, 10.0, 100.0, 1000.0)


def _bent_preimage(model) -> bool:
    """A CAHVORE with pupil terms and an off-unit O (as labels print it, kept as cmod uses it).

    cmod's projection of such a model maps a pixel's pre-image onto a curve, not a straight
    line: ``lambda3 = d - (d.O) O`` gains an axial part ~(1 - |O|^2) zeta that the pupil shift
    makes range-dependent. The departure is ~1e-9 m for Hazcam E ~ 2e-3 m and |O| - 1 ~ 2e-7.
    """
    return (isinstance(model, CAHVORE) and float(np.abs(model.e).max()) > 1e-6
            and float(model.o @ model.o) != 1.0)


@pytest.mark.parametrize("name", NAMES)
def test_unproject_then_project_round_trip(real_models: dict[str, RealModel], name: str) -> None:
    # issue 3: <= 1e-9 px over the full image, at ranges 0.5 m to 1 km, fisheye corners included
    rm = real_models[name]
    px = image_grid(rm.size, 16)
    origins, dirs = rm.model.unproject(px)
    assert np.isfinite(dirs).all(), "every pixel of a flight model has a ray"
    np.testing.assert_allclose(rm.model.project_directions(dirs), px, rtol=0, atol=1e-9)  # px
    np.testing.assert_allclose(rm.model.project(origins + REFINE_RANGE_M * dirs), px,
                               rtol=0, atol=1e-9)  # px
    # bent pre-images (Hazcams): a straight ray is exact at infinity and at 1 m only; measured
    # elsewhere 3.2e-7 px at 0.5 m, 1.3e-8 px at 10 m (FLB, MER Hazcams). Others: ~1e-12 px.
    atol = 1e-6 if _bent_preimage(rm.model) else 1e-9  # px
    for range_m in RANGES_M:
        back = rm.model.project(origins + range_m * dirs)
        np.testing.assert_allclose(back, px, rtol=0, atol=atol)  # px


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
        # bent pre-images (see above): measured 1.4e-9 rad (FLB, MER Hazcams); others ~1e-15
        assert angle.max() < (5e-9 if _bent_preimage(rm.model) else 1e-9)  # rad


def test_fisheye_corners_reach_about_90_degrees(real_models: dict[str, RealModel]) -> None:
    # The hazcam corners are ~90+ deg off-axis: the round trips above really cover them
    rm = real_models["msl_flb"]
    _, dirs = rm.model.unproject(np.array([(0.0, 0.0), (1023.0, 1023.0)]))
    off_axis = np.degrees(np.arccos(dirs @ rm.model.a))
    assert off_axis.min() > 85.0


def _quantity(value) -> float:
    return float(getattr(value, "value", value))


def _pds3_frame(group) -> CoordinateSystem:
    return CoordinateSystem(
        name=str(group["COORDINATE_SYSTEM_NAME"]),
        quaternion=tuple(float(x) for x in group["ORIGIN_ROTATION_QUATERNION"]),
        offset=tuple(float(x) for x in group["ORIGIN_OFFSET_VECTOR"]),
        reference=str(group["REFERENCE_COORD_SYSTEM_NAME"]),
    )


def _unit_from_azel(az_deg: float, el_deg: float) -> np.ndarray:
    az, el = np.radians(az_deg), np.radians(el_deg)
    return np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), -np.sin(el)])  # z down


def _separation_deg(direction: np.ndarray, azel: tuple[float, float]) -> float:
    u = direction / np.linalg.norm(direction)
    w = _unit_from_azel(*azel)
    return float(np.degrees(np.arctan2(np.linalg.norm(np.cross(u, w)), u @ w)))


def _assert_pointing(model, centre, t_site_rover, rover_azel, site_azel, *, tol_deg=1e-3) -> None:
    # truth: the label's INSTRUMENT_AZIMUTH/ELEVATION = az/el of the model's ray through the
    # detector centre (docs/conventions.md#pointing-in-labels: ~1e-3 deg); SITE = that ray rotated
    # by the rover quaternion.
    # Compared as the angle between the two directions (an azimuth difference at -50 deg
    # elevation overstates the angle by 1/cos(el)).
    _, direction = model.unproject(np.array([centre]))
    assert _separation_deg(direction[0], rover_azel) < tol_deg  # deg
    assert _separation_deg(t_site_rover.rotate(direction)[0], site_azel) < tol_deg  # deg


@pytest.mark.parametrize(
    ("name", "rover_group", "tol_deg"),
    [
        # measured 2.1e-5 (rover) / 2.3e-4 (site) deg
        ("msl_flb", "ROVER_COORDINATE_SYSTEM", 1e-3),
        # measured 1.17e-3 / 1.23e-3 deg with the label's vectors as stored (0.87e-3 / 0.93e-3
        # with A and O renormalised): this RDR's derived pointing is ~1e-3 deg from its own
        # printed model either way, beyond MANIFEST's ~1e-3 deg, so 1.5e-3 deg for it
        ("msl_nrb", "ROVER_COORD_SYSTEM_PARMS", 1.5e-3),
    ],
)
def test_pds3_label_pointing(real_models: dict[str, RealModel], name: str, rover_group: str,
                             tol_deg: float) -> None:
    rm = real_models[name]
    label = rm.label
    t_site_rover = coordinates.transform_from_frame(_pds3_frame(label[rover_group]))
    rover = label["ROVER_DERIVED_GEOMETRY_PARMS"]
    site = label["SITE_DERIVED_GEOMETRY_PARMS"]
    centre = ((rm.size[0] - 1) / 2, (rm.size[1] - 1) / 2)  # full frames
    _assert_pointing(
        rm.model, centre, t_site_rover,
        (_quantity(rover["INSTRUMENT_AZIMUTH"]), _quantity(rover["INSTRUMENT_ELEVATION"])),
        (_quantity(site["INSTRUMENT_AZIMUTH"]), _quantity(site["INSTRUMENT_ELEVATION"])),
        tol_deg=tol_deg,
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
    t_site_rover = coordinates.RigidTransform(coordinates.quaternion_to_matrix(q), off)
    derived = [e for e in root.iter() if e.tag.endswith("}Derived_Geometry")]
    values = [
        (float(_pds4_text(d, ["instrument_azimuth"])), float(_pds4_text(d, ["instrument_elevation"])))
        for d in derived
    ]
    assert values == [(110.554, -10.0659), (-50.247, -7.87312)]  # rover, then SITE_FRAME_30
    # detector centre in product pixels: (2559.5 - (first_sample - 1), 1919.5 - (first_line - 1))
    centre = (2559.5 - (1273 - 1), 1919.5 - (953 - 1))
    _assert_pointing(rm.model, centre, t_site_rover, values[0], values[1])
