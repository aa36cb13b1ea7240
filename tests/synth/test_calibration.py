"""The generator owns its calibration: camera tables written beside the sol, values never read
from the pipeline's settings, equal to the sensor that exposed the frames.

Truth: the generator's own sensor model (:func:`rovercam.synth.cameras.sensor_spec`) and manifest;
for the Navcam and Mastcam-Z values, the numbers config/cameras/{navcam,mastcamz}_*.toml held at
commit bafe98a (before the generator owned them), so frames stay bit-identical.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from rovercam.radiometry import XYZ_FROM_SRGB, load_flat
from rovercam.synth import generate_sol, load_truth
from rovercam.synth.calibration import camera_table
from rovercam.synth.cameras import CAMERAS, CROSSTALK, XYZ_FROM_CAMERA, sensor_spec

from synth_tables import ALLOWED, REQUIRED, check_table

@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cal") / "tiny"
    generate_sol(out, profile="tiny", seed=2)
    return out


def test_tiny_sol_carries_a_table_per_navcam(tiny: Path) -> None:
    m = load_truth(tiny).manifest
    assert sorted(p.name for p in (tiny / "calibration/cameras").iterdir()) == \
        ["navcam_left.toml", "navcam_right.toml"]
    assert set(m.calibration["cameras"]) == {"NAVCAM_LEFT", "NAVCAM_RIGHT"}
    for iid in m.calibration["cameras"]:
        table = check_table(tiny, iid)
        assert table["mission"] == "M2020" and table["cfa_pattern"] == "RGGB"
        # the flat the table names is the one the sensor applied (product grid of tiny)
        assert load_flat(tiny / "calibration" / table["flat"]).shape == (240, 320)


class _NoSettings:
    """A settings stand-in that fails on any use: camera values must not come from settings."""

    def __getattr__(self, name: str):
        raise AssertionError(f"the generator read settings.{name}")


def test_generator_never_reads_camera_values_from_settings(tmp_path: Path, tiny: Path) -> None:
    out = tmp_path / "sol"
    generate_sol(out, profile="tiny", seed=2, settings=_NoSettings())
    for name in ("navcam_left.toml", "navcam_right.toml"):
        assert (out / "calibration/cameras" / name).read_bytes() == \
            (tiny / "calibration/cameras" / name).read_bytes()
    raw = sorted((out / "raw").iterdir())
    assert raw and all(p.read_bytes() == (tiny / "raw" / p.name).read_bytes() for p in raw)


# truth: config/cameras/{navcam,mastcamz}_{left,right}.toml at commit bafe98a
FORMER_CONFIG = [
    ("NAVCAM_LEFT", 133.0, (4.6e6, 5.4e6, 3.9e6), 1.5, 6.0, 0.08),
    ("NAVCAM_RIGHT", 132.0, (4.5e6, 5.3e6, 3.95e6), 1.5, 6.0, 0.08),
    ("MCZ_LEFT", 14.0, (5.2e4, 6.1e4, 4.4e4), 0.8, 10.0, 0.08),
    ("MCZ_RIGHT", 14.0, (5.2e4, 6.1e4, 4.4e4), 0.8, 10.0, 0.08),
]


@pytest.mark.parametrize("iid, bias, resp, read_noise, gain, white", FORMER_CONFIG)
def test_sensor_values_equal_the_former_configuration(iid, bias, resp, read_noise, gain,
                                                      white) -> None:
    spec = sensor_spec(iid)
    assert (spec.bias_dn, spec.responsivity, spec.read_noise_dn, spec.gain_e_per_dn) == \
        (bias, resp, read_noise, gain)
    assert CAMERAS[iid].display_white_radiance == white
    assert spec.xyz_from_camera == ((0.439191, 0.349567, 0.161742),
                                    (0.158214, 0.852862, -0.011076),
                                    (0.001119, -0.048862, 1.136743))


def test_colour_matrix_undoes_the_crosstalk() -> None:
    expected = XYZ_FROM_SRGB @ np.linalg.inv(np.asarray(CROSSTALK))
    # the table keeps 6 decimals: half a unit of the last place
    np.testing.assert_allclose(np.asarray(XYZ_FROM_CAMERA), expected, rtol=0, atol=5e-7)


@pytest.mark.parametrize("iid", sorted(CAMERAS))
def test_every_table_parses_with_only_allowed_keys(iid: str) -> None:
    table = tomllib.loads(camera_table(sensor_spec(iid)))
    assert REQUIRED <= set(table) <= ALLOWED
    assert table["responsivity"] == list(CAMERAS[iid].responsivity)
