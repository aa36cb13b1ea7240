"""Inverse LUT files, lookup, and the designed table."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from rovercam.errors import CalibrationError
from rovercam.radiometry import InverseLUT, design_sqrt_lut, find_lut, load_lut, write_lut

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"
LUTS = REALDATA / "luts"
needs_realdata = pytest.mark.skipif(
    not LUTS.is_dir(), reason=f"real calibration tables not found at {LUTS}"
)

# truth: the flight tables (data/calibration/luts; docs/calibration.md#decompanding), code -> DN.
SAMPLE_CODES = [0, 1, 2, 16, 32, 64, 128, 192, 254, 255]
LUT2_SAMPLES = [0, 1, 127, 193, 289, 544, 1329, 2504, 4035, 4095]
LUT0_SAMPLES = [0, 2, 3, 16, 46, 150, 542, 1177, 2025, 2033]


def _table_text(values) -> str:
    return "".join(f"{c} {v}\n" for c, v in enumerate(values))


@pytest.mark.realdata
@needs_realdata
@pytest.mark.parametrize(
    "filename, samples",
    [
        ("M20_LUT2_v2a.txt", LUT2_SAMPLES),
        ("M20_MCZ_LUT0.txt", LUT0_SAMPLES),
        ("MSL_DECOMPAND0.TXT", LUT0_SAMPLES),  # PDS3 text label before the rows
    ],
)
def test_real_tables_match_published_sample_points(filename, samples):
    path = LUTS / filename
    lut = load_lut(path)
    assert lut.values.dtype == np.uint16 and lut.values.shape == (256,)
    assert lut.values[SAMPLE_CODES].tolist() == samples
    assert lut.name == path.stem
    assert lut.source == path
    assert lut.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert lut.dn_max == samples[-1]


@pytest.mark.realdata
@needs_realdata
def test_mastcamz_lut0_equals_msl_mmm_table0():
    # truth: MANIFEST.md says M20_MCZ_LUT0 has the same values as MSL MMM LUT0.
    a = load_lut(LUTS / "M20_MCZ_LUT0.txt")
    b = load_lut(LUTS / "MSL_DECOMPAND0.TXT")
    np.testing.assert_array_equal(a.values, b.values)
    assert a != b  # different names and files: provenance must tell them apart


def test_values_are_read_only_and_hashable():
    lut = design_sqrt_lut("SYN_LUT2")
    with pytest.raises(ValueError):
        lut.values[3] = 0
    assert {lut: 1}[design_sqrt_lut("SYN_LUT2")] == 1


@pytest.mark.parametrize(
    "text, problem",
    [
        (_table_text(range(255)), "found 255 table rows"),
        (_table_text(range(257)), "found 257 table rows"),
        (_table_text([0, 5, 4] + list(range(6, 259))), "decreases at code 2"),
        (_table_text([70000] * 256), "0..65535"),
        (_table_text([-1] + list(range(1, 256))), "0..65535"),
        ("0 0\n1 1 1\n", "two integers"),
        ("0 0\n1 x\n", "two integers"),
        ("0 0\n2 2\n", "expected 1"),
        ("PDS_VERSION_ID = PDS3\nOBJECT = TEXT\nEND_OBJECT = TEXT\n" + _table_text(range(256)),
         "found 0 table rows"),  # a label without END swallows the file
    ],
)
def test_malformed_tables_are_refused(tmp_path, text, problem):
    path = tmp_path / "BAD_LUT.txt"
    path.write_text(text)
    with pytest.raises(CalibrationError, match=problem) as info:
        load_lut(path)
    assert info.value.source == str(path)


def test_non_ascii_and_missing_files_are_refused(tmp_path):
    path = tmp_path / "BIN.txt"
    path.write_bytes(b"0 0\n\xff\xfe\n")
    with pytest.raises(CalibrationError, match="ASCII"):
        load_lut(path)
    with pytest.raises(CalibrationError, match="cannot read"):
        load_lut(tmp_path / "absent.txt")


def test_label_comments_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "X_LUT9.TXT"
    body = "\r\n".join(f"{c:6d} {c * 4}" for c in range(256))
    path.write_text("PDS_VERSION_ID = PDS3\r\nEND\r\n\r\n# comment\r\n" + body + "\r\n")
    lut = load_lut(path, name="LUT9")
    assert lut.name == "LUT9"
    assert lut.values[255] == 1020


def test_write_then_load_round_trip_keeps_values_and_digest(tmp_path):
    designed = design_sqrt_lut("SYN_LUT2")
    path = write_lut(tmp_path / "SYN_LUT2.txt", designed)
    loaded = load_lut(path)
    np.testing.assert_array_equal(loaded.values, designed.values)
    assert loaded.sha256 == designed.sha256  # designed digest = digest of its written file
    assert loaded == designed == InverseLUT("SYN_LUT2", designed.values)


def test_invalid_values_in_the_constructor():
    with pytest.raises(CalibrationError, match="256 values"):
        InverseLUT("short", np.arange(10))
    with pytest.raises(CalibrationError, match="integers"):
        InverseLUT("frac", np.linspace(0, 1, 256))


# ---- find_lut ---------------------------------------------------------------------------------


def test_find_lut_exact_name_case_insensitive_first_folder_wins(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    write_lut(b / "M20_LUT2.TXT", design_sqrt_lut("in_b"))
    write_lut(a / "m20_lut2.txt", design_sqrt_lut("in_a", floor_dn=100))
    lut = find_lut("M20_LUT2", [tmp_path / "missing", a, b])
    assert lut.source.parent == a.resolve()
    assert lut.values[2] == 100


def test_find_lut_host_prefix_rule_and_ambiguity(tmp_path):
    write_lut(tmp_path / "M20_LUT2.txt", design_sqrt_lut("x"))
    assert find_lut("LUT2", [tmp_path]).name == "M20_LUT2"
    # "LUT0" must not match the two-token prefix M20_MCZ_ nor guess between hosts.
    write_lut(tmp_path / "M20_MCZ_LUT0.txt", design_sqrt_lut("y"))
    with pytest.raises(CalibrationError, match="no inverse LUT"):
        find_lut("LUT0", [tmp_path])
    write_lut(tmp_path / "MSL_LUT2.txt", design_sqrt_lut("z"))
    with pytest.raises(CalibrationError, match="ambiguous"):
        find_lut("LUT2", [tmp_path])


def test_find_lut_missing_names_the_folders(tmp_path):
    with pytest.raises(CalibrationError, match=str(tmp_path)):
        find_lut("LUT7", [tmp_path])


def test_find_lut_caches_until_the_file_changes(tmp_path):
    path = write_lut(tmp_path / "C_LUT1.txt", design_sqrt_lut("c", floor_dn=127))
    first = find_lut("C_LUT1", [tmp_path])
    assert find_lut("C_LUT1", [tmp_path]) is first  # served from the cache
    write_lut(path, design_sqrt_lut("c", floor_dn=10, pedestal_dn=0))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # coarse mtime clocks
    second = find_lut("C_LUT1", [tmp_path])
    assert second is not first and second.values[2] == 10


@needs_realdata
@pytest.mark.realdata
def test_find_lut_reads_the_pds3_labelled_table():
    assert find_lut("msl_decompand0", [LUTS]).values[128] == 542


# ---- design_sqrt_lut --------------------------------------------------------------------------


def test_designed_table_has_the_flight_shape():
    lut = design_sqrt_lut("SYN_LUT2")
    v = lut.values.astype(int)
    assert v[:3].tolist() == [0, 1, 127]  # literal codes, then the dark floor jump
    assert v[254] == 4035 and v[255] == 4095
    assert np.all(np.diff(v) >= 1)  # every code distinct
    steps = np.diff(v[2:255])
    assert np.all(np.diff(steps) >= -1)  # steps grow (+-1 DN rounding)
    # truth: LUT2 sample points (docs/calibration.md#decompanding); "square-root-like" within 5 %
    # (measured 4.6 %).
    rel = np.abs(v[SAMPLE_CODES[2:]] - LUT2_SAMPLES[2:]) / np.array(LUT2_SAMPLES[2:])
    assert rel.max() < 0.05


def test_designed_table_can_mimic_mmm_lut0():
    lut = design_sqrt_lut("SYN_LUT0", in_bits=11, floor_dn=2, pedestal_dn=0, top_dn=2025, max_dn=2033)
    # truth: LUT0 sample points (docs/calibration.md); LUT0 is a pure square law,
    # 4 DN = rounding + 1-DN floor.
    np.testing.assert_allclose(lut.values[SAMPLE_CODES[2:]], LUT0_SAMPLES[2:], rtol=0, atol=4)


@pytest.mark.parametrize(
    "kwargs",
    [dict(in_bits=7), dict(floor_dn=4000), dict(top_dn=5000), dict(max_dn=5000), dict(pedestal_dn=200)],
)
def test_designed_table_refuses_impossible_parameters(kwargs):
    with pytest.raises(ValueError):
        design_sqrt_lut("bad", **kwargs)
