"""PDS4 XML: the real Mars 2020 label, safe parsing, array layouts, and write_pds4 round trips."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from rovercam.errors import (
    LabelContentError,
    LabelSyntaxError,
    ProductError,
    ProductTooLargeError,
    UnsupportedProductError,
)
from rovercam.products import read_product, write_pds4

sys.path.insert(0, str(Path(__file__).parent))
from test_pds3 import FIELDS, _product  # noqa: E402  (shared fixture product)

NLF_XML = "m2020/NLF_0629_0722782785_631ECM_N0301344NCAM00427_06_095J01.xml"


@pytest.mark.realdata
def test_real_m2020_label(realdata):
    p = read_product(realdata / NLF_XML, pixels=False)
    # truth: the label (MANIFEST.md; layout in docs/products.md#pds4-labels)
    assert p.image is None
    assert p.product_id == "NLF_0629_0722782785_631ECM_N0301344NCAM00427_06_095J01"
    assert (p.mission, p.instrument, p.sol, p.site, p.drive) == ("M2020", "NAVCAM_LEFT", 629, 30,
                                                                 1344)
    assert p.sclk == 722782785.631 and p.product_type == "ECM"
    assert p.start_time.isoformat() == "2022-11-27T01:08:36.002000+00:00"
    assert (p.subframe.first_line, p.subframe.first_sample) == (953, 1273)
    assert (p.subframe.lines, p.subframe.samples) == (976, 1296)
    assert p.exposure_s == pytest.approx(0.011111, rel=1e-12)  # 11.111 <ms>
    assert (p.companding.lut, p.companding.state) == ("LUT2", "companded")
    assert (p.cfa.pattern, p.cfa.venue, p.cfa.method, p.cfa.state) == ("RGGB", "ONBOARD",
                                                                       "MALVAR", "decoded")
    assert p.downsample == (1, 1) and p.flat_field_applied is False
    assert type(p.camera_model).__name__ == "CAHVORE"
    assert (p.camera_model.mtype, p.camera_model.mparm) == (2, 0.0)
    np.testing.assert_array_equal(p.camera_model.h, [-3229.43, 141.993, 229.563])
    assert p.camera_frame == "ROVER_NAV_FRAME" and p.temperature_c == -19.6144
    rover = p.coordinate_systems["ROVER_NAV_FRAME"]
    assert rover.quaternion == (0.174493, 0.034765, 0.0422949, -0.983135)
    assert rover.offset == (94.6281, -118.938, -7.51133) and rover.reference == "SITE_FRAME"
    assert rover.index == (30, 1344, 4, 0, 0, 0, 2, 0, 0, 0)
    assert p.coordinate_systems["SITE_FRAME@30"].reference == "SITE_FRAME@29"
    assert p.coordinate_systems["RSM_HEAD_FRAME"].reference == "ROVER_NAV_FRAME"
    assert p.label["Identification_Area"]["version_id"] == "1.0"
    assert p.warnings == []


@pytest.mark.realdata
def test_real_label_without_its_data_file(realdata):
    with pytest.raises(ProductError, match="not found next to the label"):
        read_product(realdata / NLF_XML)


def _xml(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()


@pytest.mark.parametrize("text, error", [
    # billion laughs: refused before any expansion
    ('<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
     '<Product_Observational>&lol2;</Product_Observational>', LabelSyntaxError),
    # external entity: never fetched
    ('<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
     '<Product_Observational>&xxe;</Product_Observational>', LabelSyntaxError),
    ('<Product_Observational><a></Product_Observational>', LabelSyntaxError),
    ('<Other/>', UnsupportedProductError),
    ('<Product_Observational/>', LabelContentError),  # no array, no file
])
def test_bad_xml_is_refused(tmp_path, text, error):
    path = tmp_path / "bad.xml"
    path.write_bytes(_xml(text))
    with pytest.raises(error):
        read_product(path)


def test_non_utf8_and_oversized_labels(tmp_path):
    path = tmp_path / "u16.xml"
    path.write_bytes('<?xml version="1.0" encoding="UTF-16"?><Product_X/>'.encode("utf-16"))
    with pytest.raises(ProductError):
        read_product(path)
    big = tmp_path / "big.xml"
    big.write_bytes(_xml("<Product_Observational>" + " " * (5 * 2**20)
                         + "</Product_Observational>"))
    with pytest.raises(ProductTooLargeError):
        read_product(big)


def test_deep_nesting_is_refused(tmp_path):
    path = tmp_path / "deep.xml"
    path.write_bytes(_xml("<Product_Observational>" + "<a>" * 200 + "x" + "</a>" * 200
                          + "</Product_Observational>"))
    with pytest.raises(LabelContentError, match="nests deeper"):
        read_product(path, pixels=False)


@pytest.mark.parametrize("dtype, bands", [(np.uint8, 3), (np.int16, 1), (np.float32, 2),
                                          (np.uint16, 1)])
def test_write_pds4_round_trip(tmp_path, dtype, bands):
    rng = np.random.default_rng(7)
    shape = (6, 5, bands) if bands > 1 else (6, 5)
    image = (rng.random(shape) * 150).astype(dtype)
    original = _product(image)
    path = write_pds4(tmp_path / "OUT.xml", original)
    back = read_product(path)
    for name in FIELDS:
        if name == "label_stats":  # PDS4 has no attribute for the DN-sum CHECKSUM
            assert back.label_stats.mean == original.label_stats.mean
            continue
        assert getattr(back, name) == getattr(original, name), name
    assert back.exposure_s == pytest.approx(original.exposure_s, rel=1e-12)
    np.testing.assert_array_equal(back.image, image)
    assert back.image.dtype == image.dtype and back.image.dtype.isnative
    assert back.camera_model.to_pds3() == original.camera_model.to_pds3()
    assert back.warnings == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["OUT.IMG", "OUT.xml"]


def test_pdr_reads_our_pds4(tmp_path):
    pdr = pytest.importorskip("pdr")
    image = np.arange(60, dtype=np.int16).reshape(6, 10) - 20
    path = write_pds4(tmp_path / "OUT.xml", _product(image))
    data = pdr.read(str(path))
    array_key = next(k for k in data.keys() if k.lower() != "label")
    try:
        decoded = np.asarray(data[array_key])
    except Exception as exc:  # pdr's PDS4 support needs pds4_tools
        pytest.skip(f"pdr cannot load PDS4 arrays here: {exc}")
    np.testing.assert_array_equal(decoded, image)


_ARRAY = """<Product_Observational xmlns="http://pds.nasa.gov/pds4/pds/v1">
 <Identification_Area><logical_identifier>urn:x:y:t1</logical_identifier></Identification_Area>
 <File_Area_Observational><File><file_name>data.dat</file_name></File>
  <Array_3D_Image><offset unit="byte">{offset}</offset><axes>3</axes>
   <axis_index_order>Last Index Fastest</axis_index_order>
   <Element_Array><data_type>{dtype}</data_type></Element_Array>
   {axes}
  </Array_3D_Image></File_Area_Observational></Product_Observational>"""


@pytest.mark.parametrize("order, stored_axes, code", [
    (("Band", "Line", "Sample"), (2, 0, 1), "SignedLSB2"),
    (("Line", "Band", "Sample"), (0, 2, 1), "SignedMSB2"),
    (("Line", "Sample", "Band"), (0, 1, 2), "IEEE754LSBSingle"),
])
def test_axis_orders_and_types(tmp_path, order, stored_axes, code):
    cube = np.arange(4 * 3 * 2).reshape(4, 3, 2) - 7  # (lines, samples, bands)
    dtype = {"SignedLSB2": "<i2", "SignedMSB2": ">i2", "IEEE754LSBSingle": "<f4"}[code]
    sizes = {"Line": 4, "Sample": 3, "Band": 2}
    axes = "".join(f"<Axis_Array><axis_name>{n}</axis_name><elements>{sizes[n]}</elements>"
                   f"<sequence_number>{i}</sequence_number></Axis_Array>"
                   for i, n in enumerate(order, start=1))
    (tmp_path / "t.xml").write_text(_ARRAY.format(offset=16, dtype=code, axes=axes))
    (tmp_path / "data.dat").write_bytes(b"H" * 16 + cube.transpose(stored_axes).astype(dtype)
                                        .tobytes())
    p = read_product(tmp_path / "t.xml")
    np.testing.assert_array_equal(p.image, cube)
    assert p.image.dtype.isnative


def test_array_beyond_file_and_outside_folder(tmp_path):
    axes = "".join(f"<Axis_Array><axis_name>{n}</axis_name><elements>{s}</elements>"
                   f"<sequence_number>{i}</sequence_number></Axis_Array>"
                   for i, (n, s) in enumerate([("Band", 1), ("Line", 100), ("Sample", 100)], 1))
    (tmp_path / "t.xml").write_text(_ARRAY.format(offset=0, dtype="UnsignedByte", axes=axes))
    (tmp_path / "data.dat").write_bytes(b"\0" * 10)
    with pytest.raises(ProductError, match="file has 10 bytes"):
        read_product(tmp_path / "t.xml")
    text = (tmp_path / "t.xml").read_text().replace("data.dat", "../data.dat")
    (tmp_path / "t.xml").write_text(text)
    with pytest.raises(LabelContentError, match="outside the product folder"):
        read_product(tmp_path / "t.xml")


def test_a_radiometric_pds4_product_is_recognized_by_type_and_scaling(realdata, tmp_path):
    # truth: the PDS4 img dictionary (img:Radiometric_Correction radiometric_type) and the array's
    # Element_Array scaling_factor / value_offset; the real NLF_0629 ECM label made into a RAD one
    from rovercam import chain, config

    xml = (realdata / "m2020" / "NLF_0629_0722782785_631ECM_N0301344NCAM00427_06_095J01.xml").read_text()
    rad = xml.replace("631ECM", "631RAD").replace("631ecm", "631rad").replace(
        "<msn:product_type_name>ECM<", "<msn:product_type_name>RAD<")
    rad = rad.replace("<data_type>UnsignedByte</data_type>\n        <unit>DN</unit>",
                      "<data_type>SignedMSB2</data_type>\n        <unit>W*m**-2*sr**-1*nm**-1</unit>\n"
                      "        <scaling_factor>1.0E-05</scaling_factor>\n        <value_offset>0.0</value_offset>", 1)
    rad = rad.replace("<img:Imaging>", "<img:Imaging>\n<img:Radiometric_Correction><img:radiometric_type>"
                      "Spectral Radiance</img:radiometric_type></img:Radiometric_Correction>", 1)
    path = tmp_path / "NLF_0629_0722782785_631RAD_N0301344NCAM00427_06_095J01.xml"
    path.write_text(rad)
    product = read_product(path, pixels=False)
    assert product.product_type == "RAD"
    assert product.radiance_scaling == (1e-5, 0.0) and product.radiometric_type == "spectral_radiance"
    assert product.companding.state == "expanded"  # its img:Companding still says Companded
    level = chain.expected_level(product, config.load(environ={}))
    assert (level.level, level.units) == (3, "W m-2 sr-1 nm-1")
