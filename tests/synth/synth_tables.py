"""Camera-table checks shared by the synth tests (imported as a plain module, like
tests/camera/camera_realdata.py)."""
from __future__ import annotations

import tomllib
from pathlib import Path

from rovercam.synth import load_truth
from rovercam.synth.calibration import RADIOMETRY_SOURCE
from rovercam.synth.cameras import CAMERAS, sensor_spec

#: Every key a camera table may hold (the pipeline's camera record forbids others).
ALLOWED = {"instrument_id", "mission", "code", "name", "aliases", "detector_samples",
           "detector_lines", "bits", "cfa_pattern", "lut_prefix", "luts", "bias_dn", "flat",
           "bad_pixels", "stereo_partner", "radiometry", "radiometry_source", "responsivity",
           "xyz_from_camera", "read_noise_dn", "gain_e_per_dn", "display_white_radiance",
           "synthetic"}
REQUIRED = {"instrument_id", "mission", "code", "detector_samples", "detector_lines", "bits",
            "lut_prefix", "luts", "bias_dn", "flat", "radiometry", "radiometry_source",
            "responsivity", "read_noise_dn", "gain_e_per_dn", "display_white_radiance",
            "synthetic"}


def check_table(sol: Path, iid: str) -> dict:
    """Parse a camera table of a generated sol and check it against the sensor; returns it."""
    m = load_truth(sol).manifest
    table = tomllib.loads((sol / m.calibration["cameras"][iid]).read_text())
    assert REQUIRED <= set(table) <= ALLOWED, set(table) ^ REQUIRED
    spec, cam, sensor = sensor_spec(iid), CAMERAS[iid], m.sensors[iid]
    assert (table["instrument_id"], table["mission"], table["code"]) == (iid, cam.mission, cam.code)
    assert (table["detector_samples"], table["detector_lines"], table["bits"]) == \
        (cam.samples, cam.lines, cam.bits)
    assert table["synthetic"] is True and table["radiometry"] == "absolute"
    assert table["radiometry_source"] == RADIOMETRY_SOURCE
    assert table["radiometry_source"].startswith("synthetic: ")
    # exact equality: the table carries the very numbers the sensor used (repr round trip)
    assert table["bias_dn"] == spec.bias_dn == sensor["bias_dn"]
    assert table["responsivity"] == list(spec.responsivity) == sensor["responsivity"]
    assert table["read_noise_dn"] == spec.read_noise_dn == sensor["read_noise_dn"]
    assert table["gain_e_per_dn"] == spec.gain_e_per_dn == sensor["gain_e_per_dn"]
    assert table["display_white_radiance"] == cam.display_white_radiance
    assert table["flat"] == spec.flat and (sol / "calibration" / table["flat"]).is_file()
    if cam.cfa is None:  # monochrome: one band, no CFA, no colour matrix
        assert "cfa_pattern" not in table and "xyz_from_camera" not in table
        assert len(set(table["responsivity"])) == 1
    else:
        assert table["cfa_pattern"] == cam.cfa
        assert table["xyz_from_camera"] == [list(r) for r in spec.xyz_from_camera]
        assert table["xyz_from_camera"] == sensor["xyz_from_camera"]
    for mode, stem in table["luts"].items():
        assert mode == cam.lut_mode and (sol / "calibration/luts" / f"{stem}.txt").is_file()
    assert bool(table["luts"]) == (cam.lut_mode != "NONE")
    if cam.stereo_partner is not None:
        assert table["stereo_partner"] == cam.stereo_partner
        assert CAMERAS[cam.stereo_partner].stereo_partner == iid
    return table
