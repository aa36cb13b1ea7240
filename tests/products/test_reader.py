"""read_product on real MSL/MER products, and refusal of bad input with ProductError only."""
from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from rovercam.errors import (
    DataSizeError,
    LabelContentError,
    LabelSyntaxError,
    ProductError,
    ProductTooLargeError,
    UnsupportedProductError,
)
from rovercam.products import Limits, odl, read_product

FLB = "msl/FLB_431397159EDR_F0141262FHAZ00323M1.IMG"
NRB_IMG = "msl/NRB_701384494RAD_F0933408NCAM00200M1.IMG"
NRB_LBL = "msl/NRB_701384494RAD_F0933408NCAM00200M1.LBL"
MER_IMG = "mer/1f581291004ednd2fcp1121r0m1.img"
MER_LBL = "mer/1f581291004ednd2fcp1121r0m1.img.lbl"


@pytest.mark.realdata
@pytest.mark.parametrize("name, shape, instrument, sol, site, drive", [
    (FLB, (1024, 1024), "FHAZ_LEFT_B", 382, 14, 1262),
    (NRB_IMG, (1024, 1024), "NAV_RIGHT_B", 3423, 93, 3408),
    (NRB_LBL, (1024, 1024), "NAV_RIGHT_B", 3423, 93, 3408),
    (MER_IMG, (512, 512), "FRONT_HAZCAM_RIGHT", 5104, 210, 292),
    (MER_LBL, (512, 512), "FRONT_HAZCAM_RIGHT", 5104, 210, 292),
])
def test_every_real_product_reads(realdata, name, shape, instrument, sol, site, drive):
    # truth: MANIFEST.md table and each label's IDENTIFICATION keys
    p = read_product(realdata / name)
    assert p.image.shape == shape and p.image.dtype == np.int16 and p.image.dtype.isnative
    assert (p.instrument, p.sol, p.site, p.drive) == (instrument, sol, site, drive)
    assert p.camera_model is not None and p.camera_frame in ("ROVER_NAV_FRAME", "ROVER_FRAME")
    assert p.warnings == []


@pytest.mark.realdata
def test_flb_md5_and_fields(realdata):
    p = read_product(realdata / FLB)
    # truth: MANIFEST.md, md5 of the IMAGE decoded to native little-endian int16, C order
    assert hashlib.md5(p.image.astype("<i2").tobytes()).hexdigest() \
        == "5edb0c135565fd9009a298a6ae5de6b5"
    assert p.product_id == "FLB_431397159EDR_F0141262FHAZ00323M1"
    assert (p.mission, p.product_type, p.sequence_id) == ("MSL", "EDR", "fhaz00323")
    assert p.sclk == 431397159.601
    assert p.start_time.isoformat() == "2013-09-02T12:40:04.754000+00:00"
    assert p.exposure_s == pytest.approx(0.38912, rel=1e-12)  # label: 389.12 <ms>
    # the label's SITE_COORDINATE_SYSTEM is SITE_FRAME (site 14) in SITE_FRAME (site 13)
    assert set(p.coordinate_systems) == {"ROVER_NAV_FRAME", "SITE_FRAME@14", "RSM_HEAD_FRAME",
                             "ARM_PORTION_FRAME"}
    rover = p.coordinate_systems["ROVER_NAV_FRAME"]
    assert rover.quaternion == (0.423523, 0.00304319, 0.0215231, -0.905624)
    assert rover.offset == (-176.437, -129.578, -0.203979)
    assert rover.reference == "SITE_FRAME"
    assert rover.index == (14, 1262, 6, 188, 86, 0, 94, 222, 0, 18)
    assert p.companding.state == "none" and p.cfa.state == "none"
    assert p.subframe.first_line == 1 and p.downsample == (1, 1)
    assert p.flat_field_applied is False


@pytest.mark.realdata
@pytest.mark.parametrize("name", [FLB, NRB_LBL, MER_IMG])
def test_camera_components_equal_label(realdata, name):
    p = read_product(realdata / name)
    group = p.label.get("GEOMETRIC_CAMERA_MODEL") or p.label["GEOMETRIC_CAMERA_MODEL_PARMS"]
    written = p.camera_model.to_pds3()
    assert written["MODEL_TYPE"] == group["MODEL_TYPE"]
    n = {"CAHV": 4, "CAHVOR": 6, "CAHVORE": 9}[group["MODEL_TYPE"]]
    for i in range(1, n + 1):
        key = f"MODEL_COMPONENT_{i}"
        expected = np.asarray(group[key], dtype=float)
        # every component as printed, A and O included (kept as cmod uses them)
        np.testing.assert_array_equal(written[key], expected)


@pytest.mark.realdata
def test_mer_label_statistics_match_pixels(realdata):
    p = read_product(realdata / MER_IMG)
    s = p.label_stats
    im = p.image.astype(np.float64)
    # truth: MIPL's statistics in the MER IMAGE object (MANIFEST.md), printed to 6 digits
    assert (s.mean, s.median, s.minimum, s.maximum) == (541.888, 518.0, 118.0, 1902.0)
    assert im.mean() == pytest.approx(s.mean, abs=5e-4)  # DN, 6 significant digits
    assert np.median(im) == s.median and im.min() == s.minimum and im.max() == s.maximum
    assert im.std() == pytest.approx(s.standard_deviation, abs=5e-4)  # DN, population std
    assert im.sum() == pytest.approx(s.checksum, abs=5e2)  # DN, 6 significant digits
    assert p.downsample == (2, 2) and p.subframe.lines == 1024  # full-resolution detector px


@pytest.mark.realdata
def test_detached_and_attached_agree(realdata):
    a, b = read_product(realdata / NRB_IMG), read_product(realdata / NRB_LBL)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.camera_model.to_pds3() == b.camera_model.to_pds3()
    assert a.coordinate_systems == b.coordinate_systems and a.exposure_s == b.exposure_s


@pytest.mark.realdata
def test_detached_label_finds_data_with_other_case(realdata, tmp_path):
    shutil.copy(realdata / NRB_LBL, tmp_path / "nrb.lbl")
    shutil.copy(realdata / NRB_IMG, tmp_path / "nrb_701384494rad_f0933408ncam00200m1.img")
    p = read_product(tmp_path / "nrb.lbl")
    assert p.image.shape == (1024, 1024)


@pytest.mark.realdata
def test_label_only_when_data_missing(realdata, tmp_path):
    shutil.copy(realdata / NRB_LBL, tmp_path / "x.LBL")
    p = read_product(tmp_path / "x.LBL", pixels=False)
    assert p.image is None and p.sol == 3423
    with pytest.raises(ProductError, match="not found"):
        read_product(tmp_path / "x.LBL")


@pytest.mark.realdata
def test_truncated_real_file(realdata, tmp_path):
    data = (realdata / FLB).read_bytes()
    for cut in (100, 30000, 50000, len(data) - 1):
        path = tmp_path / f"cut{cut}.IMG"
        path.write_bytes(data[:cut])
        with pytest.raises(ProductError):
            read_product(path)


# -- synthetic bad input ---------------------------------------------------------------------
def _label(lines=2, samples=3, pointer="2", bands=1, sample_type="MSB_UNSIGNED_INTEGER",
           bits=16, records=3):
    return (f"PDS_VERSION_ID = PDS3\r\nRECORD_TYPE = FIXED_LENGTH\r\nRECORD_BYTES = 512\r\n"
            f"FILE_RECORDS = {records}\r\nLABEL_RECORDS = 1\r\n^IMAGE = {pointer}\r\n"
            f"PRODUCT_ID = \"TEST\"\r\nOBJECT = IMAGE\r\n LINES = {lines}\r\n"
            f" LINE_SAMPLES = {samples}\r\n BANDS = {bands}\r\n SAMPLE_TYPE = {sample_type}\r\n"
            f" SAMPLE_BITS = {bits}\r\nEND_OBJECT = IMAGE\r\nEND\r\n")


def _write(tmp_path, label, data=b"", name="T.IMG"):
    path = tmp_path / name
    path.write_bytes(label.encode().ljust(512, b" ") + data)
    return path


def test_synthetic_decode_is_native_and_correct(tmp_path):
    pixels = np.arange(6, dtype=">u2").reshape(2, 3)
    path = _write(tmp_path, _label(), pixels.tobytes().ljust(1024, b"\0"))
    p = read_product(path)
    assert p.image.dtype == np.uint16 and p.image.dtype.isnative
    np.testing.assert_array_equal(p.image, pixels)


@pytest.mark.parametrize("label, error", [
    (_label(lines=10**9), ProductTooLargeError),
    (_label(lines=4000, samples=4000, records=3), ProductTooLargeError),  # beyond Limits below
    (_label(lines=0), LabelContentError),
    (_label(lines='"two"'), LabelContentError),
    (_label(pointer="0"), LabelContentError),
    (_label(pointer="99"), DataSizeError),
    (_label(pointer='("../T.IMG", 2)'), LabelContentError),
    (_label(pointer='("/etc/passwd", 1)'), LabelContentError),
    (_label(pointer='("MISSING.IMG", 1)'), ProductError),
    (_label(pointer='("T.IMG", 99999 <BYTES>)'), DataSizeError),
    (_label(records=50), DataSizeError),
    (_label(sample_type="VAX_REAL", bits=32), UnsupportedProductError),
    (_label(bits=12), UnsupportedProductError),
    (_label(bands=65), ProductTooLargeError),
    (_label().replace("OBJECT = IMAGE", "OBJECT = IMAGE\r\n X = (1,"), LabelSyntaxError),
    (_label().replace("^IMAGE", "^IMAGEX"), LabelContentError),
])
def test_bad_labels_are_refused(tmp_path, label, error):
    path = _write(tmp_path, label, b"\0" * 1024)
    limits = Limits(max_bytes=10 * 2**20)
    with pytest.raises(error) as info:
        read_product(path, limits=limits)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content", [b"", b"\x00" * 100, b"\x89PNG\r\n\x1a\n" + b"x" * 50,
                                     b"<?xml version='1.0'?><Product_Observational/>",
                                     bytes(range(256)) * 4, b"PDS_VERSION_ID = PDS3\r\n\xff\xfe",
                                     b"LBLSIZE=99999999 FORMAT='BYTE'"])
def test_garbage_files_raise_product_error(tmp_path, content):
    path = tmp_path / "G.IMG"
    path.write_bytes(content)
    with pytest.raises(ProductError):
        read_product(path)


def test_missing_file(tmp_path):
    with pytest.raises(ProductError, match="no such file"):
        read_product(tmp_path / "nope.IMG")


def test_label_parses_fast_enough_to_matter(tmp_path):
    # a smoke check that parsing is not per-character Python: 2,000 keywords in well under 1 s
    text = "".join(f"KEY_{i} = ({i}.5 <m>, \"s {i}\")\r\n" for i in range(2000)) + "END\r\n"
    label = odl.loads(text)
    assert label["KEY_1999"][0].value == 1999.5


@pytest.mark.realdata
def test_fuzzed_real_labels_raise_only_product_errors(realdata, tmp_path):
    # seeds: the real products; mutations: byte flips, ODL tokens, deletions, truncation
    import random

    rng = random.Random(7)
    seed = (realdata / MER_IMG).read_bytes()
    tokens = [b"=", b"(", b")", b'"', b"<", b"END", b"END_OBJECT", b"999999999", b"../x", b"#",
              b"/*", b"\x00", b"\xff", b"2#"]
    path = tmp_path / "F.IMG"
    for _ in range(150):
        buf = bytearray(seed[:24576])
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(buf))
            op = rng.random()
            if op < 0.4:
                buf[pos] = rng.randrange(256)
            elif op < 0.8:
                buf[pos:pos] = rng.choice(tokens)
            else:
                del buf[pos:pos + rng.randint(1, 50)]
        tail = seed[24576:][: rng.choice([None, rng.randrange(len(seed) - 24576)])]
        path.write_bytes(bytes(buf) + tail)
        try:
            read_product(path)
        except ProductError:
            pass
