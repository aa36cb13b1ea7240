"""summarize() and `rovercam inspect` on every real product; pointing against the labels."""
from __future__ import annotations

import json

import pytest

from rovercam.camera.coordinates import transform_between
from rovercam.cli import main
from rovercam.products import read_product, summarize

FLB = "msl/FLB_431397159EDR_F0141262FHAZ00323M1.IMG"
NRB_LBL = "msl/NRB_701384494RAD_F0933408NCAM00200M1.LBL"
NRB_IMG = "msl/NRB_701384494RAD_F0933408NCAM00200M1.IMG"
MER_IMG = "mer/1f581291004ednd2fcp1121r0m1.img"
MER_LBL = "mer/1f581291004ednd2fcp1121r0m1.img.lbl"
NLF_XML = "m2020/NLF_0629_0722782785_631ECM_N0301344NCAM00427_06_095J01.xml"
NLF_PNG = "m2020/NLF_0670_0726421423_362ECM_N0320604NCAM08111_01_095J01.png"
NLF_JSON = "m2020/NLF_0670_0726421423_362ECM_N0320604NCAM08111_01_095J01-metadata.json"

# Labels print az/el with 6 significant digits: 1e-3 deg covers the rounding of both the label's
# angles and of its camera-model components (measured differences are < 5e-4 deg for FLB, NLF).
ANGLE_TOL_DEG = 1e-3


def _angle_diff(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


@pytest.mark.realdata
@pytest.mark.parametrize("name, pixels, rover, site, tol", [
    # truth: the labels' own pointing (docs/conventions.md#pointing-in-labels)
    (FLB, True, (1.81594, -44.4866), (233.876, -43.0257), ANGLE_TOL_DEG),
    # with the label's A and O as stored (cmod), NRB's azimuths differ by 1.16e-3 / 1.24e-3 deg
    # (at -50 deg elevation: 7.4e-4 deg on the sky); see tests/products/test_label_angles.py
    (NRB_LBL, True, (345.782, -50.0873), (141.71, -39.5214), 1.5e-3),
    (NLF_XML, False, (110.554, -10.0659), (-50.247, -7.87312), ANGLE_TOL_DEG),
])
def test_pointing_matches_label(realdata, name, pixels, rover, site, tol):
    s = summarize(read_product(realdata / name, pixels=pixels))
    model, site_az = s["pointing"]["model_frame"], s["pointing"]["site_frame"]
    assert _angle_diff(model["azimuth_deg"], rover[0]) < tol  # deg
    assert abs(model["elevation_deg"] - rover[1]) < tol  # deg
    assert _angle_diff(site_az["azimuth_deg"], site[0]) < tol  # deg
    assert abs(site_az["elevation_deg"] - site[1]) < tol  # deg
    # the label's own statement, as the summary reports it, is the same truth
    stated = {round(p["azimuth_deg"] % 360, 3) for p in s["label_pointing"]}
    assert round(rover[0] % 360, 3) in stated and round(site[0] % 360, 3) in stated


@pytest.mark.realdata
def test_rawsite_pointing_matches_mast_angles(realdata):
    # truth: the sidecar's mast_az / mast_el (1.19218, -33.9935), which the raw API derives
    # from the same rover-frame model; the ray through the detector centre (2559.5, 1919.5)
    s = summarize(read_product(realdata / NLF_PNG))
    assert s["pointing"]["pixel"] == [2559.5, 1919.5]
    assert abs(s["pointing"]["model_frame"]["azimuth_deg"] - 1.19218) < ANGLE_TOL_DEG
    assert abs(s["pointing"]["model_frame"]["elevation_deg"] + 33.9935) < ANGLE_TOL_DEG
    assert s["pointing"]["site_frame"] is None  # the sidecar carries no rover quaternion


@pytest.mark.realdata
@pytest.mark.parametrize("name", [FLB, NRB_LBL])
def test_self_referencing_site_frame_is_not_a_cycle(realdata, name):
    # SITE_COORDINATE_SYSTEM: SITE_FRAME (site n) defined in SITE_FRAME (site n-1)
    p = read_product(realdata / name, pixels=False)
    site_keys = [k for k in p.coordinate_systems if k.startswith("SITE_FRAME@")]
    assert len(site_keys) == 1
    site = p.coordinate_systems[site_keys[0]]
    assert site.reference == f"SITE_FRAME@{site.index[0] - 1}"
    transform_between(p.coordinate_systems, "ROVER_NAV_FRAME", "SITE_FRAME")  # no CameraModelError
    t = transform_between(p.coordinate_systems, site_keys[0], site.reference)
    assert list(t.t) == list(site.offset)


@pytest.mark.realdata
def test_summary_is_json_and_complete(realdata):
    s = summarize(read_product(realdata / MER_IMG))
    json.dumps(s)  # plain Python only
    # truth: the MER label's IMAGE object statistics (MANIFEST.md)
    assert s["label_stats"]["mean"] == 541.888 and s["label_stats"]["checksum"] == 1.42053e8
    assert (s["lines"], s["samples"], s["bands"], s["dtype"]) == (512, 512, 1, "int16")
    assert s["camera_model"]["type"] == "CAHVORE"
    assert s["camera_model"]["components"]["MODEL_COMPONENT_9"] == 0.37


ALL = [FLB, NRB_LBL, NRB_IMG, MER_IMG, MER_LBL, NLF_PNG, NLF_JSON]


@pytest.mark.realdata
@pytest.mark.parametrize("name", ALL + [NLF_XML])
def test_cli_inspect_json_on_every_real_product(realdata, name, capsys):
    args = ["inspect", str(realdata / name), "--json"]
    if name == NLF_XML:  # its .IMG is not available: the label alone
        args.append("--label-only")
    assert main(args) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["product_id"] and s["camera_model"]["type"] in ("CAHVOR", "CAHVORE")
    assert s["pointing"]["model_frame"]["frame"] in ("ROVER_NAV_FRAME", "ROVER_FRAME")


@pytest.mark.realdata
@pytest.mark.parametrize("name", [FLB, NLF_XML, NLF_JSON])
def test_cli_inspect_table_label_only(realdata, name, capsys):
    assert main(["inspect", str(realdata / name), "--label-only"]) == 0
    assert "product_id" in capsys.readouterr().out


@pytest.mark.realdata
def test_cli_inspect_refuses_missing_data_cleanly(realdata, capsys):
    # the PDS4 label's data file is absent: a ProductError, reported, exit status 2
    assert main(["inspect", str(realdata / NLF_XML)]) == 2
    assert "not found next to the label" in capsys.readouterr().err
