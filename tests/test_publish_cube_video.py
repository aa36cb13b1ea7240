"""publish_cube / publish_sequence / write_mp4: files, STAC, catalog rows, idempotence, bad input.

Truth: the synthetic cube itself (NetCDF is lossless: exact round trip), the frames given
(count and size read back with OpenCV's decoder; MPEG-4 is lossy, so pixel values are compared
with a tolerance), sha256 of the stored bytes, the STAC 1.1 schemas shipped with pystac.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import xarray as xr

from rovercam.catalog import Catalog
from rovercam.catalog.export import validate_stac
from rovercam.errors import RovercamError
from rovercam.provenance import Provenance
from rovercam.publish import (
    PublishedProduct,
    audit_published,
    publish_cube,
    publish_sequence,
)
from rovercam.radiometry.cube import MASTCAMZ_FILTERS
from rovercam.storage import Store
from rovercam.storage.video import mp4_frames, write_mp4

UTC = dt.timezone.utc
START = dt.datetime(2021, 5, 30, 10, 0, tzinfo=UTC)
STOP = dt.datetime(2021, 5, 30, 10, 2, tzinfo=UTC)
PROV = Provenance(
    inputs={"ZL1_0100_0673000000_A": "a" * 64, "ZL2_0100_0673000005_A": "b" * 64},
    steps=["cube: register"], software_version="0.1.0", config_hash="c" * 64,
)


@pytest.fixture
def env(tmp_path: Path):
    store = Store(str(tmp_path / "store"))
    with Catalog(tmp_path / "catalog.db") as catalog:
        yield store, catalog


def synthetic_cube(seed: int = 0) -> xr.Dataset:
    bands = ["L6", "L5", "L4", "L3"]
    rng = np.random.default_rng(seed)
    data = rng.random((len(bands), 20, 30), dtype=np.float32)
    data[0, :2] = np.nan  # shifted-in border after registration
    return xr.Dataset(
        {"data": (("band", "y", "x"), data, {"units": "W m-2 sr-1 nm-1"})},
        coords={
            "band": bands,
            "wavelength_nm": ("band", [MASTCAMZ_FILTERS[b][0] for b in bands]),
            "x": np.arange(30, dtype=np.float64),
            "y": np.arange(20, dtype=np.float64),
        },
        attrs={"reference_band": "L3", "registered": 1},
    )


def frames(n: int = 6, h: int = 48, w: int = 64) -> list[np.ndarray]:
    """Flat grey frames with a red square moving right: easy for a lossy codec."""
    out = []
    for i in range(n):
        f = np.full((h, w, 3), 100, np.uint8)
        f[16:32, 4 + 8 * i:20 + 8 * i] = (220, 30, 30)
        out.append(f)
    return out


def read_mp4(path: Path) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return list(mp4_frames(path)), fps


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_item(out: PublishedProduct, media_type: str) -> dict:
    item = json.loads(out.paths["item"].read_bytes())
    validate_stac(item)
    assert item["id"] == out.output_id
    assert item["assets"]["data"]["type"] == media_type
    assert item["assets"]["data"]["roles"] == ["data"]
    for asset in item["assets"].values():
        target = out.paths["item"].parent / asset["href"]
        assert asset["file:checksum"] == "1220" + sha(target)  # sha2-256 multihash
    assert item["properties"]["rovercam:provenance"]["inputs"] == PROV.inputs
    assert item["properties"]["start_datetime"] == "2021-05-30T10:00:00Z"
    return item


def test_cube_round_trip_stac_catalog_and_reuse(env) -> None:
    store, catalog = env
    ds = synthetic_cube()
    run_id = catalog.start_run("cube", sol=100)
    out = publish_cube(ds, name="ZCAM_L_CUBE", sol=100, instrument="MCZ_LEFT", store=store, catalog=catalog,
                       provenance=PROV, start_time=START, stop_time=STOP, run_id=run_id)

    assert (out.kind, out.version, out.reused) == ("cube", 1, False)
    assert out.output_id == "M2020-sol00100-ZCAM_L_CUBE-v1"
    assert out.keys["data"] == "sol00100/cubes/ZCAM_L_CUBE/v1/ZCAM_L_CUBE.nc"
    with xr.open_dataset(out.paths["data"]) as back:
        xr.testing.assert_identical(back.load(), ds)  # NetCDF float32 is lossless, NaN kept

    item = check_item(out, "application/x-netcdf")
    assert item["properties"]["rovercam:bands"] == ["L6", "L5", "L4", "L3"]
    assert item["properties"]["rovercam:kind"] == "cube"

    [row] = catalog.outputs(sol=100, kind="cube")
    assert (row.output_id, row.version, row.run_id, row.stac_key) == (out.output_id, 1, run_id, out.keys["item"])
    assert {(r.product_id, r.product_sha256) for r in catalog.lineage(out.output_id)} == set(PROV.inputs.items())

    again = publish_cube(ds.copy(deep=True), name="ZCAM_L_CUBE", sol=100, instrument="MCZ_LEFT", store=store,
                         catalog=catalog, provenance=PROV, start_time=START, stop_time=STOP, run_id=run_id)
    assert (again.version, again.reused) == (1, True)  # deterministic NetCDF bytes
    changed = synthetic_cube(seed=1)
    v2 = publish_cube(changed, name="ZCAM_L_CUBE", sol=100, instrument="MCZ_LEFT", store=store,
                      catalog=catalog, provenance=PROV, start_time=START, stop_time=STOP)
    assert (v2.version, v2.reused) == (2, False) and out.paths["data"].is_file()  # v1 kept
    assert [r.version for r in catalog.outputs(kind="cube")] == [1, 2]
    assert audit_published(store, catalog) == []


def test_cube_bad_input_publishes_nothing(env) -> None:
    store, catalog = env
    kw = dict(sol=100, instrument="MCZ_LEFT", store=store, catalog=catalog, provenance=PROV, start_time=START)
    with pytest.raises(RovercamError, match="non-empty data variables"):
        publish_cube(xr.Dataset(), name="EMPTY", **kw)
    with pytest.raises(RovercamError, match="plain file name"):
        publish_cube(synthetic_cube(), name="../x", **kw)
    assert store.published_prefixes() == [] and catalog.outputs() == []


def test_write_mp4_reads_back(tmp_path: Path) -> None:
    given = frames()
    path = write_mp4(iter(given), tmp_path / "seq.mp4", fps=4.0)
    got, fps = read_mp4(path)
    assert len(got) == len(given) and got[0].shape == given[0].shape
    assert fps == pytest.approx(4.0)
    # Lossy MPEG-4 at OpenCV's default quality: mean error a few DN (8-bit) on flat content.
    for g, f in zip(got, given):
        assert np.abs(g.astype(int) - f).mean() < 6.0
    assert [p.name for p in tmp_path.iterdir()] == ["seq.mp4"]  # no temporary file left


def test_write_mp4_is_deterministic(tmp_path: Path) -> None:
    a = write_mp4(frames(), tmp_path / "a.mp4", fps=5)
    b = write_mp4(frames(), tmp_path / "b.mp4", fps=5)
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([], "no frames"),
        ([np.zeros((48, 64, 3), np.uint8), np.zeros((48, 62, 3), np.uint8)], "differs from the first"),
        ([np.zeros((47, 64, 3), np.uint8)], "even width and height"),
        ([np.zeros((48, 64, 3), np.float32)], r"\(H, W, 3\) uint8"),
        ([np.zeros((48, 64), np.uint8)], r"\(H, W, 3\) uint8"),
    ],
)
def test_write_mp4_bad_input(tmp_path: Path, bad: list, match: str) -> None:
    with pytest.raises(RovercamError, match=match):
        write_mp4(bad, tmp_path / "x.mp4", fps=5)
    assert list(tmp_path.iterdir()) == []  # neither the output nor a temporary file


def test_publish_sequence(env) -> None:
    store, catalog = env
    given = frames()
    out = publish_sequence(iter(given), name="NCAM_DRIVE", sol=100, instrument="NAVCAM_LEFT", fps=2.0,
                           store=store, catalog=catalog, provenance=PROV, start_time=START, stop_time=STOP)
    assert (out.kind, out.version, out.reused) == ("sequence", 1, False)
    assert out.keys["data"] == "sol00100/sequences/NCAM_DRIVE/v1/NCAM_DRIVE.mp4"
    got, fps = read_mp4(out.paths["data"])
    assert (len(got), got[0].shape, fps) == (6, (48, 64, 3), pytest.approx(2.0))
    thumb = cv2.imdecode(np.frombuffer(out.paths["thumbnail"].read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(thumb[..., ::-1], given[0])  # PNG lossless; smaller than 512: kept

    item = check_item(out, "video/mp4")
    assert item["assets"]["thumbnail"]["roles"] == ["thumbnail"]
    assert item["properties"]["rovercam:frames"] == 6 and item["properties"]["rovercam:size"] == [64, 48]
    [row] = catalog.outputs(kind="sequence")
    assert row.output_id == out.output_id
    assert {r.product_id for r in catalog.lineage(out.output_id)} == set(PROV.inputs)

    again = publish_sequence(given, name="NCAM_DRIVE", sol=100, instrument="NAVCAM_LEFT", fps=2.0, store=store,
                             catalog=catalog, provenance=PROV, start_time=START, stop_time=STOP)
    assert (again.version, again.reused) == (1, True)
    assert audit_published(store, catalog) == []


@pytest.mark.parametrize(
    "bad",
    [[], [np.zeros((48, 64, 3), np.uint8), np.zeros((50, 64, 3), np.uint8)]],
    ids=["empty", "mismatched-sizes"],
)
def test_publish_sequence_bad_input_publishes_nothing(env, bad: list) -> None:
    store, catalog = env
    with pytest.raises(RovercamError):
        publish_sequence(bad, name="BAD", sol=100, instrument="NAVCAM_LEFT", fps=2.0, store=store,
                         catalog=catalog, provenance=PROV, start_time=START)
    assert store.published_prefixes() == [] and catalog.outputs() == []
