"""Product ids: Mars 2020, MSL and MER layouts (docs/products.md) and the Mars 2020 builder."""
from __future__ import annotations

import pytest

from rovercam.errors import ProductError
from rovercam.products import format_m2020_id, parse_product_id


def test_m2020_fields():
    # truth: the Mars 2020 camera SIS field table for this example id (docs/products.md)
    p = parse_product_id("NLF_0100_0675828717_276ECM_N0040218NCAM00503_01_295J01")
    assert (p.mission, p.instrument, p.instrument_code) == ("M2020", "NAVCAM_LEFT", "NL")
    assert (p.filter, p.special, p.sol, p.venue) == ("F", "_", 100, "_")
    assert p.sclk == pytest.approx(675828717.276, abs=1e-6)  # s
    assert (p.product_type, p.geometry, p.sampling) == ("ECM", "_", "N")
    assert (p.site, p.drive, p.sequence) == (4, 218, "NCAM00503")
    assert (p.camera_specific, p.compression, p.producer, p.version) == ("01_2", "95", "J", "01")


def test_m2020_real_pds4_name():
    p = parse_product_id("NLF_0629_0722782785_631ECM_N0301344NCAM00427_06_095J01.xml")
    assert (p.sol, p.site, p.drive, p.camera_specific, p.compression) == (629, 30, 1344, "06_0",
                                                                            "95")


@pytest.mark.parametrize("kwargs", [
    dict(instrument="NAVCAM_LEFT", sol=100, sclk=675828717.276, site=4, drive=218,
         sequence="NCAM00503", camera_specific="01_2"),
    dict(instrument="ZR", sol=9999, sclk=1.5, site=999, drive=0, sequence="ZCAM0", filter="0",
         camera_specific="1100", compression="LU", product_type="EBY", version=3),
])
def test_format_m2020_round_trips(kwargs):
    pid = format_m2020_id(**kwargs)
    assert len(pid) == 54
    p = parse_product_id(pid)
    assert (p.sol, p.site, p.drive) == (kwargs["sol"], kwargs["site"], kwargs["drive"])
    assert p.sclk == pytest.approx(kwargs["sclk"], abs=1e-3)  # s: ids keep milliseconds
    assert p.sequence.rstrip("_") == kwargs["sequence"]


def test_format_m2020_example_is_exact():
    assert format_m2020_id(instrument="NL", sol=100, sclk=675828717.276, site=4, drive=218,
                           sequence="NCAM00503", camera_specific="01_2") \
        == "NLF_0100_0675828717_276ECM_N0040218NCAM00503_01_295J01"


def test_format_rejects_out_of_range():
    with pytest.raises(ValueError):
        format_m2020_id(instrument="NL", sol=1, sclk=1.0, site=1000, drive=1, sequence="X")
    with pytest.raises(ValueError):
        format_m2020_id(instrument="NOPE", sol=1, sclk=1.0, site=1, drive=1, sequence="X")


def test_msl_engineering():
    # truth: the FLB label (SPACECRAFT_CLOCK_START_COUNT 431397159.601, site 14, drive 1262)
    p = parse_product_id("FLB_431397159EDR_F0141262FHAZ00323M1")
    assert (p.mission, p.instrument, p.product_type) == ("MSL", "FHAZ_LEFT_B", "EDR")
    assert (p.sclk, p.site, p.drive, p.sequence) == (431397159.0, 14, 1262, "FHAZ00323")
    assert (p.sampling, p.producer, p.version) == ("F", "M", "1")


def test_msl_mmm():
    p = parse_product_id("3423MR1016960081600825C00_DRCX")
    assert (p.instrument, p.sol, p.sequence, p.product_type) == ("MAST_RIGHT", 3423, "101696008",
                                                                  "DRCX")


def test_mer_with_encoded_site_drive():
    # truth: the MER label: ROVER_MOTION_COUNTER = (210, 292, ...), FRONT_HAZCAM_RIGHT, sol 5104
    p = parse_product_id("1f581291004ednd2fcp1121r0m1.img")
    assert (p.mission, p.instrument, p.product_type) == ("MER", "FRONT_HAZCAM_RIGHT", "EDN")
    assert (p.sclk, p.site, p.drive, p.sequence) == (581291004.0, 210, 292, "P1121")


@pytest.mark.parametrize("pid", ["", "hello", "NLF_0100", "XXF_0100_0675828717_276ECM_N0040218"
                                 "NCAM00503_01_295J01"])
def test_unknown_ids_raise(pid):
    with pytest.raises(ProductError):
        parse_product_id(pid)
