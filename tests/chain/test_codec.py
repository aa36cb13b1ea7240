"""The frame codec: named fields, versioned head, raw pixels (rovercam.chain.codec)."""
from __future__ import annotations

import datetime as dt
from dataclasses import MISSING, fields

import numpy as np
import pytest

from rovercam import chain
from rovercam.camera import CAHVORE
from rovercam.chain import codec
from rovercam.errors import FrameCodecError
from rovercam.products.model import CFA, Companding, CoordinateSystem, ProductMeta, Subframe
from rovercam.provenance import CalibrationLevel, Provenance
from rovercam.storage import arrayblob


def full_frame(image: np.ndarray) -> chain.Frame:
    """A frame with every field set to something other than its default."""
    # CAHVORE components of the MSL Front Hazcam left-B label (FLB sol 382 EDR)
    model = CAHVORE((1.03304, -0.17145, -0.707908), (0.706662, 0.00032, 0.707551),
                    (356.718, 453.901, 352.1), (43.3011, 3.70251, 685.544),
                    (0.704793, -0.000541, 0.709413), (8.0e-06, -0.013391, -0.007308),
                    (0.001868, 0.001572, 0.001665), mtype=3, mparm=0.37)
    meta = ProductMeta(
        product_id="NLF_0100_0675828717_276ECM_N0040218NCAM00503_01_295J01", mission="M2020",
        instrument="NAVCAM_LEFT", sol=100, sclk=675828717.276, site=4, drive=218, sequence_id="NCAM00503",
        product_type="ECM", start_time=dt.datetime(2021, 6, 1, 12, 0, 1, 500000, tzinfo=dt.timezone.utc),
        camera_model=model, camera_frame="ROVER_NAV_FRAME",
        coordinate_systems={
            "ROVER_NAV_FRAME": CoordinateSystem("ROVER_NAV_FRAME", (0.423523, 0.00304319, 0.0215231, -0.905624),
                                                (-176.437, -129.578, -0.2), "SITE_FRAME", (4, 218, 6)),
            "SITE_FRAME@4": CoordinateSystem("SITE_FRAME@4", (1.0, 0.0, 0.0, 0.0), (-39.5, -196.3, -2.0),
                                             "SITE_FRAME@3", (4,)),
        },
        exposure_s=0.011111, filter="L4", temperature_c=-19.6144, focal_length_mm=34.0, zoom_position=3,
        companding=Companding("SOFTWARE", "LUT2", "companded", 12), cfa=CFA("GRBG", "decoded", "GROUND", "MALVAR"),
        subframe=Subframe(953, 1273, 96, 128), downsample=(2, 2), flat_field_applied=True,
        onboard_flat=(1.0, 2.0, 3e-6, 0.0, 0.0), solar_elevation_deg=33.25, radiance_scaling=(1e-5, 0.5),
        radiometric_type="scaled_spectral_radiance",
    )
    prov = Provenance(inputs={meta.product_id: "ab" * 32}, calibration={"M20_LUT2.txt": "cd" * 32},
                      steps=["decompand: M20_LUT2", "debayer: malvar GRBG"], software_version="9.9",
                      config_hash="ef" * 32, level=CalibrationLevel(2, "DN s-1", ("absolute responsivity",)))
    return chain.Frame(meta, image=image, units="relative_srgb", provenance=prov, radiometric_type="relative",
                       bad_pixels_repaired=True, flat_fielded=True, missing=("absolute responsivity",))


def test_every_default_is_overridden_by_the_fixture():
    # the round trip below only proves something for fields that differ from their default
    f = full_frame(np.zeros((2, 2), np.float32))
    for record, cls in ((f.meta, ProductMeta), (f, chain.Frame)):
        for fld in fields(cls):
            if fld.default is not MISSING:
                assert getattr(record, fld.name) != fld.default, fld.name
            elif fld.default_factory is not MISSING:
                assert getattr(record, fld.name) != fld.default_factory(), fld.name


@pytest.mark.parametrize("dtype", [np.float32, np.uint16, np.uint8])
def test_round_trip_keeps_every_field_and_the_pixels_bit_identical(dtype):
    rng = np.random.default_rng(3)
    image = (rng.random((48, 64, 3)) * 200).astype(dtype)
    if dtype == np.float32:
        image[0, 0] = np.nan
    f = full_frame(image)
    g = chain.loads_frame(chain.dumps_frame(f))
    assert g.image.dtype == image.dtype and g.image.shape == image.shape
    assert g.image.tobytes() == image.tobytes()  # bit-identical, NaN included
    assert g.meta == f.meta  # every ProductMeta field (camera models compare by components)
    assert type(g.camera_model) is CAHVORE and g.camera_model.mtype == 3
    for fld in fields(chain.Frame):
        if fld.name != "image":
            assert getattr(g, fld.name) == getattr(f, fld.name), fld.name
    assert isinstance(g.onboard_flat, tuple) and isinstance(g.coordinate_systems["SITE_FRAME@4"].index, tuple)


def test_frame_pieces_join_to_dumps_frame():
    f = full_frame(np.ones((4, 5), np.float32))
    head, pixels = chain.frame_pieces(f)
    assert head + bytes(pixels) == chain.dumps_frame(f)


def _reversed(obj):
    if isinstance(obj, dict):
        return {k: _reversed(v) for k, v in reversed(list(obj.items()))}
    if isinstance(obj, list):
        return [_reversed(v) for v in obj]
    return obj


def test_a_blob_with_fields_in_another_order_loads():
    f = full_frame(np.arange(12, dtype=np.float32).reshape(3, 4))
    image, head = arrayblob.unpack(chain.dumps_frame(f))
    shuffled = _reversed(head)
    assert list(shuffled["frame"]["meta"])[0] != list(head["frame"]["meta"])[0]
    g = chain.loads_frame(arrayblob.pack(image, shuffled))
    assert g.meta == f.meta and g.provenance == f.provenance and g.missing == f.missing


def test_unknown_codec_version_is_refused_naming_the_version():
    f = full_frame(np.zeros((2, 2), np.float32))
    image, head = arrayblob.unpack(chain.dumps_frame(f))
    with pytest.raises(FrameCodecError, match="frame codec version 99 is not supported") as err:
        chain.loads_frame(arrayblob.pack(image, {**head, "version": 99}), source="work/x/frame.blob")
    assert err.value.source == "work/x/frame.blob" and isinstance(err.value, ValueError)
    # the unversioned positional format of earlier releases is named as version 1
    with pytest.raises(FrameCodecError, match="version 1"):
        chain.loads_frame(arrayblob.pack(image, {"product_id": "X", "units": "dn"}))
    with pytest.raises(FrameCodecError, match="bad magic"):
        chain.loads_frame(b"not a blob at all")


def test_missing_optional_field_takes_its_default():
    f = full_frame(np.zeros((2, 2), np.float32))
    image, head = arrayblob.unpack(chain.dumps_frame(f))
    for name in ("solar_elevation_deg", "onboard_flat", "coordinate_systems"):
        del head["frame"]["meta"][name]
    del head["frame"]["missing"]
    del head["frame"]["meta"]["cfa"]["method"]
    g = chain.loads_frame(arrayblob.pack(image, head))
    assert g.solar_elevation_deg is None and g.onboard_flat is None and g.coordinate_systems == {}
    assert g.missing == () and g.cfa == CFA("GRBG", "decoded", "GROUND", None)
    assert g.exposure_s == f.exposure_s


def test_missing_required_or_unknown_field_is_an_error():
    f = full_frame(np.zeros((2, 2), np.float32))
    image, head = arrayblob.unpack(chain.dumps_frame(f))
    del head["frame"]["meta"]["product_id"]
    with pytest.raises(FrameCodecError, match="ProductMeta field 'product_id' is missing"):
        chain.loads_frame(arrayblob.pack(image, head))
    image, head = arrayblob.unpack(chain.dumps_frame(f))
    head["frame"]["meta"]["shutter_mode"] = "global"
    with pytest.raises(FrameCodecError, match="ProductMeta has no field shutter_mode"):
        chain.loads_frame(arrayblob.pack(image, head))


def test_the_head_names_fields_recursively():
    f = full_frame(np.zeros((2, 2), np.float32))
    _, head = arrayblob.unpack(chain.dumps_frame(f))
    assert head["codec"] == codec.CODEC and head["version"] == codec.VERSION
    meta = head["frame"]["meta"]
    assert set(meta) == {fld.name for fld in fields(ProductMeta)}
    assert meta["subframe"] == {"first_line": 953, "first_sample": 1273, "lines": 96, "samples": 128}
    assert meta["camera_model"]["model"] == "CAHVORE" and meta["camera_model"]["mparm"] == 0.37
    assert head["frame"]["provenance"]["level"]["units"] == "DN s-1"
    assert "image" not in head["frame"]
