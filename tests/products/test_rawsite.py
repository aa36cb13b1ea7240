"""Raw-image-site PNG/JPEG + -metadata.json: the real Mars 2020 pair, and refusals."""
from __future__ import annotations

import json
import shutil
import struct
import zlib

import cv2
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
from rovercam.products import Limits, read_product

STEM = "NLF_0670_0726421423_362ECM_N0320604NCAM08111_01_095J01"


@pytest.mark.realdata
@pytest.mark.parametrize("name", [f"{STEM}.png", f"{STEM}-metadata.json"])
def test_real_raw_site_product(realdata, name):
    p = read_product(realdata / "m2020" / name)
    # truth: MANIFEST.md (1288x968 RGB 8-bit, LUT2 companded, debayered onboard) and the sidecar
    assert p.image.shape == (968, 1288, 3) and p.image.dtype == np.uint8
    assert (p.product_id, p.instrument, p.sol, p.site, p.drive) == (STEM, "NAVCAM_LEFT", 670, 32,
                                                                    604)
    assert p.sclk == 726421423.362  # the product id's start SCLK, as PDS labels give it
    assert (p.companding.state, p.companding.lut) == ("companded", "LUT2")
    assert (p.cfa.state, p.cfa.venue, p.cfa.method, p.cfa.pattern) == ("decoded", "ONBOARD",
                                                                       "MALVAR", "RGGB")
    assert (p.subframe.first_sample, p.subframe.first_line, p.subframe.samples,
            p.subframe.lines) == (1, 1, 1288, 968)
    assert p.downsample == (1, 1)
    # truth: the sidecar's camera_model_component_list (Mars 2020 Navcam left, sol 670)
    assert type(p.camera_model).__name__ == "CAHVORE" and p.camera_model.mtype == 2
    np.testing.assert_array_equal(p.camera_model.h, [2041.2, 3032.24, 1457.62])
    np.testing.assert_array_equal(p.camera_model.e, [-8e-09, 1e-08, -2.9e-08])
    assert p.warnings == []


@pytest.mark.realdata
def test_rgb_channel_order(realdata):
    # truth: an independent PNG decoder (Pillow) gives the same R, G, B planes
    from PIL import Image

    path = realdata / "m2020" / f"{STEM}.png"
    with Image.open(path) as im:
        expected = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(read_product(path).image, expected)


def _png(width: int, height: int, image: np.ndarray | None = None) -> bytes:
    """A minimal PNG: real pixels when given, else a header alone (IHDR, empty IDAT)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))
    if image is not None:
        return cv2.imencode(".png", image)[1].tobytes()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND",
                                                                                     b"")


def _sidecar(**extra) -> str:
    meta = {"instrument": "NAVCAM_LEFT", "sol": 670, "site": 32, "drive": 604,
            "subframe_rect": [1.0, 1.0, 8.0, 4.0], "scale_factor": 1,
            "camera_model_type": "CAHV",
            "camera_model_component_list": "(0,0,0);(1,0,0);(4,100,0);(2,0,100)"}
    meta.update(extra)
    return json.dumps(meta)


def test_absurd_png_dimensions_refused_before_decoding(tmp_path):
    (tmp_path / f"{STEM}.png").write_bytes(_png(100000, 100000))
    (tmp_path / f"{STEM}-metadata.json").write_text(_sidecar())
    with pytest.raises(ProductTooLargeError):
        read_product(tmp_path / f"{STEM}.png")
    with pytest.raises(ProductTooLargeError):
        read_product(tmp_path / f"{STEM}.png", limits=Limits(max_lines=100))


def test_synthetic_pair_and_refusals(tmp_path):
    image = np.arange(4 * 8 * 3, dtype=np.uint8).reshape(4, 8, 3)
    png = tmp_path / f"{STEM}.png"
    png.write_bytes(_png(8, 4, image[:, :, ::-1]))  # OpenCV encodes BGR
    side = tmp_path / f"{STEM}-metadata.json"
    side.write_text(_sidecar())
    p = read_product(png)
    np.testing.assert_array_equal(p.image, image)
    assert type(p.camera_model).__name__ == "CAHV"
    png.write_bytes(png.read_bytes()[:40])  # truncated
    with pytest.raises(DataSizeError):
        read_product(png)
    side.write_text("{not json")
    with pytest.raises(LabelSyntaxError):
        read_product(png, pixels=False)
    side.write_text(_sidecar(camera_model_component_list="(1,2);(3)"))
    with pytest.raises(LabelContentError):
        read_product(side, pixels=False)
    side.write_text(_sidecar(subframe_rect=[1, 2]))
    with pytest.raises(LabelContentError):
        read_product(side, pixels=False)
    side.write_text("[1, 2]")
    with pytest.raises(LabelContentError):
        read_product(side, pixels=False)
    side.unlink()
    with pytest.raises(UnsupportedProductError, match="sidecar"):
        read_product(png)


@pytest.mark.realdata
def test_sidecar_without_image(realdata, tmp_path):
    shutil.copy(realdata / "m2020" / f"{STEM}-metadata.json", tmp_path)
    side = tmp_path / f"{STEM}-metadata.json"
    assert read_product(side, pixels=False).image is None
    with pytest.raises(ProductError, match="no image"):
        read_product(side)
