"""write_pds3 round trips through read_product and pvl; pure VICAR files read like PDS3."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pvl
import pytest

from rovercam.camera import CAHVORE
from rovercam.errors import ProductError
from rovercam.products import (
    CFA,
    Companding,
    CoordinateSystem,
    ImageStats,
    Product,
    ProductMeta,
    Subframe,
    read_product,
    write_pds3,
)
from rovercam.products.vicar import parse_vicar


def _product(image: np.ndarray) -> Product:
    # CAHVORE from the label of FLB_431397159EDR_F0141262FHAZ00323M1 (MSL Front Hazcam, sol 382)
    model = CAHVORE((1.03304, -0.17145, -0.707908), (0.706662, 0.00032, 0.707551),
                    (356.718, 453.901, 352.1), (43.3011, 3.70251, 685.544),
                    (0.704793, -0.000541, 0.709413), (8.0e-06, -0.013391, -0.007308),
                    (0.001868, 0.001572, 0.001665), mtype=3, mparm=0.37)
    bands = image.shape[2] if image.ndim == 3 else 1
    meta = ProductMeta(
        product_id="NLF_0100_0675828717_276ECM_N0040218NCAM00503_01_295J01", mission="M2020",
        instrument="NAVCAM_LEFT", sol=100, sclk=675828717.276, site=4, drive=218,
        sequence_id="NCAM00503", product_type="ECM",
        start_time=dt.datetime(2021, 6, 1, 12, 0, 1, 500000, tzinfo=dt.timezone.utc),
        camera_model=model, camera_frame="ROVER_NAV_FRAME",
        coordinate_systems={
            "ROVER_NAV_FRAME": CoordinateSystem("ROVER_NAV_FRAME", (0.423523, 0.00304319,
                                               0.0215231, -0.905624), (-176.437, -129.578, -0.2),
                                               "SITE_FRAME", (4, 218, 6)),
            # a SITE_FRAME instance defined in the previous site's frame (instance-keyed)
            "SITE_FRAME@4": CoordinateSystem("SITE_FRAME@4", (1.0, 0.0, 0.0, 0.0),
                                            (-39.5209, -196.274, -2.04598), "SITE_FRAME@3",
                                            (4,)),
            "ROVER_MECH_FRAME": CoordinateSystem("ROVER_MECH_FRAME", (1.0, 0.0, 0.0, 0.0),
                                                (0.1, 0.2, 0.3), "ROVER_NAV_FRAME", (4, 218, 6)),
        },
        exposure_s=0.011111, filter="NONE_FILTER", temperature_c=-19.6144,
        focal_length_mm=19.1, zoom_position=3,
        companding=Companding("SOFTWARE", "LUT2", "companded", 12),
        cfa=CFA("RGGB", {3: "decoded", 1: "encoded"}.get(bands, "none"),
                "ONBOARD" if bands == 3 else None, "MALVAR" if bands == 3 else None),
        subframe=Subframe(953, 1273, image.shape[0] * 2, image.shape[1] * 2),
        downsample=(2, 2), flat_field_applied=True,
    )
    return Product(meta, image=image,
                   label_stats=ImageStats(mean=1.5, median=1.0, minimum=0.0, maximum=9.0,
                                          standard_deviation=2.25, checksum=99.0))


FIELDS = ("product_id", "mission", "instrument", "sol", "sclk", "site", "drive", "sequence_id",
          "product_type", "start_time", "camera_frame", "frames", "filter", "temperature_c",
          "focal_length_mm", "zoom_position", "companding", "cfa", "subframe", "downsample",
          "flat_field_applied", "label_stats")


@pytest.mark.parametrize("dtype, bands, embed", [
    (np.uint8, 3, False), (np.uint8, 3, True), (np.int16, 1, True), (np.uint16, 1, False),
    (np.float32, 2, True), (np.int32, 1, False),
])
def test_round_trip(tmp_path, dtype, bands, embed):
    rng = np.random.default_rng(4)
    shape = (7, 5, bands) if bands > 1 else (7, 5)
    image = (rng.random(shape) * 200).astype(dtype)
    original = _product(image)
    path = write_pds3(tmp_path / "OUT.IMG", original, embed_vicar=embed)
    back = read_product(path)
    for name in FIELDS:
        assert getattr(back, name) == getattr(original, name), name
    assert back.exposure_s == pytest.approx(original.exposure_s, rel=1e-12)  # s, via <ms>
    assert back.image.dtype == image.dtype and back.image.dtype.isnative
    np.testing.assert_array_equal(back.image, image)
    assert back.camera_model.to_pds3() == original.camera_model.to_pds3()
    assert back.warnings == []
    # an independent reader parses the label we wrote
    label = pvl.load(str(path))
    header_records = label["IMAGE_HEADER"]["BYTES"] // label["RECORD_BYTES"] if embed else 0
    assert label["IMAGE"]["LINES"] == 7
    assert label["^IMAGE"] == label["LABEL_RECORDS"] + header_records + 1
    assert path.stat().st_size == label["FILE_RECORDS"] * label["RECORD_BYTES"]
    if embed:
        raw = path.read_bytes()
        offset = (label["^IMAGE_HEADER"] - 1) * label["RECORD_BYTES"]
        vicar = parse_vicar(raw[offset:])
        assert (vicar.system["NL"], vicar.system["NS"], vicar.system["NB"]) == (7, 5, bands)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write leaves no temporary file


def test_write_refuses_product_without_image(tmp_path):
    product = _product(np.zeros((2, 2), np.uint8))
    product.image = None
    with pytest.raises(ProductError):
        write_pds3(tmp_path / "X.IMG", product)
    assert not list(tmp_path.iterdir())


@pytest.mark.realdata
def test_pure_vicar_file_reads_like_the_pds3_product(realdata, tmp_path):
    # The FLB EDR's embedded VICAR label starts at byte 28672 (MANIFEST.md): from there on the
    # file is a complete VICAR image.
    src = realdata / "msl/FLB_431397159EDR_F0141262FHAZ00323M1.IMG"
    (tmp_path / "flb.vic").write_bytes(src.read_bytes()[28672:])
    vic, pds = read_product(tmp_path / "flb.vic"), read_product(src)
    np.testing.assert_array_equal(vic.image, pds.image)
    for name in ("product_id", "instrument", "sol", "sclk", "site", "drive", "camera_frame",
                 "frames", "exposure_s", "companding", "downsample", "flat_field_applied"):
        assert getattr(vic, name) == getattr(pds, name), name
    assert vic.camera_model.to_pds3() == pds.camera_model.to_pds3()


@pytest.mark.parametrize("org", ["BSQ", "BIL", "BIP"])
def test_pure_vicar_organisations(tmp_path, org):
    rng = np.random.default_rng(1)
    cube = rng.integers(-300, 300, size=(4, 3, 2)).astype(np.int16)  # (lines, samples, bands)
    stored = {"BSQ": cube.transpose(2, 0, 1), "BIL": cube.transpose(0, 2, 1), "BIP": cube}[org]
    n1 = {"BSQ": 3, "BIL": 3, "BIP": 2}[org]
    nbb = 4
    recsize = nbb + n1 * 2
    records = stored.reshape(-1, n1).astype("<i2")
    body = b"".join(b"PFX!" + r.tobytes() for r in records)
    text = (f"LBLSIZE=512  FORMAT='HALF'  TYPE='IMAGE'  ORG='{org}'  NL=4  NS=3  NB=2  "
            f"RECSIZE={recsize}  NBB={nbb}  NLB=1  INTFMT='LOW'  REALFMT='RIEEE'  "
            f"PROPERTY='IDENTIFICATION'  PRODUCT_ID='V1'  INSTRUMENT_ID='X'  "
            f"PROPERTY='INSTRUMENT_STATE_PARMS'  EXPOSURE_DURATION=2.5  "
            f"EXPOSURE_DURATION__UNIT='s'  TASK='T'  USER='me'")
    path = tmp_path / "v.vic"
    path.write_bytes(text.encode().ljust(512, b"\0") + b"\0" * recsize + body)
    p = read_product(path)
    np.testing.assert_array_equal(p.image, cube)
    assert (p.product_id, p.exposure_s) == ("V1", 2.5)


@pytest.mark.parametrize("dtype, bands, embed", [
    (np.uint8, 3, False), (np.int16, 1, True), (np.float32, 1, False),
])
def test_detached_round_trip_and_independent_readers(tmp_path, dtype, bands, embed):
    pdr = pytest.importorskip("pdr")
    rng = np.random.default_rng(5)
    shape = (6, 4, bands) if bands > 1 else (6, 4)
    image = (rng.random(shape) * 120).astype(dtype)
    original = _product(image)
    path = write_pds3(tmp_path / "OUT.LBL", original, detached=True, embed_vicar=embed)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["OUT.IMG", "OUT.LBL"]
    for back in (read_product(path), read_product(tmp_path / "OUT.IMG")):
        for name in FIELDS:
            assert getattr(back, name) == getattr(original, name), name
        np.testing.assert_array_equal(back.image, image)
        assert back.warnings == []
    # pvl: a PDS3 detached label whose pointer names the data file in records
    label = pvl.load(str(path))
    assert label["PDS_VERSION_ID"] == "PDS3"
    assert list(label["^IMAGE"])[0] == "OUT.IMG"
    data_size = (tmp_path / "OUT.IMG").stat().st_size
    assert data_size == label["FILE_RECORDS"] * label["RECORD_BYTES"]
    # pdr (MillionConcepts), an independent reader, decodes the same pixels
    decoded = np.asarray(pdr.read(str(path))["IMAGE"])
    expected = image.transpose(2, 0, 1) if image.ndim == 3 else image  # pdr: (bands, l, s)
    np.testing.assert_array_equal(decoded, expected)


@pytest.mark.realdata
def test_pdr_reads_our_rewrite_of_a_real_product(realdata, tmp_path):
    pdr = pytest.importorskip("pdr")
    p = read_product(realdata / "msl/FLB_431397159EDR_F0141262FHAZ00323M1.IMG")
    out = write_pds3(tmp_path / "FLB.IMG", p, embed_vicar=True)
    np.testing.assert_array_equal(np.asarray(pdr.read(str(out))["IMAGE"]), p.image)
    back = read_product(out)
    assert back.coordinate_systems == p.coordinate_systems and back.camera_model.to_pds3() == p.camera_model.to_pds3()
