"""publish_mosaic end to end on a small synthetic mosaic: files, tags, previews, STAC, catalog.

Truth: the synthetic mosaic itself (lossless COG/PNG round trips), its projection tags and
provenance, ``rovercam.radiometry.to_display`` for the preview, sha256 of the stored bytes.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import uuid
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from rovercam import radiometry
from rovercam.catalog import Catalog
from rovercam.mosaic.model import CylindricalProjection, Mosaic
from rovercam.provenance import Provenance
from rovercam.publish import PublishedMosaic, publish_mosaic
from rovercam.storage import Store
from rovercam.storage.store import Transaction

UTC = dt.timezone.utc
H, W = 240, 700  # wider than 512 so the thumbnail is really reduced


def synthetic_mosaic(seed: int = 0) -> Mosaic:
    rng = np.random.default_rng(seed)
    image = (rng.random((H, W, 3), dtype=np.float32) * np.float32(0.1)).astype(np.float32)
    image[:40, :] = np.nan  # sky above the frames: not covered
    image[:, 650:] = np.nan
    return Mosaic(
        name="NCAM00100_NAVCAM_LEFT_CYL",
        sol=100,
        instrument="NAVCAM_LEFT",
        image=image,
        projection=CylindricalProjection(az_start_deg=-35.0, el_top_deg=12.0, scale_deg=0.1, width=W, height=H),
        provenance=Provenance(
            inputs={"NLF_0100_0673000000_A": "a" * 64, "NLF_0100_0673000010_A": "b" * 64},
            calibration={"M20_NCAM_FLAT.IMG": "f" * 64},
            steps=["decompand: M20_LUT2", "mosaic: cylindrical"],
            software_version="0.1.0",
            config_hash="c" * 64,
        ),
        start_time=dt.datetime(2021, 5, 30, 10, 0, tzinfo=UTC),
        stop_time=dt.datetime(2021, 5, 30, 10, 5, tzinfo=UTC),
        display_white_radiance=0.08,
    )


@pytest.fixture
def env(tmp_path: Path):
    store = Store(str(tmp_path / "store"))
    with Catalog(tmp_path / "catalog.db") as catalog:
        yield store, catalog


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.filterwarnings("error::rasterio.errors.NotGeoreferencedWarning")
def test_publish_end_to_end(env) -> None:
    store, catalog = env
    m = synthetic_mosaic()
    run_id = catalog.start_run("mosaic-sol", sol=100)
    out = publish_mosaic(m, store=store, catalog=catalog, run_id=run_id)

    assert isinstance(out, PublishedMosaic)
    assert (out.version, out.reused) == (1, False)
    assert out.output_id == "M2020-sol00100-NCAM00100_NAVCAM_LEFT_CYL-v1"
    prefix = "sol00100/mosaics/NCAM00100_NAVCAM_LEFT_CYL/v1/"
    assert out.cog_key == prefix + "NCAM00100_NAVCAM_LEFT_CYL.tif"
    assert out.cog_path == Path(store.root) / out.cog_key and out.cog_path.is_file()

    # COG: radiance exactly as given (lossless), NaN where uncovered, projection + provenance tags.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the test's own reader
        with rasterio.open(out.cog_path) as src:
            back = np.moveaxis(src.read(), 0, 2)
            tags = src.tags()
            assert src.crs is None and src.dtypes == ("float32",) * 3 and np.isnan(src.nodata)
    np.testing.assert_array_equal(back, m.image)
    for k, v in m.projection.to_tags().items():
        assert tags.get(k, "") == v  # GDAL drops metadata items whose value is empty
    assert json.loads(tags["ROVERCAM_PROVENANCE"]) == m.provenance.to_dict()
    assert tags["SOL"] == "100" and tags["START_TIME"] == "2021-05-30T10:00:00+00:00"
    assert float(tags["DISPLAY_WHITE_RADIANCE"]) == m.display_white_radiance  # previews' white, for viewers
    assert tags["DISPLAY_WHITE_SOURCE"] == "camera"

    # PNG preview: to_display of the radiance, alpha = coverage.
    bgra = cv2.imdecode(np.frombuffer(out.png_path.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
    covered = np.isfinite(m.image).all(axis=2)
    np.testing.assert_array_equal(bgra[..., 3], np.where(covered, 255, 0))
    expected = radiometry.to_display(m.image, white_radiance=m.display_white_radiance)
    np.testing.assert_array_equal(bgra[..., 2::-1][covered], expected[covered])
    thumb = cv2.imdecode(np.frombuffer(out.thumbnail_path.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
    assert thumb.shape == (176, 512, 4)  # 240 * 512 / 700 = 175.5 -> 176 (round half to even)

    # STAC item next to the files: relative hrefs that resolve, checksums of the stored bytes.
    item = json.loads(out.stac_path.read_bytes())
    assert item["id"] == out.output_id
    for asset in item["assets"].values():
        target = out.stac_path.parent / asset["href"]
        assert target.is_file()
        assert asset["file:checksum"] == "1220" + sha(target.read_bytes())  # sha2-256 multihash
    assert item["properties"]["rovercam:provenance"]["inputs"] == m.provenance.inputs

    # Catalog row with lineage from the provenance.
    [row] = catalog.outputs(sol=100, kind="mosaic")
    assert (row.output_id, row.version, row.run_id, row.stac_key) == (out.output_id, 1, run_id, out.stac_key)
    assert row.storage_keys == out.published.keys
    assert {(r.product_id, r.product_sha256) for r in catalog.lineage(out.output_id)} == set(
        m.provenance.inputs.items()
    )


def test_republish_identical_is_a_no_op_and_changes_add_a_version(env) -> None:
    store, catalog = env
    first = publish_mosaic(synthetic_mosaic(), store=store, catalog=catalog)
    listing = store.list()
    mtimes = {k: store.local_path(k).stat().st_mtime_ns for k in listing}

    again = publish_mosaic(synthetic_mosaic(), store=store, catalog=catalog)
    assert (again.version, again.reused, again.output_id) == (1, True, first.output_id)
    assert store.list() == listing
    assert {k: store.local_path(k).stat().st_mtime_ns for k in listing} == mtimes  # nothing rewritten
    assert len(catalog.outputs()) == 1

    changed = publish_mosaic(synthetic_mosaic(seed=1), store=store, catalog=catalog)
    assert (changed.version, changed.reused) == (2, False)
    assert changed.output_id.endswith("-v2")
    assert store.exists(first.cog_key)  # v1 kept
    assert [o.version for o in catalog.outputs()] == [1, 2]
    assert json.loads(changed.stac_path.read_bytes())["id"] == changed.output_id


def test_failure_mid_publish_leaves_nothing_and_rerun_completes(env, monkeypatch) -> None:
    store, catalog = env
    real_put = Transaction.put
    count = {"n": 0}

    def dies_on_third_file(self, name, data):
        count["n"] += 1
        if count["n"] == 3:
            raise KeyboardInterrupt  # like a kill between two files
        return real_put(self, name, data)

    monkeypatch.setattr(Transaction, "put", dies_on_third_file)
    with pytest.raises(KeyboardInterrupt):
        publish_mosaic(synthetic_mosaic(), store=store, catalog=catalog)
    monkeypatch.undo()
    assert store.list() == [] and catalog.outputs() == []

    out = publish_mosaic(synthetic_mosaic(), store=store, catalog=catalog)
    assert (out.version, out.reused) == (1, False)
    assert len(store.list()) == 5  # 4 files + LATEST


def test_catalog_row_lost_after_storage_commit_is_restored_by_rerun(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "store"))
    with Catalog(tmp_path / "a.db") as first_catalog:
        publish_mosaic(synthetic_mosaic(), store=store, catalog=first_catalog)
    with Catalog(tmp_path / "b.db") as empty_catalog:  # as if the process died before the row
        out = publish_mosaic(synthetic_mosaic(), store=store, catalog=empty_catalog)
        assert out.reused and [o.output_id for o in empty_catalog.outputs()] == [out.output_id]


def test_local_and_object_store_products_are_byte_identical(env) -> None:
    store, catalog = env
    mem = Store(f"memory://rovercam-publish-{uuid.uuid4().hex}")
    a = publish_mosaic(synthetic_mosaic(), store=store, catalog=catalog)
    b = publish_mosaic(synthetic_mosaic(), store=mem, catalog=Catalog("sqlite://"))
    assert b.cog_path is None  # not a local store
    assert a.published.sha256 == b.published.sha256
    for key in a.published.keys.values():
        assert store.read_bytes(key) == mem.read_bytes(key)


def test_publish_validates_the_mosaic(env) -> None:
    store, catalog = env
    m = synthetic_mosaic()
    with pytest.raises(ValueError, match="projection"):
        publish_mosaic(dataclasses.replace(m, image=m.image[:-1]), store=store, catalog=catalog)
    with pytest.raises(ValueError, match="float32"):
        publish_mosaic(dataclasses.replace(m, image=m.image.astype(np.float64)), store=store, catalog=catalog)
    with pytest.raises(ValueError, match="file name"):
        publish_mosaic(dataclasses.replace(m, name="../evil"), store=store, catalog=catalog)
    assert store.list() == []


def test_single_band_mosaic_publishes_a_gray_cog_and_gray_previews(env) -> None:
    """A grayscale camera's mosaic: 1-band float32 COG, 8-bit gray + alpha previews, and (no
    camera white known) previews scaled by the 99.5th percentile of the finite values."""
    store, catalog = env
    rgb = synthetic_mosaic()
    image = rgb.image[..., 1:2].copy()  # (H, W, 1): one band, NaN where uncovered
    m = dataclasses.replace(rgb, name="NCAM00100_NAVCAM_LEFT_1BAND_CYL", image=image, display_white_radiance=None)
    out = publish_mosaic(m, store=store, catalog=catalog)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(out.cog_path) as src:
            assert src.count == 1 and src.dtypes == ("float32",) and np.isnan(src.nodata)
            assert src.descriptions == ("GRAY",)
            back = src.read(1)
            tags = src.tags()
    np.testing.assert_array_equal(back, image[..., 0])  # lossless
    covered = np.isfinite(image[..., 0])
    # truth for the white: numpy's percentile of the covered values (this image is far below the
    # 4e6-sample lattice, so every value counts)
    white = float(np.percentile(image[covered].astype(np.float64), 99.5))
    assert float(tags["DISPLAY_WHITE_RADIANCE"]) == pytest.approx(white, rel=1e-12)
    assert tags["DISPLAY_WHITE_SOURCE"] == "percentile 99.5 of finite values"

    png = out.png_path.read_bytes()
    assert (png[24], png[25]) == (8, 4)  # IHDR: 8 bits, gray + alpha (PNG spec 11.2.2), not RGB
    bgra = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(bgra[..., 3], np.where(covered, 255, 0))
    expected = radiometry.to_display(image, white_radiance=white)[..., 0]
    np.testing.assert_array_equal(bgra[..., 0][covered], expected[covered])
    assert (bgra[..., 0] == bgra[..., 2]).all()
    # values at or above the white clip to 255; below 0.99 white (sRGB 253.9) they do not
    g = image[..., 0]
    assert (bgra[..., 0][covered & (g >= white)] == 255).all()
    assert (bgra[..., 0][covered & (g < 0.99 * white)] < 255).all()
    thumb = out.thumbnail_path.read_bytes()
    assert (thumb[24], thumb[25]) == (8, 4)
    assert cv2.imdecode(np.frombuffer(thumb, np.uint8), cv2.IMREAD_UNCHANGED).shape == (176, 512, 4)

    item = json.loads(out.stac_path.read_bytes())
    props = item["properties"]
    assert len(item["assets"]["data"]["raster:bands"]) == 1
    assert props["rovercam:display_white_source"] == "percentile 99.5 of finite values"
    assert props["rovercam:display_white_radiance"] == pytest.approx(white, rel=1e-12)


def test_publish_refuses_a_mosaic_with_nothing_to_scale_the_preview_by(env) -> None:
    store, catalog = env
    m = synthetic_mosaic()
    blank = dataclasses.replace(m, image=np.full((H, W, 1), np.nan, np.float32), display_white_radiance=None)
    with pytest.raises(ValueError, match="NCAM00100_NAVCAM_LEFT_CYL: no display white"):
        publish_mosaic(blank, store=store, catalog=catalog)
    assert store.list() == []
