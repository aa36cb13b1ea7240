"""Label az/el groups in rovercam's convention beside the computed pointing (`rovercam inspect`)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from rovercam.camera.coordinates import direction_from_azimuth_elevation
from rovercam.products import read_product, summarize
from rovercam.products.label_angles import label_angles

FLB = "msl/FLB_431397159EDR_F0141262FHAZ00323M1.IMG"
NRB_LBL = "msl/NRB_701384494RAD_F0933408NCAM00200M1.LBL"
MER_IMG = "mer/1f581291004ednd2fcp1121r0m1.img"
NLF_XML = "m2020/NLF_0629_0722782785_631ECM_N0301344NCAM00427_06_095J01.xml"


def _entries(realdata, name: str) -> dict[tuple[str, str], dict]:
    s = summarize(read_product(realdata / name, pixels=False))
    return {(e["frame"].split("_FRAME")[0] + "_FRAME", e["quantity"]): e for e in s["label_angles"]}


@pytest.mark.realdata
@pytest.mark.parametrize("name, rover_frame, tol_deg", [
    # truth: the label's INSTRUMENT_AZIMUTH/ELEVATION is the az/el of the model ray through the
    # detector centre (docs/conventions.md#pointing-in-labels: ~1e-3 deg; 6-digit labels).
    # Measured separations:
    (FLB, "ROVER_NAV_FRAME", 1e-3),  # rover 2.1e-5, site 2.3e-4 deg
    (NLF_XML, "ROVER_NAV_FRAME", 1e-3),  # rover 4.1e-4, site 3.0e-5 deg
    # rover 1.17e-3, site 1.23e-3 deg: this RDR's pointing is ~1e-3 deg from its own printed
    # model (0.9e-3 with A and O renormalised), so 1.5e-3 deg for it
    (NRB_LBL, "ROVER_NAV_FRAME", 1.5e-3),
])
def test_instrument_angles_match_computed_pointing(realdata, name, rover_frame, tol_deg):
    entries = _entries(realdata, name)
    for frame in (rover_frame, "SITE_FRAME"):
        e = entries[(frame, "instrument")]
        # MSL and M2020 labels declare their conventions: CLOCKWISE / UP, from the label
        assert (e["convention"]["azimuth"], e["convention"]["elevation"]) == ("CLOCKWISE", "UP")
        assert "default" not in e["convention"]["source"]
        assert 0.0 <= e["converted"]["azimuth_deg"] < 360.0
        assert e["difference_deg"]["separation_deg"] < tol_deg  # deg
        assert abs(e["difference_deg"]["elevation_deg"]) < tol_deg  # deg


@pytest.mark.realdata
@pytest.mark.parametrize("name", [FLB, NRB_LBL, NLF_XML])
def test_rover_solar_angles_match_the_printed_sun_vector(realdata, name):
    # truth: SUN_VIEW_DIRECTION / Vector_Solar_Direction printed in the same group, 6 digits:
    # measured 4.5e-5 (FLB), 1.3e-4 (NRB), 2.3e-5 (NLF) deg
    e = _entries(realdata, name)[("ROVER_NAV_FRAME", "solar")]
    assert e["computed"]["source"].startswith("sun vector of ")
    assert e["difference_deg"]["separation_deg"] < 1e-3  # deg
    # the SITE solar angles are compared with that vector rotated by the rover quaternion; they
    # agree only to 0.01-1.3 deg (measured 1.27 FLB, 0.040 NRB, 0.0068 NLF): reported, not asserted
    site = _entries(realdata, name)[("SITE_FRAME", "solar")]
    assert math.isfinite(site["difference_deg"]["separation_deg"])


def _sun_elevation_deg(ltst_h: float, ls_deg: float, lat_deg: float) -> tuple[float, float]:
    """Sun azimuth (clockwise from north) and elevation from local true solar time.

    Declination: Allison & McEwen (2000), Planet. Space Sci. 48, 215, eq. 19:
    ``delta = asin(0.42565 sin Ls) + 0.25 deg sin Ls``; hour angle 15 deg per LTST hour.
    """
    ls = math.radians(ls_deg)
    dec = math.asin(0.42565 * math.sin(ls)) + math.radians(0.25) * math.sin(ls)
    h = math.radians(15.0 * (ltst_h - 12.0))
    lat = math.radians(lat_deg)
    up = math.sin(lat) * math.sin(dec) + math.cos(lat) * math.cos(dec) * math.cos(h)
    east = -math.cos(dec) * math.sin(h)
    north = math.cos(lat) * math.sin(dec) - math.sin(lat) * math.cos(dec) * math.cos(h)
    return math.degrees(math.atan2(east, north)) % 360.0, math.degrees(math.asin(up))


@pytest.mark.realdata
def test_mer_elevation_sign(realdata):
    # This MER EDR prints INSTRUMENT_AZIMUTH/ELEVATION = "NULL" in both derived groups: its only
    # az/el is SITE_FRAME SOLAR_AZIMUTH/ELEVATION = 265.089 / 79.2533, and SITE_FRAME has no
    # coordinate-system group, so the MER default applies. Truth: the sun from the label's
    # LOCAL_TRUE_SOLAR_TIME 12:42:52 and SOLAR_LONGITUDE 186.712 at Opportunity's 2.28 deg S
    # (sol 5104; +-0.5 deg of latitude moves the elevation by < 0.05 deg, the azimuth by < 2.5).
    entries = _entries(realdata, MER_IMG)
    assert entries[("ROVER_FRAME", "instrument")]["label"] == {"azimuth_deg": None, "elevation_deg": None}
    assert entries[("ROVER_FRAME", "instrument")]["convention"]["source"] == "label ROVER_FRAME coordinate system"
    solar = entries[("SITE_FRAME", "solar")]
    assert solar["convention"]["source"] == "MER default"
    az, el = _sun_elevation_deg(12 + 42 / 60 + 52 / 3600, 186.712, -2.28)
    assert el == pytest.approx(79.28, abs=0.01)  # deg, the truth itself
    assert abs(solar["converted"]["elevation_deg"] - el) < 0.1  # deg (measured 0.03)
    assert abs((solar["converted"]["azimuth_deg"] - az + 180) % 360 - 180) < 3.0  # deg (measured 1.5)
    # positive down would put the noon sun 79 deg below the horizon: off by ~2x the elevation
    assert abs(-solar["label"]["elevation_deg"] - el) > 150.0  # deg


def _fake_product(group: dict, systems: dict | None = None, mission: str = "MER"):
    label = {"ROVER_DERIVED_GEOMETRY_PARMS": group, **(systems or {})}
    return SimpleNamespace(label=label, mission=mission, coordinate_systems={}, camera_frame="ROVER_FRAME")


@pytest.mark.parametrize("declared, where", [
    ({"POSITIVE_ELEVATION_DIRECTION": "DOWN", "POSITIVE_AZIMUTH_DIRECTION": "COUNTERCLOCKWISE"}, "group"),
    (None, "system"),
])
def test_declared_down_and_counterclockwise_are_converted(declared, where):
    # truth: a direction at azimuth 30 deg clockwise, 40 deg above the horizon (z down), written
    # the way a DOWN / COUNTERCLOCKWISE label writes it: azimuth -30 (330), elevation -40
    pointing = direction_from_azimuth_elevation([30.0], [40.0])[0]
    group = {"INSTRUMENT_AZIMUTH": 330.0, "INSTRUMENT_ELEVATION": -40.0,
             "REFERENCE_COORD_SYSTEM_NAME": "ROVER_FRAME"}
    systems = None
    if where == "group":
        group.update(declared)
    else:
        systems = {"ROVER_COORDINATE_SYSTEM": {
            "COORDINATE_SYSTEM_NAME": "ROVER_FRAME", "POSITIVE_ELEVATION_DIRECTION": "DOWN",
            "POSITIVE_AZIMUTH_DIRECTION": "COUNTERCLOCKWISE"}}
    (e,) = label_angles(_fake_product(group, systems), pointing, [])
    assert (e["convention"]["azimuth"], e["convention"]["elevation"]) == ("COUNTERCLOCKWISE", "DOWN")
    assert e["converted"]["azimuth_deg"] == pytest.approx(30.0, abs=1e-12)
    assert e["converted"]["elevation_deg"] == pytest.approx(40.0, abs=1e-12)
    assert e["difference_deg"]["separation_deg"] < 1e-9  # deg
    # the raw values taken as rovercam's convention would be off by 2x the elevation
    assert abs(e["label"]["elevation_deg"] - e["computed"]["elevation_deg"]) == pytest.approx(80.0)


def test_mission_default_is_stated_when_the_label_is_silent():
    pointing = np.array([1.0, 0.0, 0.0])
    group = {"INSTRUMENT_AZIMUTH": 0.0, "INSTRUMENT_ELEVATION": 0.0,
             "REFERENCE_COORD_SYSTEM_NAME": "ROVER_FRAME"}
    (e,) = label_angles(_fake_product(group, mission="MSL"), pointing, [])
    assert e["convention"] == {"azimuth": "CLOCKWISE", "elevation": "UP", "source": "MSL default"}
    assert e["difference_deg"]["separation_deg"] == pytest.approx(0.0, abs=1e-12)
