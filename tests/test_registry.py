"""The camera registry (config/cameras/*.toml) and the calibration shipped in data/.

Truth: the files themselves (their sha256 in data/manifest.toml), the issue's list of cameras,
and docs/cameras.md, which must show exactly what `rovercam cameras --markdown` prints.
"""
from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

from rovercam import config
from rovercam.radiometry.calfile import calibration_image, map_to_frame
from rovercam.registry import calibration_files, iter_cameras, lut_files, registry_markdown

REPO = Path(__file__).resolve().parents[1]
SETTINGS = config.load(environ={})
CAMERAS = iter_cameras(SETTINGS.cameras)
DATA = config.data_dir()

#: The cameras issue 15 asks the registry to cover, at least.
REQUIRED = {
    "M2020": ["NAVCAM_LEFT", "NAVCAM_RIGHT", "FRONT_HAZCAM_LEFT_A", "FRONT_HAZCAM_RIGHT_A",
              "FRONT_HAZCAM_LEFT_B", "FRONT_HAZCAM_RIGHT_B", "REAR_HAZCAM_LEFT", "REAR_HAZCAM_RIGHT",
              "MCZ_LEFT", "MCZ_RIGHT", "EDL_RDCAM", "EDL_DDCAM", "EDL_PUCAM1", "EDL_PUCAM2", "EDL_PUCAM3",
              "EDL_RUCAM", "LCAM"],
    "MSL": [f"{c}_{s}_{k}" for c in ("NAV", "FHAZ", "RHAZ") for s in ("LEFT", "RIGHT") for k in "AB"]
    + ["MAST_LEFT", "MAST_RIGHT", "MAHLI", "MARDI"],
    "MER": ["NAVCAM_LEFT", "NAVCAM_RIGHT", "FRONT_HAZCAM_LEFT", "FRONT_HAZCAM_RIGHT", "REAR_HAZCAM_LEFT",
            "REAR_HAZCAM_RIGHT", "PANCAM_LEFT", "PANCAM_RIGHT", "MI"],
    "NSYT": ["IDC", "ICC"],
}


def _ids(cams) -> list[str]:
    return [c.key for c in cams]


def test_the_registry_covers_every_camera_the_issue_names():
    for mission, ids in REQUIRED.items():
        missing = set(ids) - set(SETTINGS.cameras.get(mission, {}))
        assert not missing, (mission, sorted(missing))


@pytest.mark.parametrize("cam", CAMERAS, ids=_ids(CAMERAS))
def test_entry_resolves_its_calibration_files_in_data(cam):
    shipped = config.calibration_data_dir()
    for rel in calibration_files(cam):
        assert (shipped / rel).is_file(), f"{cam.key}: {rel} is not in data/calibration"
    for label_id, stem in cam.luts.items():
        assert lut_files(cam, [shipped]), f"{cam.key}: no LUT of its family in data/"
        assert any(p.name.lower() == f"{stem}.txt".lower() for p in (shipped / "luts").iterdir()), \
            f"{cam.key}: {label_id} -> {stem}.txt is not in data/calibration/luts"
    if cam.lut_prefix:
        assert lut_files(cam, [shipped]), f"{cam.key}: no {cam.lut_prefix}LUT<n>.txt in data/"


@pytest.mark.parametrize("cam", CAMERAS, ids=_ids(CAMERAS))
def test_entry_states_the_source_of_its_radiometric_status(cam):
    assert cam.radiometry in ("absolute", "relative")
    assert len(cam.radiometry_source.split()) >= 4, f"{cam.key}: say where the status comes from"
    assert not cam.synthetic, f"{cam.key}: the shipped registry holds no synthetic camera"
    if cam.radiometry == "absolute":
        assert cam.responsivity is not None
    if cam.flat:
        assert cam.flat_source, f"{cam.key}: say where its flat comes from"
    if cam.bias_dn:
        assert cam.bias_source, f"{cam.key}: say where its bias comes from"


@pytest.mark.parametrize("cam", CAMERAS, ids=_ids(CAMERAS))
def test_entry_appears_in_docs_cameras_md(cam):
    assert f"`{cam.key}`" in (REPO / "docs" / "cameras.md").read_text()


def test_docs_table_is_what_rovercam_cameras_prints():
    doc = (REPO / "docs" / "cameras.md").read_text()
    table = re.search(r"<!-- registry table[^\n]*-->\n(.*?)<!-- end of registry table -->", doc, re.S)
    assert table, "docs/cameras.md lost its registry-table markers"
    assert table.group(1) == registry_markdown(SETTINGS.cameras, list(SETTINGS.calibration_path)), \
        "docs/cameras.md is stale: paste `rovercam cameras --markdown` between its markers"


def test_stereo_partners_point_back():
    for cam in CAMERAS:
        if cam.stereo_partner:
            partner = SETTINGS.camera(cam.stereo_partner, cam.mission)
            assert partner.stereo_partner == cam.instrument_id, cam.key


def test_manifest_lists_every_shipped_file_with_its_checksum():
    manifest = tomllib.loads((DATA / "manifest.toml").read_text())
    listed = {f["path"]: f for f in manifest["file"]}
    on_disk = {p.relative_to(DATA).as_posix() for p in (DATA / "calibration").rglob("*") if p.is_file()}
    assert on_disk == set(listed), "data/calibration and data/manifest.toml disagree"
    for path, entry in listed.items():
        assert hashlib.sha256((DATA / path).read_bytes()).hexdigest() == entry["sha256"], path
        assert entry["purpose"] and entry["source"] in manifest["sources"]
    for source in manifest["sources"].values():
        assert (DATA / source["license_file"]).is_file()  # the license travels with the files


def test_every_shipped_file_is_used_by_a_camera():
    used = {rel for cam in CAMERAS for rel in calibration_files(cam)}
    used |= {f"luts/{name}" for cam in CAMERAS for name in lut_files(cam, [config.calibration_data_dir()])}
    shipped = {p.relative_to(config.calibration_data_dir()).as_posix()
               for p in config.calibration_data_dir().rglob("*") if p.is_file()}
    assert shipped - used == set(), "shipped but used by no camera"


@pytest.mark.parametrize("cam", [c for c in CAMERAS if c.flat], ids=_ids([c for c in CAMERAS if c.flat]))
def test_flats_read_normalised_and_cover_a_full_frame(cam):
    for rel in calibration_files(cam)[:3]:
        if rel == cam.bad_pixels:
            continue
        flat = calibration_image(config.calibration_data_dir() / rel, kind="flat")
        h, w = flat.shape[:2]
        centre = flat[h // 4: h - h // 4, w // 4: w - w // 4]
        assert np.mean(centre[centre > 0]) == pytest.approx(1.0, rel=1e-4)  # normalised
        # a full frame of the detector at this flat's own scale is covered exactly
        det = (cam.detector_samples, cam.detector_lines)
        ds = det[0] // w if det[0] % w == 0 else 1
        out = map_to_frame(flat, (h, w), first_line=1, first_sample=1, downsample=(ds, ds),
                           detector=det, kind="flat")
        assert out is not None and np.array_equal(out, flat)


def test_rovercam_cameras_lists_the_registry(capsys):
    import json

    from rovercam.cli import main

    assert main(["cameras", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [s["camera"] for s in status] == [c.key for c in CAMERAS]
    byid = {s["camera"]: s for s in status}
    assert byid["MSL/NAV_LEFT_B"]["level"] == 2 and byid["MSL/NAV_LEFT_A"]["level"] == 1  # flat: B only
    assert all(v for v in byid["M2020/NAVCAM_LEFT"]["flat"].values())  # sf1, sf2, sf4 all found
    assert main(["cameras", "--mission", "mer", "--json"]) == 0
    assert [s["camera"] for s in json.loads(capsys.readouterr().out)] == [
        c.key for c in CAMERAS if c.mission == "MER"]
    assert main(["cameras"]) == 0  # the readable table
    assert "camera registry (44 cameras" in capsys.readouterr().out
    assert main(["cameras", "--mission", "JUNO"]) == 2  # a clear error, not a traceback


@pytest.mark.realdata
def test_inspect_states_the_level_the_chain_will_reach(realdata, capsys):
    import json

    from rovercam.cli import main

    # a PDS4 label whose .IMG is not available: planned from the label alone
    xml = realdata / "m2020" / "NLF_0629_0722782785_631ECM_N0301344NCAM00427_06_095J01.xml"
    assert main(["inspect", str(xml), "--label-only", "--json"]) == 0
    cal = json.loads(capsys.readouterr().out)["calibration"]
    assert cal["camera"] == "M2020/NAVCAM_LEFT"
    assert (cal["level"], cal["units"]) == (2, "DN s-1")
    assert cal["missing"] == ["absolute responsivity", "colour matrix"]
    rad = realdata / "msl" / "NRB_701384494RAD_F0933408NCAM00200M1.LBL"
    assert main(["inspect", str(rad), "--json"]) == 0
    cal = json.loads(capsys.readouterr().out)["calibration"]
    assert (cal["camera"], cal["level"], cal["name"], cal["missing"]) == ("MSL/NAV_RIGHT_B", 3, "absolute", [])
